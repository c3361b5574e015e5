"""The facts the training service owns (stream ``TRAINING``).

Subjects: ``shakti.training.module.<module_id>``, ``shakti.training.programme.<programme_id>``,
``shakti.training.officer.<service_number>`` (each officer's training record). Public contract.
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from shared.events import Event, event_type

SERVICE = "training"


@event_type("ModulePublished")
class ModulePublished(Event):
    module_id: str
    version: int
    kind: str  # sop, igot_video, assessment, specialist
    title_hi: str
    title_en: str
    duration_minutes: int
    requires_retraining: bool = False
    accepted_from_version: int = 1
    """Completions of a version below this one no longer count: the officer must retrain."""


@event_type("ProgrammeScheduled")
class ProgrammeScheduled(Event):
    programme_id: str
    title_hi: str
    title_en: str
    ordered_by: str
    directed_by: str
    organised_by: str
    venue: str
    date: date
    modules: list[str]
    invited_kendras: list[str] = Field(default_factory=list)
    invited_officers: list[str] = Field(default_factory=list)
    district: str = ""
    """The district whose supervisors may run and read the programme."""


@event_type("AttendanceMarked")
class AttendanceMarked(Event):
    programme_id: str
    service_number: str
    present: bool
    score: float | None = None


@event_type("ProgrammeCompleted")
class ProgrammeCompleted(Event):
    programme_id: str


@event_type("TrainingAssigned")
class TrainingAssigned(Event):
    service_number: str
    modules: list[str]
    due_at: datetime
    kendra: str
    reason: str = "posting"  # posting (newly posted to a Kendra) or renewal (certificate expired)


@event_type("ModuleCompleted")
class ModuleCompleted(Event):
    service_number: str
    module_id: str
    version: int
    score: float | None = None
    completed_at: datetime
    source: str  # programme:<id>, igot_import:<file checksum>
    satisfies: bool = True
    """Whether it counts: an accepted version, at or above the pass mark, and recent enough for a
    renewal. A completion that does not count is still a fact of the officer's record."""


@event_type("OfficerCertified")
class OfficerCertified(Event):
    service_number: str
    certificate_id: str
    endorsements: list[str]
    """Categories the officer is certified to handle (codes of ``shared.contracts.vocabulary.Category``)."""
    issued_at: datetime
    """The certificate's date: the latest completion that counts towards it (the training's day),
    not the moment it was recorded."""
    valid_until: datetime


@event_type("CertificationLapsed")
class CertificationLapsed(Event):
    service_number: str
    certificate_id: str
    why: str


@event_type("RetrainingRequired")
class RetrainingRequired(Event):
    service_number: str
    module_id: str
    version: int
    why: str
    due_at: datetime | None = None


@event_type("TrainingOverdue")
class TrainingOverdue(Event):
    service_number: str
    modules: list[str]
    due_at: datetime
