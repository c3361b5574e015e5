"""The SOP policy: which clocks a case has, which events start, pause and stop them, their limits per
priority and category, the warning thresholds and the escalation ladder. It is configuration (a
versioned YAML file, ``policy.yaml`` beside this module by default), never code: a state order
changes the file, not the service.

Validated at load; every problem names the field it is about. Check a file with
``python -m services.escalation.policy FILE``.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shared.contracts.vocabulary import Category, LadderRole, Priority
from shared.policyfile import PolicyError as PolicyError  # what callers of this policy catch
from shared.policyfile import load_policy_file, parse_policy_document

DEFAULT_POLICY = Path(__file__).with_name("policy.yaml")
DEMO_POLICY = Path(__file__).with_name("demo-policy.yaml")
"""Every limit in minutes, for `shakti up --demo` only."""

LADDER: tuple[LadderRole, ...] = tuple(LadderRole)
"""Bottom to top; a role's level is its place here counted from 1."""

REFERRAL_TRIGGERS = ("ReferralIssued", "ReferralAccepted", "ReferralRejected", "ReferralCompleted")

Trigger = Literal[
    "CaseRegistered",
    "FirstContactMade",
    "ActionRecorded",
    "ReferralMade",
    "AwaitingComplainant",
    "ComplainantResponded",
    "CaseResolved",
    "CaseClosed",
    "CaseReopened",
    "CaseWithdrawn",
    "CaseMarkedDuplicate",
    "CaseRouted",
    "CaseAssigned",
    "CaseReassigned",
    "CaseUnroutable",
    "ReferralIssued",
    "ReferralAccepted",
    "ReferralRejected",
    "ReferralCompleted",
]
"""The other services' events a policy may name (intake's and routing's case lifecycle)."""

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# A working-day limit that cannot be met within this many calendar days means a calendar with
# (almost) no working days: refuse it rather than loop.
MAX_CALENDAR_DAYS = 3660


def level_of(role: LadderRole) -> int:
    return LADDER.index(role) + 1


class Basis(StrEnum):
    CALENDAR = "calendar"
    WORKING_DAYS = "working_days"


_LIMIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|h|d|wd)\s*$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "wd": 86400}


class Limit(BaseModel):
    """A span of time written ``30m``, ``24h``, ``3d`` (calendar) or ``5wd`` (working days)."""

    model_config = ConfigDict(frozen=True)

    text: str
    seconds: float
    basis: Basis


def _parse_limit(value: Any) -> Any:
    if isinstance(value, Limit | dict):
        return value
    text = str(value)
    match = _LIMIT.match(text)
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            f"{text!r} is not a limit: write minutes '30m', hours '24h', calendar days '3d' "
            "or working days '5wd' (a number above zero)"
        )
    amount, unit = float(match.group(1)), match.group(2)
    basis = Basis.WORKING_DAYS if unit == "wd" else Basis.CALENDAR
    return {"text": text.strip(), "seconds": amount * _UNIT_SECONDS[unit], "basis": basis}


LimitText = Annotated[Limit, BeforeValidator(_parse_limit)]


class Labels(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    hi: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClockRule(Strict):
    label: Labels
    starts_on: list[Trigger] = Field(min_length=1)
    stops_on: list[Trigger] = Field(min_length=1)
    per_referral: bool = False
    """One clock per referral (started and stopped by routing's referral events)."""
    pauses: bool = True
    """Whether it pauses while the case awaits the complainant."""


class Rung(Strict):
    role: LadderRole
    gives: LimitText | None = None
    """How long this level has before the case goes to the next; only the top level has none."""


class PriorityRules(Strict):
    limits: dict[str, LimitText]
    ladder: list[Rung] = Field(min_length=1)


class CategoryRules(Strict):
    limits: dict[str, LimitText] = Field(default_factory=dict)
    """Stricter limits for this category; the stricter of this and the priority's limit applies."""


class DangerNow(Strict):
    priorities: list[Priority] = Field(min_length=1)
    alert: list[LadderRole] = Field(min_length=1)
    """Alerted at once on registration."""
    climb_until: str
    """The clock whose step ends the danger-now climb (e.g. ``first_contact``)."""


class Reopen(Strict):
    when: list[Trigger] = Field(min_length=1)
    restart: list[str]


class CalendarRules(Strict):
    timezone: str = "Asia/Kolkata"
    weekly_off: list[str] = Field(default_factory=lambda: ["sunday"])
    holidays: list[date] = Field(default_factory=list)


class Policy(Strict):
    """One version of the SOP policy, as validated from the file."""

    version: str = Field(min_length=1)
    status: str = Field(min_length=1)
    """Where the figures come from, e.g. ``default (not a state order)`` or the order's number."""
    calendar: CalendarRules = Field(default_factory=CalendarRules)
    warnings: list[int] = Field(default_factory=lambda: [50, 80])
    clocks: dict[str, ClockRule] = Field(min_length=1)
    pause_on: list[Trigger] = Field(default_factory=list)
    resume_on: list[Trigger] = Field(default_factory=list)
    close_on: list[Trigger] = Field(min_length=1)
    reopen: Reopen
    priorities: dict[Priority, PriorityRules]
    categories: dict[Category, CategoryRules] = Field(default_factory=dict)
    danger_now: DangerNow
    state_office: str = "UP"

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        problems: list[str] = []
        clocks = set(self.clocks)
        for name, rule in self.clocks.items():
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name):
                problems.append(f"clocks.{name}: a clock name is lowercase letters, digits and '_'")
            if rule.per_referral:
                wrong = [t for t in (*rule.starts_on, *rule.stops_on) if t not in REFERRAL_TRIGGERS]
                if wrong:
                    problems.append(
                        f"clocks.{name}: a per-referral clock starts and stops only on referral events "
                        f"({', '.join(REFERRAL_TRIGGERS)}), not {', '.join(wrong)}"
                    )
        for pct in self.warnings:
            if not 0 < pct < 100:
                problems.append(f"warnings: {pct} is not a percentage between 1 and 99")
        if self.warnings != sorted(set(self.warnings)):
            problems.append("warnings: list each threshold once, smallest first")
        for priority in Priority:
            rules = self.priorities.get(priority)
            if rules is None:
                problems.append(f"priorities.{priority}: missing (every priority needs limits and a ladder)")
                continue
            where = f"priorities.{priority}"
            for missing in sorted(clocks - set(rules.limits)):
                problems.append(f"{where}.limits.{missing}: missing (every clock needs a limit)")
            for unknown in sorted(set(rules.limits) - clocks):
                problems.append(f"{where}.limits.{unknown}: no such clock in 'clocks'")
            problems += _ladder_problems(where, rules.ladder)
        for category, extra in self.categories.items():
            for unknown in sorted(set(extra.limits) - clocks):
                problems.append(f"categories.{category}.limits.{unknown}: no such clock in 'clocks'")
        for name in self.reopen.restart:
            if name not in clocks:
                problems.append(f"reopen.restart: no such clock {name!r}")
            elif self.clocks[name].per_referral:
                problems.append(f"reopen.restart: {name!r} is per referral; a reopen cannot restart it")
        if self.danger_now.climb_until not in clocks:
            problems.append(f"danger_now.climb_until: no such clock {self.danger_now.climb_until!r}")
        problems += self._calendar_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _calendar_problems(self) -> list[str]:
        problems = []
        try:
            ZoneInfo(self.calendar.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"calendar.timezone: unknown time zone {self.calendar.timezone!r}")
        for day in self.calendar.weekly_off:
            if day not in WEEKDAYS:
                problems.append(f"calendar.weekly_off: {day!r} is not a weekday ({', '.join(WEEKDAYS)})")
        if set(self.calendar.weekly_off) >= set(WEEKDAYS):
            problems.append("calendar.weekly_off: at least one day of the week must be a working day")
        return problems

    # What the rest of the service asks of a policy.

    @cached_property
    def working_calendar(self) -> WorkingCalendar:
        return WorkingCalendar(self.calendar)

    @cached_property
    def triggers(self) -> frozenset[str]:
        """Every event type this policy reacts to; others are ignored without loading the case."""
        named: set[str] = {
            "CaseRegistered",
            *self.pause_on,
            *self.resume_on,
            *self.close_on,
            *self.reopen.when,
        }
        for rule in self.clocks.values():
            named |= {*rule.starts_on, *rule.stops_on}
        return frozenset(named)

    def limit(self, priority: Priority, category: Category, clock: str) -> Limit:
        """The priority's limit, or the category's where that is stricter."""
        base = self.priorities[priority].limits[clock]
        extra = self.categories.get(category)
        special = extra.limits.get(clock) if extra else None
        if special is None:
            return base
        calendar = self.working_calendar
        # Compare as spans from one moment, since a working day is longer than a calendar day.
        probe = datetime(2026, 1, 1, tzinfo=UTC)
        sooner = calendar.add(probe, special.seconds, special.basis)
        return special if sooner < calendar.add(probe, base.seconds, base.basis) else base

    def ladder(self, priority: Priority) -> list[Rung]:
        return self.priorities[priority].ladder

    def rung(self, priority: Priority, role: LadderRole) -> Rung | None:
        return next((r for r in self.ladder(priority) if r.role == role), None)

    def label(self, clock: str, language: str) -> str:
        rule = self.clocks.get(clock)
        if rule is None:
            return clock
        return rule.label.hi if language == "hi" else rule.label.en


def _ladder_problems(where: str, ladder: list[Rung]) -> list[str]:
    problems = []
    levels = [level_of(r.role) for r in ladder]
    if levels != sorted(set(levels)):
        problems.append(
            f"{where}.ladder: list each role once, bottom to top ({' -> '.join(r.value for r in LADDER)})"
        )
    for rung in ladder[:-1]:
        if rung.gives is None:
            problems.append(f"{where}.ladder.{rung.role}: 'gives' is missing (only the top level has none)")
    if ladder and ladder[-1].gives is not None:
        problems.append(f"{where}.ladder.{ladder[-1].role}: the top level has nobody above it; drop 'gives'")
    return problems


class WorkingCalendar:
    """Due times on the policy's basis. A working day counts 24 hours of a day that is neither a weekly
    off nor a holiday (in the policy's time zone): the clock simply does not run on the others."""

    def __init__(self, rules: CalendarRules) -> None:
        self.zone = ZoneInfo(rules.timezone)
        self.off = frozenset(WEEKDAYS.index(d) for d in rules.weekly_off)
        self.holidays = frozenset(rules.holidays)

    def is_working(self, day: date) -> bool:
        return day.weekday() not in self.off and day not in self.holidays

    def _midnight_after(self, moment: datetime) -> datetime:
        return datetime.combine(moment.date() + timedelta(days=1), time(), tzinfo=self.zone)

    def add(self, start: datetime, seconds: float, basis: Basis) -> datetime:
        """The moment ``seconds`` of counted time after ``start``."""
        if basis is Basis.CALENDAR:
            return start + timedelta(seconds=seconds)
        cursor, remaining = start.astimezone(self.zone), seconds
        for _ in range(MAX_CALENDAR_DAYS):
            midnight = self._midnight_after(cursor)
            if self.is_working(cursor.date()):
                room = (midnight - cursor).total_seconds()
                if remaining <= room:
                    return (cursor + timedelta(seconds=remaining)).astimezone(UTC)
                remaining -= room
            cursor = midnight
        raise PolicyError(f"no working days within {MAX_CALENDAR_DAYS} days of {start.date()}")

    def counted(self, start: datetime, end: datetime, basis: Basis) -> float:
        """Counted seconds from ``start`` to ``end`` (zero when ``end`` is not later)."""
        if end <= start:
            return 0.0
        if basis is Basis.CALENDAR:
            return (end - start).total_seconds()
        total, cursor, end = 0.0, start.astimezone(self.zone), end.astimezone(self.zone)
        while cursor < end:
            stop = min(self._midnight_after(cursor), end)
            if self.is_working(cursor.date()):
                total += (stop - cursor).total_seconds()
            cursor = stop
        return total


def parse_policy(document: Any, source: str = "policy") -> Policy:
    """A validated policy from an already parsed document; PolicyError lists every problem."""
    return parse_policy_document(Policy, document, source, "escalation policy")


def load_policy(path: Path = DEFAULT_POLICY) -> Policy:
    return load_policy_file(Policy, path, "escalation policy")


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_POLICY
    try:
        policy = load_policy(path)
    except PolicyError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{path}: version {policy.version} ({policy.status}), clocks: {', '.join(policy.clocks)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
