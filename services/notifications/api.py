"""HTTP routes of the notifications service (mounted at ``/api/notifications``).

Everyone signed in reads their own notifications (addressed to their service number, their user name,
or the office they hold now) and acknowledges them; acknowledging one of a danger-now page stops the
page. Operators see the outbox, the parked messages and the figures, and send a parked message again.
Every notification is shown with its words in Hindi and English, composed from codes, numbers, places
and times: there is no identity data here to show.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from shared.auth import AGENCY_STAFF, FIELD_STAFF, SUPERVISORS, Principal, require
from shared.commands import Caller, IdempotencyKey
from shared.complainant_sms import ist
from shared.contracts.notifications import (
    NOTIFICATION_CHANNEL_LABELS,
    RULE_LABELS,
    NotificationRequested,
)
from shared.contracts.vocabulary import labelled
from shared.errors import DomainError
from shared.places import PlaceTables, place_names
from shared.projection import Projector
from shared.roles import Role
from shared.rows import Row

from .commands import AcknowledgeNotification, ChoosePreferences, NotificationCommands, SendAgain, own_address
from .domain import Preferences
from .messages import Names, compose
from .read_model.queries import by_status, counts, notifications_for, unread_count
from .read_model.tables import BoardTables

# Messages name cases: the roles that work cases read theirs, operators the outbox and the parked
# ones; the state cell (figures only) none.
READERS = FIELD_STAFF | SUPERVISORS
# An agency desk reads her desk's notifications (referrals to her agency) in the bell, nothing else.
BELL_READERS = READERS | AGENCY_STAFF
Reader = Annotated[Principal, Depends(require(READERS))]
BellReader = Annotated[Principal, Depends(require(BELL_READERS))]
Looker = Annotated[Principal, Depends(require(READERS | {Role.OPERATOR}))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
NotificationKey = Annotated[str, Path(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]


def preferences_view(recipient: str, preferences: Preferences) -> dict[str, Any]:
    quiet = None
    if preferences.quiet is not None:
        start, end = preferences.quiet
        quiet = {"from": start.strftime("%H:%M"), "until": end.strftime("%H:%M"), "timezone": "IST"}
    return {
        "recipient": recipient,
        "language": preferences.language,
        "quiet_hours": quiet,
        "muted_channels": sorted(channel.value for channel in preferences.muted),
    }


def _both(labels: Any, code: str) -> dict[str, str]:
    en, hi = labelled(labels, code)
    return {"code": code, "en": en, "hi": hi}


def held_until(until: datetime | None) -> dict[str, str] | None:
    """When a message held for quiet hours goes out, in IST and labelled, in both languages."""
    if until is None:
        return None
    return {"en": f"Held until {ist(until)}", "hi": f"{ist(until)} तक रोका गया"}


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
        "channel": _both(NOTIFICATION_CHANNEL_LABELS, row["channel"]),
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
        "held_until": held_until(row.get("held_until")),
        "subject": {"en": message.subject_en, "hi": message.subject_hi},
        "text": {"en": message.text_en, "hi": message.text_hi},
        "link": message.link,
    }


def build_router(
    commands: NotificationCommands,
    board: Projector[BoardTables],
    places: Projector[PlaceTables],
    base_url: str,
) -> APIRouter:
    router = APIRouter(tags=["notifications"])
    _inbox_routes(router, commands, board, places, base_url)
    _preference_routes(router, commands)
    _operator_routes(router, commands, board, places, base_url)
    return router


async def _names(places: Projector[PlaceTables]) -> Names:
    """The places' names a message is shown with (it carries their codes)."""
    async with places.sessions() as session:
        return await place_names(session, places.tables)


def _inbox_routes(
    router: APIRouter,
    commands: NotificationCommands,
    board: Projector[BoardTables],
    places: Projector[PlaceTables],
    base_url: str,
) -> None:
    """The caller's own notifications in the web front: listed, counted, acknowledged."""
    addresses = commands.addresses

    @router.get("/mine", summary="The caller's notifications in the web front, newest first")
    async def mine(
        principal: BellReader,
        unread_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        addressed = await addresses(principal)
        async with board.sessions() as session:
            rows = await notifications_for(
                session, board.tables, addressed, unread_only=unread_only, limit=limit
            )
            unread = await unread_count(session, board.tables, addressed)
        known = await _names(places)
        return {"unread": unread, "notifications": [view(r, known, base_url) for r in rows]}

    @router.get("/unread", summary="How many of the caller's notifications are not acknowledged")
    async def unread(principal: BellReader) -> dict[str, int]:
        addressed = await addresses(principal)
        async with board.sessions() as session:
            return {"unread": await unread_count(session, board.tables, addressed)}

    @router.post("/{notification_id}/acknowledge", summary="The caller acknowledges a notification")
    async def acknowledge(
        notification_id: NotificationKey, principal: BellReader, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        command = AcknowledgeNotification(notification_id=notification_id)
        stored = await commands.acknowledge(Caller.person(principal, idempotency_key), command)
        return {"notification_id": notification_id, "acknowledged": True, "already": not stored}


def _preference_routes(router: APIRouter, commands: NotificationCommands) -> None:
    """The caller's own language, quiet hours and e-mail or SMS turned off for messages."""

    @router.get("/preferences", summary="The caller's own language, quiet hours and channels turned off")
    async def my_preferences(principal: Reader) -> dict[str, Any]:
        recipient = own_address(principal)
        return preferences_view(recipient, await commands.preferences_of(recipient))

    @router.put("/preferences", summary="The caller sets their language, quiet hours and channels turned off")
    async def set_preferences(
        command: ChoosePreferences, principal: Reader, idempotency_key: IdempotencyKey = None
    ) -> dict[str, Any]:
        try:
            chosen = await commands.choose_preferences(Caller.person(principal, idempotency_key), command)
        except DomainError as refused:  # what was asked is wrong, whatever the state: 422, not 409
            detail = {"code": refused.code, "en": refused.en, "hi": refused.hi}
            raise HTTPException(status_code=422, detail=detail) from None
        return preferences_view(own_address(principal), chosen)


def _operator_routes(
    router: APIRouter,
    commands: NotificationCommands,
    board: Projector[BoardTables],
    places: Projector[PlaceTables],
    base_url: str,
) -> None:
    """What went out and what no channel took: the outbox, parked messages, figures and a retry."""
    addresses = commands.addresses

    @router.get("/outbox", summary="What went to the outbox (no real channel configured), and what is held")
    async def outbox(principal: Looker) -> dict[str, Any]:
        addressed = None if principal.role is Role.OPERATOR else await addresses(principal)
        async with board.sessions() as session:
            rows = await by_status(session, board.tables, via="outbox", or_held=True, addresses=addressed)
        known = await _names(places)
        return {"messages": [view(r, known, base_url) for r in rows]}

    @router.get("/parked", summary="Messages no channel took after the last try")
    async def parked(principal: Operator) -> dict[str, Any]:
        async with board.sessions() as session:
            rows = await by_status(session, board.tables, status="parked")
        known = await _names(places)
        return {"messages": [view(r, known, base_url) for r in rows]}

    @router.get("/figures", summary="Notifications per status")
    async def figures(principal: Operator) -> dict[str, Any]:
        async with board.sessions() as session:
            return {"by_status": await counts(session, board.tables)}

    @router.post("/{notification_id}/retry", summary="Send a parked message again, now")
    async def retry(notification_id: NotificationKey, principal: Operator) -> dict[str, Any]:
        command = SendAgain(notification_id=notification_id)
        outcome = await commands.send_again(Caller.person(principal), command)
        # A complainant's SMS goes back to intake, which alone opens her phone: sent or parked later.
        return {"notification_id": notification_id, "sent": outcome == "sent", "outcome": outcome}
