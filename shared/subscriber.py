"""Process managers: a service reacting to other services' events, on FastStream durable pull consumers.

All replicas of a service share one durable consumer per process manager, and each replica handles up
to ``concurrency`` events at once, so a backlog of many cases drains in parallel. Order is kept where it
matters, per aggregate: an event waits for its turn (``AggregateTurns``) until every earlier event of
its aggregate has been handled, whether by this replica or another. A reaction must be idempotent
(derive its commands' ids from the cause, see ``CommandMeta.reacting_to``): the stream gives
at-least-once delivery.

An event that keeps failing is retried in place (holding the later events of its aggregate back) and
parked after ``max_deliver`` tries: a record with the reason goes to the ``PARKED`` stream (a reference
to the event, never its payload), and its aggregate's later events go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.message import NatsMessage
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy as ConsumerAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError
from pydantic import BaseModel

from shared.bus import JETSTREAM_API_TIMEOUT, inbox_prefix
from shared.bus import PARKED_STREAM as PARKED_STREAM  # re-exported: where the runtime's users find it
from shared.events import HEADER_TYPE, Envelope, utcnow
from shared.eventstore import STREAM_EXISTS_OTHERWISE, decode_message
from shared.natsfetch import fetch_times_out_as_documented
from shared.observability import REACTIONS, REACTIONS_WAITING

log = logging.getLogger(__name__)

# FastStream's pull loop below relies on it.
fetch_times_out_as_documented()

Reaction = Callable[[Envelope], Awaitable[None]]

ACK_WAIT = 30.0
# How long an event waits for its turn before handing itself back to the server for later (an earlier
# event of its aggregate is held by a replica that may have died: its redelivery comes after ACK_WAIT).
TURN_WAIT = 5.0
TURN_RETRY = 1.0
# How often a waiting event looks again at what the other replicas have acknowledged.
FLOOR_POLL = 0.05
REMEMBERED_AGGREGATES = 100_000


class ParkedReaction(BaseModel):
    consumer: str
    stream: str
    sequence: int
    event_type: str
    reason: str
    deliveries: int
    parked_at: str


@dataclass(frozen=True)
class ProcessManager:
    """One reaction to the events of one stream: ``name`` is the durable consumer all replicas share."""

    name: str
    stream: str
    subject: str
    react: Reaction
    description: str = ""
    max_deliver: int = 5
    concurrency: int = 16
    event_types: frozenset[str] | None = None
    """The event types the reaction acts on, when it names them: any other is acknowledged unread (by its
    type header), neither decoded nor waiting for its turn. None: every event is handed over."""


class AggregateTurns:
    """When an event's turn has come: every earlier event of its aggregate has been handled.

    This replica knows what it handled itself. What another replica handled shows in the durable
    consumer's acknowledgement floor: every event at or below it has been acknowledged, so an event
    whose aggregate has no event between the floor and itself may go."""

    def __init__(self, js: JetStreamContext, stream: str, consumer: str) -> None:
        self.js = js
        self.stream = stream
        self.consumer = consumer
        self._handled: OrderedDict[str, int] = OrderedDict()
        self._running: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Event()
        self._floor = 0
        self._floor_read_at = float("-inf")
        self._floor_lock = asyncio.Lock()

    async def wait(self, aggregate: str, version: int, subject: str, sequence: int) -> bool:
        """True when the event may be handled; False if its turn did not come within TURN_WAIT."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TURN_WAIT
        while True:
            if version == 1 or self._handled.get(aggregate, 0) >= version - 1:
                return True
            running = self._running.get(aggregate)
            if running is None and await self._earlier_acknowledged(subject, sequence):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiting_for = running or self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiting_for.wait(), min(remaining, FLOOR_POLL))

    def begin(self, aggregate: str) -> None:
        self._running[aggregate] = asyncio.Event()
        self._notify()

    def end(self, aggregate: str, version: int, *, handled: bool) -> None:
        if handled:
            self._handled[aggregate] = max(version, self._handled.get(aggregate, 0))
            self._handled.move_to_end(aggregate)
            if len(self._handled) > REMEMBERED_AGGREGATES:
                self._handled.popitem(last=False)
        running = self._running.pop(aggregate, None)
        if running is not None:
            running.set()
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _earlier_acknowledged(self, subject: str, sequence: int) -> bool:
        floor = await self._ack_floor()
        if floor >= sequence - 1:
            return True
        try:
            first = await self.js.get_msg(self.stream, seq=floor + 1, subject=subject, next=True, direct=True)
        except NotFoundError:
            return True
        return int(first.seq or 0) >= sequence

    async def _ack_floor(self) -> int:
        # Many waiting events share one answer: the floor is asked at most once per FLOOR_POLL.
        async with self._floor_lock:
            now = asyncio.get_running_loop().time()
            if now - self._floor_read_at >= FLOOR_POLL:
                info = await self.js.consumer_info(self.stream, self.consumer)
                self._floor = info.ack_floor.stream_seq if info.ack_floor else 0
                self._floor_read_at = now
            return self._floor


async def ensure_parked_stream(broker: NatsBroker, replicas: int = 1) -> None:
    js = (await broker.connect()).jetstream(timeout=JETSTREAM_API_TIMEOUT)
    config = StreamConfig(
        name=PARKED_STREAM, subjects=["shakti.parked.>"], storage=StorageType.FILE, num_replicas=replicas
    )
    try:
        await js.add_stream(config)
    except APIError as error:
        if error.err_code != STREAM_EXISTS_OTHERWISE:
            raise


def consumer_config(manager: ProcessManager) -> ConsumerConfig:
    return ConsumerConfig(
        name=manager.name,
        durable_name=manager.name,
        filter_subject=manager.subject,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=ConsumerAckPolicy.EXPLICIT,
        # Room for the events being handled and as many fetched and queued for a worker behind them.
        max_ack_pending=2 * manager.concurrency,
        ack_wait=ACK_WAIT,
    )


async def stored_message(message: NatsMessage) -> Msg:
    """The message as the server gave it, as the handler's one argument: the handler decodes it once
    (``decode_message``), so FastStream neither parses its JSON first nor resolves a context field for
    it, which it would do on a worker thread for every event."""
    return message.raw_message


async def subscribe(broker: NatsBroker, manager: ProcessManager, part: str) -> None:
    """Register ``manager`` of ``part`` on ``broker`` (before the broker starts), creating or updating
    its consumer; what it parks goes to the part's own parked subjects."""
    js = (await broker.connect()).jetstream(timeout=JETSTREAM_API_TIMEOUT)
    # Created here, not left to FastStream, which would keep an existing consumer's older settings.
    await js.add_consumer(manager.stream, consumer_config(manager))
    turns = AggregateTurns(js, manager.stream, manager.name)

    @broker.subscriber(
        manager.subject,
        stream=JStream(manager.stream, declare=False),
        durable=manager.name,
        # One event a fetch: nats-py's fetch of many waits for the rest of its batch after the first
        # event when the server sends no status behind it, which a pull request it left open does not
        # (an expiry read as its own answer leaves one); the event then waited for the next, up to 5 s.
        # Handing events to ``concurrency`` workers keeps the parallelism; a backlog costs one request
        # an event, which bench.routing's burst drain does not show.
        pull_sub=PullSub(1, timeout=5.0),
        max_workers=manager.concurrency,
        config=consumer_config(manager),
        ack_policy=AckPolicy.MANUAL,
        # FastStream's own default would be the bare _INBOX., which no part may subscribe to.
        inbox_prefix=f"{inbox_prefix(part)}.".encode(),
        title=manager.name,
        description=manager.description,
        decoder=stored_message,
    )
    async def handle(stored: Any) -> None:
        # Typed Any for FastStream's argument check, which cannot build a model of nats-py's Msg.
        msg: Msg = stored
        wanted = manager.event_types
        if wanted is not None and (msg.headers or {}).get(HEADER_TYPE) not in wanted:
            # Nothing to do, so nothing to keep in order: a later event of its aggregate that is acted on
            # finds it acknowledged (``AggregateTurns``).
            REACTIONS.labels(manager.name, "skipped").inc()
            await msg.ack()
            return
        seq = msg.metadata.sequence.stream
        try:
            envelope = decode_message(msg.data, msg.headers or {}, manager.stream, sequence=seq)
        except Exception as error:
            await park(broker, part, manager, msg, f"{type(error).__name__}: {error}", 1)
            REACTIONS.labels(manager.name, "parked").inc()
            await msg.ack()
            return
        aggregate = f"{envelope.aggregate_type}.{envelope.aggregate_id}"
        with REACTIONS_WAITING.labels(manager.name).track_inprogress():
            turn = await turns.wait(aggregate, envelope.aggregate_version, msg.subject, seq)
        if not turn:
            await msg.nak(delay=TURN_RETRY)
            return
        turns.begin(aggregate)
        outcome = ""
        try:
            outcome = await react_or_park(broker, part, manager, msg, envelope)
        finally:
            turns.end(aggregate, envelope.aggregate_version, handled=bool(outcome))
        REACTIONS.labels(manager.name, outcome).inc()
        await msg.ack()


async def react_or_park(
    broker: NatsBroker, part: str, manager: ProcessManager, msg: Msg, envelope: Envelope
) -> str:
    """``done`` or ``parked``."""
    for attempt in range(1, manager.max_deliver + 1):
        try:
            await manager.react(envelope)
            return "done"
        except Exception as error:
            if attempt == manager.max_deliver:
                await park(broker, part, manager, msg, f"{type(error).__name__}: {error}", attempt)
                return "parked"
            log.warning(
                "%s failed on %s #%d (try %d): %s",
                manager.name,
                manager.stream,
                envelope.sequence,
                attempt,
                type(error).__name__,
            )
            # Retry in place: the later events of this aggregate wait, so its order is kept.
            await msg.in_progress()
            await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
    raise AssertionError("unreachable")


async def park(
    broker: NatsBroker, part: str, manager: ProcessManager, msg: Msg, reason: str, tries: int
) -> None:
    record = ParkedReaction(
        consumer=manager.name,
        stream=manager.stream,
        sequence=msg.metadata.sequence.stream,
        event_type=(msg.headers or {}).get(HEADER_TYPE, "?"),
        reason=reason[:2000],
        deliveries=tries,
        parked_at=utcnow().isoformat(),
    )
    log.error("%s parked %s #%d", manager.name, record.stream, record.sequence)
    js = (await broker.connect()).jetstream(timeout=JETSTREAM_API_TIMEOUT)
    await js.publish(f"shakti.parked.{part}.{manager.name}", record.model_dump_json().encode())
