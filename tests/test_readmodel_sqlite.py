"""SQLite's connection as the read models use it: a write batch runs its calls on the event loop's
thread, every other call on aiosqlite's worker thread, and never both at once on one connection."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from shared.readmodel import create_engine, sqlite_write_batch


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
