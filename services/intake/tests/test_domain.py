"""The Case aggregate's rules and the priority table, without NATS or a database (the aggregate is pure)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.intake.domain import Case, Complaint
from services.intake.priority import load_priority_table
from shared.contracts.intake import CaseRegistered, MessagesConsentWithdrawn
from shared.contracts.vocabulary import (
    ActionKind,
    AgencyKind,
    AwaitingReason,
    CaseStatus,
    Category,
    Channel,
    CloseReason,
    ContactMode,
    ErasureBasis,
    Language,
    Outcome,
    Priority,
    ReopenReason,
    ViewPurpose,
    WithdrawReason,
)
from shared.errors import DomainError, NotFound
from shared.events import events
from shared.testing import apply_decided

TABLE = load_priority_table()
GOLDEN = Path(__file__).parents[3] / "tests" / "golden" / "intake"
NOW = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)


def complaint(
    category: Category = Category.DOMESTIC_VIOLENCE,
    *,
    minor: bool = False,
    danger_now: bool = False,
    thana: str | None = "SJP-KATRA",
) -> Complaint:
    return Complaint(
        channel=Channel.WALK_IN,
        category=category,
        district="SJP",
        circle="SJP-TILHAR",
        thana=thana,
        pincode=None,
        locality_code=None,
        minor=minor,
        danger_now=danger_now,
        language=Language.HINDI,
        consent_to_share=False,
    )


def registered(
    category: Category = Category.DOMESTIC_VIOLENCE, *, minor: bool = False, danger_now: bool = False
) -> CaseRegistered:
    [event] = Case("c1").register(
        complaint(category, minor=minor, danger_now=danger_now),
        case_number="SJP-2026-000001",
        sealed_identity="x",
        table=TABLE,
        by="PNO1",
    )
    assert isinstance(event, CaseRegistered)
    return event


def open_case() -> Case:
    case = Case("c1")
    apply_decided(
        case,
        case.register(
            complaint(), case_number="SJP-2026-000001", sealed_identity="x", table=TABLE, by="PNO1"
        ),
    )
    return case


def closed_case() -> Case:
    case = open_case()
    apply_decided(case, case.resolve(Outcome.COUNSELLED_RECONCILED, 5, None, "PNO1"))
    apply_decided(case, case.close(CloseReason.DISPOSED, None, "PNO1"))
    return case


def refused(code: str, attempt: object) -> None:
    """``attempt`` is a zero-argument callable that must raise the rule ``code``, bilingual."""
    with pytest.raises(DomainError) as caught:
        attempt()  # type: ignore[operator]
    assert caught.value.code == code
    assert caught.value.en and caught.value.hi and caught.value.en != caught.value.hi


def test_priority_comes_from_the_table_and_a_minor_raises_it() -> None:
    assert registered(category=Category.MAINTENANCE_PROPERTY).priority == Priority.P4
    assert registered(category=Category.MAINTENANCE_PROPERTY, minor=True).priority == Priority.P3
    assert registered(category=Category.DOMESTIC_VIOLENCE).priority == Priority.P2
    assert registered(category=Category.ACID_ATTACK, minor=True).priority == Priority.P1  # never past P1


def test_danger_now_forces_the_highest_priority_whatever_the_category() -> None:
    for category in Category:
        assert registered(category=category, danger_now=True).priority == Priority.P1


def test_a_minors_sexual_offence_case_is_flagged_for_pocso_and_the_cwc() -> None:
    assert registered(category=Category.SEXUAL_ASSAULT, minor=True).flags == ["pocso", "cwc"]
    assert registered(category=Category.STALKING, minor=True).flags == ["pocso", "cwc"]
    assert registered(category=Category.OFFENCE_AGAINST_MINOR).flags == ["pocso", "cwc"]
    assert registered(category=Category.SEXUAL_ASSAULT, minor=False).flags == []
    assert registered(category=Category.DOMESTIC_VIOLENCE, minor=True).flags == []


def test_registration_needs_a_thana_or_something_routing_can_resolve() -> None:
    refused(
        "place_missing",
        lambda: Case("c").register(
            complaint(thana=None), case_number="n", sealed_identity="x", table=TABLE, by="p"
        ),
    )
    refused(
        "case_exists",
        lambda: open_case().register(complaint(), case_number="n", sealed_identity="x", table=TABLE, by="p"),
    )


def test_a_category_the_table_leaves_out_is_not_offered(tmp_path: Path) -> None:
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text("categories:\n  domestic_violence: P3\nminor_raise: 0\n")
    table = load_priority_table(narrow)
    assert table.priority(Category.DOMESTIC_VIOLENCE, minor=True, danger_now=False) == Priority.P3
    refused(
        "category_not_offered",
        lambda: Case("c").register(
            complaint(Category.STALKING), case_number="n", sealed_identity="x", table=table, by="p"
        ),
    )


def test_a_wrong_priority_table_stops_the_start(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("categories:\n  domestic_violence: P9\n")
    with pytest.raises(ValidationError):
        load_priority_table(wrong)
    wrong.write_text("categories:\n  shoplifting: P2\n")
    with pytest.raises(ValidationError):
        load_priority_table(wrong)


def test_no_action_on_a_closed_case() -> None:
    case = closed_case()
    assert case.status == CaseStatus.CLOSED
    refused("case_closed", lambda: case.record_action(ActionKind.COUNSELLING, NOW, "PNO1"))
    refused("case_closed", lambda: case.make_first_contact(ContactMode.PHONE, NOW, "PNO1"))
    refused("case_closed", lambda: case.refer(AgencyKind.ONE_STOP_CENTRE, None, "PNO1"))
    refused("case_closed", lambda: case.add_note("sealed", "PNO1"))
    refused("case_closed", lambda: case.close(CloseReason.OTHER, None, "PNO1"))
    refused("case_closed", lambda: case.withdraw(WithdrawReason.OTHER, None, "PNO1"))


def test_reopen_only_a_closed_case() -> None:
    refused("not_closed", lambda: open_case().reopen(ReopenReason.NEW_INCIDENT, None, "PNO1"))
    case = closed_case()
    apply_decided(case, case.reopen(ReopenReason.NEW_INCIDENT, None, "PNO1"))
    assert case.status == CaseStatus.IN_PROGRESS
    apply_decided(case, case.record_action(ActionKind.COUNSELLING, NOW, "PNO1"))  # open again for actions


def test_resolve_needs_an_outcome_and_an_active_case() -> None:
    case = open_case()
    refused("outcome_missing", lambda: case.resolve(None, None, None, "PNO1"))
    apply_decided(case, case.resolve(Outcome.LEGAL_AID_GIVEN, 4, None, "PNO1"))
    refused("case_resolved", lambda: case.resolve(Outcome.OTHER, None, None, "PNO1"))
    refused("case_resolved", lambda: case.record_action(ActionKind.NOTICE, NOW, "PNO1"))


def test_first_contact_once_and_fir_with_its_number() -> None:
    case = open_case()
    apply_decided(case, case.make_first_contact(ContactMode.AT_KENDRA, NOW, "PNO1"))
    assert case.status == CaseStatus.IN_PROGRESS
    refused("first_contact_made", lambda: case.make_first_contact(ContactMode.PHONE, NOW, "PNO1"))
    refused("fir_number_missing", lambda: case.record_action(ActionKind.FIR_REGISTERED, NOW, "PNO1"))
    refused(
        "fir_number_unexpected", lambda: case.record_action(ActionKind.COUNSELLING, NOW, "PNO1", "12/2026")
    )
    [event] = case.record_action(ActionKind.FIR_REGISTERED, NOW, "PNO1", "0012/2026")
    assert event.fir_number == "0012/2026"  # type: ignore[attr-defined]


def test_waiting_for_the_complainant_and_her_response() -> None:
    case = open_case()
    refused("not_awaiting", lambda: case.complainant_responded("PNO1"))
    apply_decided(case, case.await_complainant(AwaitingReason.NOT_REACHABLE, None, "PNO1"))
    assert case.status == CaseStatus.AWAITING_COMPLAINANT
    refused("already_awaiting", lambda: case.await_complainant(AwaitingReason.OTHER, None, "PNO1"))
    apply_decided(case, case.complainant_responded("PNO1"))
    responded = case  # read afresh: the decision changed it after the check above
    assert responded.status == CaseStatus.IN_PROGRESS


def test_withdrawn_and_duplicate_cases_take_no_action_and_cannot_reopen() -> None:
    withdrawn = open_case()
    apply_decided(withdrawn, withdrawn.withdraw(WithdrawReason.SETTLED_BETWEEN_PARTIES, None, "PNO1"))
    refused("case_closed", lambda: withdrawn.record_action(ActionKind.COUNSELLING, NOW, "PNO1"))
    refused("not_closed", lambda: withdrawn.reopen(ReopenReason.OTHER, None, "PNO1"))
    original, copy = open_case(), Case("c2")
    apply_decided(
        copy,
        copy.register(
            complaint(), case_number="SJP-2026-000002", sealed_identity="x", table=TABLE, by="PNO1"
        ),
    )
    refused("duplicate_of_itself", lambda: original.mark_duplicate(original, "PNO1"))
    with pytest.raises(NotFound):
        copy.mark_duplicate(Case("nowhere"), "PNO1")
    [marked] = copy.mark_duplicate(original, "PNO1")
    assert marked.duplicate_of_number == "SJP-2026-000001"  # type: ignore[attr-defined]
    apply_decided(copy, [marked])
    assert copy.status == CaseStatus.DUPLICATE
    third = Case("c3")
    apply_decided(
        third,
        third.register(
            complaint(), case_number="SJP-2026-000003", sealed_identity="x", table=TABLE, by="PNO1"
        ),
    )
    refused("original_is_duplicate", lambda: third.mark_duplicate(copy, "PNO1"))


def test_after_erasure_identity_can_neither_be_read_nor_added_to() -> None:
    case = closed_case()
    [viewed] = case.view_identity(
        ViewPurpose.COURT_PROCEEDINGS, "sho", "PNO2"
    )  # a closed case's identity is still readable
    assert viewed.purpose == "court_proceedings"  # type: ignore[attr-defined]
    apply_decided(case, case.erase_identity(ErasureBasis.DPDP_REQUEST, "PNO2"))
    refused("identity_erased", lambda: case.view_identity(ViewPurpose.COURT_PROCEEDINGS, "sho", "PNO2"))
    refused("identity_erased", lambda: case.erase_identity(ErasureBasis.DPDP_REQUEST, "PNO2"))
    apply_decided(case, case.reopen(ReopenReason.COURT_DIRECTION, None, "PNO2"))
    refused("identity_erased", lambda: case.add_note("sealed", "PNO2"))


def test_a_case_that_does_not_exist() -> None:
    with pytest.raises(NotFound):
        Case("nowhere").record_action(ActionKind.COUNSELLING, NOW, "PNO1")


def test_consent_to_messages_is_recorded_at_registration_and_can_be_withdrawn_once() -> None:
    """She may agree to be sent SMS about her case (receipt, status); a registration without the box
    ticked records no consent, and a withdrawal stops it: refused when there is none to withdraw."""
    case = Case("c1")
    agreed = replace(complaint(), consent_to_messages=True)
    [event] = case.register(
        agreed, case_number="SJP-2026-000001", sealed_identity="x", table=TABLE, by="PNO1"
    )
    assert isinstance(event, CaseRegistered) and event.consent_to_messages
    apply_decided(case, [event])
    [withdrawn] = case.withdraw_messages_consent("PNO1")
    assert withdrawn == MessagesConsentWithdrawn(by="PNO1")
    apply_decided(case, [withdrawn])
    refused("no_messages_consent", lambda: case.withdraw_messages_consent("PNO1"))
    assert not registered().consent_to_messages
    refused("no_messages_consent", lambda: open_case().withdraw_messages_consent("PNO1"))
    # Withdrawing stays possible on a finished case: she may not want to hear of its reopening either.
    finished = Case("c2")
    apply_decided(
        finished, finished.register(agreed, case_number="N", sealed_identity="x", table=TABLE, by="P")
    )
    apply_decided(finished, finished.withdraw(WithdrawReason.OTHER, None, "P"))
    assert finished.withdraw_messages_consent("P") == [MessagesConsentWithdrawn(by="P")]


def test_a_registration_recorded_before_consent_to_messages_existed_reads_as_no_consent() -> None:
    payload = json.loads((GOLDEN / "CaseRegistered.v2.json").read_text())
    assert "consent_to_messages" not in payload
    decoded = events.decode("CaseRegistered", 2, payload)
    assert isinstance(decoded, CaseRegistered) and decoded.consent_to_messages is False
    assert decoded.consent_to_share is True  # the consent to share with agencies is another thing


def test_her_sms_goes_only_while_she_consents_and_is_not_erased_and_each_once() -> None:
    case = Case("c1")
    agreed = replace(complaint(), consent_to_messages=True)
    apply_decided(case, case.register(agreed, case_number="N", sealed_identity="x", table=TABLE, by="P"))
    assert case.why_no_message() is None
    [sent] = case.message_sent("n1", "sms_gateway", 2, NOW)
    apply_decided(case, [sent])
    assert case.message_sent("n1", "sms_gateway", 3, NOW) == []  # once
    assert case.message_failed("n1", 3, "http_503", False, NOW) == []
    apply_decided(case, case.message_failed("n2", 1, "timeout", False, NOW))
    assert case.message_tries == {"n2": 1}
    apply_decided(case, case.withdraw_messages_consent("P"))
    assert case.why_no_message() == "no_consent"
    erased = Case("c2")
    apply_decided(erased, erased.register(agreed, case_number="M", sealed_identity="x", table=TABLE, by="P"))
    apply_decided(erased, erased.erase_identity(ErasureBasis.DPDP_REQUEST, "P"))
    assert erased.why_no_message() == "identity_erased"
    assert open_case().why_no_message() == "no_consent"
