"""The escalation side of a case: its SOP clocks and its place on the ladder. Pure: commands take the
policy, the time and the ladder offices as arguments and return events; nothing here does I/O.

Every command ends, when the answer changes, with ``NextCheckScheduled``: the moment the case must
next be looked at (a warning, a deadline, the next rung). The timer table is built from those events,
so the durable schedule is exactly what the aggregate decided.

The ladder: the first breach alerts the lowest level that has an office; while a breached clock
stays open (its late step not done) and nobody alerted on the ladder has acknowledged, the case goes
one level higher each time the current level's time (``gives``) runs out, counted from when that
level was due (so a service that was down catches up rung by rung, late but never skipping). A breach
while the ladder is held (acknowledged) sends the case one level higher at once. A reopened case
starts a new round: its listed clocks restart and the ladder starts again from the bottom.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Self

from shared.aggregate import Aggregate
from shared.contracts.escalation import (
    CaseEscalated,
    CaseWatchClosed,
    CaseWatched,
    CaseWatchReopened,
    ClockPaused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    EscalationAcknowledged,
    NextCheckScheduled,
    SlaBreached,
    Threshold,
)
from shared.contracts.vocabulary import Category, LadderRole, Priority
from shared.errors import CaseNotFound, DomainError
from shared.events import Event

from .policy import LADDER, Basis, Policy, level_of

Offices = Mapping[LadderRole, str]
"""The office answering at each ladder role for one case; a role missing here is passed over."""

ClockKey = tuple[str, str]
"""(clock, referral id or '')."""

State = Literal["running", "paused", "breached", "stopped"]


@dataclass(frozen=True)
class Registration:
    """What escalation needs of intake's ``CaseRegistered`` (no identity data)."""

    case_number: str
    priority: Priority
    category: Category
    danger_now: bool
    district: str
    circle: str | None
    thana: str | None
    at: datetime


@dataclass
class SlaClock:
    clock: str
    referral_id: str | None
    round: int
    basis: Basis
    limit_seconds: float
    started_at: datetime
    due_at: datetime | None
    state: State = "running"
    remaining_seconds: float = 0.0
    pending: dict[int, datetime] = field(default_factory=dict)
    """Warnings not sent yet: percentage -> moment."""
    thresholds: tuple[int, ...] = ()
    warned: int = 0

    @property
    def key(self) -> ClockKey:
        return (self.clock, self.referral_id or "")

    @property
    def open(self) -> bool:
        return self.state != "stopped"


@dataclass
class Ladder:
    level: int = 0
    alerted: dict[int, tuple[LadderRole, str]] = field(default_factory=dict)
    acknowledged: set[int] = field(default_factory=set)
    climb_due_at: datetime | None = None
    climb_clock: str = ""


class EscalationCase(Aggregate):
    aggregate_type = "case"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.registration: Registration | None = None
        self.closed = False
        self.round = 1
        self.clocks: dict[ClockKey, SlaClock] = {}
        self.ladder = Ladder()
        self.next_check: datetime | None = None

    @property
    def watched(self) -> bool:
        return self.registration is not None

    def clone(self) -> Self:
        """Every check copies the case (``Aggregate.decision``): only the clocks and the ladder change
        in place, so only they are copied, at a quarter of ``copy.deepcopy``'s cost."""
        twin = copy.copy(self)
        twin._recorded = list(self._recorded)
        twin.clocks = {key: dataclasses.replace(c, pending=dict(c.pending)) for key, c in self.clocks.items()}
        twin.ladder = dataclasses.replace(
            self.ladder, alerted=dict(self.ladder.alerted), acknowledged=set(self.ladder.acknowledged)
        )
        return twin

    def place(self) -> Place:
        """Where the case was registered (routing's read of it, when known, is better)."""
        r = self.registration
        if r is None:
            raise CaseNotFound(self.id)
        return Place(r.district, r.circle, r.thana)

    # Folding events into state.

    def apply(self, event: Event) -> None:
        match event:
            case CaseWatched():
                self.registration = Registration(
                    event.case_number,
                    event.priority,
                    event.category,
                    event.danger_now,
                    event.district,
                    event.circle,
                    event.thana,
                    event.registered_at,
                )
            case ClockStarted():
                started = SlaClock(
                    clock=event.clock,
                    referral_id=event.referral_id,
                    round=event.round,
                    basis=Basis(event.basis),
                    limit_seconds=event.limit_seconds,
                    started_at=event.started_at,
                    due_at=event.due_at,
                    pending={w.pct: w.at for w in event.warnings},
                    thresholds=tuple(w.pct for w in event.warnings),
                )
                self.clocks[started.key] = started
            case ClockPaused():
                clock = self._clock(event.clock, event.referral_id)
                clock.state, clock.due_at, clock.pending = "paused", None, {}
                clock.remaining_seconds = event.remaining_seconds
            case ClockResumed():
                clock = self._clock(event.clock, event.referral_id)
                clock.state, clock.due_at = "running", event.due_at
                clock.pending = {w.pct: w.at for w in event.warnings}
            case ClockStopped():
                self._clock(event.clock, event.referral_id).state = "stopped"
            case DeadlineApproaching():
                clock = self._clock(event.clock, event.referral_id)
                clock.warned = event.threshold_pct
                clock.pending = {p: t for p, t in clock.pending.items() if p > event.threshold_pct}
            case SlaBreached():
                clock = self._clock(event.clock, event.referral_id)
                clock.state, clock.pending = "breached", {}
            case CaseEscalated():
                self.ladder.level = event.level
                self.ladder.alerted[event.level] = (event.role, event.office_code)
                self.ladder.climb_due_at = event.next_due_at
                self.ladder.climb_clock = event.reason.partition(":")[2] or self.ladder.climb_clock
            case EscalationAcknowledged():
                self.ladder.acknowledged.add(event.level)
                self.ladder.climb_due_at = None
            case CaseWatchClosed():
                self.closed = True
            case CaseWatchReopened():
                self.closed, self.round, self.ladder = False, event.round, Ladder()
            case NextCheckScheduled():
                self.next_check = event.at
            case _:
                pass

    def _clock(self, name: str, referral_id: str | None) -> SlaClock:
        return self.clocks[(name, referral_id or "")]

    # Questions the commands ask.

    def _open_clocks(self) -> list[SlaClock]:
        return [c for c in self.clocks.values() if c.open and c.round == self.round]

    def _danger_applies(self, policy: Policy) -> bool:
        r = self.registration
        return r is not None and r.danger_now and r.priority in policy.danger_now.priorities

    def causes_open(self, policy: Policy) -> bool:
        """Is there still a reason for the ladder to climb: a late step not done, or a danger-now case
        whose help has not reached her?"""
        if self.closed:
            return False
        if any(c.state == "breached" for c in self._open_clocks()):
            return True
        if self.round == 1 and self._danger_applies(policy):
            watched = self.clocks.get((policy.danger_now.climb_until, ""))
            return watched is not None and watched.open
        return False

    def next_check_point(self, policy: Policy) -> tuple[datetime | None, str]:
        candidates: list[tuple[datetime, str]] = []
        for clock in self._open_clocks():
            if clock.state != "running" or clock.due_at is None:
                continue
            candidates += [(at, f"{clock.clock} {pct}%") for pct, at in clock.pending.items()]
            candidates.append((clock.due_at, f"{clock.clock} due"))
        if self.ladder.climb_due_at is not None and self.causes_open(policy):
            candidates.append((self.ladder.climb_due_at, f"ladder above level {self.ladder.level}"))
        if not candidates:
            return None, ""
        return min(candidates)

    # Commands.

    def watch(self, registration: Registration, policy: Policy, offices: Offices) -> list[Event]:
        """Start keeping the case's clocks (intake registered it); danger-now alerts the ladder at once."""
        if self.watched:
            return []
        decision = _Decision(self, policy)
        r = registration
        decision.emit(
            CaseWatched(
                case_id=self.id,
                case_number=r.case_number,
                priority=r.priority,
                category=r.category,
                danger_now=r.danger_now,
                district=r.district,
                circle=r.circle,
                thana=r.thana,
                registered_at=r.at,
                policy_version=policy.version,
            )
        )
        decision.start_clocks("CaseRegistered", r.at, None)
        if decision.case._danger_applies(policy):
            decision.alert_danger(offices, r.at)
        return decision.finish()

    def on_lifecycle(
        self, trigger: str, at: datetime, policy: Policy, referral_id: str | None = None
    ) -> list[Event]:
        """What one of intake's or routing's case events means for the clocks."""
        if not self.watched or trigger not in policy.triggers:
            return []
        decision = _Decision(self, policy)
        case = decision.case
        if trigger in policy.reopen.when and case.closed:
            decision.emit(CaseWatchReopened(case_id=self.id, at=at, round=case.round + 1))
            for name in policy.reopen.restart:
                decision.start(name, at, None)
            return decision.finish()
        if case.closed:
            return []
        closing = trigger in policy.close_on
        for clock in case._open_clocks():
            rule = policy.clocks.get(clock.clock)
            stops = rule is not None and trigger in rule.stops_on
            if rule is not None and rule.per_referral:
                stops = stops and clock.referral_id == referral_id
            if stops or closing:
                decision.stop(clock, at, trigger)
        if closing:
            decision.emit(CaseWatchClosed(case_id=self.id, at=at, reason=trigger))
            return decision.finish()
        if trigger in policy.pause_on:
            decision.pause_all(at)
        if trigger in policy.resume_on:
            decision.resume_all(at)
        decision.start_clocks(trigger, at, referral_id)
        return decision.finish()

    def check(self, now: datetime, policy: Policy, offices: Offices) -> list[Event]:
        """Whatever has come due by ``now``: warnings, breaches and rungs of the ladder."""
        if not self.watched:
            return []
        decision = _Decision(self, policy)
        for clock in sorted(decision.case._open_clocks(), key=lambda c: (c.due_at or now, c.key)):
            if clock.state != "running" or clock.due_at is None:
                continue
            if now >= clock.due_at:
                decision.breach(clock, now, offices)
                continue
            passed = [pct for pct, at in clock.pending.items() if at <= now]
            if passed:
                # Late (the service was down), only the highest threshold passed is still news.
                decision.emit(
                    DeadlineApproaching(
                        **decision.which(clock), threshold_pct=max(passed), due_at=clock.due_at
                    )
                )
        decision.climb(now, offices)
        return decision.finish()

    def acknowledge(self, role: LadderRole, office: str, by: str, policy: Policy) -> list[Event]:
        """The officer at a level the case was escalated to takes it up: the climb stops."""
        if not self.watched:
            raise CaseNotFound(self.id)
        levels = [lvl for lvl, (r, o) in self.ladder.alerted.items() if r == role and o == office]
        if not levels:
            raise DomainError(
                "not_escalated_to_you",
                "This case has not been escalated to your office.",
                "यह मामला आपके कार्यालय को अग्रेषित (एस्केलेट) नहीं किया गया है।",
            )
        if levels[0] in self.ladder.acknowledged:
            return []
        decision = _Decision(self, policy)
        decision.emit(
            EscalationAcknowledged(
                case_id=self.id, level=levels[0], by=by, round=self.round, role=role, office_code=office
            )
        )
        return decision.finish()


class _Decision:
    """One command's rules of the clocks and the ladder, recorded on the case's working copy
    (``Aggregate.decision``): each decision sees the ones before it, and the case the command was
    asked of stays as it was, for the next check to be compared with."""

    def __init__(self, case: EscalationCase, policy: Policy) -> None:
        self.original = case
        self.case = case.decision()
        self.policy = policy
        self.calendar = policy.working_calendar

    def emit(self, event: Event) -> None:
        self.case.record(event)

    def which(self, clock: SlaClock) -> dict[str, Any]:
        """The fields that say which clock an event is about."""
        return {
            "case_id": self.case.id,
            "clock": clock.clock,
            "referral_id": clock.referral_id,
            "round": clock.round,
        }

    def finish(self) -> list[Event]:
        if not self.case.recorded:
            return []
        at, what = self.case.next_check_point(self.policy)
        if at != self.original.next_check:
            self.case.record(NextCheckScheduled(case_id=self.case.id, at=at, what=what))
        return self.case.recorded

    # Clocks.

    def start_clocks(self, trigger: str, at: datetime, referral_id: str | None) -> None:
        for name, rule in self.policy.clocks.items():
            if trigger in rule.starts_on:
                self.start(name, at, referral_id if rule.per_referral else None)

    def start(self, name: str, at: datetime, referral_id: str | None) -> None:
        case = self.case
        existing = case.clocks.get((name, referral_id or ""))
        if existing is not None and existing.round == case.round:
            return  # a clock starts once per round; a repeated start event changes nothing
        registration = case.registration
        assert registration is not None
        limit = self.policy.limit(registration.priority, registration.category, name)
        warnings = [
            Threshold(pct=pct, at=self.calendar.add(at, limit.seconds * pct / 100, limit.basis))
            for pct in self.policy.warnings
        ]
        self.emit(
            ClockStarted(
                case_id=case.id,
                clock=name,
                started_at=at,
                due_at=self.calendar.add(at, limit.seconds, limit.basis),
                policy_version=self.policy.version,
                referral_id=referral_id,
                round=case.round,
                basis=limit.basis.value,
                limit_seconds=limit.seconds,
                warnings=warnings,
            )
        )

    def stop(self, clock: SlaClock, at: datetime, trigger: str) -> None:
        met = clock.state == "paused" or (
            clock.state == "running" and clock.due_at is not None and at <= clock.due_at
        )
        self.emit(ClockStopped(**self.which(clock), at=at, met=met, reason=trigger))

    def pause_all(self, at: datetime) -> None:
        for clock in self.case._open_clocks():
            rule = self.policy.clocks.get(clock.clock)
            if rule is None or not rule.pauses or clock.state != "running" or clock.due_at is None:
                continue
            if at >= clock.due_at:
                continue  # already late: the breach stands, waiting on her does not undo it
            self.emit(
                ClockPaused(
                    **self.which(clock),
                    at=at,
                    remaining_seconds=self.calendar.counted(at, clock.due_at, clock.basis),
                )
            )

    def resume_all(self, at: datetime) -> None:
        for clock in self.case._open_clocks():
            if clock.state != "paused":
                continue
            elapsed = clock.limit_seconds - clock.remaining_seconds
            warnings = [
                Threshold(pct=pct, at=self.calendar.add(at, point - elapsed, clock.basis))
                for pct in clock.thresholds
                if pct > clock.warned and (point := clock.limit_seconds * pct / 100) > elapsed
            ]
            self.emit(
                ClockResumed(
                    **self.which(clock),
                    at=at,
                    due_at=self.calendar.add(at, clock.remaining_seconds, clock.basis),
                    warnings=warnings,
                )
            )

    def breach(self, clock: SlaClock, now: datetime, offices: Offices) -> None:
        assert clock.due_at is not None
        due = clock.due_at
        ladder = self.case.ladder
        climbing = ladder.climb_due_at is not None and self.case.causes_open(self.policy)
        self.emit(SlaBreached(**self.which(clock), due_at=due, breached_at=now))
        if ladder.level == 0:
            self.escalate(_first_role_at_or_above(LADDER[0], offices), due, f"breach:{clock.clock}", offices)
        elif not climbing:
            # The ladder was held (acknowledged, or its earlier cause done): this new lateness goes
            # one level higher at once rather than back to an officer who already answered.
            self.escalate(_role_above(ladder.level, offices), due, f"breach:{clock.clock}", offices)

    def climb(self, now: datetime, offices: Offices) -> None:
        ladder = self.case.ladder
        while (
            ladder.climb_due_at is not None
            and ladder.climb_due_at <= now
            and self.case.causes_open(self.policy)
        ):
            role = _role_above(ladder.level, offices)
            if role is None:
                return
            self.escalate(role, ladder.climb_due_at, f"unanswered:{ladder.climb_clock}", offices)

    def alert_danger(self, offices: Offices, at: datetime) -> None:
        roles: list[LadderRole] = []
        for wanted in self.policy.danger_now.alert:
            role = _first_role_at_or_above(wanted, offices)
            if role is not None and role not in roles:
                roles.append(role)
        for n, role in enumerate(sorted(roles, key=level_of)):
            last = n == len(roles) - 1
            self.escalate(role, at, f"danger_now:{self.policy.danger_now.climb_until}", offices, climbs=last)

    def escalate(
        self, role: LadderRole | None, due: datetime, reason: str, offices: Offices, *, climbs: bool = True
    ) -> None:
        """Alert ``role``; the next rung falls due when this level's time, counted from ``due``, runs out."""
        if role is None:
            return
        registration = self.case.registration
        assert registration is not None
        rung = self.policy.rung(registration.priority, role)
        next_due = None
        if climbs and rung is not None and rung.gives is not None and _role_above(level_of(role), offices):
            next_due = self.calendar.add(due, rung.gives.seconds, rung.gives.basis)
        self.emit(
            CaseEscalated(
                case_id=self.case.id,
                level=level_of(role),
                role=role,
                office_code=offices[role],
                reason=reason,
                next_due_at=next_due,
                round=self.case.round,
            )
        )


def _first_role_at_or_above(role: LadderRole, offices: Offices) -> LadderRole | None:
    return next((r for r in LADDER[level_of(role) - 1 :] if offices.get(r)), None)


def _role_above(level: int, offices: Offices) -> LadderRole | None:
    return next((r for r in LADDER[level:] if offices.get(r)), None)


@dataclass(frozen=True)
class Place:
    """Where a case stands in the jurisdiction tree, as far as it is known."""

    district: str
    circle: str | None = None
    thana: str | None = None
    kendra: str | None = None


@dataclass(frozen=True)
class ThanaPlace:
    circle: str
    district: str
    kendra: str | None


@dataclass
class Jurisdiction:
    """The part of routing's jurisdiction tree the ladder needs."""

    thanas: dict[str, ThanaPlace] = field(default_factory=dict)
    control_thana: dict[str, str] = field(default_factory=dict)
    """District -> the thana of its control Kendra (which takes cases whose thana is not known)."""


def ladder_offices(place: Place, jurisdiction: Jurisdiction, state_office: str) -> dict[LadderRole, str]:
    """The office answering at each role for a case at ``place``: Kendra in-charge -> the Kendra, SHO ->
    the thana, CO -> the circle, Additional SP and SP -> the district, state cell -> the state office.
    A case without a known thana goes to its district's control Kendra."""
    thana = place.thana or jurisdiction.control_thana.get(place.district)
    known = jurisdiction.thanas.get(thana) if thana else None
    circle = place.circle if place.thana else None
    circle = circle or (known.circle if known else None)
    kendra = (place.kendra if place.thana else None) or (known.kendra if known else None)
    if kendra is None and thana:
        kendra = f"MSK-{thana}"
    found: dict[LadderRole, str | None] = {
        LadderRole.KENDRA_INCHARGE: kendra,
        LadderRole.SHO: thana,
        LadderRole.CO: circle,
        LadderRole.ADDL_SP: place.district,
        LadderRole.SP: place.district,
        LadderRole.STATE_CELL: state_office,
    }
    return {role: code for role, code in found.items() if code}
