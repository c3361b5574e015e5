"""The agency desk through the API: the One Stop Centre's desk lists and answers only her agency's
referrals (another agency's is, for her, a case that does not exist), sees none of the complainant's
identity and nothing else of the platform, hears of her referrals in the bell, and her answers stop the
referral's clock as the police's would.

The world is the access matrix's: a Katra case naming a complainant, with a referral to the One Stop
Centre; this test adds one to the District Legal Services Authority."""

from __future__ import annotations

from typing import Any

import pytest

from shakti.users import ServicesReference, UserError, user_record
from shared.auth import NOWHERE
from shared.contracts.users import UserAdded, UserChanged
from shared.events import events
from shared.roles import Role
from tests.test_access_matrix import HOME, INSIDE, NAME, OTHER_AGENCY, PHONE, World, principal, world
from tests.waiting import eventually

__all__ = ["world"]  # the access matrix's fixture


async def clocks_of(world: World, headers: dict[str, str], referral_id: str) -> list[str]:
    """The states of the case's referral-acknowledged clocks for this referral, as escalation has them."""
    seen = await world.client.get(f"/api/escalation/cases/{world.case_id}", headers=headers)
    assert seen.status_code == 200, seen.text
    return [
        c["state"]["code"] if isinstance(c["state"], dict) else c["state"]
        for c in seen.json()["clocks"]
        if c.get("referral_id") == referral_id
    ]


async def test_the_desk_lists_and_answers_only_her_agencys_referrals_and_stops_the_clock(
    world: World,
) -> None:
    client = world.client
    police = await world.token(principal(Role.KENDRA_OFFICER, HOME, world.officer))
    desk = await world.token(principal(Role.AGENCY_DESK, INSIDE[Role.AGENCY_DESK]))
    elsewhere = await world.token(principal(Role.AGENCY_DESK, {"district": "SJP", "agency": OTHER_AGENCY}))

    # A second referral of the same case, to the DLSA: not hers.
    referred = await client.post(
        f"/api/intake/cases/{world.case_id}/referrals",
        json={"agency_kind": "legal_services"},
        headers={**police, "Idempotency-Key": "desk-1"},
    )
    assert referred.status_code == 200, referred.text
    theirs: dict[str, Any] = {}

    async def both_issued() -> bool:
        found = (await client.get(f"/api/routing/cases/{world.case_id}", headers=police)).json()["referrals"]
        theirs.update(next((r for r in found if r["agency_code"] == OTHER_AGENCY), {}))
        return bool(theirs)

    await eventually(both_issued, timeout=30, what="routing issues the DLSA referral")

    listed = await client.get("/api/routing/agency/referrals", headers=desk)
    assert listed.status_code == 200, listed.text
    mine = listed.json()
    assert mine["agency"]["code"] == "SJP-OSC" and mine["agency"]["kind"]["code"] == "one_stop_centre"
    assert [r["referral_id"] for r in mine["referrals"]] == [world.referral_id]
    line = mine["referrals"][0]
    assert (line["case_number"], line["thana"], line["status"]) == (world.case_number, "SJP-KATRA", "issued")
    assert line["category"]["code"] == "stalking" and line["priority"]["en"] and line["due_at"]
    assert line["thana_name"] == {"hi": "थाना कटरा", "en": "Katra"}  # her page names it, not its code
    assert NAME not in listed.text and PHONE not in listed.text
    # The other agency's desk sees the DLSA referral only.
    other = (await client.get("/api/routing/agency/referrals", headers=elsewhere)).json()
    assert [r["referral_id"] for r in other["referrals"]] == [theirs["referral_id"]]

    # Another agency's referral is, for her, no case at all: the platform's one answer for out of reach.
    base = f"/api/routing/cases/{world.case_id}/referrals"
    refused = await client.post(f"{base}/{theirs['referral_id']}/accept", headers=desk)
    unknown = await client.post(f"{base}/{'0' * 32}/accept", headers=desk)
    assert refused.status_code == unknown.status_code == 404
    assert refused.json() == unknown.json()
    # Nor does she reach the case, its identity, its clocks or the register.
    for path in (
        f"/api/intake/cases/{world.case_id}",
        f"/api/intake/cases/{world.case_id}/identity?purpose=supervisory_review",
        f"/api/escalation/cases/{world.case_id}",
        f"/api/routing/cases/{world.case_id}",
        "/api/intake/cases",
        "/api/escalation/close-to-breach",
        "/api/routing/roster",
        "/api/training/curriculum",
    ):
        answer = await client.get(path, headers=desk)
        assert answer.status_code == 403, (path, answer.status_code)

    # The bell: the desk's notification of the referral is hers to read (the web channel of agency:SJP-OSC).
    async def told() -> bool:
        bell = (await client.get("/api/notifications/mine", headers=desk)).json()
        return any(n["case_number"] == world.case_number for n in bell["notifications"])

    await eventually(told, timeout=30, what="the desk's bell has the referral")
    bell = (await client.get("/api/notifications/mine", headers=desk)).json()["notifications"]
    assert {n["recipient"] for n in bell} == {"agency:SJP-OSC"}
    assert all(n["link"].endswith("/agency") for n in bell)  # her page, not the police's case page
    told_elsewhere = (await client.get("/api/notifications/mine", headers=elsewhere)).json()
    assert "agency:SJP-OSC" not in {n["recipient"] for n in told_elsewhere["notifications"]}

    assert await clocks_of(world, police, world.referral_id) == ["running"]
    accepted = await client.post(f"{base}/{world.referral_id}/accept", headers=desk)
    assert accepted.status_code == 200, accepted.text
    assert (
        accepted.json()["recorded"][0]["by"] == principal(Role.AGENCY_DESK, INSIDE[Role.AGENCY_DESK]).username
    )

    async def stopped() -> bool:
        return await clocks_of(world, police, world.referral_id) == ["stopped"]

    await eventually(stopped, timeout=30, what="her acceptance stops the referral clock")
    assert await clocks_of(world, police, theirs["referral_id"]) == ["running"]

    completed = await client.post(f"{base}/{world.referral_id}/complete", headers=desk)
    assert completed.status_code == 200, completed.text

    async def answered() -> bool:
        found = (await client.get("/api/routing/agency/referrals", headers=desk)).json()["referrals"]
        return [r["status"] for r in found] == ["completed"]

    await eventually(answered, timeout=30, what="her list shows the referral completed")
    # The DLSA's referral stays as it was, and the police read her answers on the case.
    record = (await client.get(f"/api/routing/cases/{world.case_id}", headers=police)).json()["referrals"]
    assert {r["agency_code"]: r["status"] for r in record} == {"SJP-OSC": "completed", OTHER_AGENCY: "issued"}


async def test_the_desk_rejects_with_a_reason_code_and_her_home_is_her_referrals(world: World) -> None:
    desk_principal = principal(Role.AGENCY_DESK, INSIDE[Role.AGENCY_DESK])
    desk = await world.token(desk_principal)
    reasons = await world.client.get("/api/routing/reasons", headers=desk)
    assert reasons.status_code == 200 and "reject" in reasons.json()
    base = f"/api/routing/cases/{world.case_id}/referrals/{world.referral_id}"
    bad = await world.client.post(f"{base}/reject", json={"reason": "not today"}, headers=desk)
    assert bad.status_code == 409, bad.text
    code = next(iter(reasons.json()["reject"]))
    rejected = await world.client.post(f"{base}/reject", json={"reason": code}, headers=desk)
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["recorded"][0]["reason"] == code

    cookies = {"shakti_session": await world.session(desk_principal), "shakti_lang": "en"}
    home = await world.client.get("/", cookies=cookies)
    assert home.status_code == 303 and home.headers["location"] == "/agency"

    async def shown() -> bool:
        page = await world.client.get("/agency", cookies=cookies)
        return page.status_code == 200 and world.case_number in page.text and "Rejected" in page.text

    await eventually(shown, timeout=30, what="her page shows the rejection")
    page = (await world.client.get("/agency", cookies=cookies)).text
    assert NAME not in page and PHONE not in page and "/cases/" not in page


def test_an_agency_desk_names_her_agency_and_answers_for_no_place() -> None:
    desk = user_record("osc.desk", Role.AGENCY_DESK, district="SJP", agency="SJP-OSC")
    assert (desk.agency, desk.district, desk.thana, desk.service_number) == ("SJP-OSC", "SJP", None, None)
    # Deny by default: every place-scoped query gives her nothing, and no case is inside her reach.
    assert desk.scope() == NOWHERE and not desk.covers("SJP", "SJP-TILHAR", "SJP-KATRA")
    assert not desk.may_read_identity
    assert desk.reaches_agency("SJP-OSC") and not desk.reaches_agency("SJP-DLSA")
    for wrong in ({"district": "SJP"}, {"district": "SJP", "agency": "osc"}, {"agency": "SJP-OSC"}):
        with pytest.raises(UserError):
            user_record("osc.desk", Role.AGENCY_DESK, **wrong)
    with pytest.raises(UserError):
        user_record("osc.desk", Role.AGENCY_DESK, district="SJP", agency="SJP-OSC", service_number="PNO1")
    # Only an agency desk answers for an agency, whatever else a record says.
    sp = user_record("sjp.sp", Role.SP, district="SJP", agency="SJP-OSC")
    assert sp.agency is None and not sp.reaches_agency("SJP-OSC")


async def test_a_desk_is_checked_against_her_districts_agencies() -> None:
    tree = {"circles": [], "thanas": [], "agencies": [{"code": "SJP-OSC"}, {"code": "SJP-DLSA"}]}

    async def fetch(path: str, params: dict[str, str]) -> Any:
        return tree if path == "/api/routing/jurisdiction/SJP" else None

    reference = ServicesReference(fetch)
    await reference.check(user_record("osc.desk", Role.AGENCY_DESK, district="SJP", agency="SJP-OSC"))
    with pytest.raises(UserError) as refused:
        await reference.check(user_record("x.desk", Role.AGENCY_DESK, district="SJP", agency="SJP-NOPE"))
    assert "SJP-DLSA" in refused.value.en  # it names the valid choices


def test_a_directory_record_written_before_agency_desks_reads_as_having_no_agency() -> None:
    old = {"username": "demo.sp", "role": "sp", "district": "SJP", "demo": True}
    added = events.decode("UserAdded", 1, old)
    assert isinstance(added, UserAdded) and added.agency is None
    changed = events.decode("UserChanged", 1, {"role": "co", "district": "SJP", "circle": "SJP-TILHAR"})
    assert isinstance(changed, UserChanged) and changed.agency is None
