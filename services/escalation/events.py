"""The facts the escalation service owns (stream ``ESCALATION``, subjects
``shakti.escalation.case.<case_id>``). This module is the public contract."""

from __future__ import annotations

from datetime import datetime

from shared.events import Event, event_type
from shared.vocabulary import LadderRole

SERVICE = "escalation"
AGGREGATE = "case"


@event_type("ClockStarted")
class ClockStarted(Event):
    case_id: str
    clock: str
    started_at: datetime
    due_at: datetime
    policy_version: str


@event_type("ClockPaused")
class ClockPaused(Event):
    case_id: str
    clock: str
    at: datetime
    remaining_seconds: float


@event_type("ClockResumed")
class ClockResumed(Event):
    case_id: str
    clock: str
    at: datetime
    due_at: datetime


@event_type("ClockStopped")
class ClockStopped(Event):
    case_id: str
    clock: str
    at: datetime
    met: bool
    """True when the step was done before its deadline."""


@event_type("DeadlineApproaching")
class DeadlineApproaching(Event):
    case_id: str
    clock: str
    threshold_pct: int
    due_at: datetime


@event_type("SlaBreached")
class SlaBreached(Event):
    case_id: str
    clock: str
    due_at: datetime
    breached_at: datetime


@event_type("CaseEscalated")
class CaseEscalated(Event):
    case_id: str
    level: int
    role: LadderRole
    office_code: str
    reason: str
    next_due_at: datetime | None = None


@event_type("EscalationAcknowledged")
class EscalationAcknowledged(Event):
    case_id: str
    level: int
    by: str
