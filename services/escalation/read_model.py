"""Escalation's read model: the durable timer table, the clocks, the ladder and the jurisdiction.

Built from escalation's own events (clocks, breaches, escalations, the next check of each case) and
routing's jurisdiction and ``CaseRouted`` (where each case stands, for the ladder's offices and for
scoping queries). Nothing here holds identity data: cases are ids, numbers, codes and times.

``next_check`` is the timer table: one row per case that the escalation service must look at again,
and when. It is written only from ``NextCheckScheduled`` events, so it always says what the case's
aggregate decided.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Executable,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    and_,
    bindparam,
    case,
    delete,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

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
)
from shared.contracts.routing import (
    CaseRouted,
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    ThanaDefined,
)
from shared.contracts.vocabulary import LadderRole
from shared.dispatch import handles
from shared.events import Envelope
from shared.projection import Projection, Projector
from shared.rows import Rows

from .domain import Jurisdiction, Place, ThanaPlace

PlaceLevel = Literal["thana", "circle", "district"]

FIRST_CONTACT_TRIGGER = "FirstContactMade"
DISPOSAL_TRIGGER = "CaseResolved"
"""The intake events whose times give the time-to-first-contact and time-to-disposal figures."""


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone: store UTC, read it back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class BoardTables:
    case: Table
    clock: Table
    escalation: Table
    next_check: Table
    office: Table


class EscalationBoard(Projection[BoardTables]):
    name = "escalation_board"
    sources: ClassVar[Mapping[str, str]] = {
        "ESCALATION": "shakti.escalation.case.*",
        "ROUTING": "shakti.routing.>",
    }

    def define(self, metadata: MetaData, prefix: str) -> BoardTables:
        return BoardTables(
            case=Table(
                f"{prefix}case",
                metadata,
                Column("case_id", String(64), primary_key=True),
                Column("case_number", String(40)),
                Column("district", String(60), index=True),
                Column("circle", String(60), index=True),
                Column("thana", String(60), index=True),
                Column("kendra", String(70)),
                Column("priority", String(4)),
                Column("category", String(40)),
                Column("danger_now", Boolean, nullable=False, default=False),
                Column("registered_at", UtcDateTime()),
                Column("round", Integer, nullable=False, default=1),
                Column("closed", Boolean, nullable=False, default=False),
                Column("closed_at", UtcDateTime()),
                Column("first_contact_at", UtcDateTime()),
                Column("disposed_at", UtcDateTime()),
                Column("level", Integer, nullable=False, default=0),
                Column("role", String(20)),
                Column("office_code", String(70)),
                Column("escalated_at", UtcDateTime()),
                Column("climbing", Boolean, nullable=False, default=False),
                Column("acknowledged_at", UtcDateTime()),
            ),
            clock=Table(
                f"{prefix}clock",
                metadata,
                Column("case_id", String(64), primary_key=True),
                Column("clock", String(40), primary_key=True),
                Column("referral_id", String(64), primary_key=True),
                Column("round", Integer, primary_key=True),
                Column("basis", String(20), nullable=False),
                Column("limit_seconds", Float, nullable=False),
                Column("policy_version", String(40), nullable=False),
                Column("started_at", UtcDateTime(), nullable=False),
                Column("due_at", UtcDateTime(), index=True),
                Column("state", String(10), nullable=False, index=True),
                Column("remaining_seconds", Float),
                Column("warned_pct", Integer, nullable=False, default=0),
                Column("breached_at", UtcDateTime()),
                Column("stopped_at", UtcDateTime()),
                Column("met", Boolean),
                Column("stop_reason", String(40)),
            ),
            escalation=Table(
                f"{prefix}escalation",
                metadata,
                Column("case_id", String(64), primary_key=True),
                Column("round", Integer, primary_key=True),
                Column("level", Integer, primary_key=True),
                Column("role", String(20), nullable=False),
                Column("office_code", String(70), nullable=False),
                Column("reason", String(80), nullable=False),
                Column("escalated_at", UtcDateTime(), nullable=False),
                Column("next_due_at", UtcDateTime()),
                Column("acknowledged_at", UtcDateTime()),
                Column("acknowledged_by", String(40)),
                # "What is escalated to me" looks rows up by role and office.
                Index(f"{prefix}escalation_office", "role", "office_code"),
            ),
            next_check=Table(
                f"{prefix}next_check",
                metadata,
                Column("case_id", String(64), primary_key=True),
                Column("at", UtcDateTime(), nullable=False, index=True),
                Column("what", String(80), nullable=False),
            ),
            office=Table(
                f"{prefix}office",
                metadata,
                Column("code", String(70), primary_key=True),
                Column("kind", String(10), nullable=False),
                Column("district", String(60), nullable=False),
                Column("circle", String(60)),
                Column("thana", String(60), index=True),
                Column("control", Boolean, nullable=False, default=False),
                Column("name_hi", String(200), nullable=False),
                Column("name_en", String(200), nullable=False),
            ),
        )

    @handles(CaseWatched)
    async def case_watched(self, rows: Rows, t: BoardTables, event: CaseWatched, envelope: Envelope) -> None:
        session = rows.session
        await upsert(
            session,
            t.case,
            {"case_id": event.case_id},
            {
                "case_number": event.case_number,
                "priority": event.priority.value,
                "category": event.category.value,
                "danger_now": event.danger_now,
                "registered_at": event.registered_at,
            },
            # Routing's CaseRouted, when it came first, knows the place better.
            fill={
                "district": event.district,
                "thana": event.thana,
                "circle": event.circle or await _circle_of(session, t, event.thana),
            },
        )

    @handles(CaseRouted)
    async def case_routed(self, rows: Rows, t: BoardTables, event: CaseRouted, envelope: Envelope) -> None:
        session = rows.session
        await upsert(
            session,
            t.case,
            {"case_id": event.case_id},
            {
                "district": event.district,
                "circle": event.circle,
                "thana": event.thana,
                "kendra": event.kendra,
            },
        )

    @handles(ClockStarted)
    async def clock_started(
        self, rows: Rows, t: BoardTables, event: ClockStarted, envelope: Envelope
    ) -> None:
        session = rows.session
        await upsert(
            session,
            t.clock,
            _clock_key(event.case_id, event.clock, event.referral_id, event.round),
            {
                "basis": event.basis,
                "limit_seconds": event.limit_seconds,
                "policy_version": event.policy_version,
                "started_at": event.started_at,
                "due_at": event.due_at,
                "state": "running",
                "remaining_seconds": None,
                "warned_pct": 0,
                "breached_at": None,
                "stopped_at": None,
                "met": None,
                "stop_reason": None,
            },
        )

    @handles(ClockPaused)
    async def clock_paused(self, rows: Rows, t: BoardTables, event: ClockPaused, envelope: Envelope) -> None:
        session = rows.session
        await _update_clock(
            session, t, event, state="paused", due_at=None, remaining_seconds=event.remaining_seconds
        )

    @handles(ClockResumed)
    async def clock_resumed(
        self, rows: Rows, t: BoardTables, event: ClockResumed, envelope: Envelope
    ) -> None:
        session = rows.session
        await _update_clock(session, t, event, state="running", due_at=event.due_at)

    @handles(DeadlineApproaching)
    async def deadline_approaching(
        self, rows: Rows, t: BoardTables, event: DeadlineApproaching, envelope: Envelope
    ) -> None:
        session = rows.session
        await _update_clock(session, t, event, warned_pct=event.threshold_pct)

    @handles(SlaBreached)
    async def sla_breached(self, rows: Rows, t: BoardTables, event: SlaBreached, envelope: Envelope) -> None:
        session = rows.session
        await _update_clock(session, t, event, state="breached", breached_at=event.breached_at, met=False)

    @handles(ClockStopped)
    async def clock_stopped(
        self, rows: Rows, t: BoardTables, event: ClockStopped, envelope: Envelope
    ) -> None:
        session = rows.session
        await _update_clock(
            session,
            t,
            event,
            state="stopped",
            stopped_at=event.at,
            met=event.met,
            stop_reason=event.reason,
        )
        await _record_step_time(session, t, event)

    @handles(CaseEscalated)
    async def case_escalated(
        self, rows: Rows, t: BoardTables, event: CaseEscalated, envelope: Envelope
    ) -> None:
        session = rows.session
        at = envelope.occurred_at
        await upsert(
            session,
            t.escalation,
            {"case_id": event.case_id, "round": event.round, "level": event.level},
            {
                "role": event.role.value,
                "office_code": event.office_code,
                "reason": event.reason,
                "escalated_at": at,
                "next_due_at": event.next_due_at,
                "acknowledged_at": None,
                "acknowledged_by": None,
            },
        )
        await _update_case(
            session,
            t,
            event.case_id,
            level=event.level,
            role=event.role.value,
            office_code=event.office_code,
            escalated_at=at,
            climbing=event.next_due_at is not None,
            acknowledged_at=None,
        )

    @handles(EscalationAcknowledged)
    async def escalation_acknowledged(
        self, rows: Rows, t: BoardTables, event: EscalationAcknowledged, envelope: Envelope
    ) -> None:
        session = rows.session
        at = envelope.occurred_at
        e = t.escalation
        await session.execute(
            update(e)
            .where(e.c.case_id == event.case_id, e.c.round == event.round, e.c.level == event.level)
            .values(acknowledged_at=at, acknowledged_by=event.by)
        )
        await _update_case(session, t, event.case_id, climbing=False, acknowledged_at=at)

    @handles(CaseWatchClosed)
    async def case_watch_closed(
        self, rows: Rows, t: BoardTables, event: CaseWatchClosed, envelope: Envelope
    ) -> None:
        session = rows.session
        await _update_case(session, t, event.case_id, closed=True, closed_at=event.at, climbing=False)

    @handles(CaseWatchReopened)
    async def case_watch_reopened(
        self, rows: Rows, t: BoardTables, event: CaseWatchReopened, envelope: Envelope
    ) -> None:
        session = rows.session
        await _update_case(
            session,
            t,
            event.case_id,
            closed=False,
            closed_at=None,
            round=event.round,
            level=0,
            role=None,
            office_code=None,
            escalated_at=None,
            climbing=False,
            acknowledged_at=None,
        )

    @handles(NextCheckScheduled)
    async def next_check_scheduled(
        self, rows: Rows, t: BoardTables, event: NextCheckScheduled, envelope: Envelope
    ) -> None:
        session = rows.session
        if event.at is None:
            await session.execute(delete(t.next_check).where(t.next_check.c.case_id == event.case_id))
        else:
            await upsert(
                session,
                t.next_check,
                {"case_id": event.case_id},
                {"at": event.at, "what": event.what[:80]},
            )

    @handles(DistrictDefined)
    async def district_defined(
        self, rows: Rows, t: BoardTables, event: DistrictDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _office(session, t, event.code, "district", event.code, None, None, event)

    @handles(CircleDefined)
    async def circle_defined(
        self, rows: Rows, t: BoardTables, event: CircleDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _office(session, t, event.code, "circle", event.district, event.code, None, event)

    @handles(ThanaDefined)
    async def thana_defined(
        self, rows: Rows, t: BoardTables, event: ThanaDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _office(session, t, event.code, "thana", event.district, event.circle, event.code, event)
        # A case watched before its thana was known here gets the circle now, as it would have
        # had the thana come first: the two streams are applied in no fixed order.
        c = t.case.c
        await session.execute(
            update(t.case).where(c.thana == event.code, c.circle.is_(None)).values(circle=event.circle)
        )

    @handles(KendraDefined)
    async def kendra_defined(
        self, rows: Rows, t: BoardTables, event: KendraDefined, envelope: Envelope
    ) -> None:
        session = rows.session
        await _office(
            session,
            t,
            event.code,
            "kendra",
            event.district,
            event.circle,
            event.thana,
            event,
            event.control,
        )


# Writing.


async def upsert(
    session: AsyncSession,
    table: Table,
    key: Mapping[str, Any],
    values: Mapping[str, Any],
    *,
    fill: Mapping[str, Any] | None = None,
) -> None:
    """Insert the row or update it: ``values`` overwrite, ``fill`` only fills columns still empty."""
    fill = fill or {}
    statement = _upsert_statement(
        session.get_bind().dialect.name, table, tuple(key), tuple(values), tuple(fill)
    )
    await session.execute(statement, {**key, **values, **fill})


@functools.cache
def _upsert_statement(
    dialect: str, table: Table, key: tuple[str, ...], values: tuple[str, ...], fill: tuple[str, ...]
) -> Executable:
    """Built once per shape: building ``ON CONFLICT`` anew for every event cost more than running it."""
    make = postgres_insert if dialect == "postgresql" else sqlite_insert
    statement = make(table).values({name: bindparam(name) for name in (*key, *values, *fill)})
    changes: dict[str, Any] = {name: statement.excluded[name] for name in values}
    changes |= {name: func.coalesce(table.c[name], statement.excluded[name]) for name in fill}
    if not changes:
        return statement.on_conflict_do_nothing(index_elements=list(key))
    return statement.on_conflict_do_update(index_elements=list(key), set_=changes)


def _clock_key(case_id: str, clock: str, referral_id: str | None, round_: int) -> dict[str, Any]:
    return {"case_id": case_id, "clock": clock, "referral_id": referral_id or "", "round": round_}


ClockFact = ClockPaused | ClockResumed | DeadlineApproaching | SlaBreached | ClockStopped


async def update_row(
    session: AsyncSession, table: Table, key: Mapping[str, Any], values: Mapping[str, Any]
) -> None:
    """Update the row with this key (a statement built once per shape, as for ``upsert``)."""
    params = {f"key_{name}": value for name, value in key.items()}
    params |= {f"new_{name}": value for name, value in values.items()}
    await session.execute(_update_statement(table, tuple(key), tuple(values)), params)


@functools.cache
def _update_statement(table: Table, key: tuple[str, ...], values: tuple[str, ...]) -> Executable:
    return (
        update(table)
        .where(*(table.c[name] == bindparam(f"key_{name}") for name in key))
        .values({name: bindparam(f"new_{name}") for name in values})
    )


async def _update_clock(session: AsyncSession, t: BoardTables, event: ClockFact, **values: Any) -> None:
    await update_row(
        session, t.clock, _clock_key(event.case_id, event.clock, event.referral_id, event.round), values
    )


async def _update_case(session: AsyncSession, t: BoardTables, case_id: str, **values: Any) -> None:
    await update_row(session, t.case, {"case_id": case_id}, values)


async def _record_step_time(session: AsyncSession, t: BoardTables, event: ClockStopped) -> None:
    column = {FIRST_CONTACT_TRIGGER: "first_contact_at", DISPOSAL_TRIGGER: "disposed_at"}.get(event.reason)
    if column is None:
        return
    c = t.case.c
    # The first time counts (a reopened case's later disposal does not move the figure).
    await session.execute(
        update(t.case).where(c.case_id == event.case_id, c[column].is_(None)).values({column: event.at})
    )


async def _circle_of(session: AsyncSession, t: BoardTables, thana: str | None) -> str | None:
    if thana is None:
        return None
    circle: str | None = await session.scalar(
        select(t.office.c.circle).where(t.office.c.code == thana, t.office.c.kind == "thana")
    )
    return circle


async def _office(
    session: AsyncSession,
    t: BoardTables,
    code: str,
    kind: str,
    district: str,
    circle: str | None,
    thana: str | None,
    named: DistrictDefined | CircleDefined | ThanaDefined | KendraDefined,
    control: bool = False,
) -> None:
    await upsert(
        session,
        t.office,
        {"code": code},
        {
            "kind": kind,
            "district": district,
            "circle": circle,
            "thana": thana,
            "control": control,
            "name_hi": named.name_hi,
            "name_en": named.name_en,
        },
    )


# Reading: the timer worker.


@dataclass(frozen=True)
class DueCheck:
    case_id: str
    at: datetime
    place: Place | None


async def due_checks(
    session: AsyncSession, t: BoardTables, now: datetime, after: tuple[datetime, str] | None, limit: int
) -> list[DueCheck]:
    """Cases whose next check has come, earliest first, in pages after ``(at, case_id)``."""
    n, c = t.next_check.c, t.case.c
    query = (
        select(n.case_id, n.at, c.district, c.circle, c.thana, c.kendra)
        .select_from(t.next_check.outerjoin(t.case, c.case_id == n.case_id))
        .where(n.at <= now)
        .order_by(n.at, n.case_id)
        .limit(limit)
    )
    if after is not None:
        query = query.where(tuple_(n.at, n.case_id) > tuple_(*after))
    rows = await session.execute(query)
    return [
        DueCheck(
            r.case_id,
            r.at,
            Place(r.district, r.circle, r.thana, r.kendra) if r.district else None,
        )
        for r in rows
    ]


async def next_check_after(session: AsyncSession, t: BoardTables, now: datetime) -> datetime | None:
    at: datetime | None = await session.scalar(
        select(func.min(t.next_check.c.at)).where(t.next_check.c.at > now)
    )
    return at


async def jurisdiction(session: AsyncSession, t: BoardTables) -> Jurisdiction:
    o = t.office.c
    rows = (await session.execute(select(o.code, o.kind, o.district, o.circle, o.thana, o.control))).all()
    kendras = {r.thana: r.code for r in rows if r.kind == "kendra" and r.thana}
    found = Jurisdiction()
    for r in rows:
        if r.kind == "thana" and r.circle:
            found.thanas[r.code] = ThanaPlace(r.circle, r.district, kendras.get(r.code))
        elif r.kind == "kendra" and r.control and r.thana:
            found.control_thana[r.district] = r.thana
    return found


async def case_place(session: AsyncSession, t: BoardTables, case_id: str) -> Place | None:
    c = t.case.c
    row = (
        await session.execute(select(c.district, c.circle, c.thana, c.kendra).where(c.case_id == case_id))
    ).first()
    if row is None or row.district is None:
        return None
    return Place(row.district, row.circle, row.thana, row.kendra)


async def kendra_of(session: AsyncSession, t: BoardTables, thana: str) -> str:
    o = t.office.c
    code: str | None = await session.scalar(select(o.code).where(o.kind == "kendra", o.thana == thana))
    return code or f"MSK-{thana}"


# Reading: what officers ask.


def _scoped(t: BoardTables, scope: Mapping[str, str]) -> list[ColumnElement[bool]]:
    return [t.case.c[column] == value for column, value in scope.items()]


def _about_the_case(t: BoardTables) -> tuple[ColumnElement[Any], ...]:
    """What a list of cases shows of each: its number, priority, category and place (no identity)."""
    c = t.case.c
    return (c.case_number, c.priority, c.category, c.danger_now, c.thana, c.circle, c.district)


async def escalated_to(
    session: AsyncSession, t: BoardTables, role: LadderRole, office: str, *, include_done: bool = False
) -> list[dict[str, Any]]:
    """Escalations of the current round of open cases at this role and office, unanswered first."""
    e, c = t.escalation.c, t.case.c
    query = (
        select(
            e.case_id,
            *_about_the_case(t),
            e.level,
            e.role,
            e.office_code,
            e.reason,
            e.escalated_at,
            e.next_due_at,
            e.acknowledged_at,
            e.acknowledged_by,
            c.level.label("case_level"),
            c.climbing,
        )
        .select_from(t.escalation.join(t.case, and_(c.case_id == e.case_id, c.round == e.round)))
        .where(e.role == role.value, e.office_code == office)
        .order_by(e.acknowledged_at.is_not(None), e.escalated_at, e.case_id, e.round, e.level)
    )
    if not include_done:
        query = query.where(c.closed.is_(False))
    return [dict(r._mapping) for r in await session.execute(query)]


async def escalation_summary(
    session: AsyncSession, t: BoardTables, scope: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Open, unanswered escalations counted per level and office, inside the caller's jurisdiction."""
    e, c = t.escalation.c, t.case.c
    query = (
        select(e.level, e.role, e.office_code, func.count().label("open"))
        .select_from(t.escalation.join(t.case, and_(c.case_id == e.case_id, c.round == e.round)))
        .where(c.closed.is_(False), e.acknowledged_at.is_(None), *_scoped(t, scope))
        .group_by(e.level, e.role, e.office_code)
        .order_by(e.level, e.office_code)
    )
    return [dict(r._mapping) for r in await session.execute(query)]


async def close_to_breach(
    session: AsyncSession, t: BoardTables, scope: Mapping[str, str], now: datetime, within: timedelta
) -> list[dict[str, Any]]:
    """Running clocks that have had a warning or fall due within ``within``, soonest first."""
    k, c = t.clock.c, t.case.c
    query = (
        select(
            k.case_id,
            *_about_the_case(t),
            k.clock,
            k.referral_id,
            k.due_at,
            k.warned_pct,
        )
        .select_from(t.clock.join(t.case, c.case_id == k.case_id))
        .where(k.state == "running", (k.warned_pct > 0) | (k.due_at <= now + within), *_scoped(t, scope))
        .order_by(k.due_at, k.case_id, k.clock, k.referral_id, k.round)
    )
    return [dict(r._mapping) for r in await session.execute(query)]


async def breach_rates(
    session: AsyncSession, t: BoardTables, scope: Mapping[str, str], by: PlaceLevel
) -> list[dict[str, Any]]:
    """Per place and clock: clocks whose outcome is known (breached, or stopped) and how many were late."""
    k, c = t.clock.c, t.case.c
    place = c[by]
    late = func.sum(case((k.met.is_(False), 1), else_=0))
    query = (
        select(place.label("place"), k.clock, func.count().label("decided"), late.label("breached"))
        .select_from(t.clock.join(t.case, c.case_id == k.case_id))
        .where(k.state.in_(("stopped", "breached")), *_scoped(t, scope))
        .group_by(place, k.clock)
        .order_by(place, k.clock)
    )
    out = []
    for r in await session.execute(query):
        decided, breached = int(r.decided), int(r.breached or 0)
        out.append(
            {
                "place": r.place,
                "clock": r.clock,
                "decided": decided,
                "breached": breached,
                "rate": round(breached / decided, 4) if decided else 0.0,
            }
        )
    return out


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of values already sorted."""
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def distribution(hours: Iterable[float]) -> dict[str, float | int | None]:
    values = sorted(hours)
    if not values:
        return {"count": 0, "p50_hours": None, "p90_hours": None, "p99_hours": None, "max_hours": None}
    return {
        "count": len(values),
        "p50_hours": round(percentile(values, 50), 3),
        "p90_hours": round(percentile(values, 90), 3),
        "p99_hours": round(percentile(values, 99), 3),
        "max_hours": round(values[-1], 3),
    }


async def step_times(
    session: AsyncSession, t: BoardTables, scope: Mapping[str, str], by: PlaceLevel | None
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Time from registration to first contact and to disposal, as distributions, per place if asked."""
    c = t.case.c
    group = c[by] if by else c.district
    rows = await session.execute(
        select(group.label("place"), c.registered_at, c.first_contact_at, c.disposed_at).where(
            c.registered_at.is_not(None), *_scoped(t, scope)
        )
    )
    spans: dict[str, tuple[list[float], list[float]]] = {}
    for r in rows:
        key = r.place if by else "all"
        first_contact, disposal = spans.setdefault(key or "-", ([], []))
        if r.first_contact_at is not None:
            first_contact.append((r.first_contact_at - r.registered_at).total_seconds() / 3600)
        if r.disposed_at is not None:
            disposal.append((r.disposed_at - r.registered_at).total_seconds() / 3600)
    return {
        place: {"time_to_first_contact": distribution(fc), "time_to_disposal": distribution(dp)}
        for place, (fc, dp) in sorted(spans.items())
    }


async def case_view(session: AsyncSession, t: BoardTables, case_id: str) -> dict[str, Any] | None:
    row = (await session.execute(select(t.case).where(t.case.c.case_id == case_id))).first()
    if row is None:
        return None
    k, e = t.clock.c, t.escalation.c
    clocks = await session.execute(
        select(t.clock).where(k.case_id == case_id).order_by(k.round, k.started_at, k.clock, k.referral_id)
    )
    ladder = await session.execute(
        select(t.escalation).where(e.case_id == case_id).order_by(e.round, e.level)
    )
    view = dict(row._mapping)
    view["clocks"] = [dict(r._mapping) for r in clocks]
    view["escalations"] = [dict(r._mapping) for r in ladder]
    return view


class JurisdictionCache:
    """The jurisdiction for the ladder's offices, read again when older than ``max_age`` seconds: it
    changes rarely (an import), and reading it per case would cost a query per event."""

    def __init__(self, board: Projector[BoardTables], max_age: float = 5.0) -> None:
        self.board = board
        self.max_age = max_age
        self._value: Jurisdiction | None = None
        self._read_at = 0.0

    async def get(self) -> Jurisdiction:
        if self._value is None or time.monotonic() - self._read_at > self.max_age:
            async with self.board.sessions() as session:
                self._value = await jurisdiction(session, self.board.tables)
            self._read_at = time.monotonic()
        return self._value
