"""What escalation's read model answers: the timer worker's due checks, the jurisdiction for the
ladder's offices, and the officers' lists and figures (rows of codes and times; the API labels them)."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, case, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from shared.clock import IST
from shared.contracts.vocabulary import LadderRole
from shared.places import PlaceTables, kendras_of, ladder_places
from shared.projection import Projector
from shared.rows import Row, as_dict

from ..domain import Jurisdiction, Place, ThanaPlace
from .tables import BoardTables

PlaceLevel = Literal["thana", "circle", "district"]


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


async def jurisdiction(session: AsyncSession, places: PlaceTables) -> Jurisdiction:
    found = await ladder_places(session, places)
    return Jurisdiction(
        {code: ThanaPlace(t.circle, t.district, t.kendra) for code, t in found.thanas.items()},
        dict(found.control_thana),
    )


async def case_place(session: AsyncSession, t: BoardTables, case_id: str) -> Place | None:
    c = t.case.c
    row = (
        await session.execute(select(c.district, c.circle, c.thana, c.kendra).where(c.case_id == case_id))
    ).first()
    if row is None or row.district is None:
        return None
    return Place(row.district, row.circle, row.thana, row.kendra)


async def kendra_of(session: AsyncSession, places: PlaceTables, thana: str) -> str:
    # The office the ladder names for the thana's Kendra in-charge (``ladder_places``: retired or not).
    found = await kendras_of(session, places, thana, retired=True)
    return found[0] if found else f"MSK-{thana}"


# Reading: what officers ask.


def _scoped(t: BoardTables, scope: Mapping[str, str]) -> list[ColumnElement[bool]]:
    return [t.case.c[column] == value for column, value in scope.items()]


def _about_the_case(t: BoardTables) -> tuple[ColumnElement[Any], ...]:
    """What a list of cases shows of each: its number, priority, category and place (no identity)."""
    c = t.case.c
    return (c.case_number, c.priority, c.category, c.danger_now, c.thana, c.circle, c.district)


async def escalated_to(
    session: AsyncSession, t: BoardTables, role: LadderRole, office: str, *, include_done: bool = False
) -> list[Row]:
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
    return [as_dict(r) for r in await session.execute(query)]


async def escalation_summary(session: AsyncSession, t: BoardTables, scope: Mapping[str, str]) -> list[Row]:
    """Open, unanswered escalations counted per level and office, inside the caller's jurisdiction."""
    e, c = t.escalation.c, t.case.c
    query = (
        select(e.level, e.role, e.office_code, func.count().label("open"))
        .select_from(t.escalation.join(t.case, and_(c.case_id == e.case_id, c.round == e.round)))
        .where(c.closed.is_(False), e.acknowledged_at.is_(None), *_scoped(t, scope))
        .group_by(e.level, e.role, e.office_code)
        .order_by(e.level, e.office_code)
    )
    return [as_dict(r) for r in await session.execute(query)]


async def close_to_breach(
    session: AsyncSession, t: BoardTables, scope: Mapping[str, str], now: datetime, within: timedelta
) -> list[Row]:
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
    return [as_dict(r) for r in await session.execute(query)]


async def breach_rates(
    session: AsyncSession, t: BoardTables, scope: Mapping[str, str], by: PlaceLevel
) -> list[Row]:
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


def ist_week_of(moment: datetime) -> date:
    """The Monday (India's date) of the week a moment falls in: weeks start Monday 00:00 IST."""
    day = moment.astimezone(IST).date()
    return day - timedelta(days=day.weekday())


async def breach_trend(
    session: AsyncSession, t: BoardTables, scope: Mapping[str, str], now: datetime, weeks: int
) -> list[Row]:
    """Per IST week, the last ``weeks`` up to this one, oldest first and none left out: clocks whose
    outcome became known that week (breached, or stopped) and how many were late.

    A clock breached and later stopped counts once, in the week of its breach: that is when it was
    known to be late."""
    k, c = t.clock.c, t.case.c
    first = ist_week_of(now) - timedelta(weeks=weeks - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=IST)
    rows = await session.execute(
        select(k.breached_at, k.stopped_at, k.met)
        .select_from(t.clock.join(t.case, c.case_id == k.case_id))
        .where(
            k.state.in_(("stopped", "breached")),
            or_(k.breached_at >= since, and_(k.breached_at.is_(None), k.stopped_at >= since)),
            *_scoped(t, scope),
        )
    )
    span = [first + timedelta(weeks=n) for n in range(weeks)]
    counts = {week: [0, 0] for week in span}
    for r in rows:
        known_at = r.breached_at or r.stopped_at
        if known_at is None or (week := ist_week_of(known_at)) not in counts:
            continue
        counts[week][0] += 1
        counts[week][1] += r.met is False
    return [
        {
            "week": week.isoformat(),
            "decided": decided,
            "breached": breached,
            "rate": round(breached / decided, 4) if decided else 0.0,
        }
        for week, (decided, breached) in counts.items()
    ]


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


async def case_view(session: AsyncSession, t: BoardTables, case_id: str) -> Row | None:
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
    view = as_dict(row)
    view["clocks"] = [as_dict(r) for r in clocks]
    view["escalations"] = [as_dict(r) for r in ladder]
    return view


class JurisdictionCache:
    """The jurisdiction for the ladder's offices, read again when older than ``max_age`` seconds: it
    changes rarely (an import), and reading it per case would cost a query per event."""

    def __init__(self, places: Projector[PlaceTables], max_age: float = 5.0) -> None:
        self.places = places
        self.max_age = max_age
        self._value: Jurisdiction | None = None
        self._read_at = 0.0

    async def get(self) -> Jurisdiction:
        if self._value is None or time.monotonic() - self._read_at > self.max_age:
            async with self.places.sessions() as session:
                self._value = await jurisdiction(session, self.places.tables)
            self._read_at = time.monotonic()
        return self._value
