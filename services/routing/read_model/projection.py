"""How events change routing's read model: one small handler per event type, through the batch's ``Rows``
(a row is read once per batch and the batch's rows are written as a set).

Facts about one row come from several streams in no fixed order (a registration after its routing):
a handler changes the columns its event speaks of and makes the row when it is the first word of it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from sqlalchemy import MetaData, Table, select

from services.routing.read_model.tables import RoutingTables, routing_tables
from shared.contracts.intake import (
    CaseClosed,
    CaseMarkedDuplicate,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseWithdrawn,
)
from shared.contracts.routing import (
    AgencyDefined,
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CaseUnassigned,
    CaseUnroutable,
    CircleDefined,
    DistrictDefined,
    JurisdictionImported,
    KendraDefined,
    LocalityDefined,
    OfficerDutyChanged,
    OfficerEnrolled,
    OfficerPosted,
    ReferralAccepted,
    ReferralCompleted,
    ReferralIssued,
    ReferralRejected,
    ThanaDefined,
    UnitRetired,
)
from shared.contracts.training import CertificationLapsed, OfficerCertified
from shared.dispatch import handles
from shared.events import Envelope
from shared.projection import Projection
from shared.rows import Rows, utc

CLOSED_BY = {
    CaseResolved: "resolved",
    CaseClosed: "closed",
    CaseWithdrawn: "withdrawn",
    CaseMarkedDuplicate: "duplicate",
}
ANSWERED = {ReferralAccepted: "accepted", ReferralRejected: "rejected", ReferralCompleted: "completed"}
CASE_EVENTS = frozenset(
    kind.event_type
    for kind in (
        CaseRegistered,
        CaseRouted,
        CaseAssigned,
        CaseReassigned,
        CaseUnassigned,
        CaseUnroutable,
        CaseReopened,
        CaseResolved,
        CaseClosed,
        CaseWithdrawn,
        CaseMarkedDuplicate,
    )
)
"""Events that change a case's row (prefetched per batch)."""


async def _if_there(rows: Rows, table: Table, key: dict[str, Any], **values: Any) -> None:
    """Change some columns of a row that exists (a new row would lack required columns)."""
    row = await rows.get(table, **key)
    if row is not None:
        rows.put(table, row | values)


class RoutingRegister(Projection[RoutingTables]):
    name = "routing"
    sources: ClassVar[dict[str, str]] = {
        "ROUTING": "shakti.routing.>",
        "INTAKE": "shakti.intake.case.*",
        "TRAINING": "shakti.training.>",
    }

    def define(self, metadata: MetaData, prefix: str) -> RoutingTables:
        return routing_tables(metadata, prefix)

    async def prefetch(self, rows: Rows, t: RoutingTables, envelopes: list[Envelope]) -> None:
        """The batch's cases are read in one query."""
        cases = [
            getattr(envelope.event(), "case_id", None) or envelope.aggregate_id
            for envelope in envelopes
            if envelope.event_type in CASE_EVENTS
        ]
        await rows.prefetch(t.case, [(case_id,) for case_id in cases])

    # ------------------------------------------------------------ jurisdiction

    @staticmethod
    async def _unit(rows: Rows, t: RoutingTables, level: str, code: str, **values: Any) -> None:
        await rows.change(t.unit, {"level": level, "code": code}, **values, active=True)

    @handles(DistrictDefined)
    async def district_defined(
        self, rows: Rows, t: RoutingTables, event: DistrictDefined, envelope: Envelope
    ) -> None:
        await self._unit(
            rows, t, "district", event.code, district=event.code, name_hi=event.name_hi, name_en=event.name_en
        )

    @handles(CircleDefined)
    async def circle_defined(
        self, rows: Rows, t: RoutingTables, event: CircleDefined, envelope: Envelope
    ) -> None:
        await self._unit(
            rows,
            t,
            "circle",
            event.code,
            district=event.district,
            circle=event.code,
            name_hi=event.name_hi,
            name_en=event.name_en,
            basis=event.basis,
        )

    @handles(ThanaDefined)
    async def thana_defined(
        self, rows: Rows, t: RoutingTables, event: ThanaDefined, envelope: Envelope
    ) -> None:
        await self._unit(
            rows,
            t,
            "thana",
            event.code,
            district=event.district,
            circle=event.circle,
            thana=event.code,
            name_hi=event.name_hi,
            name_en=event.name_en,
            basis=event.basis,
            pincodes=json.dumps(event.pincodes),
        )

    @handles(LocalityDefined)
    async def locality_defined(
        self, rows: Rows, t: RoutingTables, event: LocalityDefined, envelope: Envelope
    ) -> None:
        await self._unit(
            rows,
            t,
            "locality",
            event.code,
            district=event.district,
            circle=event.circle,
            thana=event.thana,
            name_hi=event.name_hi,
            name_en=event.name_en,
        )

    @handles(KendraDefined)
    async def kendra_defined(
        self, rows: Rows, t: RoutingTables, event: KendraDefined, envelope: Envelope
    ) -> None:
        await self._unit(
            rows,
            t,
            "kendra",
            event.code,
            district=event.district,
            circle=event.circle,
            thana=event.thana,
            name_hi=event.name_hi,
            name_en=event.name_en,
            control=event.control,
        )

    @handles(AgencyDefined)
    async def agency_defined(
        self, rows: Rows, t: RoutingTables, event: AgencyDefined, envelope: Envelope
    ) -> None:
        await self._unit(
            rows,
            t,
            "agency",
            event.code,
            district=event.district,
            name_hi=event.name_hi,
            name_en=event.name_en,
            agency_kind=event.kind.value,
            basis=event.basis,
        )

    @handles(UnitRetired)
    async def unit_retired(
        self, rows: Rows, t: RoutingTables, event: UnitRetired, envelope: Envelope
    ) -> None:
        await _if_there(rows, t.unit, {"level": event.level, "code": event.code}, active=False)

    @handles(JurisdictionImported)
    async def jurisdiction_imported(
        self, rows: Rows, t: RoutingTables, event: JurisdictionImported, envelope: Envelope
    ) -> None:
        rows.add(
            t.jurisdiction_import,
            {
                "sequence": envelope.sequence,
                "district": event.district,
                "version": event.version,
                "source": event.source,
                "checksum": event.checksum,
                "counts": json.dumps(event.counts),
                "actor": envelope.actor,
                "imported_at": utc(envelope.occurred_at),
            },
        )

    # ------------------------------------------------------------ roster and certificates

    @handles(OfficerEnrolled)
    async def officer_enrolled(
        self, rows: Rows, t: RoutingTables, event: OfficerEnrolled, envelope: Envelope
    ) -> None:
        await rows.change(
            t.officer,
            {"service_number": event.service_number},
            name=event.name,
            rank=event.rank,
            gender=event.gender,
        )

    @handles(OfficerPosted)
    async def officer_posted(
        self, rows: Rows, t: RoutingTables, event: OfficerPosted, envelope: Envelope
    ) -> None:
        if event.incharge:  # the latest in-charge posted to a Kendra is its in-charge
            o = t.officer.c
            current = await rows.select(select(o.service_number).where(o.kendra == event.kendra, o.incharge))
            for (number,) in current.all():
                await rows.change(t.officer, {"service_number": number}, incharge=False)
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
        self, rows: Rows, t: RoutingTables, event: OfficerDutyChanged, envelope: Envelope
    ) -> None:
        await rows.change(
            t.officer,
            {"service_number": event.service_number},
            status=event.status.value,
            status_since=utc(envelope.occurred_at),
        )

    @handles(OfficerCertified)
    async def officer_certified(
        self, rows: Rows, t: RoutingTables, event: OfficerCertified, envelope: Envelope
    ) -> None:
        await rows.change(
            t.certificate,
            {"certificate_id": event.certificate_id},
            service_number=event.service_number,
            endorsements=json.dumps(event.endorsements),
            valid_until=utc(event.valid_until),
            lapsed=False,
        )
        # Certified from when routing heard of it: the issue date is the training's day, often earlier.
        await rows.change(
            t.certified_spell,
            {"certificate_id": event.certificate_id},
            service_number=event.service_number,
            endorsements=json.dumps(event.endorsements),
            recorded_at=utc(envelope.occurred_at),
            valid_until=utc(event.valid_until),
            lapsed_at=None,
        )

    @handles(CertificationLapsed)
    async def certification_lapsed(
        self, rows: Rows, t: RoutingTables, event: CertificationLapsed, envelope: Envelope
    ) -> None:
        await _if_there(rows, t.certificate, {"certificate_id": event.certificate_id}, lapsed=True)
        await _if_there(
            rows,
            t.certified_spell,
            {"certificate_id": event.certificate_id},
            lapsed_at=utc(envelope.occurred_at),
        )

    # ------------------------------------------------------------ cases

    @handles(CaseRegistered)
    async def case_registered(
        self, rows: Rows, t: RoutingTables, event: CaseRegistered, envelope: Envelope
    ) -> None:
        # Place fields stay with intake (a locality or PIN code narrows down where she lives); the
        # district only until routing says where the case went.
        row = await rows.get(t.case, case_id=envelope.aggregate_id)
        if row is None:
            row = rows.blank(t.case, case_id=envelope.aggregate_id, district=event.district)
        row |= {
            "case_number": event.case_number,
            "category": event.category.value,
            "priority": event.priority.value,
            "minor": event.minor,
            "registered_at": utc(envelope.occurred_at),
        }
        rows.put(t.case, row)

    @handles(CaseRouted)
    async def case_routed(self, rows: Rows, t: RoutingTables, event: CaseRouted, envelope: Envelope) -> None:
        await rows.change(
            t.case,
            {"case_id": event.case_id},
            district=event.district,
            circle=event.circle,
            thana=event.thana,
            kendra=event.kendra,
            unroutable=False,
            routing_flagged=event.flagged,
            route_reason_en=event.reason,
            route_reason_hi=event.reason_hi,
            routed_at=utc(envelope.occurred_at),
        )

    @handles(CaseAssigned, CaseReassigned)
    async def case_assigned(
        self, rows: Rows, t: RoutingTables, event: CaseAssigned | CaseReassigned, envelope: Envelope
    ) -> None:
        case = await rows.change(
            t.case,
            {"case_id": event.case_id},
            officer=event.officer,
            waiting=False,
            assignment_flagged=event.flagged,
            assign_reason_en=event.reason,
            assign_reason_hi=event.reason_hi,
            assigned_at=utc(envelope.occurred_at),
        )
        # Each assignment is kept, at the place the case was then (its routing precedes it in the same
        # stream): the compliance lists ask who held a case in a period, not only who holds it now.
        rows.put(
            t.assignment,
            rows.blank(
                t.assignment,
                event_id=str(envelope.event_id),
                case_id=event.case_id,
                officer=event.officer,
                kendra=event.kendra,
                district=case["district"],
                circle=case["circle"],
                thana=case["thana"],
                assigned_at=utc(envelope.occurred_at),
            ),
        )

    @handles(CaseUnassigned)
    async def case_unassigned(
        self, rows: Rows, t: RoutingTables, event: CaseUnassigned, envelope: Envelope
    ) -> None:
        await rows.change(
            t.case,
            {"case_id": event.case_id},
            officer=None,
            waiting=True,
            assignment_flagged=True,
            assign_reason_en=event.why,
            assign_reason_hi=event.why_hi,
            assigned_at=utc(envelope.occurred_at),
        )

    @handles(CaseUnroutable)
    async def case_unroutable(
        self, rows: Rows, t: RoutingTables, event: CaseUnroutable, envelope: Envelope
    ) -> None:
        await rows.change(
            t.case,
            {"case_id": event.case_id},
            unroutable=True,
            why_en=event.why,
            why_hi=event.why_hi,
            district=event.district or None,
        )

    @handles(CaseResolved, CaseClosed, CaseWithdrawn, CaseMarkedDuplicate)
    async def case_ended(
        self,
        rows: Rows,
        t: RoutingTables,
        event: CaseResolved | CaseClosed | CaseWithdrawn | CaseMarkedDuplicate,
        envelope: Envelope,
    ) -> None:
        await rows.change(t.case, {"case_id": envelope.aggregate_id}, state=CLOSED_BY[type(event)])

    @handles(CaseReopened)
    async def case_reopened(
        self, rows: Rows, t: RoutingTables, event: CaseReopened, envelope: Envelope
    ) -> None:
        await rows.change(t.case, {"case_id": envelope.aggregate_id}, state="open")

    # ------------------------------------------------------------ referrals

    @handles(ReferralIssued)
    async def referral_issued(
        self, rows: Rows, t: RoutingTables, event: ReferralIssued, envelope: Envelope
    ) -> None:
        at = utc(envelope.occurred_at)
        # Put, not add: an answer in the same batch finds the referral through the batch's rows.
        rows.put(
            t.referral,
            rows.blank(
                t.referral,
                referral_id=event.referral_id,
                case_id=event.case_id,
                agency_code=event.agency_code,
                agency_kind=event.agency_kind.value,
                status="issued",
                reason_en=event.reason,
                reason_hi=event.reason_hi,
                issued_at=at,
                due_at=utc(event.due_at),
                updated_at=at,
            ),
        )

    @handles(ReferralAccepted, ReferralRejected, ReferralCompleted)
    async def referral_answered(
        self,
        rows: Rows,
        t: RoutingTables,
        event: ReferralAccepted | ReferralRejected | ReferralCompleted,
        envelope: Envelope,
    ) -> None:
        await _if_there(
            rows,
            t.referral,
            {"referral_id": event.referral_id},
            status=ANSWERED[type(event)],
            by=event.by,
            rejection=event.reason if isinstance(event, ReferralRejected) else None,
            updated_at=utc(envelope.occurred_at),
        )
