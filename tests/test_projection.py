"""Projections against a real NATS server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import Column, Integer, MetaData, Table, event, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import projection as projection_module
from shared.aggregate import Repository
from shared.errors import ReadModelBehind
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.projection import CURRENT_REASK_SECONDS, Projector
from shared.readmodel import create_engine
from shared.rows import Rows
from tests.sample import (
    Tally,
    TallyCounted,
    TallyOpened,
    TallyPoisoned,
    TallyProjection,
    TallyTables,
    rows,
)
from tests.waiting import eventually


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def meta(command_id: str) -> CommandMeta:
    return CommandMeta(command_id=command_id, actor="test")


@pytest.fixture
async def store(nats_client: NatsClient) -> EventStore:
    s = EventStore(nats_client, "tests")
    await s.ensure_stream()
    return s


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    e = create_engine(database_url)
    yield e
    await e.dispose()


async def write_tallies(store: EventStore, count: int, prefix: str = "t") -> None:
    repo = Repository(store, Tally)
    for i in range(count):
        await repo.execute(f"{prefix}{i}", partial(Tally.open, label=f"label {i}"), meta(f"{prefix}open{i}"))
        for n in range(3):
            await repo.execute(
                f"{prefix}{i}", partial(Tally.count, amount=n + 1), meta(f"{prefix}count{i}.{n}")
            )


async def snapshot(projector: Projector[TallyTables]) -> list[tuple[str, str, int, int]]:
    async with projector.sessions() as session:
        return await rows(session, projector.tables)


async def reference(
    nats_client: NatsClient, database_url: str, projection: TallyProjection | None = None
) -> list[tuple[str, str, int, int]]:
    """The read model built from scratch in a fresh table generation of a fresh projector."""
    engine = create_engine(database_url)
    fresh = Projector(projection or TallyProjection(), engine, nats_client)
    await fresh.setup()
    await fresh.rebuild()
    result = await snapshot(fresh)
    await engine.dispose()
    return result


@pytest.mark.parametrize("stage", ["applied", "committed"])
async def test_crash_then_restart_loses_nothing_and_doubles_nothing(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, database_url: str, stage: str
) -> None:
    await write_tallies(store, 30)
    crashes = 0

    async def fault(at: str) -> None:
        nonlocal crashes
        if at == stage and crashes < 3:
            crashes += 1
            raise Crash(at)

    for _ in range(4):
        projector = Projector(TallyProjection(), engine, nats_client, batch_size=16, fault=fault)
        await projector.setup()
        try:
            await projector.catch_up()
            break
        except Crash:
            continue  # the "process" died; a new one starts from what the database says
    assert crashes == 3
    live = await snapshot(projector)
    assert live == await reference(nats_client, database_url)
    assert all(total == 6 and events == 4 for _, _, total, events in live)
    assert len(live) == 30


async def test_rebuild_matches_live_and_old_tables_answer_meanwhile(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    await write_tallies(store, 40)
    projector = Projector(TallyProjection(), engine, nats_client, batch_size=32)
    await projector.setup()
    await projector.catch_up()
    live = await snapshot(projector)
    seen_during: list[int] = []

    def progress(done: int, total: int) -> None:
        seen_during.append(len(live))

    old_tables = projector.tables
    new_generation = await projector.rebuild(progress)
    assert new_generation == 2
    assert projector.tables is not old_tables
    assert await snapshot(projector) == live
    assert seen_during and seen_during[-1] == 40


async def test_poison_event_is_parked_and_the_next_is_applied(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    await write_tallies(store, 1, prefix="p")
    await store.append(
        "tally", "p0", [TallyPoisoned()], expected_sequence=4, expected_version=4, meta=meta("poison")
    )
    repo = Repository(store, Tally)
    await repo.execute("p0", lambda t: t.count(10), meta("after"))
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await projector.catch_up()
    [parked] = await projector.parked()
    assert parked.sequence == 5 and parked.event_type == "TallyPoisoned"
    assert "cannot be applied" in parked.reason
    assert await snapshot(projector) == [("p0", "label 0", 16, 5)]
    assert await projector.retry_parked() == (0, 1)  # still a poison: stays parked
    assert len(await projector.parked()) == 1


async def test_projection_follows_live_appends(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    task = asyncio.create_task(projector.run())
    await write_tallies(store, 5)
    async with asyncio.timeout(10):
        while (await projector.lag())["TESTS"]:
            await asyncio.sleep(0.05)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert len(await snapshot(projector)) == 5


async def test_a_live_batch_moves_its_checkpoint_with_one_statement(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    """Following alone, a batch's checkpoint is moved from where the follower left it, not read first:
    a statement saved per batch, which is much of a read model's cost when batches are small."""
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    task = asyncio.create_task(projector.run())
    await write_tallies(store, 1)
    async with asyncio.timeout(10):
        while (await projector.lag())["TESTS"]:
            await asyncio.sleep(0.05)
    on_checkpoints: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "projection_checkpoint" in statement:
            on_checkpoints.append(statement.split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for i in range(1, 4):
            await write_tallies(store, 1, prefix=f"live{i}-")
            async with asyncio.timeout(10):  # waiting on the tallies, not on lag(), which reads checkpoints
                while len(await snapshot(projector)) < i + 1 or any(
                    t[2] < 6 for t in await snapshot(projector)
                ):
                    await asyncio.sleep(0.05)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert on_checkpoints, "no batch was applied while counting"
    assert set(on_checkpoints) == {"UPDATE"}, on_checkpoints


async def test_a_look_at_a_checkpoint_or_the_generation_is_one_statement(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    """What a running projector asks of its database when no event comes (its generation, once a
    second) and what readiness asks (a checkpoint) is one SELECT each, without a transaction's BEGIN
    around it: on SQLite that BEGIN was a statement too, doubling the cost of an idle platform."""
    await write_tallies(store, 1)
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await projector.catch_up()
    sent: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        sent.append(statement.split()[0])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        assert await projector.checkpoint("TESTS") == 4
        projector._generation_checked_at = float("-inf")  # due for its once-a-second look
        await projector.follow_generation()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert sent == ["SELECT", "SELECT"], sent


class TalliesOfTwoStreams(TallyProjection):
    """Tallies kept in two services' streams, as intake's case register reads three."""

    sources: ClassVar[dict[str, str]] = {"TESTS": "shakti.tests.tally.*", "OTHERS": "shakti.others.tally.*"}


async def gathering_two_streams(
    nats_client: NatsClient, engine: AsyncEngine
) -> tuple[Projector[Any], EventStore]:
    """Tallies of two streams, gathered for a window far longer than the appends of a test take (the
    test does not depend on how busy the machine is); and the second stream."""
    others = EventStore(nats_client, "others")
    await others.ensure_stream()
    projector = Projector(TalliesOfTwoStreams(), engine, nats_client, gather_seconds=3.0)
    await projector.setup()
    return projector, others


@contextlib.contextmanager
def checkpoint_updates(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements that move a checkpoint, one per batch applied, while the block runs."""
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("UPDATE projection_checkpoint"):
            seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)


async def tallied(projector: Projector[Any], wanted: int) -> None:
    async with asyncio.timeout(20):  # waiting on the tallies, not on lag(), which reads checkpoints
        while sum(events for *_, events in await snapshot(projector)) < wanted:
            await asyncio.sleep(0.05)


async def test_what_follows_a_live_batch_from_every_stream_is_applied_in_one_transaction(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, database_url: str
) -> None:
    """Following live, the events that follow a batch within the gathering window go together: one
    transaction and one checkpoint statement for both streams, not a transaction per stream (or per
    event). A case's events reach a read model from several streams within milliseconds, and a batch's
    fixed statements (its BEGIN, its checkpoint, the reads of the rows it changes) were paid for each."""
    projector, others = await gathering_two_streams(nats_client, engine)
    task = asyncio.create_task(projector.run())
    try:
        await write_tallies(store, 1, prefix="first")  # a batch: the window opens when it commits
        await tallied(projector, 4)
        with checkpoint_updates(engine) as on_checkpoints:
            await write_tallies(store, 1, prefix="here")
            await write_tallies(others, 1, prefix="there")
            await tallied(projector, 12)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(on_checkpoints) == 1, on_checkpoints
    assert [events for *_, events in await snapshot(projector)] == [4, 4, 4]
    assert await snapshot(projector) == await reference(nats_client, database_url, TalliesOfTwoStreams())


async def test_a_burst_waits_from_its_first_event_for_the_rest_of_it(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, database_url: str
) -> None:
    """A case's first event does not go alone: the events of its burst (its reactions' in other
    streams) go in its transaction. Applying the first at once cost every case a batch more in each read
    model (bench.e2e: 2-3 batches a case, ≈4 statements each, at a few cases a second)."""
    projector, others = await gathering_two_streams(nats_client, engine)
    task = asyncio.create_task(projector.run())
    try:
        with checkpoint_updates(engine) as on_checkpoints:
            await asyncio.sleep(0.5)  # the readers at the end of their streams, quiet
            await write_tallies(store, 1, prefix="here")
            await write_tallies(others, 1, prefix="there")
            await tallied(projector, 8)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert len(on_checkpoints) == 1, on_checkpoints
    assert await snapshot(projector) == await reference(nats_client, database_url, TalliesOfTwoStreams())


async def test_nothing_is_held_while_somebody_waits_for_the_read_model(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    """The web front waits after each command until the read models hold what it wrote: while it waits,
    what the projector read is applied at once, not at the end of a window far longer than the wait."""
    projector = Projector(TallyProjection(), engine, nats_client, gather_seconds=60.0)
    await projector.setup()
    task = asyncio.create_task(projector.run())

    async def waited_for(sequence: int) -> None:
        with projector.waited_on():
            async with asyncio.timeout(10):
                while await projector.checkpoint("TESTS") < sequence:
                    await asyncio.sleep(0.02)

    try:
        await write_tallies(store, 1, prefix="first")
        await waited_for(4)
        await write_tallies(store, 1, prefix="then")  # within the window after the first batch
        await waited_for(8)
        assert not projector._waited.is_set()  # nobody waits now: the next burst is held again
        await write_tallies(store, 1, prefix="later")
        await asyncio.sleep(1.0)
        assert await projector.checkpoint("TESTS") == 8
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_record_written_a_moment_ago_is_found_not_answered_missing(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    """An API client acts on a record it has just been told of (an acknowledgement of a case just
    registered, a retry of a message just parked) while the read model still holds the burst back:
    ``find`` looks once more when the read model holds what is stored, instead of 'not found'."""
    projector = Projector(TallyProjection(), engine, nats_client, gather_seconds=60.0)
    await projector.setup()
    task = asyncio.create_task(projector.run())

    async def tally(name: str) -> tuple[str, str, int, int] | None:
        return next((row for row in await snapshot(projector) if row[0] == name), None)

    try:
        await write_tallies(store, 1, prefix="first")
        with projector.waited_on():  # the first burst applied, as after any command of the web front
            async with asyncio.timeout(10):
                while await tally("first0") is None:
                    await asyncio.sleep(0.02)
        await write_tallies(store, 1, prefix="then")
        held = await tally("then0")
        found = await projector.find(partial(tally, "then0"))
        missing = await projector.find(partial(tally, "never"))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert held is None, "the window holds the second burst: the test shows nothing otherwise"
    assert found is not None and found[2:] == (6, 4), found
    assert missing is None


async def test_a_record_out_of_reach_is_answered_as_late_as_one_that_does_not_exist(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A look for a record the caller may not see answered 'not found' at once, and one for a record
    that is nowhere only after ``require_current``: the time told a signed-in caller whether an id
    (a case number of another district) exists. Both now wait alike, and a record moved into reach a
    moment ago is looked at again."""
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await write_tallies(store, 1, prefix="seen")
    await projector.catch_up()
    waits: list[str] = []

    async def counted() -> None:
        waits.append("require_current")

    monkeypatch.setattr(projector, "require_current", counted)

    async def tally(name: str) -> tuple[str, str, int, int] | None:
        return next((row for row in await snapshot(projector) if row[0] == name), None)

    def mine(row: tuple[str, str, int, int]) -> bool:
        return False

    assert await projector.find(partial(tally, "seen0"), mine) is None
    assert await projector.find(partial(tally, "nowhere"), mine) is None
    assert waits == ["require_current", "require_current"]
    found = await projector.find(partial(tally, "seen0"))
    assert found is not None and waits == ["require_current", "require_current"]


async def write_ledgers(store: EventStore, count: int) -> None:
    """Events of another aggregate type in the tallies' stream, which ``TallyProjection`` does not read."""
    for n in range(count):
        await store.append(
            "ledger",
            f"l{n}",
            [TallyOpened(label="other")],
            expected_sequence=0,
            expected_version=0,
            meta=meta(f"ledger{n}"),
        )


async def test_a_look_waits_for_what_the_projection_reads_not_for_the_subjects_after_it(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    """``require_current``, ``applied_through`` and ``lag`` wait for (count) the events the projection
    reads that it has not applied, and neither the events before its checkpoint nor the other subjects
    of the stream after them."""
    await write_tallies(store, 1)  # 1-4
    projector = Projector(TallyProjection(), engine, nats_client)  # not running: applies on catch_up
    await projector.setup()
    await projector.catch_up()
    await write_tallies(store, 1, prefix="late")  # 5-8, not applied
    await write_ledgers(store, 3)  # 9-11
    loop = asyncio.get_running_loop()

    with pytest.raises(ReadModelBehind):
        await projector.require_current(timeout=0.2)
    assert not await projector.applied_through("TESTS", 5, loop.time() + 0.2)
    assert await projector.applied_through("TESTS", 4, loop.time())  # held already: no wait
    assert await projector.lag() == {"TESTS": 4}  # 5-8; the ledgers after them are no work

    await projector.catch_up()
    await projector.require_current(timeout=0.2)
    assert await projector.applied_through("TESTS", 11, loop.time())
    assert await projector.lag() == {"TESTS": 0}


async def test_a_read_model_of_rare_events_is_not_read_forward_over_the_rest_of_its_stream(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read model of rare events (officers' on ROUTING) keeps its checkpoint far behind the stream's
    end (a year of case events after it). A read forward from there makes the server walk every stored
    block after it, at every reader's wait after a routing command; it asks for the last event of its
    filter instead, which has few subjects."""
    monkeypatch.setattr(projection_module, "FORWARD_READ_MOST", 2)
    await write_tallies(store, 1)  # 1-4
    await write_ledgers(store, 5)  # 5-9: the other events of the stream
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await projector.catch_up()
    forward: list[int | None] = []
    get_msg = projector.js.get_msg

    async def counted_get_msg(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("next"):
            forward.append(kwargs.get("seq"))
        return await get_msg(*args, **kwargs)

    monkeypatch.setattr(projector.js, "get_msg", counted_get_msg)
    loop = asyncio.get_running_loop()

    await projector.require_current(timeout=0.5)
    assert await projector.lag() == {"TESTS": 0}
    assert await projector.applied_through("TESTS", 9, loop.time() + 0.5)
    await write_tallies(store, 1, prefix="late")  # 10-13, not applied
    with pytest.raises(ReadModelBehind):
        await projector.require_current(timeout=0.2)
    assert not await projector.applied_through("TESTS", 13, loop.time() + 0.2)
    await projector.catch_up()
    assert await projector.applied_through("TESTS", 13, loop.time())
    assert forward == [], f"read forward from {forward}"


async def test_a_wait_for_the_read_model_ends_at_its_deadline_however_its_checkpoint_moves(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader waiting after a command is told 'not yet' at its deadline (``/applied``: at most 3 s)
    while the read model works through a backlog: a checkpoint that passes each event just after it was
    looked for must not keep the wait asking the server, without a pause, until the end; nor at every
    poll (a page waits on every read model of five services, and a service lets 64 readers wait)."""
    await write_tallies(store, 25)  # 100 events
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    moving = itertools.count()

    async def checkpoint(stream: str, generation: int | None = None) -> int:
        return next(moving)  # one event further at every read

    asked = 0
    get_msg = projector.js.get_msg

    async def counted_get_msg(*args: Any, **kwargs: Any) -> Any:
        nonlocal asked
        asked += 1
        return await get_msg(*args, **kwargs)

    monkeypatch.setattr(projector, "checkpoint", checkpoint)
    monkeypatch.setattr(projector.js, "get_msg", counted_get_msg)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert not await projector.applied_through("TESTS", 100, started + 0.5)
    assert loop.time() - started < 1.5
    assert next(moving) < 50, "it read the checkpoint without pausing"
    assert asked <= 1 + 0.5 / CURRENT_REASK_SECONDS + 1, f"asked the server {asked} times in 0.5 s"


async def test_a_look_never_asks_for_the_last_event_of_a_wildcard_filter(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server finds the last message of a wildcard filter by looking through every subject the
    filter matches: one per case, so the cost grew with a year's cases (``bench.looks``) and was paid on
    requests (a look that finds nothing, a reader's wait after each command, a readiness probe). A
    caught-up projection answers them by reading forward from its checkpoint, which costs the same at
    any size."""
    await write_tallies(store, 2)
    await write_ledgers(store, 3)
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await projector.catch_up()
    asked: list[tuple[str | None, bool]] = []
    get_msg = projector.js.get_msg

    async def counted_get_msg(
        stream: str,
        seq: int | None = None,
        subject: str | None = None,
        direct: bool | None = False,
        next: bool | None = False,
    ) -> Any:
        asked.append((subject, bool(next)))
        return await get_msg(stream, seq=seq, subject=subject, direct=direct, next=next)

    monkeypatch.setattr(projector.js, "get_msg", counted_get_msg)
    end = await store.last_sequence()

    await projector.require_current(timeout=1.0)
    assert await projector.lag() == {"TESTS": 0}
    assert all(forward for _, forward in asked), f"asked for the last of a filter: {asked}"
    looked = len(asked)
    with projector.waited_on():
        assert await projector.applied_through("TESTS", end, asyncio.get_running_loop().time() + 1.0)

    assert 0 < looked < len(asked), f"the projection did not look at the stream: {asked}"
    assert all(forward for _, forward in asked), f"asked for the last of a filter: {asked}"


async def test_upcast_v1_event_projects_like_v2(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    repo = Repository(store, Tally)
    await repo.execute("u", lambda t: t.open("u"), meta("u-open"))
    old = Envelope(
        event_id="00000000-0000-0000-0000-000000000009",
        event_type="TallyCounted",
        schema_version=1,
        aggregate_type="tally",
        aggregate_id="u",
        aggregate_version=2,
        occurred_at="2025-01-01T00:00:00Z",
        correlation_id="00000000-0000-0000-0000-000000000002",
        actor="old",
        command_id="old",
        payload={"n": 7},
    )
    await nats_client.jetstream().publish("shakti.tests.tally.u", old.model_dump_json().encode())
    await repo.execute("u", lambda t: t.count(3), meta("u-v2"))
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await projector.catch_up()
    assert await snapshot(projector) == [("u", "u", 10, 3)]
    assert (await repo.get("u")).total == 10


async def test_two_replicas_share_one_read_model_and_catch_up_sees_the_others_work(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, database_url: str
) -> None:
    """Two projectors (two replicas of a service) on one database: every event applied once, the
    first checkpoint created once, and a catch-up returns even when the other replica did the work."""
    first = Projector(TallyProjection(), engine, nats_client, batch_size=8)
    second = Projector(TallyProjection(), engine, nats_client, batch_size=8)
    await first.setup()
    await second.setup()
    running = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        await write_tallies(store, 25)
        await asyncio.wait_for(first.catch_up(), 20)
        await asyncio.wait_for(second.catch_up(), 20)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    live = await snapshot(first)
    assert len(live) == 25
    assert all(total == 6 and events == 4 for _, _, total, events in live)
    assert live == await reference(nats_client, database_url)


class TalliesWithLastCount(TallyProjection):
    """The tallies' read model of a later version: a new column (the last amount counted) and a new
    table (the counts of each amount), so its existing generation cannot serve it."""

    def define(self, metadata: MetaData, prefix: str) -> TallyTables:
        tables = super().define(metadata, prefix)
        tables.tallies.append_column(Column("last_amount", Integer))
        Table(f"{prefix}amount", metadata, Column("amount", Integer, primary_key=True))
        return tables

    async def apply(self, rows: Rows, tables: TallyTables, envelope: Envelope) -> None:
        await super().apply(rows, tables, envelope)
        event = envelope.event()
        if isinstance(event, TallyCounted):
            t = tables.tallies
            await rows.session.execute(
                update(t).where(t.c.id == envelope.aggregate_id).values(last_amount=event.amount)
            )


async def test_a_projection_whose_tables_changed_rebuilds_itself_at_start(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine
) -> None:
    """An upgrade that adds a column or a table to a read model: its old tables would fail every query
    (no such column) until someone remembered `shakti rebuild`. Started on them, the projector moves
    to a new generation and fills it from the streams; an unchanged one keeps its own."""
    await write_tallies(store, 12)
    before = Projector(TallyProjection(), engine, nats_client)
    await before.setup()
    await before.catch_up()
    live = await snapshot(before)

    unchanged = Projector(TallyProjection(), engine, nats_client)
    await unchanged.setup()
    assert unchanged._active_number() == 1 and await unchanged.checkpoint("TESTS") > 0

    upgraded, alongside = (Projector(TalliesWithLastCount(), engine, nats_client) for _ in range(2))
    await asyncio.gather(upgraded.setup(), alongside.setup())  # two replicas starting at once
    assert upgraded._active_number() == alongside._active_number() == 2
    assert not await upgraded.caught_up_with_start()
    await upgraded.catch_up()
    assert await upgraded.caught_up_with_start()
    assert await snapshot(upgraded) == live
    t = upgraded.tables.tallies
    async with upgraded.sessions() as session:
        last = set((await session.execute(select(t.c.last_amount))).scalars())
    assert last == {3}


@contextlib.asynccontextmanager
async def another_process_writing(database_url: str) -> AsyncIterator[list[int]]:
    """Another process's projector committing to the same database all the while; yields its count."""
    other = create_engine(database_url)
    async with other.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS other_process_rows (n INTEGER)")
    stop = asyncio.Event()
    commits = [0]

    async def writes() -> None:
        while not stop.is_set():
            async with other.begin() as conn:
                await conn.exec_driver_sql("INSERT INTO other_process_rows VALUES (1)")
            commits[0] += 1
            await asyncio.sleep(0)

    writer = asyncio.create_task(writes())
    try:
        yield commits
    finally:
        stop.set()
        await writer
        await other.dispose()


async def test_a_look_at_the_generation_read_before_a_rebuild_switched_does_not_move_back(
    store: EventStore,
    nats_client: NatsClient,
    engine: AsyncEngine,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process that looks which generation is active (every second) while its own rebuild switches to
    the new one read the old number, then moved 'back' to it: its queries then read tables the rebuild
    dropped a moment later ("no such table ..._g1_...", bench.state's rebuild in a full CI run)."""
    await write_tallies(store, 1)
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    stored_active = projector._stored_active
    rebuilding = False

    async def read_before_the_switch(session: Any) -> int | None:
        nonlocal rebuilding
        before = await stored_active(session)
        if not rebuilding:  # the rebuild looks too, and reads what is stored
            rebuilding = True
            await projector.rebuild()  # finishes while this look waits on the database
        return before

    monkeypatch.setattr(projector, "_stored_active", read_before_the_switch)
    projector._generation_checked_at = float("-inf")
    await projector.follow_generation()
    assert rebuilding
    assert projector._active_number() == 2
    assert await snapshot(projector) == await reference(nats_client, database_url)


async def test_a_rebuild_waits_for_another_process_writing_the_same_file(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, database_url: str
) -> None:
    """A transaction that reads before it writes cannot wait for the lock in WAL mode once another
    process's commit moved the file ('database is locked' at once): a rebuild under the gathering
    window failed so in a full run."""
    await write_tallies(store, 20)
    projector = Projector(TallyProjection(), engine, nats_client, batch_size=32)
    await projector.setup()
    await projector.catch_up()
    live = await snapshot(projector)
    async with another_process_writing(database_url) as commits:
        for _ in range(2):
            await projector.rebuild()
    assert commits[0] > 50  # the other process did write throughout
    assert await snapshot(projector) == live


class NotYetTallies(TallyProjection):
    """Reads the tally first, as the services' projections do, then cannot apply a count until mended."""

    mended = False

    async def apply(self, rows: Rows, tables: TallyTables, envelope: Envelope) -> None:
        t = tables.tallies
        await rows.session.scalar(select(t.c.total).where(t.c.id == envelope.aggregate_id))
        if not self.mended and envelope.event_type == "TallyCounted":
            raise ValueError("not yet")
        await super().apply(rows, tables, envelope)


async def test_a_parked_retry_waits_for_another_process_writing_the_same_file(
    store: EventStore, nats_client: NatsClient, engine: AsyncEngine, database_url: str
) -> None:
    await write_tallies(store, 10)
    projection = NotYetTallies()
    projector = Projector(projection, engine, nats_client, batch_size=32, max_attempts=1)
    await projector.setup()
    await projector.catch_up()
    assert len(await projector.parked()) == 30
    async with another_process_writing(database_url) as commits:
        await eventually(lambda: commits[0] >= 3, what="the other process committing")
        before = commits[0]
        assert await projector.retry_parked() == (0, 30)  # still failing: its reason is written again
        projection.mended = True
        assert await projector.retry_parked() == (30, 0)
        # It committed between the retries' own transactions; how often is up to SQLite's busy waits,
        # not a figure to assert.
        assert commits[0] > before
    assert await snapshot(projector) == await reference(nats_client, database_url)


async def test_a_rebuild_drops_tables_off_the_event_loops_thread(
    store: EventStore, nats_client: NatsClient, tmp_path: Path
) -> None:
    """Dropping a generation's tables overwrites each freed page (SQLite's secure_delete): on the loop's
    thread it would stop every request and projector of the process for as long as the tables are big.
    (SQLite only: PostgreSQL's statements never run on the loop's thread.)"""
    await write_tallies(store, 5)
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}")
    projector = Projector(TallyProjection(), engine, nats_client)
    await projector.setup()
    await projector.catch_up()
    loop_thread = threading.get_ident()
    threads: list[int] = []

    def traced(statement: str) -> None:  # called by sqlite3 on the thread that runs the statement
        if statement.lstrip().upper().startswith(("DROP", "CREATE")):
            threads.append(threading.get_ident())

    def trace(conn: Any, *args: Any) -> None:
        conn.connection.driver_connection._connection.set_trace_callback(traced)

    event.listen(engine.sync_engine, "before_cursor_execute", trace)
    try:
        await projector.rebuild()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", trace)
        await engine.dispose()
    assert threads, "the rebuild created and dropped tables"
    assert loop_thread not in threads


class TalliesSeenByTheLoop(TallyProjection):
    """Notes, for each event it applies, how often another task of the process has run so far."""

    def __init__(self, ticks: list[int]) -> None:
        self.ticks = ticks
        self.seen: list[int] = []

    async def apply(self, rows: Rows, tables: TallyTables, envelope: Envelope) -> None:
        self.seen.append(len(self.ticks))
        await super().apply(rows, tables, envelope)


async def test_a_long_batch_on_sqlite_hands_the_loop_to_other_tasks(
    store: EventStore, nats_client: NatsClient, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch applied on SQLite runs on the loop's thread and awaits nothing real: in one step it held
    every reaction, request and other read model of the process for as long as it took (bench.e2e saw
    steps of 50-160 ms while a registered case waited for routing). It hands the loop over whenever a
    slice is used up; with a slice of nothing, after every event."""
    monkeypatch.setattr("shared.projection.SLICE_SECONDS", 0.0)
    await write_tallies(store, 20)
    ticks: list[int] = []

    async def another_task() -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0)

    engine = create_engine(sqlite_url)
    projection = TalliesSeenByTheLoop(ticks)
    projector = Projector(projection, engine, nats_client, batch_size=256)
    await projector.setup()
    ticking = asyncio.create_task(another_task())
    try:
        await projector.catch_up()
    finally:
        ticking.cancel()
        await engine.dispose()
    assert len(projection.seen) == 80
    handed_over = [later > earlier for earlier, later in itertools.pairwise(projection.seen)]
    assert all(handed_over), projection.seen
