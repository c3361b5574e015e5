"""The routing rules on the duty board and the aggregates, without I/O: which thana, which officer,
which referrals, and what the case's record accepts."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.routing.board import DutyBoard
from services.routing.domain import (
    CaseRouting,
    DistrictJurisdiction,
    Pick,
    Placement,
    ReferralOrder,
    Unroutable,
    Vacancy,
    Wording,
)
from services.routing.jurisdiction import read_jurisdiction
from services.routing.policy import RoutingPolicy
from services.routing.tests.conftest import SAMPLE, case_fields
from shared.contracts.escalation import CaseEscalated
from shared.contracts.intake import CaseClosed, CaseRegistered
from shared.contracts.routing import (
    AgencyDefined,
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CaseUnassigned,
    JurisdictionImported,
    OfficerDutyChanged,
    OfficerEnrolled,
    OfficerPosted,
    ThanaDefined,
    UnitRetired,
)
from shared.contracts.training import CertificationLapsed, OfficerCertified
from shared.contracts.vocabulary import AgencyKind, Category, DutyStatus, LadderRole
from shared.errors import DomainError
from shared.events import Envelope, Event
from shared.testing import apply_decided

T0 = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
CONTROL = "MSK-SJP-MAHILA-THANA"


class Fold:
    """Feeds events to a board as numbered envelopes, as the streams would."""

    def __init__(self) -> None:
        self.board = DutyBoard()
        self.seq = 0

    def __call__(self, event: Event, aggregate_id: str = "x") -> None:
        self.seq += 1
        self.board.apply(
            Envelope(
                event_id=uuid.uuid4(),
                event_type=event.event_type,
                schema_version=event.schema_version,
                aggregate_type="x",
                aggregate_id=aggregate_id,
                aggregate_version=1,
                occurred_at=T0,
                correlation_id=uuid.uuid4(),
                actor="test",
                command_id=uuid.uuid4().hex,
                payload=event.model_dump(mode="json"),
                sequence=self.seq,
            )
        )

    def officer(self, sn: str, kendra: str, gender: str = "female", *, incharge: bool = False) -> None:
        self(OfficerEnrolled(service_number=sn, name=sn, rank="constable", gender=gender))
        thana = kendra.removeprefix("MSK-")
        self(
            OfficerPosted(
                service_number=sn, kendra=kendra, thana=thana, circle="C", district="SJP", incharge=incharge
            )
        )

    def assign(self, case_id: str, officer: str, kendra: str, category: Category = Category.OTHER) -> None:
        self(CaseRegistered(**case_fields(category=category)), case_id)
        self(CaseRouted(case_id=case_id, district="SJP", circle="C", thana="T", kendra=kendra, reason="r"))
        self(CaseAssigned(case_id=case_id, officer=officer, kendra=kendra, reason="r"))


@pytest.fixture
def fold() -> Fold:
    f = Fold()
    for definition in read_jurisdiction(SAMPLE.read_text(encoding="utf-8")).definitions:
        f(definition, "SJP")
    return f


@pytest.mark.parametrize(
    ("thana", "pincode", "locality", "kendra", "flagged", "says"),
    [
        ("SJP-KATRA", None, None, "MSK-SJP-KATRA", False, "thana SJP-KATRA was given"),
        (None, "242307", None, "MSK-SJP-TILHAR", False, "PIN code 242307 belongs to thana SJP-TILHAR alone"),
        (
            None,
            "242001",
            "SJP-KOTWALI-01",
            "MSK-SJP-KOTWALI",
            False,
            "locality SJP-KOTWALI-01 is listed for thana SJP-KOTWALI",
        ),
        (None, "242001", "SJP-SADAR-BAZAR-01", "MSK-SJP-SADAR-BAZAR", False, "PIN code 242001 is shared"),
        (None, "242001", None, CONTROL, True, "sent to the district's control Kendra"),
        (None, "242001", "SJP-KATRA-01", CONTROL, True, "SJP-KATRA-01 is not a locality of the thanas left"),
        (None, "242001", "SJP-NOWHERE-01", CONTROL, True, "SJP-NOWHERE-01 is not a locality"),
        (None, None, "SJP-NIGOHI-01", "MSK-SJP-NIGOHI", False, "locality SJP-NIGOHI-01 is listed for thana"),
        (None, "999999", None, CONTROL, True, "PIN code 999999 is not on district SJP's list"),
        (None, None, None, CONTROL, True, "no thana, PIN code or locality was given"),
        ("SJP-NOWHERE", "242307", None, "MSK-SJP-TILHAR", False, "thana code SJP-NOWHERE is not a thana"),
    ],
)
def test_the_thana_comes_from_code_pincode_or_locality_else_the_control_kendra(
    fold: Fold,
    thana: str | None,
    pincode: str | None,
    locality: str | None,
    kendra: str,
    flagged: bool,
    says: str,
) -> None:
    placed = fold.board.resolve_place("SJP", thana, pincode, locality)
    assert isinstance(placed, Placement)
    assert (placed.kendra, placed.flagged) == (kendra, flagged)
    assert says in placed.reason.en and placed.reason.hi


def test_a_district_without_jurisdiction_or_control_kendra_is_unroutable(fold: Fold) -> None:
    placed = fold.board.resolve_place("LKO", None, "226001", None)
    assert isinstance(placed, Unroutable) and "district LKO has no jurisdiction" in placed.why.en
    fold(UnitRetired(level="kendra", code=CONTROL, district="SJP"))
    placed = fold.board.resolve_place("SJP", None, None, None)
    assert isinstance(placed, Unroutable) and "no control Kendra" in placed.why.en
    assert isinstance(fold.board.resolve_place("SJP", "SJP-KATRA", None, None), Placement)


def test_a_retired_thana_takes_no_new_cases(fold: Fold) -> None:
    fold(UnitRetired(level="thana", code="SJP-NIGOHI", district="SJP"))
    placed = fold.board.resolve_place("SJP", None, "242407", None)
    assert isinstance(placed, Placement) and placed.kendra == CONTROL


KATRA = "MSK-SJP-KATRA"


def test_sexual_offence_goes_to_an_on_duty_woman_certified_first_then_least_loaded(fold: Fold) -> None:
    fold.officer("PNO1", KATRA, "male")
    fold.officer("PNO2", KATRA)
    fold.officer("PNO3", KATRA)
    fold.officer("PNO4", KATRA)
    fold(OfficerDutyChanged(service_number="PNO4", status=DutyStatus.ON_LEAVE))
    for n in range(3):
        fold.assign(f"old{n}", "PNO2" if n < 2 else "PNO3", KATRA)
    # Least open workload among the women on duty: PNO3 (1) before PNO2 (2); the man and the one on leave never.
    pick = fold.board.pick(KATRA, Category.SEXUAL_HARASSMENT, T0)
    assert isinstance(pick, Pick) and pick.officer == "PNO3" and not pick.flagged
    assert "a woman officer" in pick.reason.en and "fewest open cases (1)" in pick.reason.en
    assert "none of them is certified" in pick.reason.en
    # Certified for the category comes before workload.
    fold(
        OfficerCertified(
            service_number="PNO2",
            certificate_id="C1",
            endorsements=[Category.SEXUAL_HARASSMENT],
            issued_at=T0,
            valid_until=T0 + timedelta(days=365),
        )
    )
    pick = fold.board.pick(KATRA, Category.SEXUAL_HARASSMENT, T0)
    assert isinstance(pick, Pick) and pick.officer == "PNO2" and "certified for" in pick.reason.en
    # ... while the certificate is valid and not lapsed.
    later = fold.board.pick(KATRA, Category.SEXUAL_HARASSMENT, T0 + timedelta(days=366))
    assert isinstance(later, Pick) and later.officer == "PNO3"
    fold(CertificationLapsed(service_number="PNO2", certificate_id="C1", why="retraining"))
    assert fold.board.pick(KATRA, Category.SEXUAL_HARASSMENT, T0).officer == "PNO3"  # type: ignore[union-attr]
    # Any officer for other categories: the man has no open case.
    assert fold.board.pick(KATRA, Category.FAMILY_DISPUTE, T0).officer == "PNO1"  # type: ignore[union-attr]


def test_closed_cases_do_not_count_as_workload(fold: Fold) -> None:
    fold.officer("PNO1", KATRA)
    fold.officer("PNO2", KATRA)
    fold.assign("a", "PNO1", KATRA)
    fold.assign("b", "PNO1", KATRA)
    fold.assign("c", "PNO2", KATRA)
    assert fold.board.pick(KATRA, Category.OTHER, T0).officer == "PNO2"  # type: ignore[union-attr]
    fold(CaseClosed(reason="resolved", by="PNO1"), "a")
    fold(CaseClosed(reason="resolved", by="PNO1"), "b")
    assert fold.board.workload["PNO1"] == 0
    assert fold.board.pick(KATRA, Category.OTHER, T0).officer == "PNO1"  # type: ignore[union-attr]


def test_when_nobody_is_eligible_the_incharge_takes_it_flagged(fold: Fold) -> None:
    fold.officer("PNO1", KATRA, "male", incharge=True)
    fold.officer("PNO2", KATRA)
    fold(OfficerDutyChanged(service_number="PNO2", status=DutyStatus.OFF_DUTY))
    pick = fold.board.pick(KATRA, Category.SEXUAL_ASSAULT, T0)
    assert isinstance(pick, Pick) and pick.officer == "PNO1" and pick.flagged
    assert "no woman officer on duty" in pick.reason.en and "in-charge takes it" in pick.reason.en
    vacancy = fold.board.pick(KATRA, Category.SEXUAL_ASSAULT, T0, exclude={"PNO1"})
    assert isinstance(vacancy, Vacancy)
    assert isinstance(fold.board.pick("MSK-SJP-KALAN", Category.OTHER, T0), Vacancy)


def test_a_later_incharge_posting_replaces_the_earlier(fold: Fold) -> None:
    fold.officer("PNO1", KATRA, incharge=True)
    fold.officer("PNO2", KATRA, incharge=True)
    assert fold.board.incharge[KATRA] == "PNO2"
    fold.officer("PNO2", "MSK-SJP-KALAN")
    assert KATRA not in fold.board.incharge


@pytest.mark.parametrize(
    ("category", "minor", "kinds"),
    [
        (Category.DOMESTIC_VIOLENCE, False, [AgencyKind.ONE_STOP_CENTRE]),
        (Category.SEXUAL_ASSAULT, True, [AgencyKind.CHILD_WELFARE_COMMITTEE, AgencyKind.ONE_STOP_CENTRE]),
        (Category.OFFENCE_AGAINST_MINOR, False, [AgencyKind.CHILD_WELFARE_COMMITTEE]),
        (Category.STALKING, True, [AgencyKind.CHILD_WELFARE_COMMITTEE]),
        (Category.CYBER_HARASSMENT, False, []),
    ],
)
def test_referrals_by_rule_with_an_acknowledgement_deadline(
    fold: Fold, category: Category, minor: bool, kinds: list[AgencyKind]
) -> None:
    due_in = RoutingPolicy(
        referral_ack_hours=24, referral_ack_hours_by_kind={"one_stop_centre": 6}
    ).referral_due_in()
    orders, missing = fold.board.referrals_for("SJP", category, minor, T0, due_in)
    assert [o.agency_kind for o in orders] == kinds
    assert missing.en == ""
    for order in orders:
        hours = 6 if order.agency_kind == AgencyKind.ONE_STOP_CENTRE else 24
        assert order.due_at == T0 + timedelta(hours=hours)
        assert order.agency_code in ("SJP-OSC", "SJP-CWC")


def test_a_referral_no_agency_can_take_is_noted_not_issued(fold: Fold) -> None:
    fold(UnitRetired(level="agency", code="SJP-CWC", district="SJP"))
    orders, missing = fold.board.referrals_for(
        "SJP", Category.OTHER, True, T0, RoutingPolicy().referral_due_in()
    )
    assert orders == [] and "no Child Welfare Committee is defined for district SJP" in missing.en


PLACE = Placement("SJP", "SJP-TILHAR", "SJP-KATRA", KATRA, Wording("why", "क्यों"))
PICK = Pick("PNO1", Wording("because", "क्योंकि"))


def routed_case(order: ReferralOrder | None = None) -> CaseRouting:
    case = CaseRouting("c1")
    apply_decided(case, case.place_at(PLACE))
    apply_decided(case, case.assign_first(PICK))
    if order:
        apply_decided(case, case.issue_referral(order))
    return case


def test_a_case_is_routed_and_assigned_once() -> None:
    case = CaseRouting("c1")
    assert case.assign_first(PICK) == []  # not before it is routed
    [placed] = apply_decided(case, case.place_at(PLACE))
    [assigned] = apply_decided(case, case.assign_first(PICK))
    assert (
        isinstance(placed, CaseRouted) and isinstance(assigned, CaseAssigned) and assigned.officer == "PNO1"
    )
    assert case.place_at(PLACE) == [] and case.assign_first(Pick("PNO2", PICK.reason)) == []
    # Waiting for an officer is a decision too: a later registration does not assign it again.
    waiting = CaseRouting("c2")
    apply_decided(waiting, waiting.place_at(PLACE))
    apply_decided(waiting, waiting.assign_first(Vacancy(Wording("nobody", "कोई नहीं"))))
    assert waiting.assign_first(PICK) == [] and waiting.officer is None
    # The same referral kind is not issued twice while one is open.
    order = ReferralOrder("SJP-OSC", AgencyKind.ONE_STOP_CENTRE, Wording("r", "र"), T0)
    assert len(apply_decided(case, case.issue_referral(order))) == 1
    assert case.issue_referral(order) == []


def test_a_move_decided_on_an_old_picture_is_dropped() -> None:
    case = routed_case()
    cause = Wording("off duty", "ड्यूटी से बाहर")
    assert case.reassign(Pick("PNO2", cause), cause=cause, trigger="off_duty", expected_holder="PNO9") == []
    [moved] = apply_decided(
        case, case.reassign(Pick("PNO2", cause), cause=cause, trigger="off_duty", expected_holder="PNO1")
    )
    assert isinstance(moved, CaseReassigned) and moved.from_officer == "PNO1" and moved.trigger == "off_duty"
    [released] = apply_decided(
        case, case.reassign(Vacancy(cause), cause=cause, trigger="off_duty", expected_holder="PNO2")
    )
    assert isinstance(released, CaseUnassigned) and case.officer is None
    assert case.reassign(Vacancy(cause), cause=cause, trigger="off_duty", expected_holder=None) == []
    escalation = case.reassign(
        Vacancy(cause), cause=cause, trigger="escalation", expected_holder=None, release_on_vacancy=False
    )
    assert escalation == []


def test_transfer_keeps_the_record_and_refuses_the_same_kendra() -> None:
    case = routed_case()
    kalan = Placement("SJP", "SJP-JALALABAD", "SJP-KALAN", "MSK-SJP-KALAN", Wording("to Kalan", "कलान"))
    routed, moved = apply_decided(
        case, case.transfer(kalan, Pick("PNO7", PICK.reason), Wording("wrong", "गलत"))
    )
    assert (
        isinstance(routed, CaseRouted) and routed.transfer_from == KATRA and routed.reason.startswith("wrong")
    )
    assert (
        isinstance(moved, CaseReassigned) and moved.from_officer == "PNO1" and moved.kendra == "MSK-SJP-KALAN"
    )
    with pytest.raises(DomainError) as refused:
        case.transfer(kalan, PICK, Wording("again", "फिर"))
    assert refused.value.hi
    # Never out of its district: a thana of another district is refused (the SP answers for the case).
    lucknow = Placement("LKO", "LKO-C1", "LKO-HAZRATGANJ", "MSK-LKO-HAZRATGANJ", Wording("to LKO", "लखनऊ"))
    with pytest.raises(DomainError) as elsewhere:
        routed_case().transfer(lucknow, PICK, Wording("wrong", "गलत"))
    assert elsewhere.value.code == "other_district" and elsewhere.value.hi


def test_referral_answers_follow_its_state() -> None:
    order = ReferralOrder("SJP-OSC", AgencyKind.ONE_STOP_CENTRE, Wording("r", "र"), T0)
    case = routed_case(order)
    [rid] = case.referrals
    with pytest.raises(DomainError):
        case.reject_referral(rid, "PNO1", "because I say so")  # free text is refused: codes only
    apply_decided(case, case.accept_referral(rid, "PNO1"))
    with pytest.raises(DomainError):
        case.accept_referral(rid, "PNO1")
    apply_decided(case, case.complete_referral(rid, "PNO1"))
    # A closed referral lets the same kind be issued again, under a new id.
    [again] = case.issue_referral(order)
    assert again.referral_id != rid  # type: ignore[attr-defined]


def test_import_records_only_differences() -> None:
    parsed = read_jurisdiction(SAMPLE.read_text(encoding="utf-8"))
    district = DistrictJurisdiction("SJP")
    first = district.import_file(parsed.definitions, version="1", source="f", checksum="a")
    assert len(first) == len(parsed.definitions) + 1 and isinstance(first[-1], JurisdictionImported)
    apply_decided(district, first)
    assert district.import_file(parsed.definitions, version="1", source="f", checksum="a") == []
    changed = [
        d.model_copy(update={"pincodes": ["242301", "242302"]})
        if isinstance(d, ThanaDefined) and d.code == "SJP-KATRA"
        else d
        for d in parsed.definitions
        if not (isinstance(d, AgencyDefined) and d.code == "SJP-SHELTER")
    ]
    second = district.import_file(changed, version="2", source="f", checksum="b")
    assert [type(e) for e in second] == [ThanaDefined, UnitRetired, JurisdictionImported]
    assert second[1] == UnitRetired(level="agency", code="SJP-SHELTER", district="SJP")


@pytest.mark.parametrize(
    ("level", "reason", "moves"),
    [
        (2, "danger_now:first_contact", False),
        (3, "danger_now:first_contact", False),
        (1, "breach:first_contact", False),
        (2, "breach:first_contact", True),
        (2, "unanswered:first_contact", True),
        (4, "unanswered:action_taken", True),
    ],
)
def test_only_lateness_from_the_set_level_moves_a_case(level: int, reason: str, moves: bool) -> None:
    escalated = CaseEscalated(
        case_id="c1", level=level, role=list(LadderRole)[level - 1], office_code="SJP-KATRA", reason=reason
    )
    assert RoutingPolicy().moves_case(escalated) is moves
    assert RoutingPolicy(reassign_from_escalation_level=0).moves_case(escalated) is False
