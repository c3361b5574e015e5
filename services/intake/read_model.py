"""Intake's read models and their queries.

``intake_places``: the jurisdiction routing imported (districts, circles, thanas, Kendras), so that
intake can check a complaint's place without asking routing.

``intake_cases``: the case register and every case's timeline, from intake's own events and from
routing's (where the case went, who holds it) and escalation's (deadlines, breaches, escalations).
The three streams are followed independently, so a routing or escalation event may arrive before the
registration it is about: every change first makes sure the case's row exists, and what routing
decides about the place wins over what was reported at registration, in whichever order they come.

No identity data is stored here, sealed or not: it is read from the events, through the identity view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    case,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.domain import next_status
from services.intake.timeline import INTERNAL, describe
from shared.contracts.escalation import (
    CaseEscalated,
    ClockStopped,
    DeadlineApproaching,
    SlaBreached,
)
from shared.contracts.intake import (
    CaseClosed,
    CaseMarkedDuplicate,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    FirstContactMade,
    IdentityErased,
)
from shared.contracts.routing import (
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    LocalityDefined,
    ThanaDefined,
)
from shared.contracts.vocabulary import ACTIVE, CaseStatus, Category, Priority
from shared.events import Envelope, Event
from shared.projection import Projection
from shared.rows import Rows

Row = dict[str, Any]


def utc(moment: datetime) -> datetime:
    """SQLite keeps no time zone: every time goes in as UTC and comes out marked as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ---------------------------------------------------------------- jurisdiction


@dataclass
class PlaceTables:
    places: Table


class Jurisdiction(Projection[PlaceTables]):
    name = "intake_places"
    sources: ClassVar[dict[str, str]] = {"ROUTING": "shakti.routing.district.*"}

    def define(self, metadata: MetaData, prefix: str) -> PlaceTables:
        return PlaceTables(
            Table(
                f"{prefix}place",
                metadata,
                Column("code", String(64), primary_key=True),
                Column("kind", String(16), nullable=False, index=True),
                Column("district", String(64), nullable=False, index=True),
                Column("circle", String(64)),
                Column("thana", String(64)),
                Column("name_hi", String(200), nullable=False),
                Column("name_en", String(200), nullable=False),
            )
        )

    async def apply(self, rows: Rows, tables: PlaceTables, envelope: Envelope) -> None:
        session = rows.session
        event = envelope.event()
        match event:
            case DistrictDefined():
                place = {"kind": "district", "district": event.code}
            case CircleDefined():
                place = {"kind": "circle", "district": event.district}
            case ThanaDefined():
                place = {"kind": "thana", "district": event.district, "circle": event.circle}
            case LocalityDefined():
                place = {"kind": "locality", "district": event.district, "circle": event.circle}
                place["thana"] = event.thana
            case KendraDefined():
                place = {"kind": "kendra", "district": event.district, "circle": event.circle}
                place["thana"] = event.thana
            case _:
                return
        t = tables.places
        values = {**place, "name_hi": event.name_hi, "name_en": event.name_en}
        if await session.scalar(select(t.c.code).where(t.c.code == event.code)) is None:
            await session.execute(insert(t).values(code=event.code, **values))
        else:
            await session.execute(update(t).where(t.c.code == event.code).values(**values))


async def find_places(session: AsyncSession, tables: PlaceTables, codes: list[str]) -> dict[str, Row]:
    t = tables.places
    return {
        row.code: dict(row._mapping) for row in await session.execute(select(t).where(t.c.code.in_(codes)))
    }


async def jurisdiction_known(session: AsyncSession, tables: PlaceTables) -> bool:
    return bool(await session.scalar(select(func.count()).select_from(tables.places)))


async def list_places(session: AsyncSession, tables: PlaceTables, district: str | None) -> list[Row]:
    t = tables.places
    query = select(t).order_by(t.c.district, t.c.kind, t.c.code)
    if district:
        query = query.where(t.c.district == district)
    return [dict(r._mapping) for r in await session.execute(query)]


# ---------------------------------------------------------------- case register


@dataclass
class CaseTables:
    cases: Table
    timeline: Table


class CaseRegister(Projection[CaseTables]):
    name = "intake_cases"
    sources: ClassVar[dict[str, str]] = {
        "INTAKE": "shakti.intake.case.*",
        "ROUTING": "shakti.routing.case.*",
        "ESCALATION": "shakti.escalation.case.*",
    }

    def define(self, metadata: MetaData, prefix: str) -> CaseTables:
        cases = Table(
            f"{prefix}case",
            metadata,
            Column("case_id", String(64), primary_key=True),
            Column("case_number", String(40), unique=True),
            Column("channel", String(32)),
            Column("category", String(32), index=True),
            Column("priority", String(4), index=True),
            Column("danger_now", Boolean),
            Column("minor", Boolean),
            Column("flags", String(100), nullable=False, default=""),
            Column("district", String(64), index=True),
            Column("circle", String(64), index=True),
            Column("thana", String(64), index=True),
            Column("kendra", String(64), index=True),
            Column("routed", Boolean, nullable=False, default=False),
            Column("pincode", String(6)),
            Column("locality", String(100)),
            Column("language", String(8)),
            Column("consent_to_share", Boolean),
            Column("registered_by", String(64)),
            Column("registered_at_thana", String(64)),
            Column("registered_at", DateTime(timezone=True), index=True),
            Column("status", String(32), index=True),
            Column("first_contact_at", DateTime(timezone=True)),
            Column("outcome", String(64)),
            Column("feedback_rating", Integer),
            Column("resolved_at", DateTime(timezone=True)),
            Column("closed_at", DateTime(timezone=True)),
            Column("duplicate_of", String(64)),
            Column("duplicate_of_number", String(40)),
            Column("identity_erased", Boolean, nullable=False, default=False),
            Column("assigned_officer", String(64)),
            Column("escalation_level", Integer, nullable=False, default=0),
            Column("escalation_role", String(32)),
            Column("escalation_office", String(64)),
            Column("overdue", Boolean, nullable=False, default=False, index=True),
            Column("overdue_clocks", String(200), nullable=False, default=""),
            Column("due_soon_clocks", String(200), nullable=False, default=""),
            Column("updated_at", DateTime(timezone=True)),
        )
        timeline = Table(
            f"{prefix}timeline",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("case_id", String(64), nullable=False, index=True),
            Column("stream", String(50), nullable=False),
            Column("sequence", Integer, nullable=False),
            Column("occurred_at", DateTime(timezone=True), nullable=False),
            Column("event_type", String(100), nullable=False),
            Column("actor", String(200), nullable=False),
            Column("text_en", Text, nullable=False),
            Column("text_hi", Text, nullable=False),
            UniqueConstraint("stream", "sequence"),
        )
        return CaseTables(cases, timeline)

    async def apply(self, rows: Rows, tables: CaseTables, envelope: Envelope) -> None:
        session = rows.session
        event = envelope.event()
        case_id = getattr(event, "case_id", None) or envelope.aggregate_id
        if envelope.event_type not in INTERNAL:
            text_en, text_hi = describe(envelope, event)
            await session.execute(
                insert(tables.timeline).values(
                    case_id=case_id,
                    stream=envelope.stream,
                    sequence=envelope.sequence,
                    occurred_at=utc(envelope.occurred_at),
                    event_type=envelope.event_type,
                    actor=envelope.actor,
                    text_en=text_en,
                    text_hi=text_hi,
                )
            )
        t = tables.cases
        row = await self._row(session, t, case_id)
        at = utc(envelope.occurred_at)
        changes = self._changes(row, event, at)
        # The latest moment any of the three streams says something happened to the case: which event
        # is applied last depends on how the streams' events arrive, and a rebuild reads them in turn.
        changes["updated_at"] = at if row["updated_at"] is None else max(utc(row["updated_at"]), at)
        await session.execute(update(t).where(t.c.case_id == case_id).values(**changes))

    @staticmethod
    async def _row(session: AsyncSession, t: Table, case_id: str) -> Row:
        found = (await session.execute(select(t).where(t.c.case_id == case_id))).first()
        if found is not None:
            return dict(found._mapping)
        await session.execute(insert(t).values(case_id=case_id))
        return dict((await session.execute(select(t).where(t.c.case_id == case_id))).one()._mapping)

    @staticmethod
    def _changes(row: Row, event: Event, at: datetime) -> Row:
        status = next_status(CaseStatus(row["status"]) if row["status"] else None, event)
        changes: Row = {"status": status.value if status else None}
        match event:
            case CaseRegistered():
                changes |= {
                    "case_number": event.case_number,
                    "channel": event.channel.value,
                    "category": event.category.value,
                    "priority": event.priority.value,
                    "danger_now": event.danger_now,
                    "minor": event.minor,
                    "flags": ",".join(event.flags),
                    "pincode": event.pincode,
                    "locality": event.locality_code,  # the code (v1 events' clear text is dropped on read)
                    "language": event.language,
                    "consent_to_share": event.consent_to_share,
                    "registered_by": event.registered_by,
                    "registered_at_thana": event.registered_at_thana,
                    "registered_at": at,
                }
                if not row["routed"]:
                    changes |= {"district": event.district, "circle": event.circle, "thana": event.thana}
            case FirstContactMade():
                changes["first_contact_at"] = utc(event.at)
            case CaseResolved():
                changes |= {"outcome": event.outcome, "feedback_rating": event.feedback_rating}
                changes["resolved_at"] = at
            case CaseClosed():
                changes["closed_at"] = at
            case CaseReopened():
                changes["closed_at"] = None
            case CaseMarkedDuplicate():
                changes["duplicate_of"] = event.duplicate_of
                changes["duplicate_of_number"] = event.duplicate_of_number
            case IdentityErased():
                changes["identity_erased"] = True
            case CaseRouted():
                changes |= {"district": event.district, "circle": event.circle, "thana": event.thana}
                changes |= {"kendra": event.kendra, "routed": True}
            case CaseAssigned() | CaseReassigned():
                changes |= {"assigned_officer": event.officer, "kendra": event.kendra}
            case CaseEscalated():
                changes |= {"escalation_level": event.level, "escalation_role": event.role.value}
                changes["escalation_office"] = event.office_code
            case SlaBreached():
                changes |= _clocks(row, breached=event.clock)
            case DeadlineApproaching():
                changes |= _clocks(row, approaching=event.clock)
            case ClockStopped():
                changes |= _clocks(row, stopped=event.clock)
        return changes


def _clocks(row: Row, *, breached: str = "", approaching: str = "", stopped: str = "") -> Row:
    """A case is overdue while a step whose deadline passed is still not done."""
    late = set(filter(None, row["overdue_clocks"].split(",")))
    soon = set(filter(None, row["due_soon_clocks"].split(",")))
    if breached:
        late.add(breached)
        soon.discard(breached)
    if approaching:
        soon.add(approaching)
    if stopped:
        late.discard(stopped)
        soon.discard(stopped)
    return {
        "overdue_clocks": ",".join(sorted(late)),
        "due_soon_clocks": ",".join(sorted(soon)),
        "overdue": bool(late),
    }


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class RegisterFilter:
    status: CaseStatus | None = None
    category: Category | None = None
    priority: Priority | None = None
    registered_from: datetime | None = None
    registered_to: datetime | None = None
    overdue: bool | None = None
    kendra: str | None = None
    thana: str | None = None
    open: bool | None = None
    """True: still being worked (registered, in progress, awaiting the complainant); False: the rest."""
    due_soon: bool | None = None
    """True: still being worked with a step whose deadline warning came (at risk of a breach)."""
    danger_now: bool | None = None
    officer: str | None = None
    """The service number the case is assigned to."""
    number: str | None = None
    """A case number or its beginning (``SJP-2026-0001`` finds ``SJP-2026-000123``)."""
    by_urgency: bool = False
    """Most urgent first (see ``urgency``) instead of newest first."""


def _registered_in(t: Table, scope: dict[str, str]) -> list[Any]:
    """Rows of registered cases inside a jurisdiction (a row may exist for a routing event alone)."""
    return [t.c.case_number.is_not(None), *(t.c[column] == code for column, code in scope.items())]


async def find_cases(
    session: AsyncSession,
    tables: CaseTables,
    scope: dict[str, str],
    wanted: RegisterFilter,
    *,
    page: int,
    size: int,
) -> tuple[list[Row], int]:
    t = tables.cases
    where = _registered_in(t, scope)
    if wanted.status:
        where.append(t.c.status == wanted.status.value)
    if wanted.category:
        where.append(t.c.category == wanted.category.value)
    if wanted.priority:
        where.append(t.c.priority == wanted.priority.value)
    if wanted.registered_from:
        where.append(t.c.registered_at >= utc(wanted.registered_from))
    if wanted.registered_to:
        where.append(t.c.registered_at < utc(wanted.registered_to))
    if wanted.overdue is not None:
        where.append(_late(t) if wanted.overdue else ~_late(t))
    if wanted.due_soon is not None:
        where.append(_at_risk(t) if wanted.due_soon else ~_at_risk(t))
    if wanted.open is not None:
        where.append(_being_worked(t) if wanted.open else ~_being_worked(t))
    if wanted.danger_now is not None:
        where.append(t.c.danger_now.is_(wanted.danger_now))
    if wanted.officer:
        where.append(t.c.assigned_officer == wanted.officer)
    if wanted.number:
        where.append(t.c.case_number.startswith(wanted.number, autoescape=True))
    if wanted.kendra:
        where.append(t.c.kendra == wanted.kendra)
    if wanted.thana:
        where.append(t.c.thana == wanted.thana)
    total = await session.scalar(select(func.count()).select_from(t).where(*where)) or 0
    order = urgency(t) if wanted.by_urgency else [t.c.registered_at.desc(), t.c.case_number.desc()]
    rows = await session.execute(
        select(t).where(*where).order_by(*order).limit(size).offset((page - 1) * size)
    )
    return [_out(r._mapping) for r in rows], total


def _being_worked(t: Table) -> Any:
    return t.c.status.in_([s.value for s in ACTIVE])


def _late(t: Table) -> Any:
    return t.c.overdue.is_(True) & _being_worked(t)


def _at_risk(t: Table) -> Any:
    return (t.c.due_soon_clocks != "") & _being_worked(t)


def urgency(t: Table) -> list[Any]:
    """Most urgent first, from what the register knows: cases being worked before the rest; a step
    already late, then one whose deadline warning came; danger now; priority (P1 first, and the SOP's
    limits follow priority); then the oldest. The deadlines themselves are escalation's: the register
    keeps only whether one is late or close, so two cases of one rank stand oldest first."""
    return [
        case((_being_worked(t), 0), else_=1),
        case((_late(t), 0), else_=1),
        case((_at_risk(t), 0), else_=1),
        case((t.c.danger_now.is_(True), 0), else_=1),
        t.c.priority,
        t.c.registered_at,
        t.c.case_number,
    ]


async def find_case(
    session: AsyncSession, tables: CaseTables, *, case_id: str | None = None, case_number: str | None = None
) -> Row | None:
    t = tables.cases
    key = t.c.case_id == case_id if case_id else t.c.case_number == case_number
    found = (await session.execute(select(t).where(key, t.c.case_number.is_not(None)))).first()
    return _out(found._mapping) if found else None


async def case_timeline(session: AsyncSession, tables: CaseTables, case_id: str) -> list[Row]:
    t = tables.timeline
    rows = await session.execute(
        select(t.c.occurred_at, t.c.event_type, t.c.actor, t.c.text_en, t.c.text_hi)
        # Lines written before internal entries were left out are left out here too (no rebuild needed).
        .where(t.c.case_id == case_id, t.c.event_type.not_in(INTERNAL))
        .order_by(t.c.occurred_at, t.c.stream, t.c.sequence)
    )
    return [_out(r._mapping) for r in rows]


async def count_cases(
    session: AsyncSession, tables: CaseTables, scope: dict[str, str], by: str
) -> dict[str, int]:
    t = tables.cases
    column = t.c[by]
    rows = await session.execute(
        select(column, func.count()).where(*_registered_in(t, scope)).group_by(column).order_by(column)
    )
    return {str(value): int(n) for value, n in rows}


def _out(mapping: Any) -> Row:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in dict(mapping).items()}
