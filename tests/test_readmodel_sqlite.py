"""SQLite's connection as the read models use it: a write batch (and everything inside
``sqlite_on_loop``) runs its calls on the event loop's thread, every other call on aiosqlite's worker
thread, and never both at once on one connection."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, Table, event, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.readmodel import create_engine, create_tables, sessions, sqlite_on_loop, sqlite_write_batch

COUNTS = Table("counts", MetaData(), Column("n", Integer, primary_key=True))


async def test_a_call_abandoned_on_the_worker_thread_ends_before_a_write_batch_runs_inline(
    tmp_path: Path,
) -> None:
    """A task cancelled while its call runs on the worker thread (a projector stopped, a rebuild's
    generation switched) leaves the call running there. The connection went back to the pool, and the
    next write batch on it ran its calls on the loop's thread at the same time: one sqlite3 connection
    used by two threads at once, which can crash the process (a segfault in aiosqlite's worker thread
    was seen in a test run). The batch now waits for the abandoned call to end."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}")
    spans: dict[str, tuple[float, float]] = {}

    def slow() -> None:
        began = time.monotonic()
        time.sleep(0.3)
        spans["worker thread"] = (began, time.monotonic())

    def quick() -> None:
        spans["write batch"] = (time.monotonic(), time.monotonic())

    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            aio = raw.driver_connection
            assert aio is not None
            abandoned = asyncio.create_task(aio._execute(slow))
            await asyncio.sleep(0.05)  # the slow call is running on the worker thread
            abandoned.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await abandoned
            with sqlite_write_batch():
                await aio._execute(quick)
            await asyncio.sleep(0.4)
    finally:
        await engine.dispose()
    assert spans["write batch"][0] >= spans["worker thread"][1], spans


def traced_threads(engine: AsyncEngine) -> list[tuple[str, bool]]:
    """Each statement SQLite runs on the engine's connections, and whether it ran on this thread."""
    here = threading.get_ident()
    seen: list[tuple[str, bool]] = []

    def traced(statement: str) -> None:  # called by sqlite3 on the thread that runs the statement
        seen.append(
            (
                statement.split()[0].upper() + (" IMMEDIATE" in statement) * " IMMEDIATE",
                threading.get_ident() == here,
            )
        )

    @event.listens_for(engine.sync_engine, "connect")
    def trace(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.driver_connection._connection.set_trace_callback(traced)

    return seen


async def test_inside_sqlite_on_loop_every_call_runs_on_the_loops_thread_in_a_deferred_transaction(
    tmp_path: Path,
) -> None:
    """The fast loader (``shakti.fastload``) waits on every call in turn: a trip to aiosqlite's worker
    thread and back costs more than the statement. Its transactions begin as any other (deferred): a
    read must not take the file's write lock."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'read-model.db'}")
    seen = traced_threads(engine)
    try:
        await create_tables(engine, COUNTS.metadata)
        opened = sessions(engine)

        async def write_and_read(n: int) -> None:
            async with opened.begin() as session:
                await session.execute(insert(COUNTS).values(n=n))
            async with opened() as session:
                assert n in (await session.scalars(select(COUNTS.c.n))).all()

        seen.clear()
        await write_and_read(1)
        elsewhere = list(seen)
        seen.clear()
        with sqlite_on_loop():
            await write_and_read(2)
        on_loop = list(seen)
    finally:
        await engine.dispose()
    assert ("INSERT", False) in elsewhere and ("SELECT", False) in elsewhere, elsewhere
    assert on_loop and all(here for _, here in on_loop), on_loop
    assert {"BEGIN", "INSERT", "SELECT", "COMMIT"} <= {statement for statement, _ in on_loop}, on_loop
    assert "BEGIN IMMEDIATE" not in {statement for statement, _ in on_loop}, on_loop


async def test_on_the_loop_a_file_another_connection_is_writing_is_waited_for_off_the_loop(
    tmp_path: Path,
) -> None:
    """A statement that finds another connection (here a plain sqlite3 one; in production another
    process) holding the write lock waits for it on the worker thread: the loop goes on meanwhile, and
    the statement is done once the other commits."""
    path = tmp_path / "read-model.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    try:
        await create_tables(engine, COUNTS.metadata)
        other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO counts (n) VALUES (1)")
        threading.Timer(0.5, other.execute, ("COMMIT",)).start()
        ticker = asyncio.create_task(ticking())
        began = time.monotonic()
        with sqlite_on_loop():
            async with sessions(engine).begin() as session:
                await session.execute(insert(COUNTS).values(n=2))
        waited = time.monotonic() - began
        ticker.cancel()
        async with sessions(engine)() as session:
            stored = sorted((await session.scalars(select(COUNTS.c.n))).all())
        other.close()
    finally:
        await engine.dispose()
    assert stored == [1, 2]
    assert waited >= 0.4, waited
    assert ticks >= 20, f"the loop ticked {ticks} times in {waited:.2f} s"
