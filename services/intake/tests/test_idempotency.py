"""One rule for idempotency keys (``shared.commands``): a key is bound to who asks, the command, its
case and the request's body. The same request again gets its first answer; the same key with another
request is refused (409) and records nothing."""

from __future__ import annotations

from services.intake.tests.conftest import OFFICER, OTHER_THANA, Intake, complaint
from shared.contracts.intake import CaseRegistered
from shared.eventstore import EventStore


async def cases_in_stream(intake: Intake) -> int:
    store = EventStore(intake.nc, "intake")
    registered = await store.read_subject("INTAKE", "shakti.intake.case.*")
    return sum(1 for e in registered if e.event_type == CaseRegistered.event_type)


async def test_a_key_reused_for_another_complaint_is_refused_and_records_nothing(
    intake_sqlite: Intake,
) -> None:
    intake = intake_sqlite
    first = await intake.client.post(
        "/api/intake/cases", json=complaint(), headers=intake.as_(OFFICER, "walk-in-7")
    )
    assert first.status_code == 201
    again = await intake.client.post(
        "/api/intake/cases", json=complaint(), headers=intake.as_(OFFICER, "walk-in-7")
    )
    assert again.status_code == 201
    assert again.json()["case_id"] == first.json()["case_id"]

    other = complaint(category="stalking", identity={"name": "Another Woman", "phone": "9811111111"})
    reused = await intake.client.post(
        "/api/intake/cases", json=other, headers=intake.as_(OFFICER, "walk-in-7")
    )
    assert reused.status_code == 409, reused.text
    detail = reused.json()["detail"]
    assert detail["code"] == "idempotency_key_reused" and detail["en"] and detail["hi"]
    assert "Another Woman" not in reused.text
    assert await cases_in_stream(intake) == 1

    # The same key from another officer is another request altogether.
    theirs = await intake.client.post(
        "/api/intake/cases", json=other, headers=intake.as_(OTHER_THANA, "walk-in-7")
    )
    assert theirs.status_code == 201 and theirs.json()["case_id"] != first.json()["case_id"]


async def test_a_key_reused_for_another_command_body_on_a_case_is_refused(intake_sqlite: Intake) -> None:
    intake = intake_sqlite
    case_id = (await intake.register())["case_id"]
    done = await intake.command(case_id, "first-contact", {"mode": "phone"}, key="fc-1")
    assert done.status_code == 200, done.text
    repeat = await intake.command(case_id, "first-contact", {"mode": "phone"}, key="fc-1")
    assert repeat.status_code == 200 and repeat.json() == done.json()
    changed = await intake.command(case_id, "first-contact", {"mode": "visit"}, key="fc-1")
    assert changed.status_code == 409 and changed.json()["detail"]["code"] == "idempotency_key_reused"

    note = await intake.command(case_id, "notes", {"text": "Called her brother."}, key="note-1")
    assert note.status_code == 200
    other_note = await intake.command(case_id, "notes", {"text": "Visited the house."}, key="note-1")
    assert other_note.status_code == 409
    # The same key on another command of the same case is another request.
    action = await intake.command(case_id, "actions", {"kind": "counselling"}, key="note-1")
    assert action.status_code == 200, action.text
