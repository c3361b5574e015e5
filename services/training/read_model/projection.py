"""How training's and routing's events change the training records: one small handler per event,
reading and writing rows through the batch's ``Rows`` (written as a set when the batch commits)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import ClassVar

from sqlalchemy import MetaData

from shared.contracts.routing import (
    OfficerDutyChanged,
    OfficerEnrolled,
    OfficerPosted,
)
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
from shared.dispatch import handles
from shared.events import Envelope
from shared.projection import Projection
from shared.rows import Rows, utc

from .tables import RecordTables, record_tables


class TrainingRecords(Projection[RecordTables]):
    name = "training_records"
    sources: ClassVar[dict[str, str]] = {
        "TRAINING": "shakti.training.>",
        "ROUTING": "shakti.routing.officer.*",
    }

    def define(self, metadata: MetaData, prefix: str) -> RecordTables:
        return record_tables(metadata, prefix)

    @handles(OfficerEnrolled)
    async def officer_enrolled(
        self, rows: Rows, t: RecordTables, event: OfficerEnrolled, envelope: Envelope
    ) -> None:
        await rows.change(
            t.officer, {"service_number": event.service_number}, name=event.name, rank=event.rank
        )

    @handles(OfficerPosted)
    async def officer_posted(
        self, rows: Rows, t: RecordTables, event: OfficerPosted, envelope: Envelope
    ) -> None:
        await rows.change(
            t.officer,
            {"service_number": event.service_number},
            kendra=event.kendra,
            thana=event.thana,
            circle=event.circle,
            district=event.district,
            incharge=event.incharge,
        )

    @handles(OfficerDutyChanged)
    async def officer_duty_changed(
        self, rows: Rows, t: RecordTables, event: OfficerDutyChanged, envelope: Envelope
    ) -> None:
        await rows.change(t.officer, {"service_number": event.service_number}, duty=event.status.value)

    @handles(ModulePublished)
    async def module_published(
        self, rows: Rows, t: RecordTables, event: ModulePublished, envelope: Envelope
    ) -> None:
        module = rows.blank(
            t.module,
            module_id=event.module_id,
            kind=event.kind,
            version=event.version,
            accepted_from_version=event.accepted_from_version,
            title_hi=event.title_hi,
            title_en=event.title_en,
            duration_minutes=event.duration_minutes,
            published_at=utc(envelope.occurred_at),
        )
        rows.put(t.module, module)

    @handles(TrainingAssigned)
    async def training_assigned(
        self, rows: Rows, t: RecordTables, event: TrainingAssigned, envelope: Envelope
    ) -> None:
        for module_id in event.modules:
            _outstanding(rows, t, event.service_number, module_id, utc(event.due_at), event.reason)

    @handles(RetrainingRequired)
    async def retraining_required(
        self, rows: Rows, t: RecordTables, event: RetrainingRequired, envelope: Envelope
    ) -> None:
        _outstanding(rows, t, event.service_number, event.module_id, utc(event.due_at), "retraining")

    @handles(ModuleCompleted)
    async def module_completed(
        self, rows: Rows, t: RecordTables, event: ModuleCompleted, envelope: Envelope
    ) -> None:
        completion = rows.blank(
            t.completion,
            event_id=str(envelope.event_id),
            service_number=event.service_number,
            module_id=event.module_id,
            version=event.version,
            score=event.score,
            completed_at=utc(event.completed_at),
            source=event.source,
            satisfies=event.satisfies,
        )
        rows.add(t.completion, completion)
        if event.satisfies:
            rows.remove(t.outstanding, service_number=event.service_number, module_id=event.module_id)

    @handles(TrainingOverdue)
    async def training_overdue(
        self, rows: Rows, t: RecordTables, event: TrainingOverdue, envelope: Envelope
    ) -> None:
        keys = [(event.service_number, module_id) for module_id in event.modules]
        await rows.prefetch(t.outstanding, keys)
        due = utc(event.due_at)
        for service_number, module_id in keys:
            row = await rows.get(t.outstanding, service_number=service_number, module_id=module_id)
            # Reported for this due date only: a module assigned again since has a new one.
            if row is not None and row["due_at"] == due:
                row["reported"] = True
                rows.put(t.outstanding, row)

    @handles(OfficerCertified)
    async def officer_certified(
        self, rows: Rows, t: RecordTables, event: OfficerCertified, envelope: Envelope
    ) -> None:
        for valid in await rows.where(t.certificate, service_number=event.service_number, status="valid"):
            valid["status"] = "superseded"
            rows.put(t.certificate, valid)
        certificate = rows.blank(
            t.certificate,
            certificate_id=event.certificate_id,
            service_number=event.service_number,
            issued_at=utc(event.issued_at),
            valid_until=utc(event.valid_until),
            endorsements=json.dumps(event.endorsements),
            status="valid",
        )
        rows.put(t.certificate, certificate)

    @handles(CertificationLapsed)
    async def certification_lapsed(
        self, rows: Rows, t: RecordTables, event: CertificationLapsed, envelope: Envelope
    ) -> None:
        await rows.update(
            t.certificate, {"certificate_id": event.certificate_id}, status="lapsed", lapsed_why=event.why
        )

    @handles(ProgrammeScheduled)
    async def programme_scheduled(
        self, rows: Rows, t: RecordTables, event: ProgrammeScheduled, envelope: Envelope
    ) -> None:
        programme = rows.blank(
            t.programme,
            programme_id=event.programme_id,
            title_hi=event.title_hi,
            title_en=event.title_en,
            ordered_by=event.ordered_by,
            directed_by=event.directed_by,
            organised_by=event.organised_by,
            venue=event.venue,
            date=event.date,
            district=event.district,
            modules=json.dumps(event.modules),
            invited_kendras=json.dumps(event.invited_kendras),
            invited_officers=json.dumps(event.invited_officers),
            completed=False,
        )
        rows.put(t.programme, programme)

    @handles(AttendanceMarked)
    async def attendance_marked(
        self, rows: Rows, t: RecordTables, event: AttendanceMarked, envelope: Envelope
    ) -> None:
        mark = rows.blank(
            t.attendance,
            programme_id=event.programme_id,
            service_number=event.service_number,
            present=event.present,
            score=event.score,
        )
        rows.put(t.attendance, mark)

    @handles(ProgrammeCompleted)
    async def programme_completed(
        self, rows: Rows, t: RecordTables, event: ProgrammeCompleted, envelope: Envelope
    ) -> None:
        await rows.update(t.programme, {"programme_id": event.programme_id}, completed=True)


def _outstanding(
    rows: Rows, t: RecordTables, service_number: str, module_id: str, due_at: datetime | None, reason: str
) -> None:
    row = rows.blank(
        t.outstanding,
        service_number=service_number,
        module_id=module_id,
        due_at=due_at,
        reason=reason,
        reported=False,
    )
    rows.put(t.outstanding, row)
