"""The escalation aggregate on its own (pure: no NATS, no database): which events start, pause, resume
and stop which clock, warnings, breaches and the ladder."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from services.escalation.domain import (
    EscalationCase,
    Jurisdiction,
    Place,
    Registration,
    ThanaPlace,
    ladder_offices,
)
from services.escalation.policy import load_policy
from shared.contracts.escalation import (
    CaseEscalated,
    CaseWatchClosed,
    CaseWatchReopened,
    ClockPaused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    EscalationAcknowledged,
    NextCheckScheduled,
    SlaBreached,
)
from shared.contracts.vocabulary import Category, LadderRole, Priority
from shared.errors import DomainError
from shared.events import Event
from shared.testing import apply_decided

POLICY = load_policy()
T0 = datetime(2026, 1, 12, 4, 30, tzinfo=UTC)  # Monday 12 January 2026, 10:00 in Kolkata
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
KATRA = Place("SJP", "SJP-TILHAR", "SJP-KATRA", "MSK-SJP-KATRA")
OFFICES = ladder_offices(KATRA, Jurisdiction(), "UP")


E = TypeVar("E", bound=Event)


def of(kind: type[E], new: Sequence[Event]) -> list[E]:
    return [e for e in new if isinstance(e, kind)]


def registered(
    priority: Priority = Priority.P3, category: Category = Category.DOMESTIC_VIOLENCE, danger: bool = False
) -> tuple[EscalationCase, list[Event]]:
    case = EscalationCase("c1")
    registration = Registration(
        "SJP-2026-000001", priority, category, danger, "SJP", "SJP-TILHAR", "SJP-KATRA", T0
    )
    return case, apply_decided(case, case.watch(registration, POLICY, OFFICES))


def lifecycle(case: EscalationCase, trigger: str, at: datetime, referral: str | None = None) -> list[Event]:
    return apply_decided(case, case.on_lifecycle(trigger, at, POLICY, referral))


def check(case: EscalationCase, now: datetime) -> list[Event]:
    return apply_decided(case, case.check(now, POLICY, OFFICES))


def test_registration_starts_the_case_clocks_with_the_policy_limits() -> None:
    case, new = registered()
    started = {e.clock: e for e in of(ClockStarted, new)}
    assert set(started) == {"acknowledge", "first_contact", "action_taken", "disposal"}
    assert started["acknowledge"].due_at == T0 + 4 * HOUR
    assert started["first_contact"].due_at == T0 + 24 * HOUR
    assert started["action_taken"].due_at == T0 + 7 * DAY
    # 30 working days from Monday 12 Jan: five Sundays and Republic Day (Mon 26 Jan) do not count.
    assert started["disposal"].due_at == T0 + 36 * DAY
    assert started["disposal"].basis == "working_days"
    assert [(w.pct, w.at) for w in started["acknowledge"].warnings] == [
        (50, T0 + 2 * HOUR),
        (80, T0 + 3.2 * HOUR),
    ]
    assert all(e.policy_version == POLICY.version for e in started.values())
    [scheduled] = of(NextCheckScheduled, new)
    assert scheduled.at == T0 + 2 * HOUR
    assert case.next_check == T0 + 2 * HOUR


@pytest.mark.parametrize(
    ("trigger", "stopped"),
    [
        ("CaseAssigned", {"acknowledge"}),
        ("FirstContactMade", {"acknowledge", "first_contact"}),
        ("ActionRecorded", {"action_taken"}),
        ("CaseResolved", {"acknowledge", "first_contact", "action_taken", "disposal"}),
        ("CaseWithdrawn", {"acknowledge", "first_contact", "action_taken", "disposal"}),
        ("NoteAdded", set()),
    ],
)
def test_each_clock_stops_on_its_own_events(trigger: str, stopped: set[str]) -> None:
    case, _ = registered()
    new = lifecycle(case, trigger, T0 + HOUR)
    stops = of(ClockStopped, new)
    assert {e.clock for e in stops} == stopped
    assert all(e.met and e.reason == trigger for e in stops)
    # The same event again (a redelivery) changes nothing.
    assert lifecycle(case, trigger, T0 + HOUR) == []


def test_the_case_ending_closes_the_watch_and_no_clock_starts_after() -> None:
    case, _ = registered()
    new = lifecycle(case, "CaseClosed", T0 + 2 * DAY)
    late = {e.clock: e.met for e in of(ClockStopped, new)}
    assert late == {"acknowledge": False, "first_contact": False, "action_taken": True, "disposal": True}
    assert of(CaseWatchClosed, new) and of(NextCheckScheduled, new)[0].at is None
    assert lifecycle(case, "ReferralIssued", T0 + 3 * DAY, "R1") == []


def test_referral_clocks_are_kept_per_referral() -> None:
    case, _ = registered()
    first = of(ClockStarted, lifecycle(case, "ReferralIssued", T0 + HOUR, "R1"))
    second = of(ClockStarted, lifecycle(case, "ReferralIssued", T0 + 2 * HOUR, "R2"))
    assert [(e.clock, e.referral_id, e.due_at) for e in first + second] == [
        ("referral_acknowledged", "R1", T0 + HOUR + 2 * DAY),
        ("referral_acknowledged", "R2", T0 + 2 * HOUR + 2 * DAY),
    ]
    stops = of(ClockStopped, lifecycle(case, "ReferralAccepted", T0 + 5 * HOUR, "R2"))
    assert [(e.clock, e.referral_id) for e in stops] == [("referral_acknowledged", "R2")]
    breach = of(SlaBreached, check(case, T0 + HOUR + 2 * DAY))
    assert ("referral_acknowledged", "R1") in [(e.clock, e.referral_id) for e in breach]


def test_warnings_at_each_threshold_then_the_breach_alerts_the_kendra_incharge() -> None:
    case, _ = registered()
    assert check(case, T0 + HOUR) == []
    [half] = of(DeadlineApproaching, check(case, T0 + 2 * HOUR))
    assert (half.clock, half.threshold_pct) == ("acknowledge", 50)
    [most] = of(DeadlineApproaching, check(case, T0 + 3.2 * HOUR))
    assert (most.clock, most.threshold_pct) == ("acknowledge", 80)
    new = check(case, T0 + 4 * HOUR)
    [breach] = of(SlaBreached, new)
    assert (breach.clock, breach.due_at, breach.breached_at) == ("acknowledge", T0 + 4 * HOUR, T0 + 4 * HOUR)
    [up] = of(CaseEscalated, new)
    assert (up.level, up.role, up.office_code, up.reason) == (
        1,
        LadderRole.KENDRA_INCHARGE,
        "MSK-SJP-KATRA",
        "breach:acknowledge",
    )
    assert up.next_due_at == T0 + 4 * HOUR + DAY
    assert check(case, T0 + 4 * HOUR) == []  # nothing fires twice


def test_a_late_check_sends_only_the_latest_warning() -> None:
    case, _ = registered()
    [warning] = of(DeadlineApproaching, check(case, T0 + 3.5 * HOUR))
    assert warning.threshold_pct == 80


def test_the_full_ladder_up_to_the_state_cell_while_nothing_happens() -> None:
    case, _ = registered()
    lifecycle(case, "CaseAssigned", T0)  # only first contact will be late
    due = T0 + 24 * HOUR
    climbed = of(CaseEscalated, check(case, due))
    gives = {"kendra_incharge": DAY, "sho": 2 * DAY, "co": 3 * DAY}
    at = due
    for role in ("kendra_incharge", "sho", "co"):
        at += gives[role]
        climbed += of(CaseEscalated, check(case, at))
    at = POLICY.working_calendar.add(at, 5 * 86400, POLICY.ladder(Priority.P3)[3].gives.basis)  # type: ignore[union-attr]
    climbed += of(CaseEscalated, check(case, at))
    at = POLICY.working_calendar.add(at, 7 * 86400, POLICY.ladder(Priority.P3)[4].gives.basis)  # type: ignore[union-attr]
    climbed += of(CaseEscalated, check(case, at))
    assert [(e.level, e.role.value, e.office_code) for e in climbed] == [
        (1, "kendra_incharge", "MSK-SJP-KATRA"),
        (2, "sho", "SJP-KATRA"),
        (3, "co", "SJP-TILHAR"),
        (4, "addl_sp", "SJP"),
        (5, "sp", "SJP"),
        (6, "state_cell", "UP"),
    ]
    assert [e.reason for e in climbed[1:]] == ["unanswered:first_contact"] * 5
    assert climbed[-1].next_due_at is None
    assert of(CaseEscalated, check(case, at + 30 * DAY)) == []


def test_a_service_down_for_days_catches_up_rung_by_rung_on_schedule() -> None:
    case, _ = registered()
    lifecycle(case, "CaseAssigned", T0)
    new = check(case, T0 + 24 * HOUR + 4 * DAY)  # due + 1d (in-charge) + 2d (SHO) + 1d
    assert [(e.role.value, e.next_due_at) for e in of(CaseEscalated, new)] == [
        ("kendra_incharge", T0 + 2 * DAY),
        ("sho", T0 + 4 * DAY),
        ("co", T0 + 7 * DAY),
    ]
    assert case.ladder.climb_due_at == T0 + 7 * DAY
    assert case.next_check == T0 + timedelta(days=5.6)  # action taken's 80% warning comes first


def test_an_acknowledgement_holds_the_ladder_and_a_new_breach_goes_one_higher() -> None:
    case, _ = registered()
    lifecycle(case, "CaseAssigned", T0)
    check(case, T0 + 24 * HOUR)  # first contact breached: in-charge alerted
    with pytest.raises(DomainError) as refused:
        case.acknowledge(LadderRole.SHO, "SJP-KATRA", "PNO1", POLICY)
    assert refused.value.code == "not_escalated_to_you" and refused.value.hi
    with pytest.raises(DomainError):
        case.acknowledge(LadderRole.KENDRA_INCHARGE, "MSK-SJP-OTHER", "PNO1", POLICY)
    new = apply_decided(
        case, case.acknowledge(LadderRole.KENDRA_INCHARGE, "MSK-SJP-KATRA", "PNO152301", POLICY)
    )
    [ack] = of(EscalationAcknowledged, new)
    assert (ack.level, ack.by, ack.round) == (1, "PNO152301", 1)
    assert case.acknowledge(LadderRole.KENDRA_INCHARGE, "MSK-SJP-KATRA", "PNO152301", POLICY) == []
    assert of(CaseEscalated, check(case, T0 + 6 * DAY)) == []  # held: no climb
    # Action taken (7 days) breaches while the ladder is held: straight to the SHO.
    new = check(case, T0 + 7 * DAY)
    assert [(e.role.value, e.reason) for e in of(CaseEscalated, new)] == [("sho", "breach:action_taken")]


def test_doing_the_late_step_stops_the_climb() -> None:
    case, _ = registered()
    lifecycle(case, "CaseAssigned", T0)
    check(case, T0 + 24 * HOUR)
    [stop] = of(ClockStopped, lifecycle(case, "FirstContactMade", T0 + 30 * HOUR))
    assert (stop.clock, stop.met) == ("first_contact", False)
    assert case.next_check == T0 + 3.5 * DAY  # action taken 50%, not the ladder's next rung
    assert of(CaseEscalated, check(case, T0 + 3 * DAY)) == []


def test_awaiting_the_complainant_pauses_the_clocks_that_pause_and_resuming_shifts_them() -> None:
    case, _ = registered()
    paused_at, resumed_at = T0 + DAY - HOUR, T0 + 10 * DAY
    paused = {e.clock: e for e in of(ClockPaused, lifecycle(case, "AwaitingComplainant", paused_at))}
    # Acknowledgement and first contact are the Kendra's own steps: they do not pause.
    assert set(paused) == {"action_taken", "disposal"}
    assert paused["action_taken"].remaining_seconds == (6 * DAY + HOUR).total_seconds()
    # While paused, action taken does not breach at its old due time (only the Kendra's own steps do).
    breached = {e.clock for e in of(SlaBreached, check(case, T0 + 8 * DAY))}
    assert breached == {"acknowledge", "first_contact"}
    resumed = {e.clock: e for e in of(ClockResumed, lifecycle(case, "ComplainantResponded", resumed_at))}
    assert resumed["action_taken"].due_at == resumed_at + 6 * DAY + HOUR
    # 50% of 7 days falls at 3.5 days elapsed; 23 hours had elapsed when it paused.
    assert [(w.pct, w.at) for w in resumed["action_taken"].warnings] == [
        (50, resumed_at + timedelta(days=3.5) - 23 * HOUR),
        (80, resumed_at + timedelta(days=5.6) - 23 * HOUR),
    ]
    # The working-day disposal clock keeps its 30 counted days across the pause.
    calendar = POLICY.working_calendar
    basis = POLICY.limit(Priority.P3, Category.DOMESTIC_VIOLENCE, "disposal").basis
    counted = calendar.counted(T0, paused_at, basis) + calendar.counted(
        resumed_at, resumed["disposal"].due_at, basis
    )
    assert counted == 30 * 86400
    assert of(SlaBreached, check(case, resumed_at + 6 * DAY)) == []
    [late] = of(SlaBreached, check(case, resumed_at + 6 * DAY + HOUR))
    assert late.clock == "action_taken"


def test_a_reopened_case_restarts_its_clocks_in_a_new_round_with_a_fresh_ladder() -> None:
    case, _ = registered()
    lifecycle(case, "CaseAssigned", T0)
    check(case, T0 + 24 * HOUR)  # in-charge alerted for first contact
    lifecycle(case, "CaseResolved", T0 + 2 * DAY)
    assert case.closed and case.next_check is None
    new = lifecycle(case, "CaseReopened", T0 + 5 * DAY)
    [reopened] = of(CaseWatchReopened, new)
    assert reopened.round == 2
    started = {(e.clock, e.round, e.due_at) for e in of(ClockStarted, new)}
    assert ("action_taken", 2, T0 + 12 * DAY) in started
    assert {c for c, _, _ in started} == {"action_taken", "disposal"}
    assert case.ladder.level == 0
    climbed = of(CaseEscalated, check(case, T0 + 12 * DAY))
    assert [(e.level, e.round, e.reason) for e in climbed] == [(1, 2, "breach:action_taken")]
    # Reopening an open case starts nothing.
    assert lifecycle(case, "CaseReopened", T0 + 13 * DAY) == []


def test_danger_now_alerts_the_incharge_and_sho_at_once_and_climbs_until_first_contact() -> None:
    case, new = registered(Priority.P1, Category.SEXUAL_ASSAULT, danger=True)
    assert [(e.level, e.role.value, e.reason, e.next_due_at) for e in of(CaseEscalated, new)] == [
        (1, "kendra_incharge", "danger_now:first_contact", None),
        (2, "sho", "danger_now:first_contact", T0 + 2 * HOUR),
    ]
    lifecycle(case, "CaseAssigned", T0 + 5 * timedelta(minutes=1))
    # Nobody acknowledged and no first contact within the SHO's 2 hours: the CO (the first-contact
    # breach at 1 hour finds the ladder already climbing, so it adds no rung of its own).
    assert of(CaseEscalated, check(case, T0 + HOUR)) == []
    [co] = of(CaseEscalated, check(case, T0 + 2 * HOUR))
    assert (co.role.value, co.office_code) == ("co", "SJP-TILHAR")
    other, _ = registered(Priority.P1, Category.SEXUAL_ASSAULT, danger=True)
    lifecycle(other, "FirstContactMade", T0 + 30 * timedelta(minutes=1))
    assert of(CaseEscalated, check(other, T0 + 2 * HOUR)) == []


def test_danger_now_only_for_the_priorities_the_policy_names() -> None:
    _, new = registered(Priority.P2, danger=True)
    assert of(CaseEscalated, new) == []


def test_ladder_offices_from_the_place_the_jurisdiction_or_the_control_kendra() -> None:
    known = Jurisdiction(
        thanas={
            "SJP-KATRA": ThanaPlace("SJP-TILHAR", "SJP", "MSK-SJP-KATRA"),
            "SJP-SADAR-BAZAR": ThanaPlace("SJP-NAGAR", "SJP", "MSK-SJP-SADAR-BAZAR"),
        },
        control_thana={"SJP": "SJP-SADAR-BAZAR"},
    )
    assert ladder_offices(Place("SJP", thana="SJP-KATRA"), known, "UP") == {
        LadderRole.KENDRA_INCHARGE: "MSK-SJP-KATRA",
        LadderRole.SHO: "SJP-KATRA",
        LadderRole.CO: "SJP-TILHAR",
        LadderRole.ADDL_SP: "SJP",
        LadderRole.SP: "SJP",
        LadderRole.STATE_CELL: "UP",
    }
    unresolved = ladder_offices(Place("SJP"), known, "UP")
    assert (unresolved[LadderRole.KENDRA_INCHARGE], unresolved[LadderRole.CO]) == (
        "MSK-SJP-SADAR-BAZAR",
        "SJP-NAGAR",
    )
    # Nothing known below the district: the ladder starts at the Additional SP.
    bare = ladder_offices(Place("SJP"), Jurisdiction(), "UP")
    assert LadderRole.KENDRA_INCHARGE not in bare and bare[LadderRole.ADDL_SP] == "SJP"
    case = EscalationCase("c2")
    registration = Registration("SJP-2026-000002", Priority.P3, Category.OTHER, False, "SJP", None, None, T0)
    apply_decided(case, case.watch(registration, POLICY, bare))
    apply_decided(case, case.on_lifecycle("CaseAssigned", T0, POLICY))
    [first] = of(CaseEscalated, apply_decided(case, case.check(T0 + DAY, POLICY, bare)))
    assert (first.level, first.role.value) == (4, "addl_sp")
