"""The register's queries behind the Kendra queue (issue 15): each filter, the search by case number,
the most-urgent-first order and the paging are the read model's, inside the caller's jurisdiction;
a bad value is refused in both languages, naming the field."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from services.intake.read_model.queries import RegisterFilter, find_cases
from services.intake.read_model.tables import case_tables
from services.intake.tests.conftest import INCHARGE, OFFICER, OTHER_THANA, SP, Intake
from shared.auth import Principal
from shared.contracts.escalation import (
    CaseEscalated,
    ClockPaused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    SlaBreached,
)
from shared.contracts.routing import CaseAssigned
from shared.contracts.vocabulary import LadderRole

NAME, PHONE = "Sunita Devi", "9876543210"  # the identity every complaint() carries


async def test_each_filter_finds_exactly_its_cases_most_urgent_first_and_pages(intake: Intake) -> None:
    made: dict[str, dict[str, Any]] = {}
    for key, overrides in (
        ("danger", {"category": "domestic_violence", "danger_now": True}),  # P1
        ("late", {"category": "stalking"}),
        ("close", {"category": "domestic_violence"}),
        ("disposed", {"category": "dowry_harassment"}),
        ("p3", {"category": "family_dispute"}),
        ("p2", {"category": "stalking"}),
    ):
        intake.clock.advance(timedelta(minutes=5))
        made[key] = await intake.register(**overrides)
    # Another thana's case, whose number shares every prefix the search below tries.
    intake.clock.advance(timedelta(minutes=5))
    elsewhere = await intake.register(
        OTHER_THANA, thana="SJP-SADAR-BAZAR", category="domestic_violence", danger_now=True
    )
    ids = {key: case["case_id"] for key, case in made.items()}
    number = {key: case["case_number"] for key, case in made.items()}
    by_number = {n: key for key, n in number.items()}

    for key, officer in (("danger", OFFICER), ("disposed", OFFICER), ("late", INCHARGE)):
        assigned = CaseAssigned(
            case_id=ids[key], officer=str(officer.service_number), kendra="MSK-SJP-KATRA", reason="on duty"
        )
        await intake.publish("routing", "case", ids[key], [assigned], "routing")
    due = intake.clock.now()
    started = ClockStarted(
        case_id=ids["late"], clock="first_contact", started_at=due - timedelta(hours=1), due_at=due,
        policy_version="v1",
    )  # fmt: skip
    breached = SlaBreached(case_id=ids["late"], clock="first_contact", due_at=due, breached_at=due)
    await intake.publish("escalation", "case", ids["late"], [started, breached], "escalation")
    warned = DeadlineApproaching(case_id=ids["close"], clock="first_contact", threshold_pct=75, due_at=due)
    await intake.publish("escalation", "case", ids["close"], [warned], "escalation")
    for command, body in (
        ("resolve", {"outcome": "counselled_reconciled"}),
        ("close", {"reason": "disposed"}),
    ):
        assert (await intake.command(ids["disposed"], command, body)).status_code == 200
    await intake.settled(ids["late"], lambda r: r["overdue"] and r["assigned_officer"] == "PNO152302")
    await intake.settled(ids["close"], lambda r: r["due_soon_clocks"] == ["first_contact"])
    await intake.settled(ids["danger"], lambda r: r["assigned_officer"] == "PNO152301")
    await intake.settled(ids["disposed"], lambda r: r["status"] == "closed" and r["assigned_officer"])

    async def found(principal: Principal = OFFICER, **params: Any) -> list[str]:
        response = await intake.get("/cases", principal, sort="urgency", **params)
        assert response.status_code == 200, response.text
        assert NAME not in response.text and PHONE not in response.text
        page = response.json()
        return [by_number.get(c["case_number"], c["case_number"]) for c in page["cases"]]

    everything = ["late", "close", "danger", "p2", "p3", "disposed"]
    assert await found() == everything
    assert await found(open="true") == ["late", "close", "danger", "p2", "p3"]
    assert await found(open="false") == ["disposed"]
    assert await found(status="closed") == ["disposed"]
    assert await found(category="domestic_violence") == ["close", "danger"]
    assert await found(category="stalking") == ["late", "p2"]
    assert await found(danger_now="true") == ["danger"]
    assert await found(danger_now="false") == ["late", "close", "p2", "p3", "disposed"]
    assert await found(overdue="true") == ["late"]
    assert await found(due_soon="true") == ["close"]
    assert await found(due_soon="false", open="true") == ["late", "danger", "p2", "p3"]
    assert await found(mine="true") == ["danger", "disposed"]
    assert await found(INCHARGE, mine="true") == ["late"]
    assert await found(SP, mine="true") == []  # nothing is assigned to the SP's service number
    assert await found(mine="true", open="true", category="domestic_violence") == ["danger"]
    # By case number, whole or its beginning; the other thana's case never, whatever matches.
    assert await found(number=number["p3"]) == ["p3"]
    shared_prefix = number["danger"][:-1]
    assert elsewhere["case_number"].startswith(shared_prefix[:9])
    assert await found(number=shared_prefix) == [k for k in everything if number[k].startswith(shared_prefix)]
    assert await found(number=shared_prefix[:9]) == everything
    assert await found(OTHER_THANA, number=shared_prefix[:9]) == [elsewhere["case_number"]]
    assert await found(number="SJP-1999-") == []
    # The SP sees the whole district, the other thana's case in its place (danger now, P1).
    assert await found(SP) == ["late", "close", "danger", elsewhere["case_number"], "p2", "p3", "disposed"]

    # Pages of the same order, with the total of the whole filter.
    pages = []
    for n in (1, 2, 3, 4):
        response = await intake.get("/cases", OFFICER, sort="urgency", size=2, page=n)
        body = response.json()
        assert body["total"] == 6 and body["page"] == n and body["size"] == 2
        pages.append([by_number[c["case_number"]] for c in body["cases"]])
    assert pages == [["late", "close"], ["danger", "p2"], ["p3", "disposed"], []]
    open_pages = await intake.get("/cases", OFFICER, open="true", sort="urgency", size=3, page=2)
    assert open_pages.json()["total"] == 5 and len(open_pages.json()["cases"]) == 2
    # Newest first stays the register's default order.
    newest = (await intake.get("/cases", OFFICER)).json()["cases"]
    assert [by_number[c["case_number"]] for c in newest] == list(reversed(list(made)))


async def test_the_queue_runs_by_each_case_s_next_deadline_to_the_minute(intake: Intake) -> None:
    """Issue 15: sorted by the next deadline, with time left. The register knew only "late" or "close",
    so cases of one rank stood oldest first whatever their deadlines said."""
    now = intake.clock.now()
    made = {key: (await intake.register(category="stalking"))["case_id"] for key in ("a", "b", "c", "d")}
    key_of = {case_id: key for key, case_id in made.items()}

    def clock(key: str, name: str, due_in: timedelta, referral: str | None = None) -> ClockStarted:
        return ClockStarted(
            case_id=made[key], clock=name, started_at=now, due_at=now + due_in, policy_version="v1",
            referral_id=referral,
        )  # fmt: skip

    hour = timedelta(hours=1)
    await intake.publish("escalation", "case", made["a"], [clock("a", "disposal", 30 * hour)], "escalation")
    b = [clock("b", "first_contact", 3 * hour), clock("b", "referral_acknowledged", 1 * hour, referral="r1")]
    await intake.publish("escalation", "case", made["b"], b, "escalation")
    await intake.publish(
        "escalation", "case", made["c"], [clock("c", "first_contact", 2 * hour)], "escalation"
    )
    await intake.settled(made["b"], lambda r: r["next_due_at"] is not None)
    await intake.settled(made["c"], lambda r: r["next_due_at"] is not None)
    shown = await intake.settled(made["a"], lambda r: r["next_due_at"] is not None)
    assert shown["next_clock"] == "disposal"
    assert datetime.fromisoformat(shown["next_due_at"].replace("Z", "+00:00")) == now + 30 * hour
    assert shown["labels"]["next_clock"] == {"en": "Disposal", "hi": "निस्तारण"}

    async def order() -> list[str]:
        cases = (await intake.get("/cases", OFFICER, sort="urgency")).json()["cases"]
        return [key_of[c["case_id"]] for c in cases]

    assert await order() == ["b", "c", "a", "d"]  # d has no running clock: after those that have
    # The referral's acknowledgement is met: b's next deadline is its first contact, after c's.
    met = ClockStopped(case_id=made["b"], clock="referral_acknowledged", at=now, met=True, referral_id="r1")
    await intake.publish("escalation", "case", made["b"], [met], "escalation")
    await intake.settled(made["b"], lambda r: r["next_clock"] == "first_contact")
    assert await order() == ["c", "b", "a", "d"]
    # A paused clock has no deadline until it runs again.
    paused = ClockPaused(case_id=made["c"], clock="first_contact", at=now, remaining_seconds=7200)
    await intake.publish("escalation", "case", made["c"], [paused], "escalation")
    await intake.settled(made["c"], lambda r: r["next_due_at"] is None)
    assert await order() == ["b", "a", "c", "d"]
    resumed = ClockResumed(case_id=made["c"], clock="first_contact", at=now, due_at=now + 40 * hour)
    await intake.publish("escalation", "case", made["c"], [resumed], "escalation")
    await intake.settled(made["c"], lambda r: r["next_due_at"] is not None)
    assert await order() == ["b", "a", "c", "d"]


async def test_a_bad_filter_is_refused_in_both_languages_naming_the_field(intake_sqlite: Intake) -> None:
    await intake_sqlite.case((await intake_sqlite.register())["case_id"])
    someone_else = {"name": "Kamla Devi", "phone": "9123456780", "statement": "x"}
    await intake_sqlite.case((await intake_sqlite.register(identity=someone_else))["case_id"])
    for field, value in (
        ("status", "lost"),
        ("category", "burglary"),
        ("open", "perhaps"),
        ("due_soon", "later"),
        ("danger_now", "maybe"),
        ("mine", "x"),
        ("number", "sjp-2026"),  # the number is searched as written: capitals
        ("number", NAME),  # a name is no case number: nobody is found by who she is
        ("number", "SJP%"),
        ("number", "S" * 41),
        ("sort", "name"),
        ("page", "0"),
        ("size", "201"),
    ):
        response = await intake_sqlite.get("/cases", OFFICER, **{field: value})
        assert response.status_code == 422, (field, value, response.text)
        detail = response.json()["detail"]
        assert detail["en"] and detail["hi"] and detail["hi"] != detail["en"]
        assert [p["field"] for p in detail["fields"]] == [field], detail
        assert all(p["en"] and p["hi"] for p in detail["fields"])
        assert value not in response.text or len(value) < 3, "the refusal never repeats what was sent"
    # A field the register does not know is ignored, as before: no query by anything of hers exists,
    # so asking for her phone or name still gives both cases.
    for identity_field, value in (("phone", PHONE), ("name", NAME), ("q", PHONE)):
        asked = await intake_sqlite.get("/cases", OFFICER, **{identity_field: value})
        assert asked.status_code == 200 and asked.json()["total"] == 2, identity_field


async def test_a_place_s_queue_by_urgency_reads_an_index_in_order_and_sorts_nothing() -> None:
    """A district of a year's cases pages its queue as fast as its first page: SQLite walks an index
    in the urgency order instead of sorting every case of the place (a temporary B-tree)."""
    engine = create_async_engine("sqlite+aiosqlite://")
    metadata = MetaData()
    tables = case_tables(metadata, "t_")
    asked: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "ORDER BY" in statement:
            asked.append((statement, parameters))

    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    async with AsyncSession(engine) as session:
        for scope in ({"district": "SJP"}, {"circle": "SJP-TILHAR"}, {"thana": "SJP-KATRA"}, {}):
            await find_cases(session, tables, scope, RegisterFilter(by_urgency=True), page=40, size=20)
        await find_cases(
            session, tables, {"thana": "SJP-KATRA"}, RegisterFilter(kendra="MSK-SJP-KATRA", by_urgency=True),
            page=1, size=20,
        )  # fmt: skip
    event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert len(asked) == 5
    async with engine.connect() as connection:
        for statement, parameters in asked:
            plan = (await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)).all()
            steps = " / ".join(str(step[-1]) for step in plan)
            assert "TEMP B-TREE" not in steps, steps
            assert "SCAN" not in steps.replace("SCAN CONSTANT ROW", "") or "USING INDEX" in steps, steps
    await engine.dispose()


async def test_the_queue_filters_by_what_is_due_within_hours_and_by_escalation_level(intake: Intake) -> None:
    """Issue 15's filters "level" and "due within": the cases whose next deadline is within the hours
    asked (a passed one included), and the cases escalated to one level of the ladder (0: not escalated)."""
    now = intake.clock.now()
    made = {key: (await intake.register(category="stalking"))["case_id"] for key in ("soon", "later", "none")}
    key_of = {case_id: key for key, case_id in made.items()}
    hour = timedelta(hours=1)
    for key, due_in in (("soon", 2 * hour), ("later", 30 * hour)):
        started = ClockStarted(
            case_id=made[key], clock="first_contact", started_at=now, due_at=now + due_in, policy_version="v1"
        )
        await intake.publish("escalation", "case", made[key], [started], "escalation")
        await intake.settled(made[key], lambda r: r["next_due_at"] is not None)
    escalated = CaseEscalated(
        case_id=made["later"], level=2, role=LadderRole.SHO, office_code="SJP-KATRA",
        reason="breach:first_contact",
    )  # fmt: skip
    await intake.publish("escalation", "case", made["later"], [escalated], "escalation")
    await intake.settled(made["later"], lambda r: r["escalation_level"] == 2)

    async def found(**params: Any) -> set[str]:
        answer = await intake.get("/cases", OFFICER, **params)
        assert answer.status_code == 200, answer.text
        return {key_of[c["case_id"]] for c in answer.json()["cases"]}

    assert await found(due_within_hours=4) == {"soon"}
    assert await found(due_within_hours=48) == {"soon", "later"}
    assert await found(level=2) == {"later"}
    assert await found(level=0) == {"soon", "none"}
    refused = await intake.get("/cases", OFFICER, level=7)
    assert refused.status_code == 422
