"""The training service's aggregates: a curriculum module, a programme, and each officer's record.

Pure: commands take the ``TrainingPolicy`` (curriculum and rules) and the time as arguments and return
events; nothing here reads a clock, a file or the network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import ClassVar

from services.training.curriculum import ModuleSpec, TrainingPolicy
from shared.aggregate import Aggregate
from shared.contracts.training import (
    AttendanceMarked,
    CertificationLapsed,
    ModuleCompleted,
    ModulePublished,
    OfficerCertified,
    ProgrammeCompleted,
    ProgrammeScheduled,
    RetrainingRequired,
    TrainingAssigned,
    TrainingOverdue,
)
from shared.contracts.vocabulary import Record
from shared.errors import DomainError, NotFound
from shared.events import Event

IST = timezone(timedelta(hours=5, minutes=30), "IST")

# Why a certificate lapsed, and why an officer must retrain: codes in events (their words:
# shared.contracts.vocabulary.TRAINING_REASON_LABELS).
LAPSED_EXPIRED = "expired"
LAPSED_RETRAINING_OVERDUE = "retraining_overdue"
RETRAIN_NEW_VERSION = "new_version"


def start_of_day(day: date) -> datetime:
    """A date-only completion (a programme's day, an iGOT date) as the start of that day in India."""
    return datetime.combine(day, time(0), IST)


class CertificateIssuer:
    """Certificate ids: an HMAC of officer and serial under the certificate key (``certificate.key``, a
    key of its own), so an id cannot be computed from a service number nor guessed from another, yet the
    same command always yields the same id (a redelivered event or a retry stays idempotent)."""

    def __init__(self, key: bytes) -> None:
        self._key = hmac.new(key, b"shakti-training-certificate", hashlib.sha256).digest()

    def certificate_id(self, service_number: str, serial: int) -> str:
        digest = hmac.new(self._key, f"{service_number}:{serial}".encode(), hashlib.sha256).digest()
        code = base64.b32encode(digest).decode()[:16]
        return "MSKC-" + "-".join(code[i : i + 4] for i in range(0, 16, 4))


class Module(Aggregate):
    """One curriculum module's published versions (``shakti.training.module.<module_id>``)."""

    aggregate_type: ClassVar[str] = "module"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.published_version = 0
        self.accepted_from = 1

    def apply(self, event: Event) -> None:
        if isinstance(event, ModulePublished):
            self.published_version = event.version
            self.accepted_from = event.accepted_from_version

    def publish(self, spec: ModuleSpec) -> list[Event]:
        if spec.version < self.published_version or spec.accepted_from_version < self.accepted_from:
            raise DomainError(
                "curriculum_behind",
                f"Module {spec.id} v{spec.version} is older than the published v{self.published_version}",
                f"मॉड्यूल {spec.id} v{spec.version} प्रकाशित v{self.published_version} से पुराना है",
            )
        if spec.version == self.published_version:
            return []
        return [
            ModulePublished(
                module_id=spec.id,
                version=spec.version,
                kind=spec.kind,
                title_hi=spec.title_hi,
                title_en=spec.title_en,
                duration_minutes=spec.duration_minutes,
                requires_retraining=self.exists and spec.accepted_from_version > self.accepted_from,
                accepted_from_version=spec.accepted_from_version,
            )
        ]


def _unknown_modules(policy: TrainingPolicy, modules: Sequence[str]) -> None:
    unknown = [m for m in modules if policy.module(m) is None]
    if unknown:
        names = ", ".join(unknown)
        raise DomainError("unknown_module", f"Unknown module: {names}", f"अज्ञात मॉड्यूल: {names}")


@dataclass(frozen=True)
class Completion:
    module_id: str
    version: int
    score: float | None
    completed_at: datetime


@dataclass(frozen=True)
class Mark:
    """One officer's attendance at a programme, as the organiser records it."""

    service_number: str
    present: bool
    score: float | None = None


class Programme(Aggregate):
    """A classroom programme like the one in the article (``shakti.training.programme.<id>``)."""

    aggregate_type: ClassVar[str] = "programme"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.plan: ProgrammeScheduled | None = None
        self.attendance: dict[str, Mark] = {}
        self.completed = False

    def apply(self, event: Event) -> None:
        match event:
            case ProgrammeScheduled():
                self.plan = event
            case AttendanceMarked(service_number=sn, present=present, score=score):
                self.attendance[sn] = Mark(sn, present, score)
            case ProgrammeCompleted():
                self.completed = True

    def schedule(self, plan: ProgrammeScheduled, policy: TrainingPolicy) -> list[Event]:
        if self.exists:
            raise DomainError(
                "programme_exists",
                f"Programme {self.id} is already scheduled",
                f"कार्यक्रम {self.id} पहले से निर्धारित है",
            )
        if not plan.modules:
            raise DomainError("no_modules", "A programme covers at least one module", "कम से कम एक मॉड्यूल चुनें")
        _unknown_modules(policy, plan.modules)
        return [plan]

    def _open(self) -> ProgrammeScheduled:
        if self.plan is None:
            raise NotFound(Record.PROGRAMME, self.id)
        if self.completed:
            raise DomainError(
                "programme_completed",
                "The programme is completed; its register is closed",
                "कार्यक्रम पूर्ण हो चुका है; उपस्थिति पंजिका बंद है",
            )
        return self.plan

    def mark(self, marks: Sequence[Mark], policy: TrainingPolicy, today: date) -> list[Event]:
        plan = self._open()
        if today < plan.date:
            raise DomainError(
                "programme_not_held_yet",
                f"Attendance can be marked from the programme's day, {plan.date:%d-%m-%Y}",
                f"उपस्थिति कार्यक्रम के दिन {plan.date:%d-%m-%Y} से दर्ज की जा सकती है",
            )
        scored = any(m in policy.rules.certification.pass_marks for m in plan.modules)
        events: list[Event] = []
        for mark in marks:
            if mark.score is not None and not (scored and mark.present):
                raise DomainError(
                    "score_without_assessment",
                    f"A score needs an assessment in the programme and {mark.service_number} present",
                    f"अंक केवल मूल्यांकन वाले कार्यक्रम में उपस्थित {mark.service_number} के लिए",
                )
            if self.attendance.get(mark.service_number) != mark:
                events.append(
                    AttendanceMarked(
                        programme_id=self.id,
                        service_number=mark.service_number,
                        present=mark.present,
                        score=mark.score,
                    )
                )
        return events

    def complete(self) -> list[Event]:
        self._open()
        return [ProgrammeCompleted(programme_id=self.id)]

    def credits(self, policy: TrainingPolicy) -> dict[str, list[Completion]]:
        """What a completed programme gives each officer present: its modules at their current
        versions (an assessment only to those who were scored)."""
        if self.plan is None or not self.completed:
            return {}
        completed_at = start_of_day(self.plan.date)
        assessed = policy.rules.certification.pass_marks
        out: dict[str, list[Completion]] = {}
        for mark in self.attendance.values():
            if not mark.present:
                continue
            out[mark.service_number] = [
                Completion(
                    module_id,
                    policy.modules[module_id].version,
                    mark.score if module_id in assessed else None,
                    completed_at,
                )
                for module_id in self.plan.modules
                if module_id in policy.modules and (module_id not in assessed or mark.score is not None)
            ]
        return out


@dataclass(frozen=True)
class Outstanding:
    due_at: datetime | None
    reason: str  # posting, renewal, retraining


@dataclass
class Certificate:
    certificate_id: str
    issued_at: datetime
    valid_until: datetime
    endorsements: list[str]
    lapsed: str | None = None


class OfficerRecord(Aggregate):
    """Each officer's training record (``shakti.training.officer.<service_number>``)."""

    aggregate_type: ClassVar[str] = "officer"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.kendra = ""
        self.facts: set[Completion] = set()
        self.counting: dict[str, Completion] = {}
        """Per module, the latest completion that satisfied the curriculum when it was recorded."""
        self.outstanding: dict[str, Outstanding] = {}
        self.overdue_reported: set[tuple[str, datetime]] = set()
        self.certificate: Certificate | None = None
        self.serial = 0

    def apply(self, event: Event) -> None:
        match event:
            case TrainingAssigned():
                self.kendra = event.kendra
                for module_id in event.modules:
                    self.outstanding[module_id] = Outstanding(event.due_at, event.reason)
            case ModuleCompleted():
                fact = Completion(event.module_id, event.version, event.score, event.completed_at)
                self.facts.add(fact)
                if event.satisfies:
                    known = self.counting.get(event.module_id)
                    if known is None or known.completed_at <= fact.completed_at:
                        self.counting[event.module_id] = fact
                    self.outstanding.pop(event.module_id, None)
            case RetrainingRequired():
                self.outstanding[event.module_id] = Outstanding(event.due_at, "retraining")
            case TrainingOverdue():
                self.overdue_reported.update((m, event.due_at) for m in event.modules)
            case OfficerCertified():
                self.serial += 1
                self.certificate = Certificate(
                    event.certificate_id, event.issued_at, event.valid_until, list(event.endorsements)
                )
            case CertificationLapsed():
                if self.certificate and self.certificate.certificate_id == event.certificate_id:
                    self.certificate.lapsed = event.why

    def counts(self, policy: TrainingPolicy, module_id: str) -> bool:
        done = self.counting.get(module_id)
        return done is not None and policy.passes(module_id, done.version, done.score)

    def missing(self, policy: TrainingPolicy) -> list[str]:
        return [m for m in policy.required if not self.counts(policy, m)]

    @property
    def certified(self) -> bool:
        return self.certificate is not None and self.certificate.lapsed is None

    def assign(self, policy: TrainingPolicy, kendra: str, posted_at: datetime) -> list[Event]:
        """Newly posted to a Kendra: the curriculum modules not yet done become due."""
        modules = [m for m in self.missing(policy) if m not in self.outstanding]
        if not modules:
            return []
        due_at = policy.assignment_due(posted_at)
        return [TrainingAssigned(service_number=self.id, modules=modules, due_at=due_at, kendra=kendra)]

    def credit(
        self,
        policy: TrainingPolicy,
        issuer: CertificateIssuer,
        completions: Sequence[Completion],
        source: str,
        now: datetime,
    ) -> list[Event]:
        """Completed modules (from a programme or an iGOT export), then certification if now met.

        A completion already on the record (same module, version, time and score) is not recorded
        again, so an overlapping export changes nothing."""
        _unknown_modules(policy, [c.module_id for c in completions])
        officer = self.decision()
        officer.record(*officer._expiry(policy, now))
        for done in completions:
            if done in officer.facts:
                continue
            officer.record(
                ModuleCompleted(
                    service_number=self.id,
                    module_id=done.module_id,
                    version=done.version,
                    score=done.score,
                    completed_at=done.completed_at,
                    source=source,
                    satisfies=policy.passes(done.module_id, done.version, done.score)
                    and officer._recent_enough(policy, done),
                )
            )
        officer.record(*officer._certification(policy, issuer, now))
        return officer.recorded

    def _recent_enough(self, policy: TrainingPolicy, done: Completion) -> bool:
        """A module due for renewal counts only if taken since the renewal window opened."""
        due = self.outstanding.get(done.module_id)
        if due is None or due.reason != "renewal" or self.certificate is None:
            return True
        return done.completed_at >= policy.renewal_opens(self.certificate.valid_until)

    def _renewed(self, policy: TrainingPolicy, certificate: Certificate) -> bool:
        opens = policy.renewal_opens(certificate.valid_until)
        return all(
            self.counts(policy, m) and self.counting[m].completed_at >= opens
            for m in policy.rules.renewal.modules
        )

    def _certification(self, policy: TrainingPolicy, issuer: CertificateIssuer, now: datetime) -> list[Event]:
        if self.missing(policy):
            return []
        counted = [done for m, done in self.counting.items() if self.counts(policy, m)]
        endorsements = policy.endorsements({done.module_id for done in counted})
        # Dated from the training that earned it (the latest completion counted), not from the day its
        # record reached us: an iGOT export read weeks later must not move the date or the term.
        earned_at = min(max(done.completed_at for done in counted), now)
        held = self.certificate
        if held is None or self._renewed(policy, held):
            valid_until = policy.valid_until(earned_at)
        elif held.valid_until <= now:
            return []  # expired: only a renewal certifies again
        elif held.lapsed is not None or endorsements != held.endorsements:
            valid_until = held.valid_until  # retrained in time, or a new endorsement: same term
        else:
            return []
        return [
            OfficerCertified(
                service_number=self.id,
                certificate_id=issuer.certificate_id(self.id, self.serial + 1),
                endorsements=endorsements,
                issued_at=earned_at,
                valid_until=valid_until,
            )
        ]

    def _expiry(self, policy: TrainingPolicy, now: datetime) -> list[Event]:
        held = self.certificate
        if held is None or held.lapsed is not None or held.valid_until > now:
            return []
        events: list[Event] = [
            CertificationLapsed(
                service_number=self.id, certificate_id=held.certificate_id, why=LAPSED_EXPIRED
            )
        ]
        opens = policy.renewal_opens(held.valid_until)
        stale = [
            m
            for m in policy.rules.renewal.modules
            if m not in self.outstanding
            and not (self.counts(policy, m) and self.counting[m].completed_at >= opens)
        ]
        if stale:
            events.append(
                TrainingAssigned(
                    service_number=self.id,
                    modules=stale,
                    due_at=policy.renewal_due(held.valid_until),
                    kendra=self.kendra,
                    reason="renewal",
                )
            )
        return events

    def expire(self, policy: TrainingPolicy, certificate_id: str, now: datetime) -> list[Event]:
        """The certificate's term has passed: it lapses and the renewal modules become due."""
        if self.certificate is None or self.certificate.certificate_id != certificate_id:
            return []
        return self._expiry(policy, now)

    def report_overdue(self, due_at: datetime, now: datetime) -> list[Event]:
        """Modules due at ``due_at`` still not done: reported once. A certificate holder who has not
        retrained in time loses the certificate."""
        if due_at > now:
            return []
        modules = sorted(
            m
            for m, due in self.outstanding.items()
            if due.due_at == due_at and (m, due_at) not in self.overdue_reported
        )
        if not modules:
            return []
        events: list[Event] = [TrainingOverdue(service_number=self.id, modules=modules, due_at=due_at)]
        held = self.certificate
        retraining = any(self.outstanding[m].reason == "retraining" for m in modules)
        if held is not None and held.lapsed is None and held.valid_until > now and retraining:
            events.append(
                CertificationLapsed(
                    service_number=self.id, certificate_id=held.certificate_id, why=LAPSED_RETRAINING_OVERDUE
                )
            )
        return events

    def require_retraining(self, module_id: str, version: int, due_at: datetime) -> list[Event]:
        """A new version of a module no longer accepts the one this officer completed."""
        done = self.counting.get(module_id)
        if done is None or done.version >= version or module_id in self.outstanding:
            return []
        return [
            RetrainingRequired(
                service_number=self.id,
                module_id=module_id,
                version=version,
                why=RETRAIN_NEW_VERSION,
                due_at=due_at,
            )
        ]
