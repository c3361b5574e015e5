"""The read model's batches: the rows a batch's outcomes change are read in one query, not one each."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from services.notifications.read_model.projection import NotificationBoard
from shared.contracts.notifications import (
    NotificationChannel,
    NotificationRequested,
    NotificationRule,
    NotificationSent,
    notification_id,
)
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta
from shared.rows import Rows
from shared.testing.memory import MemoryEventStore, MemoryStreams

AT = datetime(2026, 1, 12, 4, 30, tzinfo=UTC)


async def stored(store: MemoryEventStore, key: str, event: Event, version: int) -> Envelope:
    last = await store.load("notification", key)
    [envelope] = await store.append(
        "notification",
        key,
        [event],
        expected_sequence=last[-1].sequence if last else 0,
        expected_version=version,
        meta=CommandMeta(command_id=f"{key}:{version}", actor="test", occurred_at=AT),
    )
    return envelope


async def test_a_batch_of_sendings_reads_their_notifications_in_one_query() -> None:
    store = MemoryEventStore(MemoryStreams(), "notifications")
    ids = [notification_id(f"cause-{i}", "officer:PNO1", NotificationChannel.EMAIL) for i in range(5)]
    requests = [
        await stored(
            store,
            key,
            NotificationRequested(
                notification_id=key,
                rule=NotificationRule.ASSIGNED,
                channel=NotificationChannel.EMAIL,
                recipient="officer:PNO1",
                cause_id=key,
                case_id="c1",
                case_number="SJP-2026-000001",
                at=AT,
            ),
            0,
        )
        for key in ids
    ]
    sendings = [
        await stored(
            store,
            key,
            NotificationSent(
                notification_id=key, channel=NotificationChannel.EMAIL, via="outbox", attempts=1, at=AT
            ),
            1,
        )
        for key in ids
    ]
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    board, metadata = NotificationBoard(), MetaData()
    tables = board.define(metadata, "")
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    reads: list[str] = []

    def counted(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM notification" in statement:
            reads.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", counted)
    opened = async_sessionmaker(engine, expire_on_commit=False)
    for batch in (requests, sendings):
        async with opened.begin() as session:
            rows = Rows(session)
            await board.prefetch(rows, tables, batch)
            for envelope in batch:
                await board.apply(rows, tables, envelope)
            await rows.flush()
    await engine.dispose()
    assert len(reads) == 1, reads  # the sendings' five notifications, read at once; the requests none
