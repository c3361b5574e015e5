"""What the notifications read model answers: the roster the decisions read, a reader's messages and
their unread count, the outbox by status, the pages due to repeat and the held messages due out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.notifications import COMPLAINANT, NotificationChannel
from shared.contracts.vocabulary import DutyStatus
from shared.places import PlaceTables, kendra_thanas
from shared.rows import Row, as_dict

from ..domain import Holder, Officer, Roster
from .tables import BoardTables

LIST_LIMIT = 100
HELD_BATCH = 500
"""Held messages released per beat of the worker: a district's morning comes out over a few seconds."""


async def load_roster(session: AsyncSession, t: BoardTables, places: PlaceTables) -> Roster:
    officers = {
        r.service_number: Officer(r.service_number, r.kendra, r.thana, r.incharge, DutyStatus(r.status))
        for r in await session.execute(select(t.officer))
    }
    holders = [
        Holder(r.username, r.role, r.service_number, r.district, r.circle, r.thana)
        for r in await session.execute(select(t.holder).where(t.holder.c.enabled.is_(True)))
    ]
    return Roster(officers, holders, await kendra_thanas(session, places))


async def notifications_for(
    session: AsyncSession,
    t: BoardTables,
    addresses: Sequence[str],
    *,
    channel: NotificationChannel | None = NotificationChannel.WEB,
    unread_only: bool = False,
    limit: int = LIST_LIMIT,
) -> list[Row]:
    n = t.notification
    query = select(n).where(n.c.recipient.in_(addresses))
    if channel is not None:
        query = query.where(n.c.channel == channel.value)
    if unread_only:
        query = query.where(n.c.acknowledged_at.is_(None))
    query = query.order_by(n.c.requested_at.desc(), n.c.notification_id).limit(limit)
    return [as_dict(r) for r in await session.execute(query)]


async def unread_count(session: AsyncSession, t: BoardTables, addresses: Sequence[str]) -> int:
    n = t.notification
    query = select(func.count()).where(
        n.c.recipient.in_(addresses),
        n.c.channel == NotificationChannel.WEB.value,
        n.c.acknowledged_at.is_(None),
    )
    return int(await session.scalar(query) or 0)


async def one(session: AsyncSession, t: BoardTables, notification_id: str) -> Row | None:
    row = (
        await session.execute(
            select(t.notification).where(t.notification.c.notification_id == notification_id)
        )
    ).first()
    return as_dict(row) if row else None


async def by_status(
    session: AsyncSession,
    t: BoardTables,
    *,
    status: str | None = None,
    via: str | None = None,
    or_held: bool = False,
    addresses: Sequence[str] | None = None,
    limit: int = LIST_LIMIT,
) -> list[Row]:
    """Notifications by status or channel adapter (``or_held``: and those held for quiet hours), newest
    first, each with the end of its hold (``held_until``) while it is held."""
    n, h = t.notification, t.held
    query = select(n, h.c.until.label("held_until")).outerjoin(h, h.c.notification_id == n.c.notification_id)
    chosen = [n.c.status == status] if status else []
    chosen += [n.c.via == via] if via else []
    if chosen:
        query = query.where(or_(and_(*chosen), n.c.status == "held") if or_held else and_(*chosen))
    if addresses is not None:
        query = query.where(n.c.recipient.in_(addresses))
    query = query.order_by(n.c.requested_at.desc(), n.c.notification_id).limit(limit)
    return [as_dict(r) for r in await session.execute(query)]


async def counts(session: AsyncSession, t: BoardTables) -> dict[str, int]:
    """Notifications per status (for ``shakti status`` and the metrics)."""
    n = t.notification
    found = await session.execute(select(n.c.status, func.count()).group_by(n.c.status))
    return {status: int(count) for status, count in found}


@dataclass(frozen=True)
class DuePage:
    page_id: str
    round: int
    notification_ids: list[str]
    """The notifications of the page's last round (any acknowledged stops the page)."""


async def due_pages(session: AsyncSession, t: BoardTables, now: datetime) -> list[DuePage]:
    p, n = t.page, t.notification
    rows = (
        await session.execute(
            select(p.c.page_id, p.c.round).where(p.c.acknowledged.is_(False), p.c.repeat_at <= now)
        )
    ).all()
    out = []
    for page_id, round in rows:
        ids = await session.scalars(
            select(n.c.notification_id).where(and_(n.c.page_id == page_id, n.c.round == round))
        )
        out.append(DuePage(page_id, round, list(ids)))
    return out


async def held_until(session: AsyncSession, t: BoardTables, now: datetime) -> list[tuple[str, datetime]]:
    """The messages held for quiet hours that are over at ``now``, with the end of each hold."""
    h = t.held
    due = select(h.c.notification_id, h.c.until).where(h.c.until <= now).order_by(h.c.until).limit(HELD_BATCH)
    found = await session.execute(due)
    return [(str(i), until) for i, until in found]


async def waiting(session: AsyncSession, t: BoardTables) -> list[tuple[str, str, int]]:
    """The messages no channel has answered yet that are this service's to send (a bell's is sent as
    recorded, a complainant's is intake's), the oldest first, with their state and tries."""
    n = t.notification
    found = (
        select(n.c.notification_id, n.c.status, n.c.tries)
        .where(
            n.c.status.in_(("requested", "retrying")),
            n.c.channel != NotificationChannel.WEB.value,
            n.c.recipient.not_like(f"{COMPLAINANT}%"),
        )
        .order_by(n.c.requested_at)
        .limit(HELD_BATCH)
    )
    return [(str(i), str(status), int(tries)) for i, status, tries in await session.execute(found)]
