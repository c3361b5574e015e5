"""Projections: events from one or more streams folded into a service's own read-model tables.

Each projection keeps, per source stream, the stream sequence it has applied up to (its checkpoint)
in the same transaction as the rows it changes, so a crash anywhere loses nothing and applies
nothing twice. The checkpoint is the only record of progress: each process reads the events of its
filter from checkpoint + 1 in stream order with batched direct gets (no consumer: nothing to create,
name or permit per process), and a batch's transaction locks the checkpoint row and skips what is
already applied. So several replicas of a service may share one read model: whichever commits first
applies an event, the others skip it. (A durable consumer shared by replicas cannot give this: two
replicas can hold two adjacent batches at once, and the later one committing first would make the
earlier one look applied.)

Once caught up, a stream's reader waits for a doorbell, a plain subscription to its filter subjects that
rings when something new is stored (``shared.eventstore.Tail``). Following live, one applier takes what
every stream's reader has read and applies it in one transaction; with a gathering window
(``Settings.projection_gather_ms``) an event waits, from when it is read, for the rest of its burst,
unless somebody waits for the read model to hold it (``Projector.waited_on``).

A rebuild projects into a new *generation* of tables from sequence 1 while queries keep reading
the current generation, then switches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Generic, NamedTuple, TypeVar

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

from shared.bus import JETSTREAM_API_TIMEOUT
from shared.dispatch import ByEventType
from shared.errors import ReadModelBehind
from shared.events import HEADER_TYPE, Envelope, utcnow
from shared.eventstore import FOLLOWER_RETRY_SECONDS, DirectReader, Tail, decode_message, stored_sequence
from shared.readmodel import create_tables, one_statement, sessions, sqlite_write_batch, write_lock
from shared.rows import Rows
from shared.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")
Found = TypeVar("Found")

SLICE_SECONDS = 0.005
"""How long a batch holds the event loop before handing it over (checked between events, so one slow
event can hold it longer): a batch applied on the loop's thread
(SQLite, ``sqlite_write_batch``) runs without awaiting anything, and meanwhile no reaction, request
or other read model of the process moves."""


class LoopSlices:
    """Hands the event loop to the other tasks whenever a slice of it has been used."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._until = self._loop.time() + SLICE_SECONDS

    async def share(self) -> None:
        if self._loop.time() >= self._until:
            await asyncio.sleep(0)
            self._until = self._loop.time() + SLICE_SECONDS


bookkeeping = MetaData()
generations = Table(
    "projection_generation",
    bookkeeping,
    Column("projection", String(100), primary_key=True),
    Column("active", Integer, nullable=False),
)
checkpoints = Table(
    "projection_checkpoint",
    bookkeeping,
    Column("projection", String(100), primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("stream", String(50), primary_key=True),
    Column("sequence", Integer, nullable=False),
)
parked_events = Table(
    "parked_event",
    bookkeeping,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("projection", String(100), nullable=False, index=True),
    # A rebuild parks again what still fails; keeping each generation's own record means a retry
    # after a rebuild cannot apply an event to the new tables twice.
    Column("generation", Integer, nullable=False, server_default="1"),
    Column("stream", String(50), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("event_type", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False),
)


class Projection(ByEventType, Generic[T]):
    """What a read model is: its tables (``T``, a namespace of Table objects) and how events change them.

    Each event type it reads has a small handler marked ``@handles(EventType)``, called with the
    batch's ``Rows``, the tables, the event and its envelope; events no handler names are skipped
    without being decoded. The rows a batch changes are written once, as a set, with the batch's
    checkpoint in the same transaction."""

    name: str
    sources: ClassVar[Mapping[str, str]]
    """Stream name -> the subject filter of the events this projection reads from it."""

    def define(self, metadata: MetaData, prefix: str) -> T:
        raise NotImplementedError

    async def open(self, settings: Settings, engine: AsyncEngine) -> None:
        """What the projection needs besides its tables, opened before it applies any event by whoever
        runs it (a service, a restore, a consistency check): intake's case register opens the key store,
        to index a registration's sealed phone. The default needs nothing."""

    async def close(self) -> None:
        """Let go of what ``open`` opened."""

    async def prefetch(self, rows: Rows, tables: T, envelopes: list[Envelope]) -> None:
        """Read at once the rows a batch's events will change (``Rows.prefetch``), before they are applied
        one by one; without it each new row is read by its own query. The default reads nothing."""

    async def apply(self, rows: Rows, tables: T, envelope: Envelope) -> None:
        handler = self.handler(envelope.event_type)
        if handler is not None:
            await handler(rows, tables, envelope.event(), envelope)

    def wants(self, event_type: str) -> bool:
        """Might this event change the read model? (A projection that overrides ``apply`` sees all.)"""
        return type(self).apply is not Projection.apply or event_type in self.handler_names


@contextlib.asynccontextmanager
async def folded(
    projection: Projection[T], envelopes: Sequence[Envelope]
) -> AsyncIterator[tuple[async_sessionmaker[AsyncSession], T]]:
    """The read model of these events alone, in memory, for as long as the block runs: a record as it
    stood at a past moment is its projection applied to the events up to then, read by its own queries.
    The events are applied in the order given (each stream's in its own order, as a projector would)."""
    engine = create_async_engine("sqlite+aiosqlite://", poolclass=StaticPool)
    try:
        metadata = MetaData()
        tables = projection.define(metadata, "")
        async with engine.begin() as connection:
            await connection.run_sync(metadata.create_all)
        opened = async_sessionmaker(engine, expire_on_commit=False)
        async with opened.begin() as session:
            rows = Rows(session)
            await projection.prefetch(rows, tables, list(envelopes))
            for envelope in envelopes:
                await projection.apply(rows, tables, envelope)
            await rows.flush()
        yield opened, tables
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class ParkedEvent:
    id: int
    projection: str
    stream: str
    sequence: int
    event_type: str
    reason: str
    attempts: int
    parked_at: datetime
    generation: int = 1


def _database_trouble(error: Exception) -> bool:
    """The database failed (lock timeout, lost connection, deadlock), not the event: parking the
    event would drop it from the read model for a passing fault, so the batch fails and is retried."""
    return isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


# How often a process looks whether another process's rebuild switched generations, and how long a
# rebuild waits after its switch before dropping the old tables (so that every process has moved on).
GENERATION_CHECK_SECONDS = 1.0
OLD_GENERATION_GRACE_SECONDS = 2.5 * GENERATION_CHECK_SECONDS
DROP_ATTEMPTS = 5
# Following live, how long an event read waits for the rest of its burst (the projection's other
# streams, more of its own) before they are applied together: a case's events reach a read model from
# several streams within tens of milliseconds, and each transaction pays its BEGIN, its checkpoint and
# the reads of the rows it changes. Nothing is held while somebody waits for the read model to hold
# what was written (the web front after each command, ``shared/written.py``). The platform's window is
# ``Settings.projection_gather_ms`` (100 ms by default); a projector made without settings (a test, a
# tool) holds nothing.
GATHER_SECONDS = 0.0
READ_AHEAD_PAGES = 64
"""Pages the readers of a projection may hold for its applier (each of up to ``batch_size`` events)."""
# How long a command that found the read model lacking something waits for it to catch up before it
# answers 'try again' (``require_current``), and how often it (and a reader waiting after a command,
# ``applied_through``) looks meanwhile.
CURRENT_WAIT_SECONDS = 3.0
CURRENT_POLL_SECONDS = 0.02
CURRENT_REASK_SECONDS = 0.2
# A look reads forward from a checkpoint at most this many stream sequences behind the stream's end
# (``_first_unapplied``).
FORWARD_READ_MOST = 2000


class _BatchFailed(Exception):
    """An event of the batch failed to apply: the batch is redone event by event, to park it alone."""


class _CheckpointsMoved(Exception):
    """Another replica moved some of the batch's checkpoints: the batch is redone, reading them first."""


StreamPage = tuple[str, list[Msg], int]
"""A stream, messages read from it in order, and its checkpoint as this process last saw it."""


class ReadPage(NamedTuple):
    """A page a live reader read for the applier, and when (the event loop's clock)."""

    stream: str
    msgs: list[Msg]
    read_at: float


Progress = Callable[[int, int], None]
FaultHook = Callable[[str], Awaitable[None]]


class _Generation(Generic[T]):
    def __init__(self, projection: Projection[T], number: int) -> None:
        self.number = number
        self.metadata = MetaData()
        self.tables = projection.define(self.metadata, f"{projection.name}_g{number}_")


class Projector(Generic[T]):
    """Runs one projection: creates its tables, feeds it events, rebuilds it, parks what fails."""

    def __init__(
        self,
        projection: Projection[T],
        engine: AsyncEngine,
        nc: NatsClient,
        *,
        batch_size: int = 256,
        max_attempts: int = 3,
        fault: FaultHook | None = None,
        gather_seconds: float = GATHER_SECONDS,
    ) -> None:
        self.projection = projection
        self.engine = engine
        self.sessions = sessions(engine)
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
        self.reader = DirectReader(nc)
        self.batch_size = batch_size
        self.gather_seconds = gather_seconds
        self.max_attempts = max_attempts
        self.fault = fault
        self._generation: _Generation[T] | None = None
        self._generation_checked_at = float("-inf")
        self._write = write_lock(engine)
        self.applied = 0
        self._start_targets: dict[str, int] = {}
        self._caught_up_with_start = False
        self._waiting = 0
        self._waited = asyncio.Event()

    @property
    def name(self) -> str:
        return self.projection.name

    @property
    def tables(self) -> T:
        """The tables queries should read: the active generation's."""
        if self._generation is None:
            raise RuntimeError(f"projection {self.name} is not set up")
        return self._generation.tables

    async def setup(self) -> None:
        await create_tables(self.engine, bookkeeping)
        active = await self._active_or_first()
        lacking = await self._lacking(active)
        if lacking:
            log.warning(
                "projection %s: its tables lack %s (a new version of them): it is projected anew from "
                "the streams into generation %d, and answers once caught up",
                self.name, lacking, active + 1,
            )  # fmt: skip
            active = await self._start_anew(active)
        self._generation = await self._open_generation(active)
        # Where each source stood at start: until the read model has got there, it cannot answer
        # for what was stored before the process (re)started (``caught_up_with_start``).
        self._start_targets = {
            stream: await self._last_matching(stream) for stream in self.projection.sources
        }

    async def caught_up_with_start(self) -> bool:
        """Has the read model applied every event stored when it was set up? Once true, stays true."""
        if not self._caught_up_with_start:
            for stream, target in self._start_targets.items():
                if await self.checkpoint(stream) < target:
                    return False
            self._caught_up_with_start = True
        return True

    async def require_current(self, timeout: float = CURRENT_WAIT_SECONDS) -> None:
        """Wait until this read model has applied what it reads of the streams as they are now (nothing
        held for the gathering window meanwhile); ``ReadModelBehind`` when it has not within ``timeout``.

        For a command about to refuse because the read model lacks something: that may only mean
        'not yet', so the command looks again once this returns. Asked at that moment, not before every
        command (it costs a few looks at each stream, and more at each it is behind on)."""
        deadline = asyncio.get_running_loop().time() + timeout
        with self.waited_on():
            # For what each stream holds now, not for what it holds later: under load it keeps growing.
            ends = {stream: await self._stream_end(stream) for stream in self.projection.sources}
            for stream, end in ends.items():
                if not await self.applied_through(stream, end, deadline):
                    raise ReadModelBehind(self.name)

    async def find(
        self,
        query: Callable[[], Awaitable[Found | None]],
        visible: Callable[[Found], bool] = lambda _: True,
    ) -> Found | None:
        """What ``query`` finds in this read model that the caller may see (``visible``); when it finds
        nothing, what it finds once the read model holds what the streams hold now
        (``require_current``): a record written a moment ago, by a command whose client acts on its
        answer at once, is found rather than answered 'not found'.

        A record the caller may not see counts as none found, so that it is answered as late as one
        that does not exist (a 404 at once for a record outside their reach, after a look for a record
        that is nowhere, would tell the two apart), and a record moved into their reach a moment ago is
        looked at again."""
        found = await query()
        if found is None or not visible(found):
            await self.require_current()
            found = await query()
        return found if found is not None and visible(found) else None

    async def _lacking(self, number: int) -> str | None:
        """What of this version's tables generation ``number`` lacks (a table, or columns of one), once
        it holds events; None when it lacks nothing or holds nothing yet (its tables are then made as
        they are now). An upgrade that adds to a read model would otherwise fail every query on the old
        tables until someone remembered to rebuild it."""
        async with self.sessions() as session:
            applied = await session.scalar(
                select(func.max(checkpoints.c.sequence)).where(
                    checkpoints.c.projection == self.name, checkpoints.c.generation == number
                )
            )
        if not applied:
            return None
        wanted = _Generation(self.projection, number).metadata

        def compare(connection: Connection) -> str | None:
            found = inspect(connection)
            for table in wanted.sorted_tables:
                if not found.has_table(table.name):
                    return f"table {table.name}"
                have = {column["name"] for column in found.get_columns(table.name)}
                if missing := [column.name for column in table.columns if column.name not in have]:
                    return f"{table.name}.{', '.join(missing)}"
            return None

        async with self.engine.connect() as connection:
            return await connection.run_sync(compare)

    async def _start_anew(self, old: int) -> int:
        """Make generation ``old`` + 1 with this version's tables, empty, and make it the active one, so
        that the projector fills it from sequence 1; returns the active generation. One process does it
        (the generation's row is locked, SQLite's whole file), the others find it done. The old tables
        stay for processes of the old version still reading them; the next rebuild drops them."""
        new = old + 1
        fresh = _Generation(self.projection, new)
        async with self._writing(inline=False) as session:
            active: int | None = await session.scalar(
                select(generations.c.active).where(generations.c.projection == self.name).with_for_update()
            )
            if active is not None and active != old:
                return active  # another process started it anew first
            await self._drop_tables_of(session, new)  # what a dead rebuild left
            await session.run_sync(lambda s: fresh.metadata.create_all(s.connection()))
            await session.execute(
                update(generations).where(generations.c.projection == self.name).values(active=new)
            )
        return new

    @contextlib.asynccontextmanager
    async def _writing(self, *, inline: bool = True) -> AsyncIterator[AsyncSession]:
        """A transaction that holds the write lock from its start: this process's lock on the database,
        and on SQLite the file's (BEGIN IMMEDIATE). A transaction that reads before it writes cannot wait
        for the lock in WAL mode once another process has committed in between: SQLite answers
        'database is locked' at once. ``inline=False`` for dropping tables (see ``sqlite_write_batch``)."""
        async with self._write:
            with sqlite_write_batch(inline=inline):
                async with self.sessions.begin() as session:
                    yield session

    async def _active_or_first(self) -> int:
        """The active generation's number, recorded as 1 when there is none yet."""
        row = {"projection": self.name, "active": 1}
        try:
            async with self._writing() as session:
                active = await self._stored_active(session)
                if active is not None:
                    return active
                await session.execute(insert(generations).values(**row))
                return 1
        except IntegrityError:  # another process starting at the same moment recorded it first
            async with self.sessions() as session:
                return await self._stored_active(session) or 1

    async def _stored_active(self, session: AsyncSession) -> int | None:
        active: int | None = await session.scalar(
            select(generations.c.active).where(generations.c.projection == self.name)
        )
        return active

    async def follow_generation(self) -> None:
        """Move to the generation a rebuild in another process switched to (queries and followers
        alike); at most once per GENERATION_CHECK_SECONDS."""
        now = asyncio.get_running_loop().time()
        if now - self._generation_checked_at < GENERATION_CHECK_SECONDS:
            return
        self._generation_checked_at = now
        seen = self._generation
        async with one_statement(self.sessions) as session:
            active = await self._stored_active(session)
        # What was read while this process's own rebuild switched (this waited on the database
        # meanwhile) is where it was, not where it is: moving 'back' to it read tables the rebuild then
        # dropped ("no such table" in bench.state's rebuild, a full CI run).
        if active is None or self._generation is not seen or active == self._active_number():
            return
        opened = await self._open_generation(active)
        if self._generation is seen:
            log.info("projection %s: generation %d is active (rebuilt elsewhere)", self.name, active)
            self._generation = opened

    async def watch_generation(self) -> None:
        """For a process that keeps no read model but answers from it: follow rebuilds forever."""
        while True:
            await self.follow_generation()
            await asyncio.sleep(GENERATION_CHECK_SECONDS)

    async def _open_generation(self, number: int) -> _Generation[T]:
        generation = _Generation(self.projection, number)
        await create_tables(self.engine, generation.metadata)
        return generation

    async def checkpoint(self, stream: str, generation: int | None = None) -> int:
        async with one_statement(self.sessions) as session:
            return await self._checkpoint(session, stream, generation or self._active_number())

    def _active_number(self) -> int:
        return self._generation.number if self._generation else 1

    async def _checkpoint(self, session: AsyncSession, stream: str, generation: int) -> int:
        row = await session.scalar(
            select(checkpoints.c.sequence)
            .where(
                checkpoints.c.projection == self.name,
                checkpoints.c.generation == generation,
                checkpoints.c.stream == stream,
            )
            .with_for_update()
        )
        return int(row or 0)

    async def _wait_for_stream(self, stream: str) -> None:
        while True:
            try:
                await self.js.stream_info(stream)
                return
            except NotFoundError:
                log.info("projection %s waits for stream %s", self.name, stream)
                await asyncio.sleep(1.0)

    async def _ensure_checkpoint_row(self, stream: str, generation: int) -> None:
        """Create the checkpoint row before any batch, so that every batch's transaction locks and
        updates an existing row: two replicas can then never both insert the first checkpoint."""
        key = (
            checkpoints.c.projection == self.name,
            checkpoints.c.generation == generation,
            checkpoints.c.stream == stream,
        )
        row = {"projection": self.name, "generation": generation, "stream": stream, "sequence": 0}
        with contextlib.suppress(IntegrityError):  # another replica created it first
            async with self._writing() as session:
                if not await session.scalar(select(func.count()).where(*key)):
                    await session.execute(insert(checkpoints).values(**row))

    async def run(self) -> None:
        """Apply events forever (until cancelled): a reader per source stream, one applier for all.

        When a rebuild switches generations, the followers of the old one stop and the new
        generation's take over from where the rebuild left it."""
        while self.projection.sources:
            await self.follow_generation()
            generation = self._active_number()
            read: asyncio.Queue[ReadPage | None] = asyncio.Queue(READ_AHEAD_PAGES)
            expected: dict[str, int] = {}
            async with asyncio.TaskGroup() as group:
                for stream in self.projection.sources:
                    group.create_task(self._read_live(stream, generation, read, expected))
                group.create_task(self._apply_live(generation, read, expected))

    async def _read_live(
        self,
        stream: str,
        generation: int,
        read: asyncio.Queue[ReadPage | None],
        expected: dict[str, int],
    ) -> None:
        """Read a stream's pages for the applier until a rebuild switches generations (then None)."""
        await self._wait_for_stream(stream)
        await self._ensure_checkpoint_row(stream, generation)
        expected[stream] = await self.checkpoint(stream, generation)
        subject = self.projection.sources[stream]
        async with Tail(self.reader, stream, subject, after=expected[stream], batch=self.batch_size) as tail:
            while True:
                if (current := asyncio.current_task()) is not None and current.cancelling():
                    raise asyncio.CancelledError  # see _follow
                await self.follow_generation()
                if generation != self._active_number():
                    await read.put(None)
                    return
                tail.move_to(expected[stream])  # beyond what it read when another replica got further
                if msgs := await tail.next_page(GENERATION_CHECK_SECONDS):
                    await read.put(ReadPage(stream, msgs, asyncio.get_running_loop().time()))

    async def _apply_live(
        self,
        generation: int,
        read: asyncio.Queue[ReadPage | None],
        expected: dict[str, int],
    ) -> None:
        """Apply what the readers read, every stream's pages of a moment in one transaction."""
        readers = len(self.projection.sources)
        while readers:
            first = await read.get()
            pages = [first]
            # What follows the first page within the window (the reactions' events, other streams')
            # goes with it.
            if first is not None and len(first.msgs) < self.batch_size:
                await self._hold(first.read_at + self.gather_seconds)
            size = len(first.msgs) if first is not None else 0
            while size < self.batch_size and not read.empty():
                page = read.get_nowait()
                pages.append(page)
                size += len(page.msgs) if page is not None else 0
            readers -= pages.count(None)
            gathered: dict[str, list[Msg]] = {}
            for page in pages:
                if page is not None:
                    gathered.setdefault(page.stream, []).extend(page.msgs)
            if not gathered:
                continue
            applied = await self._apply_pages(
                generation, [(stream, msgs, expected[stream]) for stream, msgs in gathered.items()]
            )
            # None: the generation was dropped while this batch waited. What the readers read until
            # they see the switch is taken and dropped, so that none waits on a full queue.
            if applied is not None:
                expected.update(applied)

    async def _hold(self, until: float) -> None:
        """Wait until ``until`` (the loop's clock) for the rest of a burst, or until somebody waits for
        this read model to hold what it has read."""
        if self._waited.is_set() or until <= asyncio.get_running_loop().time():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(until):
                await self._waited.wait()

    @contextlib.contextmanager
    def waited_on(self) -> Iterator[None]:
        """While somebody waits for this read model to hold what was written (a page after a command),
        nothing read is held for the gathering window: what is held is applied at once."""
        self._waiting += 1
        self._waited.set()
        try:
            yield
        finally:
            self._waiting -= 1
            if not self._waiting:
                self._waited.clear()

    def _is_open(self, generation: int) -> bool:
        return any(g is not None and g.number == generation for g in (self._generation, self._building))

    async def _follow(self, stream: str, generation: int, until: int) -> None:
        """Apply a stream from the checkpoint on until the checkpoint reaches ``until`` (catching up,
        rebuilding: the events are there already, on the stream's leader at least)."""
        await self._wait_for_stream(stream)
        await self._ensure_checkpoint_row(stream, generation)
        done = await self.checkpoint(stream, generation)
        subject = self.projection.sources[stream]
        async with Tail(self.reader, stream, subject, after=done, batch=self.batch_size) as tail:
            while done < until:
                if (current := asyncio.current_task()) is not None and current.cancelling():
                    # Python 3.11's wait_for loses a cancellation that lands just as a wait completes:
                    # without this check the follower would read on forever.
                    raise asyncio.CancelledError
                msgs = await tail.next_page(0)
                if not msgs:
                    # Another replica sharing the read model may have applied what this waits for.
                    done = await self.checkpoint(stream, generation)
                    tail.move_to(done)
                    await asyncio.sleep(FOLLOWER_RETRY_SECONDS)
                    continue
                applied = await self._apply_pages(generation, [(stream, msgs, done)])
                if applied is None:
                    return  # the generation was dropped while this batch waited
                done = applied[stream]
                tail.move_to(done)  # beyond this page when another replica got further

    async def _apply_pages(self, generation: int, pages: list[StreamPage]) -> dict[str, int] | None:
        """Apply fetched pages (each stream's messages in order, and the checkpoint this process last
        saw there) and their checkpoints in one transaction; returns each stream's new checkpoint.

        The batch is first applied in one go; only if an event fails is it redone with a savepoint
        per event, so that the failing event alone is parked. Savepoints for every event would
        triple the statements of the common case."""
        async with self._write:
            if not self._is_open(generation):
                return None
            tables = self._tables_for(generation)
            careful = read = False
            with sqlite_write_batch():
                while True:
                    try:
                        done, last = await self._commit_batch(
                            generation, tables, pages, careful=careful, read=read
                        )
                        break
                    except _CheckpointsMoved:
                        read = True
                    except _BatchFailed:
                        careful = True
        if self.fault:
            await self.fault("committed")
        self.applied += sum(
            1 for stream, msgs, _ in pages for msg in msgs if stored_sequence(msg) > done[stream]
        )
        return last

    async def _commit_batch(
        self, generation: int, tables: T, pages: list[StreamPage], *, careful: bool, read: bool = False
    ) -> tuple[dict[str, int], dict[str, int]]:
        """Apply the pages in a transaction; returns each stream's checkpoint before and after.
        ``read``: the checkpoints are read first (another replica moved one, or this is a redo)."""
        async with self.sessions.begin() as session:
            rows = Rows(session)
            done = await self._take_checkpoints(session, generation, pages, read=read)
            last = dict(done)
            pending: list[Envelope] = []
            slices = LoopSlices()
            for stream, msgs, _ in pages:
                for msg in msgs:
                    await slices.share()
                    seq = stored_sequence(msg)
                    if seq <= done[stream]:
                        continue  # applied already, by another replica or before a restart
                    last[stream] = seq
                    if not self.projection.wants((msg.headers or {}).get(HEADER_TYPE, "")):
                        continue
                    if careful:
                        await self._apply_one(rows, tables, msg, stream, seq, generation)
                        continue
                    try:
                        pending.append(self._envelope(msg, stream, seq))
                    except Exception as error:  # the careful pass parks what cannot be decoded
                        raise _BatchFailed from error
            try:
                if pending:
                    await self.projection.prefetch(rows, tables, pending)
                for envelope in pending:
                    await self.projection.apply(rows, tables, envelope)
                    await slices.share()
            except Exception as error:  # the transaction rolls back; the careful pass follows
                if _database_trouble(error):
                    raise
                raise _BatchFailed from error
            try:
                await rows.flush()
            except Exception as error:  # a row no event alone could be blamed for: event by event
                if _database_trouble(error) or careful:
                    raise
                raise _BatchFailed from error
            if self.fault:
                await self.fault("applied")
        return done, last

    async def _take_checkpoints(
        self, session: AsyncSession, generation: int, pages: list[StreamPage], *, read: bool
    ) -> dict[str, int]:
        """Each stream's checkpoint, moved to the end of its page in this transaction.

        Moving the checkpoints first, from where this process left them, takes their rows' locks as a
        SELECT FOR UPDATE would, and saves a statement per batch: one statement moves every stream's.
        Only when another replica moved one meanwhile are they read, and the batch applied from there
        (raising ``_CheckpointsMoved`` when some rows already moved: the transaction is redone)."""
        ends = {stream: stored_sequence(msgs[-1]) for stream, msgs, _ in pages}
        if not read and all(ends[stream] > expected for stream, _, expected in pages):
            moved = await self._move_checkpoints(session, generation, pages, ends)
            if moved == len(pages):
                return {stream: expected for stream, _, expected in pages}
            if moved:
                raise _CheckpointsMoved
        done = {}
        for stream, _, _ in pages:
            done[stream] = await self._checkpoint(session, stream, generation)
            if ends[stream] > done[stream]:
                await self._save_checkpoint(session, stream, generation, ends[stream])
        return done

    @staticmethod
    def _envelope(msg: Msg, stream: str, seq: int) -> Envelope:
        return decode_message(msg.data, msg.headers or {}, stream, sequence=seq)

    async def _move_checkpoints(
        self, session: AsyncSession, generation: int, pages: list[StreamPage], ends: dict[str, int]
    ) -> int:
        """Move each stream's checkpoint from where this process saw it to ``ends``; how many moved."""
        c = checkpoints.c
        moved = await session.execute(
            update(checkpoints)
            .where(
                c.projection == self.name,
                c.generation == generation,
                or_(*(and_(c.stream == stream, c.sequence == expected) for stream, _, expected in pages)),
            )
            .values(sequence=ends[pages[0][0]] if len(pages) == 1 else case(ends, value=c.stream))
        )
        return int(moved.rowcount)  # type: ignore[attr-defined]

    async def _save_checkpoint(self, session: AsyncSession, stream: str, generation: int, last: int) -> None:
        await session.execute(
            update(checkpoints)
            .where(
                checkpoints.c.projection == self.name,
                checkpoints.c.generation == generation,
                checkpoints.c.stream == stream,
            )
            .values(sequence=last)
        )

    async def _apply_one(
        self, rows: Rows, tables: T, msg: Msg, stream: str, seq: int, generation: int
    ) -> None:
        session = rows.session
        reason = ""
        for _ in range(self.max_attempts):
            try:
                async with session.begin_nested():
                    # Decoding is inside: a message that is not an envelope is parked like a bad event.
                    await self.projection.apply(rows, tables, self._envelope(msg, stream, seq))
                    await rows.flush()
                return
            except Exception as error:  # a bug or bad data in one event must not stop the read model
                rows.forget()  # its half-made changes went with the savepoint; reread what is needed
                if _database_trouble(error):
                    raise
                reason = f"{type(error).__name__}: {error}"[:2000]
        event_type = (msg.headers or {}).get(HEADER_TYPE, "?")
        log.error("projection %s parked %s #%d (%s)", self.name, stream, seq, event_type)
        await session.execute(
            insert(parked_events).values(
                projection=self.name,
                generation=generation,
                stream=stream,
                sequence=seq,
                event_type=event_type[:100],
                reason=reason,
                attempts=self.max_attempts,
                parked_at=utcnow(),
            )
        )

    def _tables_for(self, generation: int) -> T:
        if self._generation is not None and self._generation.number == generation:
            return self._generation.tables
        if self._building is not None and self._building.number == generation:
            return self._building.tables
        raise RuntimeError(f"generation {generation} of {self.name} is not open")

    _building: _Generation[T] | None = None

    async def lag(self) -> dict[str, int]:
        """How far each source's checkpoint is behind the last event this projection reads there.

        Measured in stream sequences, up to the last *matching* event: other subjects of the stream
        after it are not work to do, and counting them would keep a caught-up projection 'behind'. That
        last event is looked up only when something is left to apply (see ``_first_unapplied``)."""
        lags: dict[str, int] = {}
        for stream in self.projection.sources:
            done = await self.checkpoint(stream)
            behind = await self._first_unapplied(stream, done) is not None
            lags[stream] = max(0, await self._last_matching(stream) - done) if behind else 0
        return lags

    async def catch_up(self, timeout: float = 30.0) -> None:
        """Apply until every source's checkpoint reaches its stream's end as it is now.

        For tests and the consistency check; a running service uses ``run``."""
        generation = self._active_number()
        async with asyncio.timeout(timeout):
            for stream in self.projection.sources:
                target = await self._last_matching(stream)
                if target > await self.checkpoint(stream, generation):
                    await self._follow(stream, generation, until=target)

    async def applied_through(self, stream: str, sequence: int, deadline: float) -> bool:
        """Wait until this read model holds ``stream`` through ``sequence`` (every event it reads up to
        there applied); False if it does not by ``deadline`` (the event loop's clock). The caller holds
        ``waited_on``, so that nothing is held for the gathering window meanwhile."""
        loop = asyncio.get_running_loop()
        done = await self.checkpoint(stream)
        first = await self._first_unapplied(stream, done, through=sequence)
        asked = loop.time()
        while first is not None:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(CURRENT_POLL_SECONDS)
            previous, done = done, await self.checkpoint(stream)
            if done >= sequence:
                return True
            # Past the event it waited for, it asks the stream's leader for the next once the read
            # model pauses, and while it works through a backlog at most every CURRENT_REASK_SECONDS:
            # the many readers a page waits for would otherwise ask at every poll.
            if done >= first and (done == previous or loop.time() >= asked + CURRENT_REASK_SECONDS):
                first = await self._first_unapplied(stream, done, through=sequence)
                asked = loop.time()
        return True

    async def _first_unapplied(self, stream: str, done: int, through: int | None = None) -> int | None:
        """An event this projection reads on ``stream`` after ``done`` (its checkpoint there), stored now
        and at or before ``through`` when given, that it has not applied: the first such event, unless
        the checkpoint is far behind the stream's end; None when there is none.

        Near the end it reads one message forward from the checkpoint, of the stream's leader (a
        follower answering a direct get may not have it yet). It does not ask for 'the last event it
        reads' there: the server answers that for a wildcard filter by looking through every subject
        the filter matches, one per case, a state's year of them (``bench.looks``), and
        ``require_current`` and ``applied_through`` run on requests. Far from the end (a read model of
        rare events, officers' among a year of case events) a forward read would walk every stored block
        after the checkpoint, and the filter's subjects are few: there it asks for the last."""
        if through is not None and done >= through:
            return None
        end = await self._stream_end(stream)
        bound = end if through is None else min(end, through)
        if done >= bound:
            return None
        if end - done > FORWARD_READ_MOST:
            last = await self._last_matching(stream)
            return min(last, bound) if last > done else None
        try:
            msg = await self.js.get_msg(
                stream, seq=done + 1, subject=self.projection.sources[stream], next=True
            )
        except NotFoundError:
            return None
        first: int = msg.seq or 0
        return None if first > bound else first

    async def _stream_end(self, stream: str) -> int:
        """The stream's last sequence, whatever its subject (what the stream holds now; 0 when it is
        gone)."""
        try:
            info = await self.js.stream_info(stream)
        except NotFoundError:
            return 0
        end: int = info.state.last_seq
        return end

    async def _last_matching(self, stream: str) -> int:
        """The last stream sequence this projection's filter selects (0 when none)."""
        try:
            msg = await self.js.get_last_msg(stream, self.projection.sources[stream])
        except NotFoundError:
            return 0
        seq: int = msg.seq or 0
        return seq

    async def rebuild(self, progress: Progress | None = None) -> int:
        """Project from sequence 1 into a new generation, then switch to it and drop the old one.

        Queries keep reading the old generation until the switch. Returns the new generation."""
        self._generation_checked_at = float("-inf")
        await self.follow_generation()
        old = self._active_number()
        new = old + 1
        with contextlib.suppress(RuntimeError):
            await self._drop_generation(new)  # a rebuild that died half-way
        if old > 1:
            with contextlib.suppress(RuntimeError):
                await self._drop_generation(old - 1)  # left by a rebuild that stopped in its grace time
        self._building = await self._open_generation(new)
        targets = {s: await self._last_matching(s) for s in self.projection.sources}
        total = sum(targets.values())
        started = time.monotonic()

        async def report() -> None:
            while True:
                done = 0
                for s in targets:
                    done += await self.checkpoint(s, new)
                if progress:
                    progress(min(done, total), total)
                await asyncio.sleep(0.25)

        reporter = asyncio.create_task(report())
        try:
            for stream, target in targets.items():
                if target:
                    await self._follow(stream, new, until=target)
        finally:
            reporter.cancel()
        if progress:
            progress(total, total)
        async with self._writing() as session:
            await session.execute(
                update(generations).where(generations.c.projection == self.name).values(active=new)
            )
        self._generation, self._building = self._building, None
        # Other processes reading or keeping this read model move over within GENERATION_CHECK_SECONDS.
        await asyncio.sleep(OLD_GENERATION_GRACE_SECONDS)
        await self._drop_old_generation(old)
        log.info("projection %s rebuilt: %d events in %.1fs", self.name, total, time.monotonic() - started)
        return new

    async def _drop_old_generation(self, number: int) -> None:
        """The rebuild is done and in use; its old tables go. A query still reading them (SQLite locks a
        table being read against a drop) is waited for a while; failing that, the tables are left and the
        next rebuild drops them (it drops every generation below the one it replaces)."""
        for attempt in range(1, DROP_ATTEMPTS + 1):
            try:
                await self._drop_generation(number)
                return
            except OperationalError as error:
                if attempt == DROP_ATTEMPTS:
                    log.warning(
                        "projection %s: generation %d left in place (%s); the next rebuild drops it",
                        self.name,
                        number,
                        type(error).__name__,
                    )
                    return
                await asyncio.sleep(0.5 * attempt)

    async def _drop_generation(self, number: int) -> None:
        async with self._writing(inline=False) as session:
            await self._drop_tables_of(session, number)

    async def _drop_tables_of(self, session: AsyncSession, number: int) -> None:
        """A generation's tables, checkpoints and parked events."""
        generation = _Generation(self.projection, number)
        await session.run_sync(lambda s: generation.metadata.drop_all(s.connection()))
        for bookkeeping_table in (checkpoints, parked_events):
            c = bookkeeping_table.c
            await session.execute(
                delete(bookkeeping_table).where(c.projection == self.name, c.generation == number)
            )

    async def parked(self) -> list[ParkedEvent]:
        """The events the active generation parked."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(parked_events)
                .where(
                    parked_events.c.projection == self.name,
                    parked_events.c.generation == self._active_number(),
                )
                .order_by(parked_events.c.id)
            )
            return [ParkedEvent(**row._mapping) for row in rows]

    async def retry_parked(self, parked_id: int | None = None) -> tuple[int, int]:
        """Apply parked events again (one, or all); those that now apply are unparked.

        Returns (applied, still parked)."""
        applied = failed = 0
        for item in await self.parked():
            if parked_id is not None and item.id != parked_id:
                continue
            msg = await self.js.get_msg(item.stream, item.sequence)
            async with self._writing() as session:
                try:
                    envelope = decode_message(msg.data or b"", {}, item.stream, sequence=item.sequence)
                    async with session.begin_nested():
                        rows = Rows(session)
                        await self.projection.apply(rows, self.tables, envelope)
                        await rows.flush()
                except Exception as error:
                    failed += 1
                    await session.execute(
                        update(parked_events)
                        .where(parked_events.c.id == item.id)
                        .values(reason=f"{type(error).__name__}: {error}"[:2000], attempts=item.attempts + 1)
                    )
                    continue
                await session.execute(delete(parked_events).where(parked_events.c.id == item.id))
                applied += 1
        return applied, failed
