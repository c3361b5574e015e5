"""Bugs found in the foundation by review, each pinned by a test against the real NATS server.

Each test names the behaviour it guards; each failed on the foundation as it was before the fix.
"""

from __future__ import annotations

import asyncio
import sqlite3
from functools import partial
from pathlib import Path

import nats
from nats.aio.client import Client as NatsClient
from nats.js.api import StreamConfig, StreamInfo
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.aggregate import Repository
from shared.events import Envelope
from shared.eventstore import EventStore
from shared.projection import Projector
from shared.readmodel import create_engine
from shared.rows import Rows
from tests import test_projection
from tests.sample import Tally, TallyOpened, TallyPoisoned, TallyProjection, TallyTables
from tests.test_projection import meta, snapshot, write_ledgers
from tests.waiting import eventually

# The same fixtures as the projection tests: an event store on a clean server, an engine per database.
store = test_projection.store
engine = test_projection.engine


async def open_tallies(store: EventStore, *ids: str) -> None:
    repo = Repository(store, Tally)
    for i in ids:
        await repo.execute(i, partial(Tally.open, label=f"label {i}"), meta(f"open-{i}"))


async def test_a_running_projection_follows_the_new_generation_after_a_rebuild(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    await open_tallies(store, "a", "b")
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    running = asyncio.create_task(projector.run())
    try:
        await eventually(lambda: projector.applied == 2, what="the live projection applied the first events")
        assert await projector.rebuild() == 2
        await open_tallies(store, "c", "d")

        async def sees_all() -> bool:
            return len(await snapshot(projector)) == 4

        await eventually(sees_all, what="events after the rebuild reach the new generation")
        assert not running.done()
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_rebuild_in_one_process_moves_every_other_process_to_the_new_generation(
    store: EventStore, nats_client: NatsClient, database_url: str
) -> None:
    """Another process keeping the read model, and one only answering from it, follow a rebuild run
    elsewhere (``shakti rebuild`` reaches one replica): before, they kept the old generation, whose
    tables the rebuild then dropped under them."""
    engines = [create_engine(database_url) for _ in range(3)]
    rebuilder, keeper, reader = (Projector(TallyProjection(), e, nats_client) for e in engines)
    for projector in (rebuilder, keeper, reader):
        await projector.setup()
    tasks = [asyncio.create_task(keeper.run()), asyncio.create_task(reader.watch_generation())]
    try:
        await open_tallies(store, "a", "b")
        await eventually(lambda: keeper.applied == 2, what="the keeper applied the first events")
        assert await rebuilder.rebuild() == 2
        assert keeper.tables.tallies.name == reader.tables.tallies.name == "tallies_g2_tally"
        await open_tallies(store, "c", "d")

        async def every_process_sees_all() -> bool:
            return all([len(await snapshot(p)) == 4 for p in (rebuilder, keeper, reader)])

        await eventually(every_process_sees_all, what="events after the rebuild, seen from every process")
        assert not any(task.done() for task in tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for e in engines:
            await e.dispose()


async def test_replicas_starting_at_the_same_moment_all_set_up_the_read_model(
    nats_client: NatsClient, database_url: str
) -> None:
    """Six processes setting up one read model at once (compose's ``--scale``, a Deployment's first
    rollout): before, most failed with PostgreSQL's duplicate 'pg_type' key or 'relation already
    exists', or SQLite's 'database is locked', and one could lose the race to record generation 1."""
    engines = [create_engine(database_url) for _ in range(6)]
    try:
        projectors = [Projector(TallyProjection(), e, nats_client) for e in engines]
        results = await asyncio.gather(*(p.setup() for p in projectors), return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert {p.tables.tallies.name for p in projectors} == {"tallies_g1_tally"}
    finally:
        for e in engines:
            await e.dispose()


class MendableTallies(TallyProjection):
    """The sample projection, whose bug on TallyPoisoned can be fixed while it runs."""

    def __init__(self) -> None:
        self.mended = False

    async def apply(self, rows: Rows, tables: TallyTables, envelope: Envelope) -> None:
        if self.mended and isinstance(envelope.event(), TallyPoisoned):
            t = tables.tallies
            await rows.session.execute(
                update(t).where(t.c.id == envelope.aggregate_id).values(events=t.c.events + 1)
            )
            return
        await super().apply(rows, tables, envelope)


async def test_a_retry_after_a_rebuild_applies_a_parked_event_once(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    await open_tallies(store, "p")
    [opened] = await store.load("tally", "p")
    await store.append(
        "tally",
        "p",
        [TallyPoisoned()],
        expected_sequence=opened.sequence,
        expected_version=1,
        meta=meta("poison"),
    )
    projection = MendableTallies()
    projector = Projector(projection, engine, nats_client)
    await projector.setup()
    await projector.catch_up()
    await projector.rebuild()  # parks the poison again, in the new generation
    [parked] = await projector.parked()
    assert parked.sequence == 2 and parked.generation == 2
    projection.mended = True
    assert await projector.retry_parked() == (1, 0)
    assert await snapshot(projector) == [("p", "label p", 0, 2)]
    assert await projector.parked() == []


async def test_a_message_that_is_not_an_event_is_parked_and_the_next_is_applied(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    await nats_client.jetstream().publish("shakti.tests.tally.junk", b"not an envelope")
    await open_tallies(store, "after")
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await projector.catch_up()
    [parked] = await projector.parked()
    assert parked.sequence == 1 and parked.event_type == "?"
    assert "ValidationError" in parked.reason
    assert await snapshot(projector) == [("after", "label after", 0, 1)]
    assert await projector.retry_parked() == (0, 1)  # still not an event: stays parked, no crash


async def test_lag_is_zero_once_the_projection_has_every_event_it_reads(
    store: EventStore, nats_client: NatsClient, sqlite_url: str
) -> None:
    await open_tallies(store, "x")
    # Another aggregate type in the same stream, after the last event the projection reads.
    await write_ledgers(store, 3)
    engine = create_engine(sqlite_url)
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    assert await projector.lag() == {"TESTS": 1}
    await projector.catch_up()
    assert await projector.lag() == {"TESTS": 0}
    await engine.dispose()


async def test_a_repeated_command_returns_what_the_first_stored_not_its_own_attempt(
    store: EventStore,
) -> None:
    first = await store.append(
        "tally", "d", [TallyOpened(label="first")], expected_sequence=0, expected_version=0, meta=meta("dup")
    )
    # Repeated after reloading (its ack was lost, say): the expectation holds, and the server drops the
    # event as a duplicate of the first (same Nats-Msg-Id).
    again = await store.append(
        "tally",
        "d",
        [TallyOpened(label="second")],
        expected_sequence=first[0].sequence,
        expected_version=1,
        meta=meta("dup"),
    )
    [stored] = await store.load("tally", "d")
    assert [(e.sequence, e.model_dump()) for e in again] == [(stored.sequence, stored.model_dump())]
    assert again[0].payload == {"label": "first"} and again[0].recorded_at == first[0].recorded_at


async def test_a_projection_batch_waits_for_another_writers_lock_without_blocking_the_loop(
    store: EventStore, nats_client: NatsClient, tmp_path: Path
) -> None:
    """Batches run their SQLite calls on the loop's thread; one that meets a lock must wait elsewhere."""
    path = tmp_path / "locked.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await open_tallies(store, "k1", "k2")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer (a second process, a migration) holds the lock
    catching_up = asyncio.create_task(projector.catch_up())
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(ticking())
    try:
        await eventually(lambda: ticks >= 30, what="the loop keeps running while the batch waits")
        assert not catching_up.done()
        assert await projector.checkpoint("TESTS") == 0
        other.execute("COMMIT")
        await catching_up
    finally:
        ticker.cancel()
        other.close()
    assert [r[0] for r in await snapshot(projector)] == ["k1", "k2"]
    await engine.dispose()


class FlakyDatabase(TallyProjection):
    """Its database fails (as on a lock timeout or a dropped connection) the first few times."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    async def apply(self, rows: Rows, tables: TallyTables, envelope: Envelope) -> None:
        if self.failures:
            self.failures -= 1
            raise OperationalError("UPDATE ...", {}, Exception("database is locked"))
        await super().apply(rows, tables, envelope)


async def test_a_database_fault_is_retried_later_not_parked_as_a_bad_event(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    await open_tallies(store, "f")
    projection = FlakyDatabase(failures=3)
    projector = Projector(projection, engine, nats_client, max_attempts=3)
    await projector.setup()
    faults = 0
    while True:  # what the service's guarded loop does: start the projection again
        try:
            await projector.catch_up()
            break
        except OperationalError:
            faults += 1
            assert await projector.parked() == []
    assert faults == 3
    assert await projector.parked() == []
    assert await snapshot(projector) == [("f", "label f", 0, 1)]


async def test_a_stream_creation_that_timed_out_is_asked_again(nats_client: NatsClient) -> None:
    """A busy server may create the stream and answer after the client stopped waiting (CI saw
    ``nats: timeout`` as a platform started): the store asks again, which is harmless."""
    store = EventStore(nats_client, "tests")
    create = store.js.add_stream
    calls = 0

    async def late_answer(config: StreamConfig) -> StreamInfo:
        nonlocal calls
        calls += 1
        info = await create(config)
        if calls == 1:
            raise nats.errors.TimeoutError
        return info

    store.js.add_stream = late_answer  # type: ignore[method-assign,assignment]
    await store.ensure_stream()
    assert calls == 2
    assert (await nats_client.jetstream().stream_info(store.stream)).config.subjects == ["shakti.tests.>"]
