"""How notifications', routing's and the user directory's events change the notifications read model:
one small handler per event, reading and writing rows through the batch's ``Rows``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from sqlalchemy import MetaData

from shared.contracts.notifications import (
    AGGREGATE,
    NotificationAcknowledged,
    NotificationDeferred,
    NotificationFailed,
    NotificationReleased,
    NotificationRequested,
    NotificationRetried,
    NotificationSent,
)
from shared.contracts.routing import OfficerDutyChanged, OfficerPosted
from shared.contracts.users import UserAdded, UserChanged, UserDisabled, UserEnabled
from shared.dispatch import handles
from shared.events import Envelope
from shared.projection import Projection
from shared.rows import Row, Rows

from .tables import BoardTables, board_tables


class NotificationBoard(Projection[BoardTables]):
    name = "notification_board"
    sources: ClassVar[Mapping[str, str]] = {
        "NOTIFICATIONS": "shakti.notifications.notification.*",
        "ROUTING": "shakti.routing.officer.*",
        "USERS": "shakti.users.user.*",
    }

    def define(self, metadata: MetaData, prefix: str) -> BoardTables:
        return board_tables(metadata, prefix)

    async def prefetch(self, rows: Rows, t: BoardTables, envelopes: list[Envelope]) -> None:
        """The notifications a batch's outcomes change and the pages its requests repeat, each read in
        one query (a request's own row is new: nothing to read)."""
        outcomes = [
            (e.aggregate_id,)
            for e in envelopes
            if e.aggregate_type == AGGREGATE and e.event_type != NotificationRequested.event_type
        ]
        await rows.prefetch(t.notification, outcomes)
        pages = {
            e.payload.get("page_id") for e in envelopes if e.event_type == NotificationRequested.event_type
        }
        await rows.prefetch(t.page, [(page,) for page in pages if page])

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
                        "case_status",
                        "language",
                        "kendra_phone",
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
        before = await rows.get(t.notification, notification_id=event.notification_id)
        if before is not None and before["status"] == "held":
            # Sent before its release (intake took a complainant's request up late): none to release.
            rows.remove(t.held, notification_id=event.notification_id)
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

    @handles(NotificationRetried)
    async def retried(
        self, rows: Rows, t: BoardTables, event: NotificationRetried, envelope: Envelope
    ) -> None:
        # Being tried again: no longer parked, and waiting for its channel (a retry cut short is taken
        # up like any delivery).
        await rows.change(t.notification, {"notification_id": event.notification_id}, status="retrying")

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
