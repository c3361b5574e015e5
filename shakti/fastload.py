"""The fast way to load a history: the services' own commands, reactions and timers, run in this process
on the in-memory event store, then appended to the JetStream streams in large batches.

Going through the platform on NATS costs a round of requests, appends, deliveries and projections per
step, one step after another (about 6 requests a second here). Here the five services are built as
``shakti up`` builds them (their ``ServiceInstance``, command handlers, process managers, read models and
timers), each on a ``MemoryEventStore`` over one ``MemoryStreams`` that starts as a copy of the real
streams (the jurisdiction, roster and users already there, at their own sequences). A loader
(``shakti.history.HistoryLoader``) drives their HTTP routes in process, as it drives the platform's;
after each step ``MemoryPlatform.settle`` lets every reaction, read model and timer run to the end, in
a fixed order, so the history is lived the way the platform lives it, step by step.

Then ``publish`` appends what the memory streams gained to the real streams, in order, as the event
store would have appended it: each command's events as one message (with its ``Nats-Msg-Id``) or one
atomic batch, at the same stream sequences. The read models are then rebuilt from the streams
(``shakti rebuild``). What differs from a load through the platform, by design: ``recorded_at`` (the
wall clock of the append), the ``Nats-Batch-Id`` of a multi-event command (a random id), and whatever a
random key or nonce seals (identity fields, keyed fingerprints)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import nats
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from services.routing.decisions import BoardFeed
from services.training.handlers import review
from shakti.basics import SERVICES
from shakti.platform import definition, unknown_record
from shared.auth import Sessions, TokenVerifier
from shared.bus import JETSTREAM_API_TIMEOUT
from shared.clock import Clock
from shared.directory import UserDirectory
from shared.events import Envelope
from shared.eventstore import (
    BATCH_COMMIT,
    BATCH_ID,
    BATCH_SEQUENCE,
    MSG_ID,
    EventStore,
    decode_message,
    stream_name,
)
from shared.keys import load_verification_keys
from shared.projection import Projection
from shared.readmodel import create_engine, create_tables, sessions, sqlite_on_loop
from shared.rows import Rows
from shared.runtime import ServiceContext, ServiceInstance, install_error_handlers
from shared.settings import Settings
from shared.subscriber import ProcessManager
from shared.testing.memory import MemoryEventStore, MemoryStreams, subject_matches

log = logging.getLogger(__name__)

T = TypeVar("T")
Found = TypeVar("Found")

STREAMS = ("USERS", *(stream_name(s) for s in SERVICES))
"""The streams a history changes or reads: the services' own and the users'."""
PUBLISH_WINDOW = 256
"""Appends sent ahead of their acknowledgements: one connection keeps them in order."""


class IndexedStreams(MemoryStreams):
    """``MemoryStreams`` copied from NATS, knowing what was copied."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: dict[str, int] = {}
        """How many events each stream held when copied from NATS: what ``publish`` leaves out."""

    def new(self, stream: str) -> list[tuple[str, Envelope]]:
        return self.stream(stream)[self.loaded.get(stream, 0) :]


class _LastMessage:
    def __init__(self, envelope: Envelope) -> None:
        self.data = envelope.model_dump_json().encode()
        self.seq = envelope.sequence


@dataclass
class _StreamState:
    last_seq: int
    subjects: dict[str, int] = field(default_factory=dict)


@dataclass
class _StreamInfo:
    state: _StreamState


class MemoryJetStream:
    """The few JetStream questions the services ask their store besides appends and loads."""

    def __init__(self, streams: IndexedStreams) -> None:
        self.streams = streams

    async def get_last_msg(self, stream: str, subject: str, direct: bool = False) -> _LastMessage:
        found = self.streams.subjects.get(stream, {}).get(subject)
        if not found:
            raise NotFoundError
        return _LastMessage(found[-1])

    async def stream_info(self, stream: str, subjects_filter: str | None = None) -> _StreamInfo:
        stored = self.streams.stream(stream)
        subjects = {
            s: len(es)
            for s, es in self.streams.subjects.get(stream, {}).items()
            if subjects_filter and subject_matches(subjects_filter, s)
        }
        return _StreamInfo(_StreamState(stored[-1][1].sequence if stored else 0, subjects))


class _NoBus:
    """Stands for the NATS connection of a service on the memory store: nothing is sent on it."""

    def __init__(self, js: MemoryJetStream) -> None:
        self._js = js

    def jetstream(self, timeout: float = 5.0) -> MemoryJetStream:
        return self._js

    def new_inbox(self) -> str:
        return f"_INBOX.memory.{uuid.uuid4().hex}"

    async def subscribe(self, subject: str, cb: Any = None) -> _NoSubscription:
        return _NoSubscription()


class _NoSubscription:
    async def unsubscribe(self) -> None:
        return None


class FastStore(MemoryEventStore):
    """A service's ``MemoryEventStore`` with the JetStream calls the services make besides appends and
    loads."""

    replicas = 1

    def __init__(self, streams: IndexedStreams, service: str, *, clock: Clock | None = None) -> None:
        super().__init__(streams, service, clock=clock)
        self.js = MemoryJetStream(streams)
        self.nc = _NoBus(self.js)

    async def scan(
        self, stream: str, subject: str, event_types: Sequence[str], *, after: int = 0
    ) -> AsyncIterator[Envelope]:
        for envelope in await super().read_subject(stream, subject, after=after):
            if envelope.event_type in event_types:
                yield envelope


class MemoryProjector(Generic[T]):
    """A projection kept by hand: its tables in a database of its own, fed from the memory streams by
    ``feed`` (one transaction per call), as a projector feeds it from NATS."""

    def __init__(self, projection: Projection[T], engine: AsyncEngine) -> None:
        self.projection = projection
        self.engine = engine
        self.name = projection.name
        self.metadata = MetaData()
        self.tables: T = projection.define(self.metadata, f"{projection.name}_")
        self.sessions = sessions(engine)
        self.positions = dict.fromkeys(projection.sources, 0)
        self.applied = 0

    async def setup(self) -> None:
        await create_tables(self.engine, self.metadata)

    async def require_current(self, timeout: float = 0.0) -> None:
        return None

    async def find(self, query: Callable[[], Awaitable[Found | None]]) -> Found | None:
        return await query()  # fed by the loader between steps (settle), as require_current knows

    async def caught_up_with_start(self) -> bool:
        return True

    async def feed(self, streams: MemoryStreams) -> int:
        pending: list[Envelope] = []
        for stream, subject in self.projection.sources.items():
            stored = streams.stream(stream)
            at = self.positions[stream]
            for s, envelope in stored[at:]:
                if subject_matches(subject, s) and self.projection.wants(envelope.event_type):
                    pending.append(envelope)
            self.positions[stream] = len(stored)
        if pending:
            async with self.sessions.begin() as session:
                rows = Rows(session)
                await self.projection.prefetch(rows, self.tables, pending)
                for envelope in pending:
                    await self.projection.apply(rows, self.tables, envelope)
                await rows.flush()
            self.applied += len(pending)
        return len(pending)


class MemoryBoardFeed(BoardFeed):
    """Routing's duty board fed from the memory streams when a decision asks it to catch up."""

    def __init__(self, feed: BoardFeed, streams: MemoryStreams) -> None:
        self.__dict__.update(feed.__dict__)
        self.memory = streams

    async def run(self) -> None:
        return None

    async def reach(self, targets: dict[str, int]) -> None:
        for stream, subject in self.SOURCES.items():
            for s, envelope in self.memory.stream(stream)[self.positions[stream] :]:
                if subject_matches(subject, s) and self.board.wants(envelope.event_type):
                    self.board.apply(envelope)
                self.positions[stream] = envelope.sequence
        await super().reach(targets)

    async def _reach_case_events(self, last: int) -> None:
        await self.reach({})  # the memory streams are read to their end


@dataclass
class _Part:
    name: str
    ctx: ServiceContext
    instance: ServiceInstance
    projectors: list[MemoryProjector[Any]]
    managers: list[ProcessManager]
    handled: dict[str, int] = field(default_factory=dict)


class MemoryPlatform:
    """The five services on memory streams: their routes as one app, and ``settle`` to run what the
    platform would run of itself (reactions, read models, timers) until nothing is left to do."""

    def __init__(self, settings: Settings, clock: Clock, streams: IndexedStreams, folder: Path) -> None:
        self.settings = settings
        self.clock = clock
        self.streams = streams
        self.folder = folder
        self.parts: list[_Part] = []
        self._timers_seen: tuple[datetime, int] | None = None

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            service = definition(name)
            # Intake's case keys are the platform's own (its database), not this load's: the identities
            # sealed here must open on the platform afterwards.
            settings = self.settings.model_copy(
                update={"key_store_url": self.settings.key_store_url or self.settings.database_for("intake")}
            )
            engine = create_engine(f"sqlite+aiosqlite:///{self.folder / f'{name}.db'}")
            store = FastStore(self.streams, name, clock=self.clock)
            ctx = ServiceContext(name, settings, self.clock, cast(Any, None), cast(EventStore, store), engine)
            projectors = []
            for projection in service.projections():
                await projection.open(settings, engine)
                projector: MemoryProjector[Any] = MemoryProjector(projection, engine)
                await projector.setup()
                ctx.projectors[projection.name] = cast(Any, projector)
                projectors.append(projector)
            instance = service.instance(ctx)
            self._feed_routing_from_memory(instance)
            await instance.start()
            self.parts.append(_Part(name, ctx, instance, projectors, list(instance.process_managers())))
        # What the copied streams held was reacted to already, by the platform that stored it.
        for part in self.parts:
            for manager in part.managers:
                part.handled[manager.name] = len(self.streams.stream(manager.stream))
        await self._feed_read_models()

    def _feed_routing_from_memory(self, instance: ServiceInstance) -> None:
        decisions = getattr(instance, "decisions", None)
        feed = getattr(decisions, "feed", None)
        if isinstance(feed, BoardFeed):
            memory = MemoryBoardFeed(feed, self.streams)
            decisions.feed = memory  # type: ignore[union-attr]
            dispatch = getattr(instance, "dispatch", None)
            if dispatch is not None:
                dispatch.feed = memory

    async def stop(self) -> None:
        for part in self.parts:
            await part.instance.stop()
            for projector in part.projectors:
                await projector.projection.close()
            await part.ctx.engine.dispose()
        self.parts.clear()

    async def app(self) -> FastAPI:
        """The services' routes under ``/api/<service>``; a token names the user the memory USERS stream
        holds, as on the platform."""
        directory = UserDirectory()
        await directory.start(cast(EventStore, FastStore(self.streams, "users")))
        app = FastAPI()
        app.state.sessions = Sessions(TokenVerifier(load_verification_keys(self.settings)), directory)
        install_error_handlers(app)
        app.add_exception_handler(ValueError, unknown_record)
        for part in self.parts:
            routes = part.instance.routes()
            if routes is not None:
                app.include_router(routes, prefix=f"/api/{part.name}")
        return app

    async def _feed_read_models(self) -> int:
        fed = 0
        for part in self.parts:
            for projector in part.projectors:
                fed += await projector.feed(self.streams)
        return fed

    async def _react(self) -> int:
        """Every process manager's events not yet handled, each manager in its stream's order; the read
        models take in what a manager's reactions appended before the next manager goes."""
        done = 0
        for part in self.parts:
            for manager in part.managers:
                stored = self.streams.stream(manager.stream)
                reacted = 0
                while part.handled[manager.name] < len(stored):
                    subject, envelope = stored[part.handled[manager.name]]
                    part.handled[manager.name] += 1
                    if subject_matches(manager.subject, subject):
                        await manager.react(envelope)
                        reacted += 1
                await part.instance.finish_under_way()
                if reacted:
                    await self._feed_read_models()
                done += reacted
        return done

    async def _timers(self) -> None:
        """What the services' workers do at this moment: escalation's due checks, notifications' repeated
        pages and held messages, training's review. What falls due depends on the moment and the read
        models alone: with neither changed since the last look, which found nothing, none is taken."""
        seen = (self.clock.now(), self._stored())
        if seen == self._timers_seen:
            return
        for part in self.parts:
            instance: Any = part.instance
            if hasattr(instance, "deadline_worker"):
                await instance.deadline_worker.sweep()
            if hasattr(instance, "pages"):
                await instance.pages.repeat_due()
                await instance.quiet.release_due()
            if part.name == "training":
                await review(part.ctx, instance.policy, self.clock.now())
            await part.instance.finish_under_way()
        self._timers_seen = (self.clock.now(), self._stored())

    def _stored(self) -> int:
        return sum(len(self.streams.stream(s)) for s in STREAMS)

    async def settle(self) -> None:
        """Run reactions, read models and timers until a round changes nothing."""
        while True:
            before = self._stored()
            await self._feed_read_models()
            await self._react()
            await self._timers()
            await self._feed_read_models()
            if self._stored() == before:
                return


async def copy_streams(url: str) -> IndexedStreams:
    """The platform's streams as they are now, into memory, at their own sequences."""
    nc = await nats.connect(url)
    store = EventStore(nc, "users")
    streams = IndexedStreams()
    try:
        for stream in STREAMS:
            if not await store.stream_exists(stream):
                continue
            async for msg in store.messages(stream):
                envelope = decode_message(msg.data, msg.headers or {}, stream)
                expected = len(streams.stream(stream)) + 1
                if envelope.sequence != expected:
                    raise RuntimeError(f"{stream} has a gap at {expected}: the memory store needs none")
                # A direct get answers on an inbox: the stored subject is in its headers.
                streams.add(stream, (msg.headers or {})["Nats-Subject"], envelope)
            streams.loaded[stream] = len(streams.stream(stream))
    finally:
        await store.close()
    return streams


def _commands(stored: list[tuple[str, Envelope]]) -> list[list[tuple[str, Envelope]]]:
    """The stream cut into its appends: one command's events on one subject, one after another."""
    out: list[list[tuple[str, Envelope]]] = []
    for subject, envelope in stored:
        last = out[-1][-1] if out else None
        if (
            last is not None
            and last[0] == subject
            and last[1].command_id == envelope.command_id
            and last[1].aggregate_version + 1 == envelope.aggregate_version
        ):
            out[-1].append((subject, envelope))
        else:
            out.append([(subject, envelope)])
    return out


async def _publish_stream(nc: NatsClient, stream: str, streams: IndexedStreams) -> int:
    """Append the stream's new events as ``EventStore.append`` would have (the same headers, message
    ids, batches and expected subject sequences), many in flight at once; each acknowledgement must
    name the sequence the memory store gave. Returns how many were appended."""
    inbox = nc.new_inbox()
    waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
    inflight: list[tuple[int, asyncio.Future[dict[str, Any]]]] = []

    async def answered(msg: Any) -> None:
        future = waiting.pop(msg.subject, None)
        if future is not None and not future.done():
            future.set_result(json.loads(msg.data))

    async def check(upto: int) -> None:
        while len(inflight) > upto:
            seq, ack = inflight.pop(0)
            answer = await asyncio.wait_for(ack, 30.0)
            if answer.get("error") or answer.get("seq") != seq:
                raise RuntimeError(f"{stream}: #{seq} answered {answer}")

    subscription = await nc.subscribe(f"{inbox}.*", cb=answered)
    last_of: dict[str, int] = {}
    loaded = streams.loaded.get(stream, 0)
    for subject, envelope in streams.stream(stream)[:loaded]:
        last_of[subject] = envelope.sequence
    stored = streams.new(stream)
    for command in _commands(stored):
        subject, envelope = command[0]
        expected = str(last_of.get(subject, 0))
        last_of[subject] = command[-1][1].sequence
        # One connection keeps order: a batch sent after appends still in flight is stored after them.
        reply = f"{inbox}.{command[-1][1].sequence}"
        waiting[reply] = future = asyncio.get_running_loop().create_future()
        if len(command) == 1:
            headers = envelope.headers() | {
                MSG_ID: str(envelope.event_id),
                "Nats-Expected-Last-Subject-Sequence": expected,
            }
            await nc.publish(subject, envelope.model_dump_json().encode(), reply=reply, headers=headers)
        else:
            batch_id = uuid.uuid4().hex
            for n, (_, one) in enumerate(command, start=1):
                headers = one.headers() | {BATCH_ID: batch_id, BATCH_SEQUENCE: str(n)}
                if n == 1:
                    headers["Nats-Expected-Last-Subject-Sequence"] = expected
                if n == len(command):
                    headers[BATCH_COMMIT] = "1"
                body = one.model_dump_json().encode()
                await nc.publish(subject, body, reply=reply if n == len(command) else "", headers=headers)
        inflight.append((command[-1][1].sequence, future))
        await check(PUBLISH_WINDOW)
    await check(0)
    await subscription.unsubscribe()
    return len(stored)


async def publish(url: str, streams: IndexedStreams) -> dict[str, int]:
    """Append every stream's new events to NATS, the streams side by side (each on a connection of its
    own, which keeps its order); returns how many per stream. A command's several events are an atomic
    batch, and the server commits a file-stored stream's batches one at a time, each synced to disk
    (about 3 ms here), so most of the time is spent waiting on syncs."""

    async def one(stream: str) -> int:
        nc = await nats.connect(url)
        try:
            return await _publish_stream(nc, stream, streams)
        finally:
            await nc.drain()

    # A stream that fails stops the others (a task group cancels them): nothing goes on appending
    # after the load has failed, and the first failure is what the caller sees.
    try:
        async with asyncio.TaskGroup() as group:
            appending = {stream: group.create_task(one(stream)) for stream in STREAMS}
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return {stream: task.result() for stream, task in appending.items()}


async def mark_reacted(url: str) -> int:
    """Move every durable consumer (the process managers') past the end of its stream: the memory
    platform made their reactions to what ``publish`` appended. Run while the platform is stopped.
    Returns how many consumers were moved."""
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
    moved = 0
    try:
        for stream in STREAMS:
            try:
                last = (await js.stream_info(stream)).state.last_seq
            except NotFoundError:
                continue
            for consumer in await js.consumers_info(stream):
                if consumer.config.durable_name:
                    await js.reset_consumer(stream, consumer.name, seq=last + 1)
                    moved += 1
    finally:
        await nc.drain()
    return moved


@asynccontextmanager
async def memory_platform(
    settings: Settings, clock: Clock, url: str, folder: Path
) -> AsyncIterator[MemoryPlatform]:
    """The services on a copy of the streams at ``url``. Inside the block, the caller's task and every
    task it starts there (even one that outlives the block) make their SQLite calls on the event loop's
    thread (``sqlite_on_loop``): the load waits on every call in turn, and nothing else runs in the
    process meanwhile that a long statement could hold up. Not for a process that also serves the
    platform from inside the block. Entered and left in the same task."""
    streams = await copy_streams(url)
    with sqlite_on_loop():
        platform = MemoryPlatform(settings, clock, streams, folder)
        await platform.start()
        try:
            yield platform
        finally:
            await platform.stop()
