"""A complaint's whole life over HTTP, with routing's and escalation's events flowing in, on SQLite and
PostgreSQL: the register, the timeline in both languages, the counts and who may see what."""

from __future__ import annotations

from datetime import timedelta

from nats.aio.client import Client as NatsClient
from sqlalchemy import MetaData

from services.intake.read_model.projection import CaseRegister
from services.intake.read_model.queries import find_case
from services.intake.tests.conftest import (
    CO,
    INCHARGE,
    OFFICER,
    OTHER_THANA,
    SP,
    STATE,
    Intake,
    routed_to_katra,
)
from shared.contracts.escalation import (
    CaseEscalated,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    SlaBreached,
)
from shared.contracts.routing import CaseAssigned, CaseReassigned, ReferralIssued
from shared.contracts.vocabulary import AgencyKind, LadderRole
from shared.eventstore import EventStore
from shared.readmodel import create_engine, sessions
from shared.rows import Rows
from tests.waiting import eventually


async def test_the_whole_lifecycle_in_the_register_and_the_timeline(intake: Intake) -> None:
    case = await intake.register(category="sexual_assault", minor=True)
    case_id = case["case_id"]
    assert case["case_number"] == "SJP-2026-000001"
    assert case["priority"] == "P1" and case["flags"] == ["pocso", "cwc"]
    assert case["case_number"] in case["receipt"]["en"] and case["case_number"] in case["receipt"]["hi"]

    steps: list[tuple[str, dict[str, object] | None, str]] = [
        ("first-contact", {"mode": "at_kendra"}, "in_progress"),
        ("actions", {"kind": "fir_registered", "fir_number": "0042/2026"}, "in_progress"),
        ("actions", {"kind": "medical_exam"}, "in_progress"),
        ("referrals", {"agency_kind": "child_welfare_committee", "agency_code": "CWC-SJP"}, "in_progress"),
        ("notes", {"text": "Mother present during the statement."}, "in_progress"),
        (
            "attachments",
            {"kind": "medical_report", "file": ("report.pdf", b"%PDF-1.7 medical report", "application/pdf")},
            "in_progress",
        ),
        ("awaiting-complainant", {"reason": "documents_awaited"}, "awaiting_complainant"),
        ("complainant-responded", None, "in_progress"),
        (
            "resolve",
            {"outcome": "chargesheet_filed", "feedback_rating": 4, "feedback": "Thankful."},
            "resolved",
        ),
        ("close", {"reason": "disposed"}, "closed"),
        ("reopen", {"reason": "court_direction"}, "in_progress"),
        ("resolve", {"outcome": "chargesheet_filed"}, "resolved"),
        ("close", {"reason": "disposed", "remark": "Closed after the court's order."}, "closed"),
    ]
    for number, (command, body, status) in enumerate(steps, start=2):
        intake.clock.advance(timedelta(hours=1))
        response = await intake.command(case_id, command, body)
        assert response.status_code == 200, (command, response.text)
        assert response.json()["version"] == number
        await intake.settled(case_id, lambda row, s=status: row["status"] == s)

    # Routing and escalation report about the case; the register shows what they decided.
    await intake.publish(
        "routing",
        "case",
        case_id,
        [
            routed_to_katra(case_id, "thana given"),
            CaseAssigned(
                case_id=case_id, officer="PNO152301", kendra="MSK-SJP-KATRA", reason="woman officer on duty"
            ),
            ReferralIssued(
                case_id=case_id,
                referral_id="R1",
                agency_code="CWC-SJP",
                agency_kind=AgencyKind.CHILD_WELFARE_COMMITTEE,
                reason="minor",
                due_at=intake.clock.now(),
            ),
        ],
        actor="routing",
    )
    await intake.publish(
        "escalation",
        "case",
        case_id,
        [
            CaseEscalated(
                case_id=case_id, level=2, role=LadderRole.CO, office_code="SJP-TILHAR", reason="disposal late"
            ),
        ],
        actor="escalation",
    )
    row = await intake.settled(
        case_id, lambda r: r["assigned_officer"] == "PNO152301" and r["escalation_level"] == 2
    )
    assert row["kendra"] == "MSK-SJP-KATRA" and row["escalation_role"] == "co"
    assert row["labels"]["status"] == {"en": "Closed", "hi": "बंद"}
    assert row["outcome"] == "chargesheet_filed" and row["identity"] == {"en": "protected", "hi": "सुरक्षित"}

    entries: list[dict[str, str]] = []

    async def whole_timeline() -> bool:
        entries[:] = (await intake.get(f"/cases/{case_id}/timeline")).json()["entries"]
        return len(entries) == 1 + len(steps) + 4

    await eventually(whole_timeline, what="every event in the timeline")
    types = [e["event_type"] for e in entries]
    assert types[:5] == [
        "CaseRegistered",
        "FirstContactMade",
        "ActionRecorded",
        "ActionRecorded",
        "ReferralMade",
    ]
    assert {
        "CaseRouted",
        "CaseAssigned",
        "ReferralIssued",
        "CaseEscalated",
        "NoteAdded",
        "CaseReopened",
    } <= set(types)
    for entry in entries:
        assert entry["text_en"] and entry["text_hi"] and entry["text_en"] != entry["text_hi"], entry
        assert not entry["text_en"].startswith("Recorded:"), entry  # every type has its own sentence
    fir = entries[2]
    assert "FIR no. 0042/2026" in fir["text_en"] and "एफआईआर संख्या 0042/2026" in fir["text_hi"]
    assert "पॉक्सो" in entries[0]["text_hi"] and "POCSO" in entries[0]["text_en"]
    assert "Mother present" not in str(entries) and "report.pdf" not in str(entries)  # sealed stays sealed

    # The case number finds the case, for whoever covers it.
    by_number = await intake.get(f"/cases/by-number/{case['case_number']}")
    assert by_number.status_code == 200 and by_number.json()["case_id"] == case_id


async def test_register_filters_paging_scope_and_counts(intake: Intake) -> None:
    katra = [await intake.register(category="domestic_violence") for _ in range(3)]
    intake.clock.advance(timedelta(days=2))
    urgent = await intake.register(category="stalking", danger_now=True)
    sadar = await intake.register(OTHER_THANA, thana="SJP-SADAR-BAZAR", category="cyber_harassment")
    unplaced = await intake.register(thana=None, pincode="242301", category="dowry_harassment")
    for c in [*katra, urgent]:
        await intake.case(c["case_id"])
    await intake.case(sadar["case_id"], OTHER_THANA)
    await intake.case(unplaced["case_id"], SP)

    async def register(principal: object = OFFICER, **params: object) -> dict[str, object]:
        response = await intake.get("/cases", principal, **params)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        page: dict[str, object] = response.json()
        return page

    def numbers(page: dict[str, object]) -> list[str]:
        return [c["case_number"] for c in page["cases"]]  # type: ignore[attr-defined]

    mine = await register()
    assert (
        mine["total"] == 4
    )  # the thana's cases only: not Sadar Bazar's, not the one routing has yet to place
    assert numbers(mine)[0] == urgent["case_number"]  # newest first
    assert (await register(priority="P1"))["total"] == 1
    assert (await register(category="domestic_violence"))["total"] == 3
    start = intake.clock.now() - timedelta(hours=1)
    assert numbers(await register(registered_from=start.isoformat())) == [urgent["case_number"]]
    assert (await register(registered_to=start.isoformat()))["total"] == 3
    first, second = await register(size=2, page=1), await register(size=2, page=2)
    assert len(numbers(first)) == 2 and not set(numbers(first)) & set(numbers(second))
    assert (await register(CO))["total"] == 4  # the circle of Tilhar
    assert (await register(SP))["total"] == 6  # the whole district
    # Answered 404 as late as a case that does not exist: a look that finds nothing waits for the
    # register to hold what is stored, and one outside the caller's reach did not (the time told it).
    register_model = intake.runner.context.projectors["intake_cases"]  # type: ignore[union-attr]
    waits: list[str] = []
    require_current = register_model.require_current

    async def counted() -> None:
        waits.append("require_current")
        await require_current()

    register_model.require_current = counted  # type: ignore[method-assign]
    try:
        assert (await intake.get(f"/cases/{sadar['case_id']}")).status_code == 404
        assert (await intake.get(f"/cases/by-number/{sadar['case_number']}")).status_code == 404
        assert (await intake.get("/cases/by-number/SJP-2026-999999")).status_code == 404
    finally:
        register_model.require_current = require_current  # type: ignore[method-assign]
    assert waits == ["require_current"] * 3

    # Once routing places the pincode-only case in Katra, Katra sees it.
    await intake.publish(
        "routing",
        "case",
        unplaced["case_id"],
        [
            routed_to_katra(unplaced["case_id"], "pincode 242301"),
        ],
        actor="routing",
    )
    await intake.case(unplaced["case_id"])

    # Overdue: a breached step still undone; done, it is no longer overdue.
    late = katra[0]["case_id"]
    due = intake.clock.now()
    await intake.publish(
        "escalation",
        "case",
        late,
        [
            ClockStarted(
                case_id=late,
                clock="first_contact",
                started_at=due - timedelta(hours=24),
                due_at=due,
                policy_version="v1",
            ),
            DeadlineApproaching(case_id=late, clock="first_contact", threshold_pct=75, due_at=due),
            SlaBreached(case_id=late, clock="first_contact", due_at=due, breached_at=due),
        ],
        actor="escalation",
    )
    await intake.settled(
        late,
        lambda r: r["overdue"] and r["overdue_clocks"] == ["first_contact"] and r["due_soon_clocks"] == [],
    )
    assert numbers(await register(overdue="true")) == [katra[0]["case_number"]]
    assert (await register(overdue="false"))["total"] == 4

    counts = await intake.get("/counts", STATE)
    assert counts.status_code == 200
    figures = counts.json()
    assert figures["status"] == {"registered": 6} and figures["overdue"] == 1
    assert figures["category"]["domestic_violence"] == 3 and figures["priority"]["P1"] == 1
    assert (await intake.get("/counts", OTHER_THANA)).json()["status"] == {"registered": 1}

    await intake.publish(
        "escalation",
        "case",
        late,
        [ClockStopped(case_id=late, clock="first_contact", at=due, met=False)],
        actor="escalation",
    )
    await intake.settled(late, lambda r: not r["overdue"])
    assert (await register(overdue="true"))["total"] == 0


async def test_who_may_do_what(intake: Intake) -> None:
    case = await intake.register()
    case_id = case["case_id"]
    await intake.case(case_id)
    # The state cell sees figures, never a case.
    assert (await intake.get("/cases", STATE)).status_code == 403
    assert (await intake.get(f"/cases/{case_id}", STATE)).status_code == 403
    assert (
        await intake.get(f"/cases/{case_id}/identity", STATE, purpose="supervisory_review")
    ).status_code == 403
    # Supervisors read the register but not the identity, and do not act on a case.
    assert (await intake.get(f"/cases/{case_id}", CO)).status_code == 200
    assert (
        await intake.get(f"/cases/{case_id}/identity", CO, purpose="supervisory_review")
    ).status_code == 403
    # A supervisor directs the officer in a note (sealed), but records no step of the case herself.
    assert (await intake.command(case_id, "notes", {"text": "x"}, principal=SP)).status_code == 200
    assert (
        await intake.command(case_id, "actions", {"kind": "counselling"}, principal=SP)
    ).status_code == 403
    # Another thana's officer: the case does not exist for her.
    refused = await intake.command(case_id, "actions", {"kind": "counselling"}, principal=OTHER_THANA)
    assert refused.status_code == 404 and refused.json()["detail"]["hi"]
    assert (await intake.command(case_id, "notes", {"text": "x"}, principal=OTHER_THANA)).status_code == 404
    assert (
        await intake.get(f"/cases/{case_id}/identity", OTHER_THANA, purpose="contact_complainant")
    ).status_code == 404
    # Only the in-charge (or SHO) erases; an officer may not.
    assert (
        await intake.command(case_id, "erase-identity", {"legal_basis": "dpdp_request"})
    ).status_code == 403
    assert (
        await intake.command(case_id, "erase-identity", {"legal_basis": "dpdp_request"}, principal=INCHARGE)
    ).status_code == 200
    # No token, no entry.
    assert (await intake.client.get("/api/intake/cases")).status_code == 401


async def test_routing_word_wins_in_whichever_order_the_streams_are_applied(
    intake: Intake, nats_client: NatsClient
) -> None:
    """The three streams are followed independently, so routing's events may be applied before the
    registration they are about. Applied in either order, the register row comes out the same."""
    case = await intake.register(thana=None, locality_code="SJP-KATRA-01")
    case_id = case["case_id"]
    intake.clock.advance(timedelta(minutes=5))  # routing decides after the registration
    await intake.publish(
        "routing",
        "case",
        case_id,
        [
            routed_to_katra(case_id, "locality"),
            CaseReassigned(
                case_id=case_id,
                from_officer=None,
                officer="PNO152302",
                kendra="MSK-SJP-KATRA",
                reason="in-charge",
            ),
        ],
        actor="routing",
    )
    live = await intake.settled(case_id, lambda r: r["assigned_officer"] == "PNO152302")
    intake_events = await EventStore(nats_client, "intake").load("case", case_id)
    routing_events = await EventStore(nats_client, "routing").load("case", case_id)

    engine = create_engine(intake.database_url)
    rows = []
    try:
        for n, order in enumerate([intake_events + routing_events, routing_events + intake_events]):
            projection = CaseRegister()
            await projection.open(intake.runner.settings, engine)  # the key store: phones are indexed
            metadata = MetaData()
            tables = projection.define(metadata, f"order{n}_")
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
            async with sessions(engine).begin() as session:
                batch = Rows(session)
                for envelope in order:
                    await projection.apply(batch, tables, envelope)
                await batch.flush()
            await projection.close()
            async with sessions(engine)() as session:
                rows.append(await find_case(session, tables, case_id=case_id))
    finally:
        await engine.dispose()
    keep = ("case_number", "status", "district", "circle", "thana", "kendra", "assigned_officer", "locality")
    assert rows[0] is not None and rows[1] is not None
    assert rows[0] == rows[1]  # every column, updated_at too: the latest event's time, not the last applied
    assert {k: rows[0][k] for k in keep} == {k: rows[1][k] for k in keep} == {k: live[k] for k in keep}
    assert rows[1]["thana"] == "SJP-KATRA" and rows[1]["case_number"] == case["case_number"]


async def test_a_rebuilt_register_is_the_same(intake: Intake) -> None:
    cases = [await intake.register() for _ in range(3)]
    await intake.command(cases[0]["case_id"], "first-contact", {"mode": "phone"})
    await intake.command(cases[1]["case_id"], "withdraw", {"reason": "moved_away"})
    before = {
        c["case_id"]: await intake.settled(
            c["case_id"], lambda r: r["status"] != "registered" or r["case_id"] == cases[2]["case_id"]
        )
        for c in cases
    }
    timeline = (await intake.get(f"/cases/{cases[0]['case_id']}/timeline")).json()
    projector = intake.runner.context.projector("intake_cases")  # type: ignore[union-attr]
    assert await projector.rebuild() == 2
    after = {c["case_id"]: await intake.case(c["case_id"]) for c in cases}
    assert after == before
    assert (await intake.get(f"/cases/{cases[0]['case_id']}/timeline")).json() == timeline
