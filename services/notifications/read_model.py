"""The notifications service's read model: every notification (per recipient, unread or not), the
danger-now pages still repeating, and the roster the decisions read (routing's Kendra officers and
their duty, the user directory's holders of the levels above the Kendra). Place names come from the
shared ``Places`` projection.

Nothing here holds identity data: recipients are service numbers, user names and codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    TypeDecorator,
    and_,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.notifications import (
    NotificationAcknowledged,
    NotificationChannel,
    NotificationDeferred,
    NotificationFailed,
    NotificationReleased,
    NotificationRequested,
    NotificationSent,
)
from shared.contracts.routing import OfficerDutyChanged, OfficerPosted
from shared.contracts.users import UserAdded, UserChanged, UserDisabled, UserEnabled
from shared.contracts.vocabulary import DutyStatus
from shared.dispatch import handles
from shared.events import Envelope
from shared.places import PlaceTables
from shared.projection import Projection
from shared.rows import Row, Rows, as_dict, utc

from .domain import Holder, Officer, Roster

LIST_LIMIT = 100
HELD_BATCH = 500
"""Held messages released per beat of the worker: a district's morning comes out over a few seconds."""


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both databases (SQLite keeps no zone: store UTC, read it back as UTC),
    so that a page's due time compares right whatever zone an event spelled it in."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return utc(value)


@dataclass
class BoardTables:
    notification: Table
    page: Table
    held: Table
    officer: Table
    holder: Table


class NotificationBoard(Projection[BoardTables]):
    name = "notification_board"
    sources: ClassVar[Mapping[str, str]] = {
        "NOTIFICATIONS": "shakti.notifications.notification.*",
        "ROUTING": "shakti.routing.officer.*",
        "USERS": "shakti.users.user.*",
    }

    def define(self, metadata: MetaData, prefix: str) -> BoardTables:
        return BoardTables(
            notification=Table(
                f"{prefix}notification",
                metadata,
                Column("notification_id", String(40), primary_key=True),
                Column("recipient", String(140), nullable=False),
                Column("channel", String(10), nullable=False),
                Column("rule", String(30), nullable=False),
                Column("urgent", Boolean, nullable=False, default=False),
                Column("cause_id", String(64), nullable=False),
                # A message about an officer's training has no case: its officer and modules instead.
                Column("case_id", String(64)),
                Column("case_number", String(40)),
                Column("service_number", String(40)),
                Column("modules", String(400)),
                Column("district", String(60)),
                Column("thana", String(60)),
                Column("kendra", String(70)),
                Column("role", String(20)),
                Column("clock", String(40)),
                Column("due_at", UtcDateTime()),
                Column("threshold_pct", Integer),
                Column("agency_code", String(70)),
                Column("at", UtcDateTime(), nullable=False),
                Column("round", Integer, nullable=False, default=1),
                Column("page_id", String(64), index=True),
                Column("requested_at", UtcDateTime(), nullable=False),
                Column("status", String(10), nullable=False, default="requested"),
                Column("via", String(20)),
                Column("tries", Integer, nullable=False, default=0),
                Column("reason", String(80)),
                Column("sent_at", UtcDateTime()),
                Column("acknowledged_at", UtcDateTime()),
                Column("acknowledged_by", String(80)),
                Index(f"{prefix}notification_recipient", "recipient", "channel", "requested_at"),
                Index(f"{prefix}notification_status", "status"),
            ),
            page=Table(
                f"{prefix}page",
                metadata,
                Column("page_id", String(64), primary_key=True),
                Column("round", Integer, nullable=False),
                Column("repeat_at", UtcDateTime(), index=True),
                Column("acknowledged", Boolean, nullable=False, default=False),
            ),
            held=Table(
                f"{prefix}held",
                metadata,
                Column("notification_id", String(40), primary_key=True),
                Column("until", UtcDateTime(), nullable=False, index=True),
            ),
            officer=Table(
                f"{prefix}officer",
                metadata,
                Column("service_number", String(40), primary_key=True),
                Column("kendra", String(70), nullable=False, default=""),
                Column("thana", String(60), nullable=False, default=""),
                Column("incharge", Boolean, nullable=False, default=False),
                Column("status", String(10), nullable=False, default=DutyStatus.ON_DUTY.value),
            ),
            holder=Table(
                f"{prefix}holder",
                metadata,
                Column("account", String(120), primary_key=True),
                Column("username", String(120), nullable=False, default=""),
                Column("role", String(20), nullable=False),
                Column("service_number", String(40)),
                Column("district", String(60)),
                Column("circle", String(60)),
                Column("thana", String(60)),
                Column("enabled", Boolean, nullable=False, default=True),
            ),
        )

    @handles(NotificationRequested)
    async def requested(
        self, rows: Rows, t: BoardTables, event: NotificationRequested, envelope: Envelope
    ) -> None:
        rows.put(
            t.notification,
            rows.blank(
                t.notification,
                **event.model_dump(
                    include={
                        "notification_id",
                        "recipient",
                        "cause_id",
                        "urgent",
                        "case_id",
                        "case_number",
                        "service_number",
                        "district",
                        "thana",
                        "kendra",
                        "clock",
                        "due_at",
                        "threshold_pct",
                        "agency_code",
                        "at",
                        "round",
                        "page_id",
                    }
                ),
                channel=event.channel.value,
                rule=event.rule.value,
                modules=",".join(event.modules) or None,
                role=event.role.value if event.role else None,
                requested_at=envelope.occurred_at,
                status="requested",
            ),
        )
        if event.page_id is None:
            return
        page = await rows.get(t.page, page_id=event.page_id)
        if page is None or event.round > page["round"]:
            await rows.change(
                t.page,
                {"page_id": event.page_id},
                round=event.round,
                repeat_at=event.repeat_at,
                acknowledged=bool(page and page["acknowledged"]),
            )

    @handles(NotificationSent)
    async def sent(self, rows: Rows, t: BoardTables, event: NotificationSent, envelope: Envelope) -> None:
        await rows.change(
            t.notification,
            {"notification_id": event.notification_id},
            status="sent",
            via=event.via,
            tries=event.attempts,
            sent_at=event.at,
            reason=None,
        )

    @handles(NotificationDeferred)
    async def deferred(
        self, rows: Rows, t: BoardTables, event: NotificationDeferred, envelope: Envelope
    ) -> None:
        await rows.change(t.notification, {"notification_id": event.notification_id}, status="held")
        await rows.change(t.held, {"notification_id": event.notification_id}, until=event.until)

    @handles(NotificationReleased)
    async def released(
        self, rows: Rows, t: BoardTables, event: NotificationReleased, envelope: Envelope
    ) -> None:
        await rows.change(t.notification, {"notification_id": event.notification_id}, status="requested")
        rows.remove(t.held, notification_id=event.notification_id)

    @handles(NotificationFailed)
    async def failed(self, rows: Rows, t: BoardTables, event: NotificationFailed, envelope: Envelope) -> None:
        await rows.change(
            t.notification,
            {"notification_id": event.notification_id},
            status="parked" if event.parked else "retrying",
            tries=event.attempt,
            reason=event.reason,
        )

    @handles(NotificationAcknowledged)
    async def acknowledged(
        self, rows: Rows, t: BoardTables, event: NotificationAcknowledged, envelope: Envelope
    ) -> None:
        await rows.change(
            t.notification,
            {"notification_id": event.notification_id},
            acknowledged_at=event.at,
            acknowledged_by=event.by,
        )
        if event.page_id:
            await rows.change(t.page, {"page_id": event.page_id}, acknowledged=True)

    @handles(OfficerPosted)
    async def posted(self, rows: Rows, t: BoardTables, event: OfficerPosted, envelope: Envelope) -> None:
        await rows.change(
            t.officer,
            {"service_number": event.service_number},
            kendra=event.kendra,
            thana=event.thana,
            incharge=event.incharge,
        )

    @handles(OfficerDutyChanged)
    async def duty(self, rows: Rows, t: BoardTables, event: OfficerDutyChanged, envelope: Envelope) -> None:
        await rows.change(t.officer, {"service_number": event.service_number}, status=event.status.value)

    @handles(UserAdded)
    async def user_added(self, rows: Rows, t: BoardTables, event: UserAdded, envelope: Envelope) -> None:
        await rows.change(
            t.holder,
            {"account": envelope.aggregate_id},
            username=event.username,
            enabled=True,
            **_place(event),
        )

    @handles(UserChanged)
    async def user_changed(self, rows: Rows, t: BoardTables, event: UserChanged, envelope: Envelope) -> None:
        await rows.change(t.holder, {"account": envelope.aggregate_id}, **_place(event))

    @handles(UserDisabled, UserEnabled)
    async def user_enabled(
        self, rows: Rows, t: BoardTables, event: UserDisabled | UserEnabled, envelope: Envelope
    ) -> None:
        if await rows.get(t.holder, account=envelope.aggregate_id) is not None:
            await rows.change(
                t.holder, {"account": envelope.aggregate_id}, enabled=isinstance(event, UserEnabled)
            )


def _place(event: UserAdded | UserChanged) -> Row:
    return {
        "role": event.role,
        "service_number": event.service_number,
        "district": event.district,
        "circle": event.circle,
        "thana": event.thana,
    }


async def load_roster(session: AsyncSession, t: BoardTables, places: PlaceTables) -> Roster:
    officers = {
        r.service_number: Officer(r.service_number, r.kendra, r.thana, r.incharge, DutyStatus(r.status))
        for r in await session.execute(select(t.officer))
    }
    holders = [
        Holder(r.username, r.role, r.service_number, r.district, r.circle, r.thana)
        for r in await session.execute(select(t.holder).where(t.holder.c.enabled.is_(True)))
    ]
    p = places.places
    kendras = await session.execute(
        select(p.c.code, p.c.thana).where(p.c.level == "kendra", p.c.retired.is_(False))
    )
    return Roster(officers, holders, {code: thana for code, thana in kendras if thana})


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
    addresses: Sequence[str] | None = None,
    limit: int = LIST_LIMIT,
) -> list[Row]:
    n = t.notification
    query = select(n)
    if status:
        query = query.where(n.c.status == status)
    if via:
        query = query.where(n.c.via == via)
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
