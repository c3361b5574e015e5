"""The facts the escalation service owns (stream ``ESCALATION``, subjects
``shakti.escalation.case.<case_id>``). This module is the public contract.

A case's clocks are told apart by ``clock`` (the kind, e.g. ``first_contact``), ``referral_id`` (for the
clocks kept per referral) and ``round`` (1, then one more each time the case is reopened).
No event here carries identity data: only codes, times and officers' service numbers.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.vocabulary import Category, LadderRole, Priority
from shared.events import Event, event_type

SERVICE = "escalation"
AGGREGATE = "case"


class Threshold(BaseModel):
    """A warning still to come: at ``pct`` percent of the clock's limit, which falls at ``at``."""

    model_config = ConfigDict(frozen=True)

    pct: int
    at: datetime


@event_type("CaseWatched")
class CaseWatched(Event):
    """Escalation began keeping the SOP clocks of a case (on intake's ``CaseRegistered``)."""

    case_id: str
    case_number: str
    priority: Priority
    category: Category
    danger_now: bool
    district: str
    circle: str | None = None
    thana: str | None = None
    registered_at: datetime
    policy_version: str


@event_type("ClockStarted")
class ClockStarted(Event):
    case_id: str
    clock: str
    started_at: datetime
    due_at: datetime
    policy_version: str
    referral_id: str | None = None
    round: int = 1
    basis: str = "calendar"
    """``calendar`` (every hour counts) or ``working_days`` (weekly offs and holidays do not count)."""
    limit_seconds: float = 0.0
    """The limit in counted seconds (on the basis above)."""
    warnings: list[Threshold] = Field(default_factory=list)


@event_type("ClockPaused")
class ClockPaused(Event):
    case_id: str
    clock: str
    at: datetime
    remaining_seconds: float
    referral_id: str | None = None
    round: int = 1


@event_type("ClockResumed")
class ClockResumed(Event):
    case_id: str
    clock: str
    at: datetime
    due_at: datetime
    referral_id: str | None = None
    round: int = 1
    warnings: list[Threshold] = Field(default_factory=list)


@event_type("ClockStopped")
class ClockStopped(Event):
    case_id: str
    clock: str
    at: datetime
    met: bool
    """True when the step was done before its deadline."""
    referral_id: str | None = None
    round: int = 1
    reason: str = ""
    """The type of the event that stopped it (e.g. ``FirstContactMade``, ``CaseClosed``)."""


@event_type("DeadlineApproaching")
class DeadlineApproaching(Event):
    case_id: str
    clock: str
    threshold_pct: int
    due_at: datetime
    referral_id: str | None = None
    round: int = 1


@event_type("SlaBreached")
class SlaBreached(Event):
    case_id: str
    clock: str
    due_at: datetime
    breached_at: datetime
    referral_id: str | None = None
    round: int = 1


@event_type("CaseEscalated")
class CaseEscalated(Event):
    case_id: str
    level: int
    """1 (Kendra in-charge) to 6 (state cell): the rank of ``role`` on the ladder."""
    role: LadderRole
    office_code: str
    reason: str
    """``danger_now``, ``breach:<clock>`` or ``unanswered:<clock>`` (a code, never free text)."""
    next_due_at: datetime | None = None
    """When the case goes one level higher unless this officer acknowledges or the late step is done."""
    round: int = 1


@event_type("EscalationAcknowledged")
class EscalationAcknowledged(Event):
    case_id: str
    level: int
    by: str
    round: int = 1
    role: LadderRole | None = None
    office_code: str | None = None


@event_type("CaseWatchClosed")
class CaseWatchClosed(Event):
    """The case ended (resolved, closed, withdrawn, duplicate): its clocks are stopped, none start."""

    case_id: str
    at: datetime
    reason: str


@event_type("CaseWatchReopened")
class CaseWatchReopened(Event):
    """The case was reopened: a new round of clocks and a fresh ladder."""

    case_id: str
    at: datetime
    round: int


@event_type("NextCheckScheduled")
class NextCheckScheduled(Event):
    """When the escalation service must next look at this case (a warning, a deadline or the next
    rung of the ladder); ``None``: nothing is pending. The durable timer table is built from these."""

    case_id: str
    at: datetime | None
    what: str = ""
