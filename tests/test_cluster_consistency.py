"""The consistency check (shared/consistency.py, behind ``shakti check``) on SQLite and PostgreSQL.

It must say "equal" for a correct read model, also while events keep arriving, and name the table
and the keys when a row is changed, missing or extra, or when an event was applied twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from functools import partial

import pytest
from nats.aio.client import Client as NatsClient
from sqlalchemy import delete, insert, update

from shared.aggregate import Repository
from shared.consistency import ConsistencyCheckError, check_service, compare_projection
from shared.eventstore import CommandMeta, EventStore
from shared.projection import Projector
from shared.readmodel import create_engine
from shared.rows import Rows
from shared.runtime import ServiceDefinition
from shared.settings import Settings
from tests.sample import Tally, TallyProjection, TallyTables
from tests.waiting import eventually


def meta(command_id: str) -> CommandMeta:
    return CommandMeta(command_id=command_id, actor="test")


async def write(store: EventStore, tallies: int, prefix: str = "t") -> None:
    repo = Repository(store, Tally)
    for i in range(tallies):
        await repo.execute(f"{prefix}{i}", partial(Tally.open, label=f"label {i}"), meta(f"{prefix}o{i}"))
        await repo.execute(f"{prefix}{i}", partial(Tally.count, amount=i + 1), meta(f"{prefix}c{i}"))


@pytest.fixture
async def store(nats_client: NatsClient) -> EventStore:
    s = EventStore(nats_client, "tests")
    await s.ensure_stream()
    return s


@pytest.fixture
async def projector(nats_client: NatsClient, database_url: str) -> AsyncIterator[Projector[TallyTables]]:
    engine = create_engine(database_url)
    p: Projector[TallyTables] = Projector(TallyProjection(), engine, nats_client, batch_size=16)
    await p.setup()
    yield p
    await engine.dispose()


async def test_a_correct_read_model_is_equal_to_its_rebuild(
    store: EventStore, projector: Projector[TallyTables], nats_client: NatsClient, database_url: str
) -> None:
    await write(store, 20)
    await projector.catch_up()
    result = await compare_projection(projector, nats_client, database_url)
    assert result.equal, result
    assert result.checkpoints == {"TESTS": 40}
    assert [(t.table, t.live_rows, t.rebuilt_rows) for t in result.tables] == [("tallies", 20, 20)]


async def test_a_changed_a_missing_and_an_extra_row_are_named(
    store: EventStore, projector: Projector[TallyTables], nats_client: NatsClient, database_url: str
) -> None:
    await write(store, 10)
    await projector.catch_up()
    table = projector.tables.tallies
    async with projector.sessions.begin() as session:
        await session.execute(update(table).where(table.c.id == "t3").values(total=table.c.total + 1))
        await session.execute(delete(table).where(table.c.id == "t5"))
        await session.execute(insert(table).values(id="ghost", label="never opened", total=0, events=1))
    result = await compare_projection(projector, nats_client, database_url)
    assert not result.equal
    (tallies,) = result.tables
    assert (tallies.only_live, tallies.only_rebuilt) == (2, 2)  # t3 changed (1+1), t5 missing, ghost extra
    assert set(tallies.sample_keys) == {"t3", "t5", "ghost"}


async def test_an_event_applied_twice_is_found(
    store: EventStore, projector: Projector[TallyTables], nats_client: NatsClient, database_url: str
) -> None:
    """What a redelivery bug would leave behind: the checkpoint moved on, the row counted twice."""
    await write(store, 5)
    await projector.catch_up()
    envelope = (await store.load("tally", "t2"))[-1]
    async with projector.sessions.begin() as session:
        batch = Rows(session)
        await projector.projection.apply(batch, projector.tables, envelope)
        await batch.flush()
    result = await compare_projection(projector, nats_client, database_url)
    assert not result.equal
    assert result.tables[0].sample_keys == ("t2",)


async def test_the_check_is_exact_while_events_keep_arriving(
    store: EventStore, projector: Projector[TallyTables], nats_client: NatsClient, database_url: str
) -> None:
    """The rebuild stops at the live checkpoint, so a stream that grows meanwhile is no difference."""
    await write(store, 10)
    running = asyncio.create_task(projector.run())
    writing = asyncio.create_task(write(store, 40, prefix="late"))
    try:
        await eventually(lambda: _applied_some(projector), what="the projector applies while writes go on")
        results = [await compare_projection(projector, nats_client, database_url) for _ in range(3)]
        assert all(r.equal for r in results), results
        assert results[0].checkpoints["TESTS"] > 0
        await writing
    finally:
        running.cancel()
        writing.cancel()
        for task in (running, writing):
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _applied_some(projector: Projector[TallyTables]) -> bool:
    return await projector.checkpoint("TESTS") > 20


async def test_check_service_reports_every_projection_and_a_verdict(
    store: EventStore, projector: Projector[TallyTables], nats_url: str, database_url: str
) -> None:
    await write(store, 3)
    await projector.catch_up()
    definition = ServiceDefinition(name="tests", projections=lambda: [TallyProjection()])
    report = await check_service(definition, Settings(), nats_url=nats_url, database_url=database_url)
    assert report.consistent
    lines = report.lines()
    assert lines[0] == "tests/tallies at TESTS#6"
    assert lines[-1].startswith("tests: read model consistent / ")

    async with projector.sessions.begin() as session:
        await session.execute(delete(projector.tables.tallies).where(projector.tables.tallies.c.id == "t1"))
    report = await check_service(definition, Settings(), nats_url=nats_url, database_url=database_url)
    assert not report.consistent
    assert "  tallies: 2 live, 3 rebuilt: DIFFERS: 0 only live, 1 only rebuilt (keys: t1)" in report.lines()


async def test_a_projection_that_never_ran_is_an_error_not_a_pass(nats_url: str, sqlite_url: str) -> None:
    definition = ServiceDefinition(name="tests", projections=lambda: [TallyProjection()])
    with pytest.raises(ConsistencyCheckError, match="never run"):
        await check_service(definition, Settings(), nats_url=nats_url, database_url=sqlite_url)
