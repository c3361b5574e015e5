"""HTTP routes of the notifications service (mounted at ``/api/notifications``).

Everyone signed in reads their own notifications (addressed to their service number, their user name,
or the office they hold now) and acknowledges them; acknowledging one of a danger-now page stops the
page. Operators see the outbox, the parked messages and the figures, and send a parked message again.
Every notification is shown with its words in Hindi and English, composed from codes, numbers, places
and times: there is no identity data here to show.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from shared.auth import FIELD_STAFF, SUPERVISORS, Principal, Role, require
from shared.commands import Caller, IdempotencyKey, fingerprint
from shared.contracts.notifications import (
    CHANNEL_LABELS,
    CLOCK_TIME,
    MESSAGE_LANGUAGE,
    RULE_LABELS,
    NotificationRequested,
    PreferencesChanged,
    preferences_id,
)
from shared.contracts.vocabulary import labelled
from shared.errors import DomainError, NotFound
from shared.places import PlaceTables, place_names
from shared.projection import Projector
from shared.rows import Row
from shared.runtime import ServiceContext

from .domain import Notification, Preferences
from .handlers import Delivery
from .messages import Names, compose
from .read_model import (
    BoardTables,
    by_status,
    counts,
    notifications_for,
    one,
    unread_count,
)

# Messages name cases: the roles that work cases read theirs, operators the outbox and the parked
# ones; the state cell (figures only) none.
READERS = FIELD_STAFF | SUPERVISORS
Reader = Annotated[Principal, Depends(require(READERS))]
Looker = Annotated[Principal, Depends(require(READERS | {Role.OPERATOR}))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
NotificationKey = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]


class PreferencesForm(BaseModel):
    """What a person chooses for their own messages."""

    model_config = ConfigDict(extra="forbid")

    language: str | None = Field(default=None, max_length=2, pattern=MESSAGE_LANGUAGE)
    """Of e-mail and SMS: ``hi`` or ``en``; none: as the contacts file says, else Hindi."""
    quiet_from: str | None = Field(default=None, max_length=5, pattern=CLOCK_TIME)
    """Start of the quiet hours, IST (``22:00``): messages that are not urgent wait until they end."""
    quiet_until: str | None = Field(default=None, max_length=5, pattern=CLOCK_TIME)


def own_address(principal: Principal) -> str:
    """The address messages to this person are sent to (``domain.Holder.address``)."""
    if principal.service_number:
        return f"officer:{principal.service_number}"
    return f"user:{principal.username}"


def preferences_view(recipient: str, preferences: Preferences) -> dict[str, Any]:
    quiet = None
    if preferences.quiet is not None:
        start, end = preferences.quiet
        quiet = {"from": start.strftime("%H:%M"), "until": end.strftime("%H:%M"), "timezone": "IST"}
    return {"recipient": recipient, "language": preferences.language, "quiet_hours": quiet}


def _both(labels: Any, code: str) -> dict[str, str]:
    en, hi = labelled(labels, code)
    return {"code": code, "en": en, "hi": hi}


def view(row: Row, names: Names, base_url: str = "") -> dict[str, Any]:
    """A notification as people see it: its codes labelled and its words in both languages."""
    fields = set(NotificationRequested.model_fields) & set(row)
    stored = {k: row[k] for k in fields} | {
        "modules": (row.get("modules") or "").split(",") if row.get("modules") else []
    }
    message = compose(NotificationRequested.model_validate(stored), names, base_url)
    return {
        "notification_id": row["notification_id"],
        "rule": _both(RULE_LABELS, row["rule"]),
        "channel": _both(CHANNEL_LABELS, row["channel"]),
        "recipient": row["recipient"],
        "urgent": row["urgent"],
        "case_id": row["case_id"],
        "case_number": row["case_number"],
        "service_number": row["service_number"],
        "round": row["round"],
        "page_id": row["page_id"],
        "status": row["status"],
        "via": row["via"],
        "tries": row["tries"],
        "reason": row["reason"],
        "requested_at": row["requested_at"],
        "sent_at": row["sent_at"],
        "acknowledged_at": row["acknowledged_at"],
        "subject": {"en": message.subject_en, "hi": message.subject_hi},
        "text": {"en": message.text_en, "hi": message.text_hi},
        "link": message.link,
    }


def build_router(
    ctx: ServiceContext, delivery: Delivery, board: Projector[BoardTables], places: Projector[PlaceTables]
) -> APIRouter:
    router = APIRouter(tags=["notifications"])
    notifications = ctx.repository(Notification)
    preferences = ctx.repository(Preferences)

    async def addresses(principal: Principal) -> list[str]:
        """Whom the caller answers for: themselves, and the ladder office their role holds now."""
        mine = [f"user:{principal.username}"]
        if principal.service_number:
            mine.append(f"officer:{principal.service_number}")
        offices: list[str] = []
        match principal.role:
            case Role.KENDRA_INCHARGE if principal.thana:
                p = places.tables.places
                async with places.sessions() as session:
                    found = await session.scalars(
                        select(p.c.code).where(p.c.level == "kendra", p.c.thana == principal.thana)
                    )
                    offices = list(found)
            case Role.SHO if principal.thana:
                offices = [principal.thana]
            case Role.CO if principal.circle:
                offices = [principal.circle]
            case Role.ADDL_SP | Role.SP if principal.district:
                offices = [principal.district]
        return mine + [f"office:{principal.role.value}:{code}" for code in offices]

    async def names() -> Names:
        async with places.sessions() as session:
            return await place_names(session, places.tables)

    @router.get("/mine", summary="The caller's notifications in the web front, newest first")
    async def mine(
        principal: Reader,
        unread_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        addressed = await addresses(principal)
        async with board.sessions() as session:
            rows = await notifications_for(
                session, board.tables, addressed, unread_only=unread_only, limit=limit
            )
            unread = await unread_count(session, board.tables, addressed)
        known = await names()
        return {"unread": unread, "notifications": [view(r, known, delivery.base_url) for r in rows]}

    @router.get("/unread", summary="How many of the caller's notifications are not acknowledged")
    async def unread(principal: Reader) -> dict[str, int]:
        addressed = await addresses(principal)
        async with board.sessions() as session:
            return {"unread": await unread_count(session, board.tables, addressed)}

    @router.post("/{notification_id}/acknowledge", summary="The caller acknowledges a notification")
    async def acknowledge(
        notification_id: NotificationKey, principal: Reader, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        addressed = frozenset(await addresses(principal))
        caller = Caller.person(principal, idempotency_key)
        at = ctx.clock.now()
        meta = caller.meta("acknowledge", notification_id, request=fingerprint({}), at=at)
        stored = await notifications.execute(
            notification_id, lambda n: n.acknowledge(caller.actor, addressed, at), meta
        )
        return {"notification_id": notification_id, "acknowledged": True, "already": not stored}

    @router.get("/preferences", summary="The caller's own language and quiet hours for messages")
    async def my_preferences(principal: Reader) -> dict[str, Any]:
        recipient = own_address(principal)
        return preferences_view(recipient, await preferences.get(preferences_id(recipient)))

    @router.put("/preferences", summary="The caller sets their language and quiet hours for messages")
    async def set_preferences(
        form: PreferencesForm, principal: Reader, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        recipient = own_address(principal)
        wanted = PreferencesChanged(recipient=recipient, **form.model_dump())
        caller = Caller.person(principal, idempotency_key)
        meta = caller.meta("preferences", recipient, request=fingerprint(form.model_dump()))
        try:
            await preferences.execute(preferences_id(recipient), lambda p: p.change(wanted), meta)
        except DomainError as refused:  # what was asked is wrong, whatever the state: 422, not 409
            detail = {"code": refused.code, "en": refused.en, "hi": refused.hi}
            raise HTTPException(status_code=422, detail=detail) from None
        return preferences_view(recipient, await preferences.get(preferences_id(recipient)))

    @router.get("/outbox", summary="What went to the outbox (no real channel configured)")
    async def outbox(principal: Looker) -> dict[str, Any]:
        addressed = None if principal.role is Role.OPERATOR else await addresses(principal)
        async with board.sessions() as session:
            rows = await by_status(session, board.tables, via="outbox", addresses=addressed)
        known = await names()
        return {"messages": [view(r, known, delivery.base_url) for r in rows]}

    @router.get("/parked", summary="Messages no channel took after the last try")
    async def parked(principal: Operator) -> dict[str, Any]:
        async with board.sessions() as session:
            rows = await by_status(session, board.tables, status="parked")
        known = await names()
        return {"messages": [view(r, known, delivery.base_url) for r in rows]}

    @router.get("/figures", summary="Notifications per status")
    async def figures(principal: Operator) -> dict[str, Any]:
        async with board.sessions() as session:
            return {"by_status": await counts(session, board.tables)}

    @router.post("/{notification_id}/retry", summary="Send a parked message again, now")
    async def retry(notification_id: NotificationKey, principal: Operator) -> dict[str, Any]:
        async with board.sessions() as session:
            row = await one(session, board.tables, notification_id)
        if row is None:
            raise NotFound("notification", notification_id)
        sent = await delivery.deliver(notification_id)
        return {"notification_id": notification_id, "sent": sent}

    return router
