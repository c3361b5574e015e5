"""What intake's API asks of its read model: the case register and a case's timeline (places are
``shared.places``'s)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Table, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.read_model.tables import CaseTables
from services.intake.timeline import INTERNAL
from shared.contracts.vocabulary import ACTIVE, CaseStatus, Category, Priority
from shared.rows import Row, as_utc_dict, utc

# ---------------------------------------------------------------- case register


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
    circle: str | None = None
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
    """Most urgent first (see ``urgency_key``) instead of newest first."""
    due_by: datetime | None = None
    """Only the cases whose next deadline comes by then (a passed one included)."""
    level: int | None = None
    """Only the cases escalated to this level of the ladder (1 Kendra in-charge to 6 state cell; 0: none)."""


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
    if wanted.circle:
        where.append(t.c.circle == wanted.circle)
    if wanted.due_by is not None:
        where.append(t.c.next_due_at <= utc(wanted.due_by))
    if wanted.level is not None:
        where.append(t.c.escalation_level == wanted.level)
    total = await session.scalar(select(func.count()).select_from(t).where(*where)) or 0
    order = [t.c.urgency] if wanted.by_urgency else [t.c.registered_at.desc(), t.c.case_number.desc()]
    rows = await session.execute(
        select(t).where(*where).order_by(*order).limit(size).offset((page - 1) * size)
    )
    return [as_utc_dict(r) for r in rows], total


async def cases_by_phone(
    session: AsyncSession, tables: CaseTables, scope: dict[str, str], phone_index: str, *, limit: int
) -> list[Row]:
    """The registered cases inside a jurisdiction whose complainant's phone has this blind index, newest
    first (an erased case has no index row: it is never found)."""
    t, phones = tables.cases, tables.phones
    with_index = select(phones.c.case_id).where(phones.c.phone_index == phone_index)
    rows = await session.execute(
        select(t)
        .where(*_registered_in(t, scope), t.c.case_id.in_(with_index), t.c.identity_erased.is_not(True))
        .order_by(t.c.registered_at.desc(), t.c.case_number.desc())
        .limit(limit)
    )
    return [as_utc_dict(r) for r in rows]


def _being_worked(t: Table) -> Any:
    return t.c.status.in_([s.value for s in ACTIVE])


def _late(t: Table) -> Any:
    return t.c.overdue.is_(True) & _being_worked(t)


def _at_risk(t: Table) -> Any:
    return (t.c.due_soon_clocks != "") & _being_worked(t)


def urgency_key(row: Row) -> str:
    """Where the case stands in a queue, most urgent first, as one string that sorts so (the case row
    keeps it, indexed with each place): cases being worked before the rest; the soonest next deadline (a
    passed one first), cases with no running clock after those that have one; then a step already late,
    one whose deadline warning came; danger now; priority (P1 first, and the SOP's limits follow
    priority); the oldest; the case number."""
    worked = row["status"] in ACTIVE_CODES
    due = utc(row["next_due_at"])
    registered = utc(row["registered_at"])
    return "|".join(
        (
            "0" if worked else "1",
            due.strftime(SORTABLE) if due else "~",
            "0" if worked and row["overdue"] else "1",
            "0" if worked and row["due_soon_clocks"] else "1",
            "0" if row["danger_now"] else "1",
            row["priority"] or "~",
            registered.strftime(SORTABLE) if registered else "~",
            row["case_number"] or "~",
        )
    )


ACTIVE_CODES = frozenset(s.value for s in ACTIVE)
SORTABLE = "%Y-%m-%dT%H:%M:%S.%f"
"""A UTC moment in fixed width, so that its text sorts as the moment does."""


async def find_case(
    session: AsyncSession, tables: CaseTables, *, case_id: str | None = None, case_number: str | None = None
) -> Row | None:
    t = tables.cases
    key = t.c.case_id == case_id if case_id else t.c.case_number == case_number
    found = (await session.execute(select(t).where(key, t.c.case_number.is_not(None)))).first()
    return as_utc_dict(found) if found else None


async def case_timeline(session: AsyncSession, tables: CaseTables, case_id: str) -> list[Row]:
    t = tables.timeline
    rows = await session.execute(
        select(t.c.occurred_at, t.c.event_type, t.c.actor, t.c.text_en, t.c.text_hi)
        # Lines written before internal entries were left out are left out here too (no rebuild needed).
        .where(t.c.case_id == case_id, t.c.event_type.not_in(INTERNAL))
        .order_by(t.c.occurred_at, t.c.stream, t.c.sequence)
    )
    return [as_utc_dict(r) for r in rows]


async def count_cases(
    session: AsyncSession, tables: CaseTables, scope: dict[str, str], by: str
) -> dict[str, int]:
    t = tables.cases
    column = t.c[by]
    rows = await session.execute(
        select(column, func.count()).where(*_registered_in(t, scope)).group_by(column).order_by(column)
    )
    return {str(value): int(n) for value, n in rows}


IST = ZoneInfo("Asia/Kolkata")


def _ist_day(t: Table, dialect: str) -> Any:
    """The IST calendar day of a registration, in SQL: the column holds UTC (naive on SQLite), and a
    complaint at 01:00 IST belongs to that day, not to the UTC one before. India keeps no summer time,
    so on SQLite a fixed +05:30 is exact; PostgreSQL converts by the zone's name."""
    if dialect == "postgresql":
        return cast(func.timezone("Asia/Kolkata", t.c.registered_at), Date)
    return func.date(t.c.registered_at, "+330 minutes")


async def registered_per_ist_day(
    session: AsyncSession, tables: CaseTables, scope: dict[str, str], today: date, days: int = 30
) -> list[dict[str, Any]]:
    """Cases registered on each of the ``days`` IST days ending ``today`` (oldest first, a day with
    none included as 0), grouped in the read model so that any number of cases costs one query."""
    t = tables.cases
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(), IST).astimezone(UTC)
    end = datetime.combine(today + timedelta(days=1), time(), IST).astimezone(UTC)
    day = _ist_day(t, session.get_bind().dialect.name).label("day")
    rows = await session.execute(
        select(day, func.count())
        .where(*_registered_in(t, scope), t.c.registered_at >= start, t.c.registered_at < end)
        .group_by(day)
    )
    # PostgreSQL answers a date, SQLite its ISO text: both read alike as text.
    counted = {str(d): int(n) for d, n in rows}
    span = [first + timedelta(days=n) for n in range(days)]
    return [{"day": d.isoformat(), "cases": counted.get(d.isoformat(), 0)} for d in span]
