"""Routing over HTTP with its read model, on SQLite and PostgreSQL: imports by operators, the roster,
Kendra queues, workloads, referrals outstanding, cases needing attention; moving cases by hand; roles and
jurisdiction enforced; and no complainant's identity anywhere in routing."""

from __future__ import annotations

import logging
import uuid
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import MetaData, select

from services.routing.jurisdiction import import_jurisdiction
from services.routing.tests.conftest import ROSTER, SAMPLE, Routing, case_fields, start_routing
from shared.clock import ManualClock
from shared.contracts.intake import CaseRegistered
from shared.contracts.training import OfficerCertified
from shared.contracts.vocabulary import Category
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.roles import Role

API = "/api/routing"
KATRA_SHO = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}


async def upload(service: Routing, path: str, name: str, text: str, role: Role = Role.OPERATOR) -> Any:
    return await service.client.post(
        f"{API}/{path}", files={"file": (name, text.encode(), "text/csv")}, headers=service.auth(role)
    )


async def ready(service: Routing) -> None:
    response = await upload(
        service, "jurisdiction/import", "shahjahanpur.csv", SAMPLE.read_text(encoding="utf-8")
    )
    assert response.status_code == 200, response.text
    response = await upload(service, "roster/import", "roster.csv", ROSTER.read_text(encoding="utf-8"))
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 92, "officers_changed": 92, "events": 92 * 2 + 3}


async def test_the_read_model_answers_inside_the_callers_jurisdiction(empty_routing: Routing) -> None:
    service = empty_routing
    await ready(service)
    again = await upload(
        service, "jurisdiction/import", "shahjahanpur.csv", SAMPLE.read_text(encoding="utf-8")
    )
    assert again.json()["unchanged"] is True
    katra = [
        await service.register(thana="SJP-KATRA", category=Category.DOMESTIC_VIOLENCE),
        await service.register(thana="SJP-KATRA", category=Category.STALKING, minor=True),
        await service.register(thana="SJP-KATRA", category=Category.FAMILY_DISPUTE),
    ]
    kalan = await service.register(pincode="242127", locality_code="SJP-KALAN-01")
    control = await service.register(pincode="242001")
    lost = await service.register(district="LKO")
    for case_id in [*katra, kalan, control]:
        await service.settled(case_id, "CaseRouted", "CaseAssigned")
    await service.settled(lost, "CaseUnroutable")
    training = EventStore(service.store.nc, "training")
    await training.append(
        "officer",
        "DEMO9023",
        [
            OfficerCertified(
                service_number="DEMO9023",
                certificate_id="CERT-9",
                endorsements=[Category.STALKING, Category.SEXUAL_HARASSMENT],
                issued_at=service.clock.now(),
                valid_until=service.clock.now() + timedelta(days=30),
            )
        ],
        expected_sequence=0,
        expected_version=0,
        meta=CommandMeta(command_id="cert-9", actor="training"),
    )
    await service.caught_up()
    sho = service.auth(Role.SHO, **KATRA_SHO)

    roster = (await service.client.get(f"{API}/roster", headers=sho)).json()
    assert {o["kendra"] for o in roster} == {"MSK-SJP-KATRA"}  # the SHO sees only the thana's Kendra
    by_number = {o["service_number"]: o for o in roster}
    assert sum(o["open_cases"] for o in roster) == 3
    assert by_number["DEMO9021"]["incharge"] and by_number["DEMO9021"]["rank"]["hi"] == "उपनिरीक्षक"
    assert by_number["DEMO9023"]["status"] == {"code": "on_duty", "hi": "ड्यूटी पर", "en": "On duty"}
    assert [c["code"] for c in by_number["DEMO9023"]["certified_for"]] == ["sexual_harassment", "stalking"]

    queue = (await service.client.get(f"{API}/kendras/MSK-SJP-KATRA/queue", headers=sho)).json()
    assert sorted(c["case_id"] for o in queue["officers"] for c in o["cases"]) == sorted(katra)
    assert queue["waiting"] == []
    line = next(c for o in queue["officers"] for c in o["cases"] if c["case_id"] == katra[1])
    assert line["category"]["hi"] == "पीछा करना" and "a woman officer" in line["assignment"]["en"]
    forbidden = await service.client.get(f"{API}/kendras/MSK-SJP-KALAN/queue", headers=sho)
    assert forbidden.status_code == 404 and forbidden.json()["detail"]["hi"]  # out of reach: as if absent

    co = service.auth(Role.CO, district="SJP", circle="SJP-JALALABAD")
    loads = (await service.client.get(f"{API}/workloads", headers=co)).json()
    assert {o["kendra"] for o in loads} == {
        f"MSK-SJP-{t}" for t in ("JALALABAD", "ALLAHGANJ", "KALAN", "PARAUR", "MIRZAPUR")
    }
    assert loads[0]["open_cases"] == 1 and loads[0]["kendra"] == "MSK-SJP-KALAN"

    sp = service.auth(Role.SP, district="SJP")
    outstanding = (await service.client.get(f"{API}/referrals/outstanding", headers=sp)).json()
    assert {(a["agency_code"], a["outstanding"], a["overdue"]) for a in outstanding} == {
        ("SJP-OSC", 1, 0),
        ("SJP-CWC", 1, 0),
    }
    service.clock.advance(timedelta(hours=25))
    outstanding = (await service.client.get(f"{API}/referrals/outstanding", headers=sp)).json()
    assert {a["agency_code"]: a["overdue"] for a in outstanding} == {"SJP-OSC": 1, "SJP-CWC": 1}
    assert (await service.client.get(f"{API}/referrals/outstanding", headers=sho)).json() != []
    elsewhere = service.auth(Role.SHO, district="SJP", circle="SJP-NAGAR", thana="SJP-KOTWALI")
    assert (await service.client.get(f"{API}/referrals/outstanding", headers=elsewhere)).json() == []

    attention = (await service.client.get(f"{API}/attention", headers=service.auth(Role.OPERATOR))).json()
    assert [c["case_id"] for c in attention["unroutable"]] == [lost]
    assert (
        "district LKO" in attention["unroutable"][0]["why"]["en"] and attention["unroutable"][0]["why"]["hi"]
    )
    assert [c["case_id"] for c in attention["control_kendra"]] == [control]
    assert (await service.client.get(f"{API}/attention", headers=sp)).json()[
        "unroutable"
    ] == []  # LKO is not his

    tree = (await service.client.get(f"{API}/jurisdiction/SJP", headers=sho)).json()
    assert len(tree["circles"]) == 5 and len(tree["thanas"]) == 23 and len(tree["agencies"]) == 5
    assert tree["imports"][0]["version"] == "2026-01-10.2" and len(tree["imports"]) == 1
    lookup = await service.client.get(
        f"{API}/lookup",
        params={"district": "SJP", "pincode": "242001", "locality_code": "SJP-KOTWALI-01"},
        headers=sho,
    )
    assert lookup.json()["kendra"] == "MSK-SJP-KOTWALI" and not lookup.json()["flagged"]


async def test_cases_are_moved_by_hand_within_the_rules_and_keep_their_record(routing: Routing) -> None:
    response = await upload(routing, "roster/import", "roster.csv", ROSTER.read_text(encoding="utf-8"))
    assert response.status_code == 200
    case_id = await routing.register(thana="SJP-KATRA", category=Category.SEXUAL_ASSAULT)
    record = await routing.settled(case_id, "CaseRouted", "CaseAssigned", "ReferralIssued")
    holder, referral_id = record[1].payload["officer"], record[2].payload["referral_id"]
    sho = routing.auth(Role.SHO, **KATRA_SHO)

    def post(path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Any:
        return routing.client.post(f"{API}/cases/{case_id}/{path}", json=body, headers=headers)

    man = await post("reassign", {"officer": "DEMO9024", "reason": "workload_balance"}, sho)
    assert man.status_code == 409 and man.json()["detail"]["code"] == "woman_officer_needed"
    assert man.json()["detail"]["hi"]
    typed = await post("reassign", {"reason": "she said her neighbour Asha threatened her"}, sho)
    assert typed.status_code == 409 and typed.json()["detail"]["code"] == "bad_reason"
    officer = await post(
        "reassign", {"reason": "workload_balance"}, routing.auth(Role.KENDRA_OFFICER, **KATRA_SHO)
    )
    assert officer.status_code == 403
    other = routing.auth(Role.SHO, district="SJP", circle="SJP-JALALABAD", thana="SJP-KALAN")
    assert (await post("reassign", {"reason": "workload_balance"}, other)).status_code == 404

    moved = await post("reassign", {"reason": "complainant_request"}, sho)
    assert moved.status_code == 200, moved.text
    [event] = moved.json()["recorded"]
    assert event["from_officer"] == holder and event["officer"] != holder and event["trigger"] == "by_hand"
    assert event["reason_hi"].startswith("शिकायतकर्ता का अनुरोध (PNO999001 द्वारा)")

    sent = await post("transfer", {"thana": "SJP-KALAN", "reason": "wrong_jurisdiction"}, sho)
    assert sent.status_code == 200, sent.text
    routed, assigned = sent.json()["recorded"]
    assert routed["transfer_from"] == "MSK-SJP-KATRA" and routed["kendra"] == "MSK-SJP-KALAN"
    assert assigned["kendra"] == "MSK-SJP-KALAN" and assigned["from_officer"] == event["officer"]
    # The SHO of Katra no longer answers for the case; Kalan's does, and sees its whole record.
    assert (await routing.client.get(f"{API}/cases/{case_id}", headers=sho)).status_code == 404
    history = (await routing.client.get(f"{API}/cases/{case_id}", headers=other)).json()
    assert [e["type"] for e in history["record"]] == [
        "CaseRouted",
        "CaseAssigned",
        "ReferralIssued",
        "CaseReassigned",
        "CaseRouted",
        "CaseReassigned",
    ]

    bad = await post(f"referrals/{referral_id}/reject", {"reason": "not today"}, other)
    assert bad.status_code == 409 and bad.json()["detail"]["code"] == "bad_reason"
    assert (await post(f"referrals/{referral_id}/accept", None, other)).status_code == 200
    assert (await post(f"referrals/{referral_id}/accept", None, other)).status_code == 409
    done = await post(f"referrals/{referral_id}/complete", None, other)
    assert done.json()["recorded"][0]["type"] == "ReferralCompleted"
    await routing.caught_up()
    referrals = (await routing.client.get(f"{API}/cases/{case_id}", headers=other)).json()["referrals"]
    assert [r["status"] for r in referrals] == ["completed"]


async def test_bad_uploads_list_their_problems_and_record_nothing(routing: Routing) -> None:
    before = await routing.store.last_sequence()
    text = SAMPLE.read_text(encoding="utf-8").replace(
        "kendra,MSK-SJP-KANT,SJP-KANT", "kendra,MSK-SJP-KANT,SJP-KAANT"
    )
    response = await upload(routing, "jurisdiction/import", "bad.csv", text)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail["code"] == "bad_file" and detail["hi"]
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    thana_line = lines.index(next(x for x in lines if x.startswith("thana,SJP-KANT,"))) + 1
    kendra_line = lines.index(next(x for x in lines if x.startswith("kendra,MSK-SJP-KANT,"))) + 1
    assert sorted((p["line"], p["en"].split(" (")[0].split(":")[0]) for p in detail["problems"]) == [
        (thana_line, "thana SJP-KANT has no Kendra"),
        (kendra_line, "a Kendra's code is MSK- and its thana's code"),
        (kendra_line, "unknown parent 'SJP-KAANT'"),
    ]
    roster = "service_number,name,rank,gender,kendra\nPNO1,A,constable,female,MSK-SJP-NOWHERE\npno2,B,sepoy,female,MSK-SJP-KATRA\n"
    response = await upload(routing, "roster/import", "roster.csv", roster)
    assert response.status_code == 422
    assert [p["line"] for p in response.json()["detail"]["problems"]] == [2, 3, 3]
    assert (await upload(routing, "roster/import", "r.csv", roster, Role.SHO)).status_code == 403
    assert await routing.store.last_sequence() == before


async def test_a_kendra_incharge_keeps_the_roster_of_her_own_kendra(routing: Routing) -> None:
    incharge = routing.auth(Role.KENDRA_INCHARGE, **KATRA_SHO)
    enrol = {"service_number": "PNO4711", "name": "Kiran Devi", "rank": "constable", "gender": "female"}
    response = await routing.client.post(f"{API}/officers", json=enrol, headers=incharge)
    assert response.status_code == 200 and response.json()["recorded"][0]["type"] == "OfficerEnrolled"
    elsewhere = await routing.client.post(
        f"{API}/officers/PNO4711/posting", json={"kendra": "MSK-SJP-KALAN"}, headers=incharge
    )
    assert elsewhere.status_code == 404
    posted = await routing.client.post(
        f"{API}/officers/PNO4711/posting", json={"kendra": "MSK-SJP-KATRA"}, headers=incharge
    )
    assert posted.status_code == 200 and posted.json()["recorded"][0]["thana"] == "SJP-KATRA"
    unknown = await routing.client.post(
        f"{API}/officers/PNO4711/posting", json={"kendra": "MSK-SJP-X"}, headers=incharge
    )
    assert unknown.status_code == 404
    leave = await routing.client.post(
        f"{API}/officers/PNO4711/duty", json={"status": "on_leave"}, headers=incharge
    )
    assert leave.status_code == 200
    same = await routing.client.post(
        f"{API}/officers/PNO4711/duty", json={"status": "on_leave"}, headers=incharge
    )
    assert same.json()["recorded"] == []
    other = routing.auth(Role.KENDRA_INCHARGE, district="SJP", circle="SJP-JALALABAD", thana="SJP-KALAN")
    refused = await routing.client.post(
        f"{API}/officers/PNO4711/duty", json={"status": "on_duty"}, headers=other
    )
    assert refused.status_code == 404
    await routing.caught_up()
    [officer] = (await routing.client.get(f"{API}/roster", headers=incharge)).json()
    assert officer["status"]["en"] == "On leave" and officer["name"] == "Kiran Devi"
    assert (await routing.client.get(f"{API}/roster")).status_code == 401


@pytest.mark.parametrize("locality", ["Mohalla Khirni Bagh, near the old well"])
async def test_no_identity_of_a_complainant_reaches_routing(
    routing: Routing, locality: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not even from an old (v1) registration that still carries a typed locality in clear."""
    caplog.set_level(logging.DEBUG)
    sealed = "U0VBTEVELUlERU5USVRZLU9GLUEtV09NQU4="
    await routing.officer("PNO1", "MSK-SJP-MAHILA-THANA", incharge=True)
    case_id = uuid.uuid4().hex
    v1 = CaseRegistered(**case_fields(pincode="242001", sealed_identity=sealed)).model_dump(mode="json")
    v1.pop("locality_code")
    envelope = Envelope(
        event_id=uuid.uuid4(),
        event_type="CaseRegistered",
        schema_version=1,
        aggregate_type="case",
        aggregate_id=case_id,
        aggregate_version=1,
        occurred_at=routing.clock.now(),
        correlation_id=uuid.uuid4(),
        actor="intake",
        command_id=uuid.uuid4().hex,
        payload=v1 | {"locality": locality},
    )
    await routing.intake.js.publish(
        f"shakti.intake.case.{case_id}",
        envelope.model_dump_json().encode(),
        headers={"Shakti-Event-Type": "CaseRegistered", "Shakti-Schema-Version": "1"},
    )
    await routing.settled(case_id, "CaseRouted", "CaseAssigned")
    await routing.caught_up()
    secrets = (sealed, locality, "Khirni")
    recorded = [e.model_dump_json() for e in await routing.record(case_id)]
    assert recorded and not [r for r in recorded for s in secrets if s in r]
    engine = routing.ctx.engine
    metadata = MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(metadata.reflect)
        rows = [
            str(row) for table in metadata.sorted_tables for row in (await conn.execute(select(table))).all()
        ]
    assert any(case_id in r for r in rows)
    assert not [r for r in rows for s in secrets if s in r]
    assert not [m for m in caplog.messages for s in secrets if s in m]


async def test_an_idempotency_key_is_bound_to_its_command_and_body(routing: Routing) -> None:
    """Issue 12: a key used by a reassignment once answered a transfer with the reassignment's events
    (the raw key was the command id) and did nothing."""
    response = await upload(routing, "roster/import", "roster.csv", ROSTER.read_text(encoding="utf-8"))
    assert response.status_code == 200
    case_id = await routing.register(thana="SJP-KATRA", category=Category.DOMESTIC_VIOLENCE)
    await routing.settled(case_id, "CaseRouted", "CaseAssigned")
    sho = routing.auth(Role.SHO, **KATRA_SHO) | {"Idempotency-Key": "desk-42"}

    def post(path: str, body: dict[str, Any]) -> Any:
        return routing.client.post(f"{API}/cases/{case_id}/{path}", json=body, headers=sho)

    moved = await post("reassign", {"reason": "workload_balance"})
    assert moved.status_code == 200, moved.text
    again = await post("reassign", {"reason": "workload_balance"})
    assert again.json() == moved.json()
    other = await post("reassign", {"reason": "complainant_request"})
    assert other.status_code == 409 and other.json()["detail"]["code"] == "idempotency_key_reused"

    sent = await post("transfer", {"thana": "SJP-KALAN", "reason": "wrong_jurisdiction"})
    assert sent.status_code == 200, sent.text
    assert [e["type"] for e in sent.json()["recorded"]] == ["CaseRouted", "CaseReassigned"]
    assert sent.json()["recorded"][0]["kendra"] == "MSK-SJP-KALAN"


async def test_imports_record_their_events_at_the_services_time_not_the_wall_clocks(
    empty_routing: Routing,
) -> None:
    # The demo and bench.state live a past year on a historical clock: a jurisdiction or roster
    # imported then must be dated then, or the year's dashboards begin after their own cases.
    service = empty_routing
    service.clock.set(service.clock.now() - timedelta(days=300))
    await ready(service)
    stored = await service.store.read_subject(service.store.stream, "shakti.routing.>")
    assert {e.event_type for e in stored} >= {"KendraDefined", "OfficerEnrolled", "OfficerPosted"}
    assert {e.occurred_at for e in stored} == {service.clock.now()}


async def test_a_district_imported_a_moment_ago_is_found_though_the_read_model_holds_its_events(
    nats_client: NatsClient, nats_url: str, sqlite_url: str
) -> None:
    """An operator imports a district and opens its tree at once (the user directory checks a new
    account's place against it too); the read model holds the import for its gathering window, longer
    than a look waits. It answered 404; now the look that finds nothing has the read model apply it."""
    async with AsyncExitStack() as stack:
        service = await start_routing(stack, nats_url, sqlite_url, ManualClock(), gather_ms=60_000)
        sp = service.auth(Role.SP, district="SJP")
        await service.client.get(f"{API}/jurisdiction/LKO", headers=sp)  # the read model at work, quiet
        await import_jurisdiction(SAMPLE, service.store)
        tree = await service.client.get(f"{API}/jurisdiction/SJP", headers=sp)
        assert tree.status_code == 200, tree.text
        assert len(tree.json()["thanas"]) == 23
        assert (await service.client.get(f"{API}/jurisdiction/LKO", headers=sp)).status_code == 404
