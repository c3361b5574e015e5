"""An attacker's look at the agency desk (deny by default): what her session opens beyond her agency's
referrals and her bell. Each test here failed on main before its fix."""

from __future__ import annotations

import asyncio

from shared.auth import Principal
from shared.roles import Role
from tests.test_access_matrix import HOME, INSIDE, World, principal, world
from tests.waiting import eventually

__all__ = ["world"]  # the access matrix's fixture


async def test_the_platforms_api_documents_are_not_for_an_agency_desk(world: World) -> None:
    """/openapi.json and /asyncapi.json admitted any signed-in user: the agency desk read the whole
    platform's API and event contracts (every route, the register's and the identity's shapes), which
    her role names nowhere. They are for those who work inside the police's platform."""
    desk = await world.token(principal(Role.AGENCY_DESK, INSIDE[Role.AGENCY_DESK]))
    police = await world.token(principal(Role.KENDRA_OFFICER, HOME, world.officer))
    for path in ("/openapi.json", "/asyncapi.json"):
        refused = await world.client.get(path, headers=desk)
        assert refused.status_code == 403, (path, refused.status_code)
        assert "/api/intake" not in refused.text and "CaseRegistered" not in refused.text
        assert (await world.client.get(path, headers=police)).status_code == 200, path


async def test_a_user_name_made_an_agency_desk_does_not_keep_the_police_bell_it_had(world: World) -> None:
    """Her bell read every address of her user name (``user:<name>``) as well as her agency's desk. A
    station house officer without a service number is paged at ``user:<name>``; when the operator gives that
    user name to an agency desk (``users change``, or ``add --replace``), the desk read the police's
    danger-now pages of cases never referred to her agency. Nothing is ever sent to a desk by her user
    name: her bell is her agency's desk, and nothing else."""
    sho = Principal(username="katra.sho.reused", role=Role.SHO, **HOME)
    told_sho = await world.token(sho)
    police = await world.token(principal(Role.KENDRA_OFFICER, HOME, world.officer))
    await asyncio.sleep(3)  # notifications learns the directory's users from its events
    body = {
        "channel": "walk_in", "category": "stalking", "description": "DEMO statement",
        "district": "SJP", "thana": "SJP-KATRA", "minor": False, "danger_now": True,
        "identity": {"name": "DEMO Other", "phone": "9000000002"},
    }  # fmt: skip
    registered = await world.client.post(
        "/api/intake/cases", json=body, headers={**police, "Idempotency-Key": "reused-1"}
    )
    assert registered.status_code == 201, registered.text
    number = registered.json()["case_number"]

    async def paged() -> bool:
        bell = (await world.client.get("/api/notifications/mine", headers=told_sho)).json()
        return any(
            (n["recipient"], n["case_number"]) == ("user:katra.sho.reused", number)
            for n in bell["notifications"]
        )

    await eventually(paged, timeout=30, what="the SHO is paged at the user name")

    her = {"role": Role.AGENCY_DESK, "district": "SJP", "circle": None, "thana": None, "agency": "SJP-OSC"}
    desk = await world.token(sho.model_copy(update=her))
    bell = await world.client.get("/api/notifications/mine", headers=desk)
    assert bell.status_code == 200, bell.text
    told = bell.json()["notifications"]
    assert {n["recipient"] for n in told} <= {"agency:SJP-OSC"}, told
    assert not [n for n in told if n["rule"]["code"] == "danger_now"], told
