"""The event store: one JetStream stream per service, one subject per aggregate.

Append uses optimistic concurrency on the aggregate's subject (``Nats-Expected-Last-Subject-Sequence``);
several events of one command go in as one JetStream atomic batch. Load reads an aggregate's subject
with batched direct gets, which needs no consumer and so stays fast on a large stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import Header, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError
from pydantic import BaseModel, Field

from shared.bus import JETSTREAM_API_TIMEOUT, inbox_prefix
from shared.clock import Clock
from shared.errors import IdempotencyConflict
from shared.events import HEADER_TYPE, Envelope, Event, derived_id, utcnow
from shared.written import note_written

WRONG_LAST_SEQUENCE = 10071
STREAM_EXISTS_OTHERWISE = 10058
STORE_NOT_CREATED = 10049
STORE_CREATE_ATTEMPTS = 5
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
LOAD_PAGE = 500
# The headers of JetStream's deduplication and atomic batch publish (nats-server 2.12+, ADR-50), as
# plain strings: a header's name, not nats-py's enum member.
MSG_ID: str = Header.MSG_ID.value
BATCH_ID: str = Header.BATCH_ID.value
BATCH_SEQUENCE: str = Header.BATCH_SEQUENCE.value
BATCH_COMMIT: str = Header.BATCH_COMMIT.value
READ_TIMEOUT = 5.0


class EventStoreError(RuntimeError):
    pass


class ConcurrencyError(EventStoreError):
    """Another command appended to this aggregate since it was loaded: reload and decide again."""

    def __init__(self, subject: str, expected: int) -> None:
        super().__init__(f"{subject} moved past sequence {expected}")
        self.subject = subject
        self.expected = expected


def occurred_at(clock: Clock | None, recorded: datetime) -> datetime:
    """When an event happened whose command did not say: the service's now, else when it is stored."""
    return clock.now() if clock is not None else recorded


class CommandMeta(BaseModel):
    """Who asks, why, and the idempotency key that makes a retried command harmless.

    ``request_hash`` is the fingerprint of the request's body (``shared.commands.fingerprint``): a
    command id met again with another fingerprint is a reused key, not a retry."""

    command_id: str = Field(min_length=1, max_length=200)
    actor: str = Field(min_length=1, max_length=200)
    correlation_id: uuid.UUID | None = None
    causation_id: uuid.UUID | None = None
    occurred_at: datetime | None = None
    request_hash: str | None = Field(default=None, max_length=64)

    @classmethod
    def reacting_to(cls, cause: Envelope, actor: str, step: str = "") -> CommandMeta:
        """A command a process manager issues because of ``cause``: its id derives from the cause's id,
        so a redelivered cause cannot produce a second output."""
        return cls(
            command_id=f"{cause.event_id}:{actor}:{step}",
            actor=actor,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
        )


def earlier_answer(history: Sequence[Envelope], meta: CommandMeta) -> list[Envelope]:
    """The events a repeated command stored the first time (empty for a new command).

    Raises ``IdempotencyConflict`` when the first time was a different request under the same key."""
    earlier = [e for e in history if e.command_id == meta.command_id]
    if earlier and meta.request_hash and earlier[0].request_hash not in (None, meta.request_hash):
        raise IdempotencyConflict
    return earlier


def stream_name(service: str) -> str:
    return service.upper()


def subject_for(service: str, aggregate_type: str, aggregate_id: str) -> str:
    for token in (service, aggregate_type, aggregate_id):
        if not TOKEN.match(token):
            raise ValueError(f"{token!r} cannot be part of a subject (letters, digits, '-', '_' only)")
    return f"shakti.{service}.{aggregate_type}.{aggregate_id}"


def _api_error(response: dict[str, Any]) -> APIError | None:
    error = response.get("error")
    if not error:
        return None
    return APIError(
        code=error.get("code"), err_code=error.get("err_code"), description=error.get("description")
    )


class EventStore:
    """Append to and read from the streams; one instance per process, sharing one NATS connection."""

    def __init__(
        self,
        nc: NatsClient,
        service: str,
        *,
        replicas: int = 1,
        clock: Clock | None = None,
        api_timeout: float = JETSTREAM_API_TIMEOUT,
    ) -> None:
        self.nc = nc
        # A publish the server refuses for permissions gets no answer (the refusal goes to the
        # connection's error callback), so only this timeout ends it.
        self.api_timeout = api_timeout
        # When a command does not say when it happened, it happened at the service's now: on the
        # historical clock that lives a past year (the demo, bench.state) that is not the wall clock's.
        self.clock = clock
        self.js: JetStreamContext = nc.jetstream(timeout=api_timeout)
        self.service = service
        self.stream = stream_name(service)
        self.replicas = replicas
        self.reader = DirectReader(nc)

    @classmethod
    async def connect(
        cls, url: str, service: str, *, replicas: int = 1, name: str = "", password: str | None = None
    ) -> EventStore:
        """A connection as the NATS user of ``service`` (with ``password`` where the server asks one)."""
        login: dict[str, Any] = {"inbox_prefix": inbox_prefix(service)}
        if password is not None:
            login |= {"user": service, "password": password}
        nc = await nats.connect(url, name=name or f"shakti-{service}", max_reconnect_attempts=-1, **login)
        store = cls(nc, service, replicas=replicas)
        await store.ensure_stream()
        return store

    async def close(self) -> None:
        await self.reader.close()
        await self.nc.drain()

    async def ensure_stream(self, service: str | None = None) -> None:
        """Create the stream of ``service`` (default this store's own) if missing, and bring this
        store's own stream to its configuration; idempotent, safe from every replica at once.

        Another service's stream is never updated (its NATS user may not): one created by its owner
        with another configuration (replicas, limits) is taken as it is."""
        service = service or self.service
        own = service == self.service
        name = stream_name(service)
        config = StreamConfig(
            name=name,
            subjects=[f"shakti.{service}.>"],
            storage=StorageType.FILE,
            num_replicas=self.replicas,
            allow_direct=True,
            allow_atomic=True,
            duplicate_window=120.0,
        )
        for attempt in range(STORE_CREATE_ATTEMPTS):
            try:
                info = await self.js.add_stream(config)
                break
            except APIError as error:
                if error.err_code == STREAM_EXISTS_OTHERWISE:
                    info = await (self.js.update_stream(config) if own else self.js.stream_info(name))
                    break
                if error.err_code != STORE_NOT_CREATED or attempt == STORE_CREATE_ATTEMPTS - 1:
                    raise
                # The server may still be removing the files of a stream of that name deleted just
                # before (an operator's reset, a test's clean slate): give it a moment.
                await asyncio.sleep(0.2 * (attempt + 1))
            except nats.errors.TimeoutError:
                # A busy server may answer after the client stopped waiting (CI saw it as a platform
                # started): asking again with the same configuration is harmless.
                if attempt == STORE_CREATE_ATTEMPTS - 1:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
        if not info.config.allow_atomic:
            raise EventStoreError(
                "this NATS server does not support atomic batch publish (needs nats-server 2.12 or newer)"
            )

    def subject(self, aggregate_type: str, aggregate_id: str) -> str:
        return subject_for(self.service, aggregate_type, aggregate_id)

    async def append(
        self,
        aggregate_type: str,
        aggregate_id: str,
        new_events: Sequence[Event],
        *,
        expected_sequence: int,
        expected_version: int,
        meta: CommandMeta,
    ) -> list[Envelope]:
        """Store ``new_events`` all or none, only if the aggregate's last stored event is still
        ``expected_sequence`` (0: the aggregate must not exist yet). Raises ConcurrencyError.

        Idempotent: repeating a command (same ``meta.command_id``) stores nothing new and returns the
        events the first attempt stored."""
        if not new_events:
            return []
        subject = self.subject(aggregate_type, aggregate_id)
        now = utcnow()
        correlation = meta.correlation_id or derived_id("correlation", meta.command_id)
        envelopes = [
            Envelope(
                event_id=derived_id(meta.command_id, aggregate_type, aggregate_id, i),
                event_type=e.event_type,
                schema_version=e.schema_version,
                aggregate_type=aggregate_type,
                aggregate_id=aggregate_id,
                aggregate_version=expected_version + i + 1,
                occurred_at=meta.occurred_at or occurred_at(self.clock, now),
                recorded_at=now,
                correlation_id=correlation,
                causation_id=meta.causation_id,
                actor=meta.actor,
                command_id=meta.command_id,
                request_hash=meta.request_hash,
                payload=e.model_dump(mode="json"),
            )
            for i, e in enumerate(new_events)
        ]
        try:
            if len(envelopes) == 1:
                seq, duplicate = await self._publish_one(subject, envelopes[0], expected_sequence)
                note_written(self.stream, seq)
                if duplicate:
                    # The server dropped a repeat (same Nats-Msg-Id): answer with what the first stored,
                    # not with this attempt's envelope, whose times and payload may differ.
                    return earlier_answer([await self._stored(seq)], meta)
                seqs = [seq]
            else:
                seqs = await self._publish_batch(subject, envelopes, expected_sequence)
                note_written(self.stream, seqs[-1])
        except ConcurrencyError:
            # A retried command conflicts with its own earlier success: answer with what it stored.
            stored = await self.read_subject(self.stream, subject, after=expected_sequence)
            earlier = earlier_answer(stored, meta)
            if earlier:
                note_written(self.stream, earlier[-1].sequence)
                return earlier
            raise
        return [
            env.model_copy(update={"sequence": s, "stream": self.stream})
            for env, s in zip(envelopes, seqs, strict=True)
        ]

    async def _publish_one(
        self, subject: str, envelope: Envelope, expected_sequence: int
    ) -> tuple[int, bool]:
        headers = envelope.headers()
        headers[MSG_ID] = str(envelope.event_id)
        headers["Nats-Expected-Last-Subject-Sequence"] = str(expected_sequence)
        try:
            ack = await self.js.publish(subject, envelope.model_dump_json().encode(), headers=headers)
        except APIError as error:
            if error.err_code == WRONG_LAST_SEQUENCE:
                raise ConcurrencyError(subject, expected_sequence) from None
            raise
        return int(ack.seq), bool(ack.duplicate)

    async def _stored(self, seq: int) -> Envelope:
        msg = await self.js.get_msg(self.stream, seq, direct=True)
        return decode_message(msg.data or b"", {}, self.stream, sequence=seq)

    async def _publish_batch(
        self, subject: str, envelopes: list[Envelope], expected_sequence: int
    ) -> list[int]:
        batch_id = uuid.uuid4().hex
        last = len(envelopes)
        for n, envelope in enumerate(envelopes, start=1):
            headers = envelope.headers()
            headers[BATCH_ID] = batch_id
            headers[BATCH_SEQUENCE] = str(n)
            if n == 1:
                headers["Nats-Expected-Last-Subject-Sequence"] = str(expected_sequence)
            body = envelope.model_dump_json().encode()
            if n < last:
                await self.nc.publish(subject, body, headers=headers)
                continue
            headers[BATCH_COMMIT] = "1"
            reply = await self.nc.request(subject, body, headers=headers, timeout=self.api_timeout)
            response = json.loads(reply.data)
            error = _api_error(response)
            if error is not None:
                if error.err_code == WRONG_LAST_SEQUENCE:
                    raise ConcurrencyError(subject, expected_sequence)
                raise error
            if response.get("count") != last:
                raise EventStoreError(f"batch stored {response.get('count')} of {last} events")
            end: int = response["seq"]
            return list(range(end - last + 1, end + 1))
        raise AssertionError("unreachable")

    async def load(
        self, aggregate_type: str, aggregate_id: str, *, service: str | None = None, after: int = 0
    ) -> list[Envelope]:
        """Every event of one aggregate in order (optionally only those after stream sequence ``after``)."""
        service = service or self.service
        return await self.read_subject(
            stream_name(service), subject_for(service, aggregate_type, aggregate_id), after=after
        )

    async def read_subject(self, stream: str, subject: str, *, after: int = 0) -> list[Envelope]:
        out: list[Envelope] = []
        start = after + 1
        while True:
            page = await self.reader.page(stream, subject, start, LOAD_PAGE)
            out.extend(decode_message(msg.data, msg.headers or {}, stream) for msg in page.messages)
            # The server may end a page early (a byte limit): what is left, not the page's length, decides.
            if not page.messages or page.pending == 0:
                return out
            start = out[-1].sequence + 1

    async def scan(
        self, stream: str, subject: str, event_types: Collection[str], *, after: int = 0
    ) -> AsyncIterator[Envelope]:
        """The events of the given types on ``subject`` (wildcards allowed) after stream sequence
        ``after``, in order. Picks them by the type header, so the other events are never decoded
        (intake's start-up pass over its erasures)."""
        async for msg in self.messages(stream, subject, after=after):
            headers = msg.headers or {}
            if headers.get(HEADER_TYPE) in event_types:
                yield decode_message(msg.data, headers, stream)

    async def messages(
        self, stream: str, subject: str = ">", *, after: int = 0, until: int | None = None
    ) -> AsyncIterator[Msg]:
        """The stored messages on ``subject`` after stream sequence ``after`` (up to ``until``), in
        order, as batched direct gets return them (with their ``Nats-Sequence`` header); no consumer."""
        start = after + 1
        while until is None or start <= until:
            page = await self.reader.page(stream, subject, start, LOAD_PAGE)
            for msg in page.messages:
                seq = int((msg.headers or {})["Nats-Sequence"])
                if until is not None and seq > until:
                    return
                yield msg
            if not page.messages or page.pending == 0:
                return
            start = int((page.messages[-1].headers or {})["Nats-Sequence"]) + 1

    async def last_sequence(self, stream: str | None = None) -> int:
        info = await self.js.stream_info(stream or self.stream)
        seq: int = info.state.last_seq
        return seq

    async def stream_exists(self, stream: str) -> bool:
        try:
            await self.js.stream_info(stream)
        except NotFoundError:
            return False
        return True


class DirectReader:
    """Batched direct gets: the stored messages of a subject filter from a sequence on, a page at a
    time, with no consumer (nothing to create, name, clean up or permit on the server). The answers
    come to one inbox subscription under the connection's inbox prefix, the only inbox its NATS user
    may subscribe to."""

    def __init__(self, nc: NatsClient) -> None:
        self.nc = nc
        self._inbox_prefix = nc.new_inbox()
        self._pending: dict[str, Page] = {}
        self._inbox_sub: Any = None

    async def close(self) -> None:
        if self._inbox_sub is not None:
            with contextlib.suppress(Exception):  # the connection may be closed already
                await self._inbox_sub.unsubscribe()
            self._inbox_sub = None

    async def _ensure_inbox(self) -> None:
        if self._inbox_sub is None:
            self._inbox_sub = await self.nc.subscribe(f"{self._inbox_prefix}.*", cb=self._on_inbox)

    async def _on_inbox(self, msg: Msg) -> None:
        page = self._pending.get(msg.subject)
        if page is not None:
            page.receive(msg)

    async def page(self, stream: str, subject: str, start: int, batch: int) -> Page:
        """Up to ``batch`` messages of ``subject`` (a filter) from sequence ``start`` on, in order."""
        await self._ensure_inbox()
        inbox = f"{self._inbox_prefix}.{uuid.uuid4().hex}"
        page = Page(asyncio.get_running_loop().create_future())
        self._pending[inbox] = page
        try:
            request = {"seq": start, "next_by_subj": subject, "batch": batch}
            await self.nc.publish(f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox)
            while True:
                # Waiting once per page, not once per message, is what makes a long read fast; a page
                # still fails only when the server goes silent for READ_TIMEOUT seconds.
                received = len(page.messages)
                # asyncio.timeout, not wait_for: Python 3.11's wait_for loses a cancellation that
                # lands just as the awaited completes, and a follower would then read on forever.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(READ_TIMEOUT):
                        await asyncio.shield(page.done)
                    break
                if len(page.messages) == received:
                    raise EventStoreError(f"direct get on {stream}: no answer for {READ_TIMEOUT:.0f}s")
        finally:
            del self._pending[inbox]
        if page.status not in ("204", "404"):
            raise EventStoreError(f"direct get on {stream}: {page.status} {page.description}")
        return page


# A tail with nothing new reads again at the latest after POLL_SECONDS (a doorbell missed while
# disconnected); after a ring that found nothing yet, again after FIRST_RETRY_SECONDS, then twice as long
# each time up to FOLLOWER_RETRY_SECONDS, this many times.
POLL_SECONDS = 5.0
FIRST_RETRY_SECONDS = 0.002
FOLLOWER_RETRY_SECONDS = 0.05
FOLLOWER_RETRIES = 40


class Tail:
    """The stored messages of a subject filter after a sequence, page by page as they come: batched
    direct gets (the next page read while the caller handles this one, as long as there may be one),
    and, once at the end, a doorbell, a plain subscription to the filter that rings when something new
    is published.

    A ring comes as a message is published, which can be before it is stored (an atomic batch rings at
    its commit, just before the batch is stored) or before the replica answering direct gets (a cluster
    follower) has it: while rings outnumber the messages read, a read that finds nothing is retried
    shortly. A slow poll covers a ring missed while disconnected. A context manager (the doorbell is
    subscribed on entry, before the first read, so nothing falls between)."""

    def __init__(
        self, reader: DirectReader, stream: str, subject: str, *, after: int = 0, batch: int = LOAD_PAGE
    ) -> None:
        self.reader = reader
        self.stream = stream
        self.subject = subject
        self.batch = batch
        self.position = after
        """The last sequence handed out (or moved to): the next page starts after it."""
        self._rung = asyncio.Event()
        self._doorbell: Any = None
        self._ahead: asyncio.Task[Page] | None = None
        self._unread = 0
        """Rings not yet matched by messages read: something was published that a read should find."""
        self._misses = 0
        """Empty reads retried since ``_unread`` was last matched: a ring never matched (a publish the
        server refused) costs FOLLOWER_RETRIES reads once, not on every quiet moment."""
        self._idle = False
        self._read_at = float("-inf")
        self._at_end = False
        """A read has found nothing since the tail started or moved: what it has not read since is,
        nearly always, what rang after that read (see ``next_page`` for the exceptions it guards)."""
        self._last_rung: str | None = None
        """Which message (or atomic batch) rang last."""

    async def __aenter__(self) -> Tail:
        async def ring(msg: Msg) -> None:
            headers = msg.headers or {}
            if BATCH_ID in headers:
                # An atomic batch is stored at its commit, all or nothing: its other messages rang
                # before there was anything to read, and each read they started found nothing and was
                # retried (41 reads for a commit held back 0.3 s). The commit, on the same subject
                # (``EventStore`` appends a batch to one aggregate's), rings for the batch.
                if BATCH_COMMIT not in headers:
                    return
                size = headers.get(BATCH_SEQUENCE, "")
                self._unread += int(size) if size.isdecimal() and len(size) < 7 else 1
            else:
                self._unread += 1
            self._last_rung = _stored_id(headers)
            self._rung.set()

        self._doorbell = await self.reader.nc.subscribe(self.subject, cb=ring)
        return self

    async def __aexit__(self, *_: object) -> None:
        self._cancel_read()
        with contextlib.suppress(Exception):
            await self._doorbell.unsubscribe()

    def move_to(self, position: int) -> None:
        """Go on after ``position`` (what another reader already handled): a read ahead is dropped."""
        if position > self.position:
            # The rings of what it skips will not be matched by a read: at most one per sequence.
            self._unread = max(0, self._unread - (position - self.position))
            self.position = position
            self._at_end = self._idle = False
            self._cancel_read()

    def _cancel_read(self) -> None:
        if self._ahead is not None:
            self._ahead.cancel()
            self._ahead = None

    def _read(self) -> None:
        self._rung.clear()
        self._read_at = asyncio.get_running_loop().time()
        self._ahead = asyncio.create_task(self._page(self.position + 1))

    async def _page(self, start: int) -> Page:
        return await self.reader.page(self.stream, self.subject, start, self.batch)

    async def next_page(self, wait: float) -> list[Msg]:
        """The next messages in order; [] when nothing new came within ``wait`` seconds (0: read once,
        now)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            if (task := asyncio.current_task()) is not None and task.cancelling():
                raise asyncio.CancelledError  # a cancellation an awaited library call swallowed
            if self._ahead is None:
                if self._idle and wait > 0 and not self._rung.is_set():
                    remaining = min(deadline, self._read_at + POLL_SECONDS) - loop.time()
                    if remaining > 0:
                        with contextlib.suppress(TimeoutError):
                            async with asyncio.timeout(remaining):
                                await self._rung.wait()
                    if not self._rung.is_set() and loop.time() < self._read_at + POLL_SECONDS:
                        return []
                self._read()
            assert self._ahead is not None
            ahead = self._ahead
            page = await ahead
            msgs = page.messages
            if self._ahead is ahead:
                self._ahead = None
            if msgs:
                self._unread = max(0, self._unread - len(msgs))
                if not self._unread:
                    self._misses = 0
                self.position = stored_sequence(msgs[-1])
                # The next page is read while the caller handles this one only when there may be one:
                # at the end, a read ahead found nothing after nearly every page (≈15 % of the
                # platform's direct gets under load), and the doorbell says when there is more.
                # Counting rings is not enough: a message that never rang (published before the
                # doorbell, its ring lost in a reconnect) would take the place of one that rang and is
                # not read yet (a lagging replica's page).
                self._idle = (
                    self._at_end
                    and not page.pending
                    and not self._unread
                    and self._last_rung is not None
                    and self._last_rung == _stored_id(msgs[-1].headers or {})
                )
                if not self._idle:
                    self._read()
                return msgs
            if self._unread and wait > 0 and self._misses < FOLLOWER_RETRIES:
                # Rung, yet not there: a ring comes as a message is published, before it is stored (an
                # atomic batch's, before its commit) or reaches the replica answering direct gets.
                await asyncio.sleep(min(FOLLOWER_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2**self._misses))
                self._misses += 1
                self._rung.set()  # read again at once
                continue
            self._idle = self._at_end = True
            if self._misses >= FOLLOWER_RETRIES:
                # What rang was refused (a publish that lost a race for its subject's sequence), or its
                # message was read before its ring came: looked for long enough.
                self._unread = self._misses = 0
            if loop.time() >= deadline:
                return []


def _stored_id(headers: dict[str, str]) -> str | None:
    """What names a message as published and as stored: its atomic batch, or its message id (every
    append of ``EventStore`` sets one or the other)."""
    return headers.get(BATCH_ID) or headers.get(MSG_ID)


def stored_sequence(msg: Msg) -> int:
    """The stream sequence of a message a direct get returned."""
    return int((msg.headers or {})["Nats-Sequence"])


class Page:
    """The answer to one batched direct get: messages, then an end-of-batch status."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.messages: list[Msg] = []
        self.done = done
        self.status = ""
        self.description = ""
        self.pending = 0

    def receive(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status")
        if not status:
            self.messages.append(msg)
            return
        self.status = status
        self.description = headers.get("Description", "")
        self.pending = int(headers.get("Nats-Num-Pending", 0))
        if not self.done.done():
            self.done.set_result(None)


def decode_message(
    data: bytes, headers: dict[str, str], stream: str, *, sequence: int | None = None
) -> Envelope:
    """The envelope in a stored message; its place comes from ``sequence`` or the message's headers."""
    envelope = Envelope.model_validate_json(data)
    # Set in place on the new instance, which nothing holds yet: a frozen model's model_copy cost as much
    # again as the validation, on every event every service reads.
    envelope.__dict__["sequence"] = int(headers.get("Nats-Sequence", 0)) if sequence is None else sequence
    envelope.__dict__["stream"] = headers.get("Nats-Stream", stream)
    return envelope
