"""The compliance lists of cases given to uncertified officers, on a real NATS server: routing joins its
own assignments with the certifications it projects from training's stream, as things stood at each
assignment, per place and inside the caller's jurisdiction."""

from __future__ import annotations

from datetime import timedelta

from services.routing.jurisdiction import import_jurisdiction
from services.routing.tests.conftest import SAMPLE, Routing
from shared.contracts.training import CertificationLapsed, OfficerCertified
from shared.contracts.vocabulary import Category
from shared.eventstore import CommandMeta, EventStore
from shared.roles import Role

API = "/api/routing/compliance/uncertified"
KATRA = "MSK-SJP-KATRA"
TILHAR_CO = {"district": "SJP", "circle": "SJP-TILHAR"}


async def training_says(routing: Routing, event: OfficerCertified | CertificationLapsed, seq: int) -> None:
    """A fact of training's stream about PNO101, recorded now by the service clock."""
    await EventStore(routing.store.nc, "training").append(
        "officer",
        "PNO101",
        [event],
        expected_sequence=seq,
        expected_version=seq,
        meta=CommandMeta(command_id=f"training-{seq}", actor="training", occurred_at=routing.clock.now()),
    )


async def assigned_to(routing: Routing, case_id: str) -> str:
    record = await routing.settled(case_id, "CaseRouted", "CaseAssigned")
    return str(next(e for e in record if e.event_type == "CaseAssigned").payload["officer"])


async def test_only_cases_given_while_the_officer_was_uncertified_are_listed(empty_routing: Routing) -> None:
    routing = empty_routing  # once on SQLite, once on PostgreSQL
    await import_jurisdiction(SAMPLE, routing.store)
    await routing.officer("PNO100", KATRA, incharge=True)
    await routing.officer("PNO101", KATRA)
    before = await routing.register(thana="SJP-KATRA", category=Category.STALKING)
    assert await assigned_to(routing, before) == "PNO101"
    # Certified a minute later, from a training held a week earlier: routing did not know it then.
    routing.clock.advance(timedelta(minutes=1))
    certified = OfficerCertified(
        service_number="PNO101",
        certificate_id="CERT-101",
        endorsements=[Category.STALKING],
        issued_at=routing.clock.now() - timedelta(days=7),
        valid_until=routing.clock.now() + timedelta(days=365),
    )
    await training_says(routing, certified, 0)
    after = await routing.register(thana="SJP-KATRA", category=Category.STALKING)
    assert await assigned_to(routing, after) == "PNO101"
    # Not certified for a sexual offence, nor after her certificate lapsed.
    specialist = await routing.register(thana="SJP-KATRA", category=Category.SEXUAL_ASSAULT)
    assert await assigned_to(routing, specialist) == "PNO101"
    routing.clock.advance(timedelta(minutes=1))
    await training_says(
        routing, CertificationLapsed(service_number="PNO101", certificate_id="CERT-101", why="test"), 1
    )
    lapsed = await routing.register(thana="SJP-KATRA", category=Category.STALKING)
    assert await assigned_to(routing, lapsed) == "PNO101"
    await routing.caught_up()

    co = routing.auth(Role.CO, **TILHAR_CO)
    listed = (await routing.client.get(f"{API}/cases", headers=co)).json()
    assert (listed["from"], listed["to"]) == ("2025-12-12", "2026-01-10")  # the last 30 days, IST
    assert [a["case_id"] for a in listed["assignments"]] == [lapsed, specialist, before]  # newest first
    first = listed["assignments"][-1]
    assert (first["officer"], first["kendra"], first["thana"], first["circle"]) == (
        "PNO101",
        KATRA,
        "SJP-KATRA",
        "SJP-TILHAR",
    )
    assert first["category"] == {"code": "stalking", "hi": "पीछा करना", "en": "Stalking"}
    assert first["assigned_at"] == "2026-01-10T10:00:00Z"
    counts = (await routing.client.get(API, headers=co)).json()
    assert counts["cases"] == 3
    assert counts["thana"] == [{"code": "SJP-KATRA", "cases": 3}]
    assert counts["circle"] == [{"code": "SJP-TILHAR", "cases": 3}]
    assert counts["district"] == [{"code": "SJP", "cases": 3}]

    # A day before the cases: nothing. A period that ends before it begins: refused in both languages.
    earlier = await routing.client.get(
        f"{API}/cases", params={"from": "2026-01-01", "to": "2026-01-09"}, headers=co
    )
    assert earlier.json()["assignments"] == []
    backwards = await routing.client.get(API, params={"from": "2026-01-10", "to": "2026-01-09"}, headers=co)
    assert backwards.status_code == 422 and backwards.json()["detail"]["hi"]


async def test_supervisors_only_and_inside_their_jurisdiction(routing: Routing) -> None:
    await routing.officer("PNO100", KATRA, incharge=True)
    await routing.officer("PNO101", KATRA)
    case_id = await routing.register(thana="SJP-KATRA", category=Category.STALKING)
    assert await assigned_to(routing, case_id) == "PNO101"
    await routing.caught_up()

    officer = routing.auth(Role.KENDRA_OFFICER, district="SJP", circle="SJP-TILHAR", thana="SJP-KATRA")
    for path in (API, f"{API}/cases"):
        assert (await routing.client.get(path, headers=officer)).status_code == 403
    # The state cell gets the figures, never the cases.
    state = routing.auth(Role.STATE_CELL)
    assert (await routing.client.get(API, headers=state)).json()["cases"] == 1
    assert (await routing.client.get(f"{API}/cases", headers=state)).status_code == 403
    # A CO of another circle sees nothing of this one, even when she asks for it by name.
    other = routing.auth(Role.CO, district="SJP", circle="SJP-NAGAR")
    counts = (await routing.client.get(API, headers=other)).json()
    assert counts["cases"] == 0 and counts["thana"] == [] and counts["circle"] == []
    asked = await routing.client.get(f"{API}/cases", params={"circle": "SJP-TILHAR"}, headers=other)
    assert asked.status_code == 200 and asked.json()["assignments"] == []
    assert case_id not in asked.text
    # The Katra in-charge and the SP see it; the in-charge of another thana does not.
    incharge = routing.auth(Role.KENDRA_INCHARGE, district="SJP", circle="SJP-TILHAR", thana="SJP-KATRA")
    sp = routing.auth(Role.SP, district="SJP")
    for who in (incharge, sp):
        found = (await routing.client.get(f"{API}/cases", headers=who)).json()["assignments"]
        assert [a["case_id"] for a in found] == [case_id]
    away = routing.auth(Role.KENDRA_INCHARGE, district="SJP", circle="SJP-NAGAR", thana="SJP-KOTWALI")
    assert (await routing.client.get(f"{API}/cases", headers=away)).json()["assignments"] == []
