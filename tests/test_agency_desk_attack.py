"""An attacker's look at the agency desk (deny by default): what her session opens beyond her agency's
referrals and her bell. Each test here failed on main before its fix."""

from __future__ import annotations

from shared.auth import Role
from tests.test_access_matrix import HOME, INSIDE, World, principal, world

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
