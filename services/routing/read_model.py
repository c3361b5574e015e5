"""Routing's read model: the jurisdiction, the roster with workloads and certifications, where every case
sits, referrals, and the cases that need an operator. Queries are scoped by the caller's jurisdiction.

Nothing here identifies a complainant: a case is its id, number, category, priority and place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.domain import DUTY_LABELS, REJECTION_REASONS
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
from shared.contracts.vocabulary import AGENCY_LABELS, CATEGORY_LABELS, PRIORITY_LABELS, RANK_LABELS, label
from shared.dispatch import handles
from shared.events import Envelope
from shared.projection import Projection, Projector
from shared.rows import Rows

CLOSED_BY = {
    CaseResolved: "resolved",
    CaseClosed: "closed",
    CaseWithdrawn: "withdrawn",
    CaseMarkedDuplicate: "duplicate",
}
OUTSTANDING = ("issued", "accepted")
PLURAL = {
    "circle": "circles",
    "thana": "thanas",
    "locality": "localities",
    "kendra": "kendras",
    "agency": "agencies",
}
ANSWERED = {ReferralAccepted: "accepted", ReferralRejected: "rejected", ReferralCompleted: "completed"}


def utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; every time here is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def labelled(labels: Mapping[Any, tuple[str, str]], code: str | None) -> dict[str, str | None]:
    if code is None:
        return {"code": None, "hi": None, "en": None}
    return {"code": code, "hi": label(labels, code, "hi"), "en": label(labels, code, "en")}


@dataclass
class RoutingTables:
    unit: Table
    jurisdiction_import: Table
    officer: Table
    certificate: Table
    case: Table
    referral: Table


class RoutingRegister(Projection[RoutingTables]):
    name = "routing"
    sources: ClassVar[dict[str, str]] = {
        "ROUTING": "shakti.routing.>",
        "INTAKE": "shakti.intake.case.*",
        "TRAINING": "shakti.training.>",
    }

    def define(self, metadata: MetaData, prefix: str) -> RoutingTables:
        return RoutingTables(
            unit=Table(
                f"{prefix}unit",
                metadata,
                Column("level", String(10), primary_key=True),
                Column("code", String(80), primary_key=True),
                Column("district", String(20), nullable=False, index=True),
                Column("circle", String(80)),
                Column("thana", String(80)),
                Column("name_hi", String(200), nullable=False),
                Column("name_en", String(200), nullable=False),
                Column("agency_kind", String(40)),
                Column("control", Boolean, nullable=False, default=False),
                Column("basis", Text, nullable=False, default=""),
                Column("pincodes", Text, nullable=False, default="[]"),
                Column("localities", Text, nullable=False, default="[]"),
                Column("active", Boolean, nullable=False, default=True),
            ),
            jurisdiction_import=Table(
                f"{prefix}jurisdiction_import",
                metadata,
                Column("sequence", Integer, primary_key=True, autoincrement=False),
                Column("district", String(20), nullable=False, index=True),
                Column("version", String(100), nullable=False),
                Column("source", String(300), nullable=False),
                Column("checksum", String(64), nullable=False),
                Column("counts", Text, nullable=False),
                Column("actor", String(200), nullable=False),
                Column("imported_at", DateTime(timezone=True), nullable=False),
            ),
            officer=Table(
                f"{prefix}officer",
                metadata,
                Column("service_number", String(20), primary_key=True),
                Column("name", String(200), nullable=False, default=""),
                Column("rank", String(40), nullable=False, default=""),
                Column("gender", String(10), nullable=False, default=""),
                Column("kendra", String(80), index=True),
                Column("thana", String(80), index=True),
                Column("circle", String(80)),
                Column("district", String(20)),
                Column("incharge", Boolean, nullable=False, default=False),
                Column("status", String(20), nullable=False, default="on_duty"),
                Column("status_since", DateTime(timezone=True)),
            ),
            certificate=Table(
                f"{prefix}certificate",
                metadata,
                Column("certificate_id", String(80), primary_key=True),
                Column("service_number", String(20), nullable=False, index=True),
                Column("endorsements", Text, nullable=False),
                Column("valid_until", DateTime(timezone=True), nullable=False),
                Column("lapsed", Boolean, nullable=False, default=False),
            ),
            case=Table(
                f"{prefix}case",
                metadata,
                Column("case_id", String(64), primary_key=True),
                Column("case_number", String(40)),
                Column("category", String(40)),
                Column("priority", String(4)),
                Column("minor", Boolean, nullable=False, default=False),
                Column("district", String(20), index=True),
                Column("circle", String(80)),
                Column("thana", String(80), index=True),
                Column("kendra", String(80), index=True),
                Column("officer", String(20), index=True),
                Column("state", String(20), nullable=False, default="open"),
                Column("routing_flagged", Boolean, nullable=False, default=False),
                Column("assignment_flagged", Boolean, nullable=False, default=False),
                Column("waiting", Boolean, nullable=False, default=False),
                Column("unroutable", Boolean, nullable=False, default=False),
                Column("why_en", Text),
                Column("why_hi", Text),
                Column("route_reason_en", Text),
                Column("route_reason_hi", Text),
                Column("assign_reason_en", Text),
                Column("assign_reason_hi", Text),
                Column("registered_at", DateTime(timezone=True)),
                Column("routed_at", DateTime(timezone=True)),
                Column("assigned_at", DateTime(timezone=True)),
            ),
            referral=Table(
                f"{prefix}referral",
                metadata,
                Column("referral_id", String(64), primary_key=True),
                Column("case_id", String(64), nullable=False, index=True),
                Column("agency_code", String(80), nullable=False, index=True),
                Column("agency_kind", String(40), nullable=False),
                Column("status", String(20), nullable=False),
                Column("reason_en", Text, nullable=False),
                Column("reason_hi", Text, nullable=False),
                Column("rejection", String(40)),
                Column("by", String(200)),
                Column("issued_at", DateTime(timezone=True), nullable=False),
                Column("due_at", DateTime(timezone=True), nullable=False),
                Column("updated_at", DateTime(timezone=True), nullable=False),
            ),
        )

    @handles(DistrictDefined)
    async def district_defined(
        self, rows: Rows, t: RoutingTables, event: DistrictDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
            t.unit,
            {"level": "district", "code": event.code},
            district=event.code,
            name_hi=event.name_hi,
            name_en=event.name_en,
            active=True,
        )

    @handles(CircleDefined)
    async def circle_defined(
        self, rows: Rows, t: RoutingTables, event: CircleDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
            t.unit,
            {"level": "circle", "code": event.code},
            district=event.district,
            circle=event.code,
            name_hi=event.name_hi,
            name_en=event.name_en,
            basis=event.basis,
            active=True,
        )

    @handles(ThanaDefined)
    async def thana_defined(
        self, rows: Rows, t: RoutingTables, event: ThanaDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
            t.unit,
            {"level": "thana", "code": event.code},
            district=event.district,
            circle=event.circle,
            thana=event.code,
            name_hi=event.name_hi,
            name_en=event.name_en,
            basis=event.basis,
            pincodes=json.dumps(event.pincodes),
            active=True,
        )

    @handles(LocalityDefined)
    async def locality_defined(
        self, rows: Rows, t: RoutingTables, event: LocalityDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
            t.unit,
            {"level": "locality", "code": event.code},
            district=event.district,
            circle=event.circle,
            thana=event.thana,
            name_hi=event.name_hi,
            name_en=event.name_en,
            active=True,
        )

    @handles(KendraDefined)
    async def kendra_defined(
        self, rows: Rows, t: RoutingTables, event: KendraDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
            t.unit,
            {"level": "kendra", "code": event.code},
            district=event.district,
            circle=event.circle,
            thana=event.thana,
            name_hi=event.name_hi,
            name_en=event.name_en,
            control=event.control,
            active=True,
        )

    @handles(AgencyDefined)
    async def agency_defined(
        self, rows: Rows, t: RoutingTables, event: AgencyDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
            t.unit,
            {"level": "agency", "code": event.code},
            district=event.district,
            name_hi=event.name_hi,
            name_en=event.name_en,
            agency_kind=event.kind.value,
            basis=event.basis,
            active=True,
        )

    @handles(UnitRetired)
    async def unit_retired(
        self, rows: Rows, t: RoutingTables, event: UnitRetired, envelope: Envelope
    ) -> None:
        session = rows.session
        await _change(session, t.unit, {"level": event.level, "code": event.code}, active=False)

    @handles(JurisdictionImported)
    async def jurisdiction_imported(
        self, rows: Rows, t: RoutingTables, event: JurisdictionImported, envelope: Envelope
    ) -> None:
        session = rows.session
        at = utc(envelope.occurred_at)
        await session.execute(
            insert(t.jurisdiction_import).values(
                sequence=envelope.sequence,
                district=event.district,
                version=event.version,
                source=event.source,
                checksum=event.checksum,
                counts=json.dumps(event.counts),
                actor=envelope.actor,
                imported_at=at,
            )
        )

    @handles(OfficerEnrolled)
    async def officer_enrolled(
        self, rows: Rows, t: RoutingTables, event: OfficerEnrolled, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
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
        session = rows.session
        if event.incharge:  # the latest in-charge posted to a Kendra is its in-charge
            await session.execute(
                update(t.officer).where(t.officer.c.kendra == event.kendra).values(incharge=False)
            )
        await _put(
            session,
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
        session = rows.session
        at = utc(envelope.occurred_at)
        await _put(
            session,
            t.officer,
            {"service_number": event.service_number},
            status=event.status.value,
            status_since=at,
        )

    @handles(OfficerCertified)
    async def officer_certified(
        self, rows: Rows, t: RoutingTables, event: OfficerCertified, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
            t.certificate,
            {"certificate_id": event.certificate_id},
            service_number=event.service_number,
            endorsements=json.dumps(event.endorsements),
            valid_until=utc(event.valid_until),
            lapsed=False,
        )

    @handles(CertificationLapsed)
    async def certification_lapsed(
        self, rows: Rows, t: RoutingTables, event: CertificationLapsed, envelope: Envelope
    ) -> None:
        session = rows.session
        await _change(session, t.certificate, {"certificate_id": event.certificate_id}, lapsed=True)

    @handles(CaseRegistered)
    async def case_registered(
        self, rows: Rows, t: RoutingTables, event: CaseRegistered, envelope: Envelope
    ) -> None:
        session = rows.session
        at = utc(envelope.occurred_at)
        # Place fields stay with intake (a locality or PIN code narrows down where she lives).
        await _put(
            session,
            t.case,
            {"case_id": envelope.aggregate_id},
            case_number=event.case_number,
            category=event.category.value,
            priority=event.priority.value,
            minor=event.minor,
            registered_at=at,
            when_new={"district": event.district},
        )

    @handles(CaseRouted)
    async def case_routed(self, rows: Rows, t: RoutingTables, event: CaseRouted, envelope: Envelope) -> None:
        session = rows.session
        at = utc(envelope.occurred_at)
        await _put(
            session,
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
            routed_at=at,
        )

    @handles(CaseAssigned, CaseReassigned)
    async def case_assigned(
        self, rows: Rows, t: RoutingTables, event: CaseAssigned | CaseReassigned, envelope: Envelope
    ) -> None:
        session = rows.session
        at = utc(envelope.occurred_at)
        await _put(
            session,
            t.case,
            {"case_id": event.case_id},
            officer=event.officer,
            waiting=False,
            assignment_flagged=event.flagged,
            assign_reason_en=event.reason,
            assign_reason_hi=event.reason_hi,
            assigned_at=at,
        )

    @handles(CaseUnassigned)
    async def case_unassigned(
        self, rows: Rows, t: RoutingTables, event: CaseUnassigned, envelope: Envelope
    ) -> None:
        session = rows.session
        at = utc(envelope.occurred_at)
        await _put(
            session,
            t.case,
            {"case_id": event.case_id},
            officer=None,
            waiting=True,
            assignment_flagged=True,
            assign_reason_en=event.why,
            assign_reason_hi=event.why_hi,
            assigned_at=at,
        )

    @handles(CaseUnroutable)
    async def case_unroutable(
        self, rows: Rows, t: RoutingTables, event: CaseUnroutable, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(
            session,
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
        session = rows.session
        await _put(session, t.case, {"case_id": envelope.aggregate_id}, state=CLOSED_BY[type(event)])

    @handles(CaseReopened)
    async def case_reopened(
        self, rows: Rows, t: RoutingTables, event: CaseReopened, envelope: Envelope
    ) -> None:
        session = rows.session
        await _put(session, t.case, {"case_id": envelope.aggregate_id}, state="open")

    @handles(ReferralIssued)
    async def referral_issued(
        self, rows: Rows, t: RoutingTables, event: ReferralIssued, envelope: Envelope
    ) -> None:
        session = rows.session
        at = utc(envelope.occurred_at)
        await session.execute(
            insert(t.referral).values(
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
            )
        )

    @handles(ReferralAccepted, ReferralRejected, ReferralCompleted)
    async def referral_answered(
        self,
        rows: Rows,
        t: RoutingTables,
        event: ReferralAccepted | ReferralRejected | ReferralCompleted,
        envelope: Envelope,
    ) -> None:
        session = rows.session
        at = utc(envelope.occurred_at)
        await _change(
            session,
            t.referral,
            {"referral_id": event.referral_id},
            status=ANSWERED[type(event)],
            by=event.by,
            rejection=event.reason if isinstance(event, ReferralRejected) else None,
            updated_at=at,
        )


async def _change(session: AsyncSession, table: Table, key: dict[str, Any], **values: Any) -> None:
    """Change some columns of a row that exists (an upsert would need every required column)."""
    await session.execute(update(table).where(*(table.c[k] == v for k, v in key.items())).values(**values))


async def _put(
    session: AsyncSession,
    table: Table,
    key: dict[str, Any],
    when_new: dict[str, Any] | None = None,
    **values: Any,
) -> None:
    """Insert the row with ``key`` (with ``when_new`` too) or update it, in one statement: facts
    about one row come from several streams in no fixed order (a registration after its routing)."""
    upsert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = upsert(table).values(**key, **(when_new or {}), **values)
    await session.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))


def _scoped(table: Table, scope: Mapping[str, str]) -> list[ColumnElement[bool]]:
    return [table.c[column] == value for column, value in scope.items()]


class RoutingQueries:
    """What supervisors and operators ask of routing; each answer stays inside ``scope``."""

    def __init__(self, projector: Projector[RoutingTables]) -> None:
        self.projector = projector

    async def district(self, code: str) -> dict[str, Any] | None:
        t = self.projector.tables
        async with self.projector.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(t.unit)
                        .where(t.unit.c.district == code, t.unit.c.active)
                        .order_by(t.unit.c.code)
                    )
                )
                .mappings()
                .all()
            )
            imports = (
                (
                    await session.execute(
                        select(t.jurisdiction_import)
                        .where(t.jurisdiction_import.c.district == code)
                        .order_by(t.jurisdiction_import.c.sequence)
                    )
                )
                .mappings()
                .all()
            )
        if not rows:
            return None
        units: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            unit = {k: row[k] for k in ("code", "name_hi", "name_en", "district", "circle", "thana", "basis")}
            match row["level"]:
                case "thana":
                    unit["pincodes"] = json.loads(row["pincodes"])
                case "kendra":
                    unit["control"] = row["control"]
                case "agency":
                    unit["kind"] = labelled(AGENCY_LABELS, row["agency_kind"])
            units.setdefault(row["level"], []).append(unit)
        [district] = units.pop("district")
        history = [
            {
                "version": i["version"],
                "source": i["source"],
                "checksum": i["checksum"],
                "counts": json.loads(i["counts"]),
                "by": i["actor"],
                "at": utc(i["imported_at"]),
            }
            for i in imports
        ]
        return {
            "district": district,
            **{PLURAL[level]: found for level, found in units.items()},
            "imports": history,
        }

    async def roster(
        self, scope: Mapping[str, str], now: datetime, kendra: str | None = None
    ) -> list[dict[str, Any]]:
        t = self.projector.tables
        where = _scoped(t.officer, scope)
        if kendra:
            where.append(t.officer.c.kendra == kendra)
        async with self.projector.sessions() as session:
            officers = (
                (
                    await session.execute(
                        select(t.officer)
                        .where(*where)
                        .order_by(t.officer.c.kendra, t.officer.c.service_number)
                    )
                )
                .mappings()
                .all()
            )
            numbers = [o["service_number"] for o in officers]
            loads = await self._workloads(session, numbers)
            certificates = (
                (
                    await session.execute(
                        select(t.certificate).where(
                            t.certificate.c.service_number.in_(numbers), ~t.certificate.c.lapsed
                        )
                    )
                )
                .mappings()
                .all()
            )
        certified: dict[str, set[str]] = {}
        for cert in certificates:
            if utc(cert["valid_until"]) > now:
                certified.setdefault(cert["service_number"], set()).update(json.loads(cert["endorsements"]))
        return [
            {
                "service_number": o["service_number"],
                "name": o["name"],
                "rank": labelled(RANK_LABELS, o["rank"]),
                "gender": o["gender"],
                "kendra": o["kendra"],
                "thana": o["thana"],
                "incharge": o["incharge"],
                "status": labelled(DUTY_LABELS, o["status"]),
                "open_cases": loads.get(o["service_number"], 0),
                "certified_for": [
                    labelled(CATEGORY_LABELS, c) for c in sorted(certified.get(o["service_number"], ()))
                ],
            }
            for o in officers
        ]

    async def _workloads(self, session: AsyncSession, officers: Sequence[str]) -> dict[str, int]:
        c = self.projector.tables.case.c
        rows = await session.execute(
            select(c.officer, func.count())
            .where(c.officer.in_(officers), c.state == "open")
            .group_by(c.officer)
        )
        return {officer: count for officer, count in rows.all()}

    async def workloads(self, scope: Mapping[str, str], now: datetime) -> list[dict[str, Any]]:
        """Open cases per officer, busiest first."""
        rows = await self.roster(scope, now)
        keep = ("service_number", "name", "kendra", "status", "open_cases")
        return sorted(
            ({k: r[k] for k in keep} for r in rows), key=lambda r: (-r["open_cases"], r["service_number"])
        )

    async def queue(self, kendra: str) -> dict[str, Any]:
        """A Kendra's open cases grouped by the officer holding them (None: waiting for an officer)."""
        t = self.projector.tables
        async with self.projector.sessions() as session:
            cases = (
                (
                    await session.execute(
                        select(t.case)
                        .where(t.case.c.kendra == kendra, t.case.c.state == "open")
                        .order_by(t.case.c.priority, t.case.c.registered_at, t.case.c.case_id)
                    )
                )
                .mappings()
                .all()
            )
        by_officer: dict[str | None, list[dict[str, Any]]] = {}
        for row in cases:
            by_officer.setdefault(row["officer"], []).append(_case_line(row))
        return {
            "kendra": kendra,
            "officers": [
                {"officer": officer, "cases": items} for officer, items in by_officer.items() if officer
            ],
            "waiting": by_officer.get(None, []),
        }

    async def referrals_outstanding(self, scope: Mapping[str, str], now: datetime) -> list[dict[str, Any]]:
        """Per agency: referrals issued or accepted and not completed, and how many are overdue."""
        t = self.projector.tables
        async with self.projector.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(t.referral, t.unit.c.name_hi, t.unit.c.name_en)
                        .join(t.case, t.case.c.case_id == t.referral.c.case_id)
                        .outerjoin(
                            t.unit, (t.unit.c.level == "agency") & (t.unit.c.code == t.referral.c.agency_code)
                        )
                        .where(t.referral.c.status.in_(OUTSTANDING), *_scoped(t.case, scope))
                        .order_by(t.referral.c.agency_code, t.referral.c.due_at, t.referral.c.referral_id)
                    )
                )
                .mappings()
                .all()
            )
        agencies: dict[str, dict[str, Any]] = {}
        for row in rows:
            agency = agencies.setdefault(
                row["agency_code"],
                {
                    "agency_code": row["agency_code"],
                    "name_hi": row["name_hi"],
                    "name_en": row["name_en"],
                    "kind": labelled(AGENCY_LABELS, row["agency_kind"]),
                    "outstanding": 0,
                    "overdue": 0,
                    "referrals": [],
                },
            )
            overdue = row["status"] == "issued" and utc(row["due_at"]) < now
            agency["outstanding"] += 1
            agency["overdue"] += overdue
            agency["referrals"].append(
                {
                    "referral_id": row["referral_id"],
                    "case_id": row["case_id"],
                    "status": row["status"],
                    "due_at": utc(row["due_at"]),
                    "overdue": overdue,
                    "reason": {"en": row["reason_en"], "hi": row["reason_hi"]},
                }
            )
        return list(agencies.values())

    async def referrals_of(self, case_id: str) -> list[dict[str, Any]]:
        t = self.projector.tables.referral
        async with self.projector.sessions() as session:
            rows = (
                await session.execute(
                    select(t).where(t.c.case_id == case_id).order_by(t.c.issued_at, t.c.referral_id)
                )
            ).mappings()
            return [
                {
                    "referral_id": r["referral_id"],
                    "agency_code": r["agency_code"],
                    "kind": labelled(AGENCY_LABELS, r["agency_kind"]),
                    "status": r["status"],
                    "rejection": labelled(REJECTION_REASONS, r["rejection"]),
                    "due_at": utc(r["due_at"]),
                }
                for r in rows
            ]

    async def attention(self, scope: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
        """Open cases an operator or supervisor must look at: unroutable, sent to the control Kendra,
        given to an in-charge for want of an eligible officer, or waiting with no officer at all."""
        c = self.projector.tables.case.c
        async with self.projector.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(self.projector.tables.case)
                        .where(
                            c.state == "open",
                            c.unroutable | c.routing_flagged | c.assignment_flagged | c.waiting,
                            *_scoped(self.projector.tables.case, scope),
                        )
                        .order_by(c.priority, c.registered_at, c.case_id)
                    )
                )
                .mappings()
                .all()
            )
        out: dict[str, list[dict[str, Any]]] = {
            "unroutable": [],
            "waiting": [],
            "control_kendra": [],
            "incharge": [],
        }
        for row in rows:
            line = _case_line(row)
            if row["unroutable"]:
                out["unroutable"].append(line | {"why": {"en": row["why_en"], "hi": row["why_hi"]}})
            elif row["waiting"]:
                out["waiting"].append(line)
            elif row["routing_flagged"]:
                out["control_kendra"].append(line)
            else:
                out["incharge"].append(line)
        return out

    async def case(self, case_id: str) -> dict[str, Any] | None:
        t = self.projector.tables.case
        async with self.projector.sessions() as session:
            row = (await session.execute(select(t).where(t.c.case_id == case_id))).mappings().first()
        return (
            None
            if row is None
            else _case_line(row)
            | {
                "district": row["district"],
                "circle": row["circle"],
                "thana": row["thana"],
                "state": row["state"],
                "unroutable": row["unroutable"],
            }
        )


def _case_line(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "case_id": row["case_id"],
        "case_number": row["case_number"],
        "category": labelled(CATEGORY_LABELS, row["category"]),
        "priority": labelled(PRIORITY_LABELS, row["priority"]),
        "kendra": row["kendra"],
        "officer": row["officer"],
        "routing": {
            "en": row["route_reason_en"],
            "hi": row["route_reason_hi"],
            "flagged": row["routing_flagged"],
        },
        "assignment": {
            "en": row["assign_reason_en"],
            "hi": row["assign_reason_hi"],
            "flagged": row["assignment_flagged"],
        },
        "registered_at": utc(row["registered_at"]) if row["registered_at"] else None,
    }
