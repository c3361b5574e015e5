"""Read-model databases: one per service, SQLite by default, PostgreSQL at scale, the same code."""

from __future__ import annotations

import asyncio
import contextlib
import random
import sqlite3
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextvars import ContextVar
from functools import partial
from typing import Any

import aiosqlite
from sqlalchemy import MetaData, event
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from shared.observability import READ_MODEL_STATEMENTS

BUSY_TIMEOUT_MS = 30_000
CREATE_ATTEMPTS = 6

_INLINE, _LOCK_FIRST, _ON_LOOP = "inline", "lock first", "on the loop"
_write_batch: ContextVar[str] = ContextVar("sqlite_write_batch", default="")
_one_statement: ContextVar[bool] = ContextVar("one_statement", default=False)


@contextlib.contextmanager
def sqlite_write_batch(*, inline: bool = True) -> Iterator[None]:
    """Inside this block (this task only), SQLite transactions take the write lock when they begin
    and their calls run on the event loop's thread (``inline=False``: on the worker thread, for
    statements that may take long and must not stop the loop: a DROP TABLE overwrites every freed page
    under ``secure_delete``).

    aiosqlite sends every call to a worker thread and back, which costs more than a small statement
    itself: a projection batch runs several times faster on the loop. Holding the write lock from
    BEGIN IMMEDIATE on means no later statement waits for a lock; the BEGIN itself, when another
    connection holds the lock, waits on the worker thread, so the loop never waits for a lock.
    (A deferred transaction that has read cannot wait for the lock at all in WAL mode: SQLite
    answers 'database is locked' at once.) Other tasks, queries among them, keep the worker thread."""
    token = _write_batch.set(_INLINE if inline else _LOCK_FIRST)
    try:
        yield
    finally:
        _write_batch.reset(token)


@contextlib.contextmanager
def sqlite_on_loop() -> Iterator[None]:
    """Inside this block (this task and those it starts), every SQLite call runs on the event loop's
    thread, and transactions begin as usual (deferred). For a process that only works through a
    history and serves nobody meanwhile (``shakti.fastload``): there each call's trip to aiosqlite's
    worker thread and back is time the loop spends waiting, several times what the statement costs.
    A statement that finds another connection holding the lock waits for it on the worker thread if its
    transaction has read nothing yet; one that has read fails at once, as it would there (WAL mode)."""
    token = _write_batch.set(_ON_LOOP)
    try:
        yield
    finally:
        _write_batch.reset(token)


@contextlib.contextmanager
def apart_from_write_batch() -> Iterator[None]:
    """Inside a write batch, a read on another connection of the same SQLite file (intake's case
    register reads a case's key from the key store): an ordinary deferred transaction on the worker
    thread, which WAL lets read beside the batch's writer. Taking the write lock there, as the batch's
    own transactions do, would wait for the batch itself."""
    token = _write_batch.set("")
    try:
        yield
    finally:
        _write_batch.reset(token)


@contextlib.asynccontextmanager
async def one_statement(opened: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for a read of one statement: on SQLite it begins no transaction of its own, whose
    BEGIN would be a second statement (a process manager's look at one row, a projector's look at its
    generation, once a second). One SELECT is consistent by itself; two in this session would not see
    the file at one moment. On PostgreSQL an ordinary session."""
    token = _one_statement.set(True)
    try:
        async with opened() as session:
            yield session
    finally:
        _one_statement.reset(token)


class _SqliteConnection(aiosqlite.Connection):
    """An aiosqlite connection that runs calls inline inside ``sqlite_write_batch`` and
    ``sqlite_on_loop``."""

    def __init__(self, connector: Callable[[], sqlite3.Connection], iter_chunk_size: int) -> None:
        super().__init__(connector, iter_chunk_size)
        self._busy_timeout_ms = BUSY_TIMEOUT_MS
        self._abandoned = False
        """A call whose caller was cancelled may still run on the worker thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        db = self._connection
        if _write_batch.get() in (_INLINE, _ON_LOOP) and db is not None and self._running:
            if self._abandoned:
                # The worker thread takes calls in order: when this one returns, that call has ended.
                await self._on_worker_thread(_nothing)
                self._abandoned = False
            if self._busy_timeout_ms:
                db.execute("PRAGMA busy_timeout = 0")
                self._busy_timeout_ms = 0
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:
                    raise
                # Another connection holds the lock: wait for it on the worker thread, not here.
        if db is not None and self._busy_timeout_ms != BUSY_TIMEOUT_MS:
            await self._on_worker_thread(db.execute, f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._busy_timeout_ms = BUSY_TIMEOUT_MS
        return await self._on_worker_thread(fn, *args, **kwargs)

    async def _on_worker_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        except asyncio.CancelledError:
            self._abandoned = True
            raise


def _nothing() -> None:
    return None


def _connect_sqlite(database: str, **kwargs: Any) -> aiosqlite.Connection:
    # The sqlite3 connection is opened on the worker thread and also used on the loop's thread
    # (never both at once: every call is awaited), hence check_same_thread=False.
    connector = partial(sqlite3.connect, database, **{**kwargs, "check_same_thread": False})
    connection = _SqliteConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy does: an unclosed connection must not hold the exit
    return connection


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(
            url,
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "async_creator_fn": _connect_sqlite},
            **kwargs,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # The sqlite3 driver begins transactions lazily and lets a SAVEPOINT commit on release;
            # take transaction control back so savepoints nest inside a real transaction.
            dbapi_connection.isolation_level = None
            # WAL lets the web front read while a projection writes.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if _write_batch.get() in (_INLINE, _LOCK_FIRST):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif not _one_statement.get():
                conn.exec_driver_sql("BEGIN")

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def count_statements(engine: AsyncEngine, service: str) -> None:
    """Count the statements the engine sends (``shakti_read_model_statements_total``): the read
    models' cost per case is a figure operators and ``bench.e2e`` watch, not a guess."""
    counted = READ_MODEL_STATEMENTS.labels(service)

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _count(*_: Any) -> None:
        counted.inc()


_writers: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = weakref.WeakKeyDictionary()


def write_lock(engine: AsyncEngine) -> asyncio.Lock:
    """One writer at a time per database in this process: SQLite allows one, and a queue beats
    a 'database is locked' retry."""
    lock = _writers.get(engine)
    if lock is None:
        lock = _writers[engine] = asyncio.Lock()
    return lock


async def create_tables(engine: AsyncEngine, metadata: MetaData) -> None:
    """Create what is missing of ``metadata``, safe when several processes start at the same moment.

    On SQLite the transaction takes the file's write lock before it looks (a transaction that has read
    cannot wait for the lock once another process committed: 'database is locked' at once), so a
    second process waits and then finds the tables. On PostgreSQL two processes creating one table at
    once make the loser fail with a duplicate 'pg_type' key or 'relation already exists'; tried
    again, it finds the table there."""
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            with sqlite_write_batch(inline=False):
                async with engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
            return
        except (IntegrityError, OperationalError, ProgrammingError):
            if attempt == CREATE_ATTEMPTS:
                raise
            await asyncio.sleep(random.uniform(0.05, 0.2) * attempt)


def sessions(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)
