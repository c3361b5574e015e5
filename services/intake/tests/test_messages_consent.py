"""The complainant's consent to be sent SMS about her case (issue 17), on a real NATS server: recorded
at registration (off unless the box is ticked), withdrawn later by the Kendra on her word, and only
inside the officer's jurisdiction."""

from __future__ import annotations

from services.intake.tests.conftest import CO, OFFICER, OTHER_THANA, Intake
from shared.contracts.intake import CaseRegistered, MessagesConsentWithdrawn
from shared.eventstore import EventStore
from tests.waiting import eventually

WITHDRAW = "withdraw-messages-consent"


async def registration(intake: Intake, case_id: str) -> list[object]:
    history = await EventStore(intake.nc, "intake").load("case", case_id)
    return [envelope.event() for envelope in history]


async def test_consent_to_messages_recorded_at_registration_and_withdrawn_on_her_word(
    intake_sqlite: Intake,
) -> None:
    intake = intake_sqlite
    agreed = (await intake.register(consent_to_messages=True))["case_id"]
    unasked = (await intake.register())["case_id"]
    [registered] = await registration(intake, agreed)
    assert isinstance(registered, CaseRegistered) and registered.consent_to_messages
    [other] = await registration(intake, unasked)
    assert isinstance(other, CaseRegistered) and not other.consent_to_messages

    # Outside the jurisdiction the case does not exist; a supervisor does not act on a case.
    assert (await intake.command(agreed, WITHDRAW, principal=OTHER_THANA)).status_code == 404
    assert (await intake.command(agreed, WITHDRAW, principal=CO)).status_code == 403
    withdrawn = await intake.command(agreed, WITHDRAW, principal=OFFICER, key="w-1")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["events"] == ["MessagesConsentWithdrawn"]
    # The same request again is answered as before; a new one finds nothing left to withdraw.
    again = await intake.command(agreed, WITHDRAW, principal=OFFICER, key="w-1")
    assert again.status_code == 200 and again.json() == withdrawn.json()
    refused = await intake.command(agreed, WITHDRAW, principal=OFFICER, key="w-2")
    assert refused.status_code == 409, refused.text
    assert refused.json()["detail"]["code"] == "no_messages_consent" and refused.json()["detail"]["hi"]
    assert (await intake.command(unasked, WITHDRAW)).status_code == 409
    assert isinstance((await registration(intake, agreed))[-1], MessagesConsentWithdrawn)

    # The case's story says both, in its own sentences.
    entries: list[dict[str, str]] = []

    async def told() -> bool:
        answer = await intake.get(f"/cases/{agreed}/timeline")
        if answer.status_code == 404:
            return False  # the register has yet to apply the registration (as ``Intake.case`` waits)
        entries[:] = answer.json()["entries"]
        return len(entries) == 2

    await eventually(told, what="the withdrawal in the timeline")
    assert "agreed to be sent SMS" in entries[0]["text_en"] and "एसएमएस" in entries[0]["text_hi"]
    assert entries[1]["event_type"] == "MessagesConsentWithdrawn"
    assert "no more SMS" in entries[1]["text_en"] and "एसएमएस" in entries[1]["text_hi"]
