"""A case as it stood at any past moment (issue 15): its status, officer, deadlines and timeline up to
then, folded from its events by the register's own projection, inside the caller's jurisdiction."""

from __future__ import annotations

from datetime import timedelta

from services.intake.tests.conftest import OFFICER, OTHER_THANA, SP, Intake
from shared.contracts.escalation import ClockStarted, ClockStopped, SlaBreached
from shared.contracts.routing import CaseAssigned
from shared.events import Envelope


async def test_the_case_as_it_stood_at_each_moment(intake_sqlite: Intake) -> None:
    intake = intake_sqlite
    registered = intake.clock.now()
    case_id = (await intake.register())["case_id"]
    intake.clock.advance(timedelta(minutes=1))  # escalation and routing answer the registration
    due = registered + timedelta(hours=24)
    started = ClockStarted(
        case_id=case_id, clock="first_contact", started_at=registered, due_at=due, policy_version="v1"
    )
    await intake.publish("escalation", "case", case_id, [started], "escalation")
    assigned = CaseAssigned(case_id=case_id, officer="PNO152301", kendra="MSK-SJP-KATRA", reason="on duty")
    await intake.publish("routing", "case", case_id, [assigned], "routing")
    intake.clock.advance(timedelta(hours=2))
    contacted = intake.clock.now()
    answer = await intake.command(case_id, "first-contact", {"mode": "phone"})
    assert answer.status_code == 200, answer.text
    stopped = ClockStopped(case_id=case_id, clock="first_contact", at=contacted, met=True)
    await intake.publish("escalation", "case", case_id, [stopped], "escalation")
    intake.clock.advance(timedelta(hours=1))
    await intake.settled(case_id, lambda r: r["status"] == "in_progress" and r["next_due_at"] is None)

    async def as_of(moment: str, principal: object = OFFICER) -> dict[str, object]:
        response = await intake.get(f"/cases/{case_id}/as-of", principal, at=moment)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    # Just after registration, before first contact: registered, its first-contact deadline running.
    before = await as_of((registered + timedelta(minutes=30)).isoformat())
    case = before["case"]
    assert isinstance(case, dict)
    assert case["status"] == "registered" and case["first_contact_at"] is None
    assert case["next_clock"] == "first_contact" and case["assigned_officer"] == "PNO152301"
    entries = before["entries"]
    assert isinstance(entries, list)
    assert entries[0]["event_type"] == "CaseRegistered"
    assert "FirstContactMade" not in {e["event_type"] for e in entries}
    # After first contact: in progress, the deadline met and gone.
    after = await as_of((contacted + timedelta(minutes=1)).isoformat())
    assert isinstance(after["case"], dict) and after["case"]["status"] == "in_progress"
    assert after["case"]["next_due_at"] is None
    # Now, it is the live register's case.
    live = (await intake.get(f"/cases/{case_id}", OFFICER)).json()
    now = await as_of(intake.clock.now().isoformat())
    assert isinstance(now["case"], dict)
    assert {k: now["case"][k] for k in ("status", "assigned_officer", "first_contact_at")} == {
        k: live[k] for k in ("status", "assigned_officer", "first_contact_at")
    }
    # Before it was registered there was no case; a time without its zone, or in the future, is refused.
    earlier = await intake.get(
        f"/cases/{case_id}/as-of", OFFICER, at=(registered - timedelta(hours=1)).isoformat()
    )
    assert earlier.status_code == 404 and earlier.json()["detail"]["hi"]
    naive = await intake.get(f"/cases/{case_id}/as-of", OFFICER, at="2026-01-10T09:00:00")
    assert naive.status_code == 422 and naive.json()["detail"]["hi"]
    to_come = (intake.clock.now() + timedelta(days=1)).isoformat()
    future = await intake.get(f"/cases/{case_id}/as-of", OFFICER, at=to_come)
    assert future.status_code == 422 and future.json()["detail"]["code"] == "in_future"
    # Only inside the caller's jurisdiction, as the case itself.
    assert (
        await intake.get(f"/cases/{case_id}/as-of", OTHER_THANA, at=contacted.isoformat())
    ).status_code == 404
    assert (await intake.get(f"/cases/{case_id}/as-of", SP, at=contacted.isoformat())).status_code == 200


async def test_each_stream_is_folded_in_its_own_order_though_its_times_do_not_rise(
    intake_sqlite: Intake,
) -> None:
    """The timer records a breach at the deadline; escalation's reaction to a first contact made a
    second before it comes after, carrying the contact's time. Sorted by time, the fold said overdue
    where the register (and the truth) says met (found by review; failed first)."""
    intake = intake_sqlite
    start = intake.clock.now()
    case_id = (await intake.register())["case_id"]
    due = start + timedelta(hours=1)
    started = ClockStarted(
        case_id=case_id, clock="first_contact", started_at=start, due_at=due, policy_version="v1"
    )
    await intake.publish("escalation", "case", case_id, [started], "escalation")
    intake.clock.set(due)
    breached = SlaBreached(case_id=case_id, clock="first_contact", due_at=due, breached_at=due)
    await intake.publish("escalation", "case", case_id, [breached], "escalation")
    intake.clock.set(due - timedelta(seconds=1))
    met = ClockStopped(case_id=case_id, clock="first_contact", at=due - timedelta(seconds=1), met=True)
    await intake.publish("escalation", "case", case_id, [met], "escalation")
    live = await intake.settled(case_id, lambda r: r["next_due_at"] is None and r["overdue"] is False)
    intake.clock.set(due + timedelta(minutes=1))  # something later, so that the moment asked is past
    assert (await intake.command(case_id, "notes", {"text": "called back"})).status_code == 200
    after_both = (due + timedelta(seconds=30)).isoformat()
    folded = (await intake.get(f"/cases/{case_id}/as-of", OFFICER, at=after_both)).json()["case"]
    assert folded["overdue"] == live["overdue"] is False and folded["next_due_at"] is None


async def test_a_case_number_is_issued_at_the_service_s_time_not_the_wall_clock(
    intake_sqlite: Intake,
) -> None:
    """A history loaded on a historical clock (the demo's 90 days, ``bench.state``'s year) stamped the
    number's event with today's wall clock while the case's registration had its own moment (found by
    the fast load's comparison; failed first)."""
    intake = intake_sqlite
    intake.clock.set(intake.clock.now() - timedelta(days=40))
    case_id = (await intake.register())["case_id"]
    js = intake.nc.jetstream()
    last = (await js.stream_info("INTAKE")).state.last_seq
    stored = [
        Envelope.model_validate_json((await js.get_msg("INTAKE", seq)).data or b"{}")
        for seq in range(1, last + 1)
    ]
    [number] = [e for e in stored if e.event_type == "CaseNumberIssued" and e.payload["case_id"] == case_id]
    [registered] = [e for e in stored if e.event_type == "CaseRegistered" and e.aggregate_id == case_id]
    assert number.occurred_at == registered.occurred_at == intake.clock.now()
