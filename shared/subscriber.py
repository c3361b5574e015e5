"""Process managers: a service reacting to other services' events, on JetStream durable pull consumers.

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
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy as ConsumerAckPolicy
from nats.js.api import ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import APIError, NotFoundError
from pydantic import BaseModel

from shared.bus import JETSTREAM_API_TIMEOUT, inbox_prefix
from shared.bus import PARKED_STREAM as PARKED_STREAM  # re-exported: where the runtime's users find it
from shared.dispatch import Reactions
from shared.events import HEADER_AGGREGATE_VERSION, HEADER_TYPE, Envelope, utcnow
from shared.eventstore import STREAM_EXISTS_OTHERWISE, decode_message
from shared.observability import REACTIONS, REACTIONS_WAITING

log = logging.getLogger(__name__)

Reaction = Callable[[Envelope], Awaitable[None]]

ACK_WAIT = 30.0
# How long an event waits for its turn before handing itself back to the server for later (an earlier
# event of its aggregate is held by a replica that may have died: its redelivery comes after ACK_WAIT).
TURN_WAIT = 5.0
TURN_RETRY = 1.0
# How often a waiting event looks again at what the other replicas have acknowledged.
FLOOR_POLL = 0.05
REMEMBERED_AGGREGATES = 100_000
# A standing pull request lasts PULL_EXPIRES; while it waits the server says it is alive every
# HEARTBEAT, and one not heard of for LOST_AFTER is taken as gone (a reconnect drops it).
PULL_EXPIRES = 30.0
HEARTBEAT = 2.0
LOST_AFTER = 2 * HEARTBEAT + 1.0
STOP_GRACE = 5.0
STATUS_HEADER = "Status"
HEARTBEAT_STATUS = "100"
PENDING_HEADER = "Nats-Pending-Messages"


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
    """The event types the reaction acts on: any other is acknowledged unread (by its type header),
    neither decoded nor waiting for its turn. None: those a ``Reactions`` has handlers for, or, for any
    other reaction, every event."""


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
        self._passed: OrderedDict[str, set[int]] = OrderedDict()
        """Versions passed over before an earlier one of their aggregate was handled: counted as
        handled when it is."""
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
            # Not wait_for, which on Python 3.11 can swallow a stop's cancellation (see Reactor._pull).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(remaining, FLOOR_POLL)):
                    await waiting_for.wait()

    def passed_over(self, aggregate: str, version: int) -> None:
        """An event not acted on counts as handled once every earlier one of its aggregate is here, so a
        later event acted on goes at once. (One whose earlier events another replica handled finds it
        acknowledged instead.)"""
        if version == 1 or self._handled.get(aggregate, 0) >= version - 1:
            self._note_handled(aggregate, version)
        else:
            self._passed.setdefault(aggregate, set()).add(version)
            self._passed.move_to_end(aggregate)
            if len(self._passed) > REMEMBERED_AGGREGATES:
                self._passed.popitem(last=False)
        self._notify()

    def begin(self, aggregate: str) -> None:
        self._running[aggregate] = asyncio.Event()
        self._notify()

    def end(self, aggregate: str, version: int, *, handled: bool) -> None:
        if handled:
            self._note_handled(aggregate, version)
        running = self._running.pop(aggregate, None)
        if running is not None:
            running.set()
        self._notify()

    def _note_handled(self, aggregate: str, version: int) -> None:
        handled = max(version, self._handled.get(aggregate, 0))
        if (passed := self._passed.pop(aggregate, None)) is not None:
            while handled + 1 in passed:
                handled += 1
            if later := {v for v in passed if v > handled}:
                self._passed[aggregate] = later
        self._handled[aggregate] = handled
        self._handled.move_to_end(aggregate)
        if len(self._handled) > REMEMBERED_AGGREGATES:
            self._handled.popitem(last=False)

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


async def ensure_parked_stream(nc: NatsClient, replicas: int = 1) -> None:
    js = nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
    config = StreamConfig(
        name=PARKED_STREAM, subjects=["shakti.parked.>"], storage=StorageType.FILE, num_replicas=replicas
    )
    try:
        await js.add_stream(config)
    except APIError as error:
        if error.err_code != STREAM_EXISTS_OTHERWISE:
            raise


def aggregate_of(msg: Msg) -> str:
    """``<aggregate type>.<aggregate id>``, from the subject it is stored on: shakti.<service>.<type>.<id>."""
    return msg.subject.split(".", 2)[-1]


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


class Reactor:
    """One process manager at work in this replica: its durable consumer read through standing pull
    requests on a private inbox, each event handed to a task of its own.

    Not FastStream's pull loop: that asks for one event per request (a request of many waited for the
    rest of its batch, see ``test_an_event_is_handed_over_at_once...``) and passes each through its
    middleware, dependency injection and task group, which cost about a sixth of the platform's event
    loop under load. Here up to ``concurrency`` events are asked for at once and asked again when half have
    come; an event the manager does not act on (``event_types``) is acknowledged from its header alone.
    The server's heartbeats show the requests are alive: when neither an event nor a heartbeat comes
    for ``LOST_AFTER`` (a reconnect drops the server's side of them), they are asked for again."""

    def __init__(self, nc: NatsClient, manager: ProcessManager, part: str) -> None:
        self.nc = nc
        self.js = nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
        self.manager = manager
        self.part = part
        self.inbox = f"{inbox_prefix(part)}.{manager.name}.{nc.new_inbox().rsplit('.', 1)[-1]}"
        self.turns = AggregateTurns(self.js, manager.stream, manager.name)
        self.wanted = manager.event_types
        if self.wanted is None and isinstance(manager.react, Reactions):
            self.wanted = manager.react.handled_types()
        self.batch = max(2, manager.concurrency)
        self._asked = 0
        self._heard = asyncio.Event()
        self._slots = asyncio.Semaphore(manager.concurrency)
        self._handling: set[asyncio.Task[None]] = set()
        self._subscription: Subscription | None = None
        self._pulling: asyncio.Task[None] | None = None
        self._stopping = False
        self._held_back = False

    async def start(self) -> None:
        # Created here with this code's settings: an existing consumer's older ones are replaced.
        await self.js.add_consumer(self.manager.stream, consumer_config(self.manager))
        self._subscription = await self.nc.subscribe(self.inbox, cb=self._received)
        self._pulling = asyncio.create_task(self._pull(), name=f"pull {self.manager.name}")

    async def stop(self, grace: float = STOP_GRACE) -> None:
        """Ask for no more, then let what is being handled finish (an event cut short is delivered
        again after ``ACK_WAIT``, to this replica's successor or another)."""
        self._stopping = True
        if self._pulling is not None:
            self._pulling.cancel()
            # Waited on, not awaited: its end is not this stop's to raise, nor is a cancellation of
            # this stop its to swallow.
            await asyncio.wait({self._pulling}, timeout=grace)
        if self._subscription is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._subscription.unsubscribe()
        if self._handling:
            _, late = await asyncio.wait(set(self._handling), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=grace)

    async def _pull(self) -> None:
        request = {
            "expires": int(PULL_EXPIRES * 1e9),
            "idle_heartbeat": int(HEARTBEAT * 1e9),
        }
        subject = f"$JS.API.CONSUMER.MSG.NEXT.{self.manager.stream}.{self.manager.name}"
        while not self._stopping:
            if self._held_back:
                self._held_back = False
                await asyncio.sleep(TURN_RETRY)
            wanted = self.batch - self._asked
            if wanted * 2 >= self.batch and self.nc.is_connected:
                body = json.dumps({"batch": wanted, **request}).encode()
                # Counted first: an answer may be read while the request is being sent.
                self._asked += wanted
                try:
                    await self.nc.publish(subject, body, reply=self.inbox)
                except nats.errors.Error as error:  # draining, closing or reconnecting: asked again
                    log.warning("%s could not ask for events: %s", self.manager.name, type(error).__name__)
                    self._asked = 0
                    self._held_back = True
                    continue
            try:
                # Not wait_for, which on Python 3.11 can swallow the stop's cancellation when what it
                # waits for comes at the same moment.
                async with asyncio.timeout(LOST_AFTER):
                    await self._heard.wait()
            except TimeoutError:
                self._asked = 0
            self._heard.clear()

    async def _received(self, msg: Msg) -> None:
        self._heard.set()
        headers = msg.headers or {}
        status = headers.get(STATUS_HEADER)
        if status is None:
            self._asked = max(0, self._asked - 1)
            if self.wanted is not None and headers.get(HEADER_TYPE) not in self.wanted:
                await self._pass_over(msg, headers)
                return
            task = asyncio.create_task(self._handle(msg))
            self._handling.add(task)
            task.add_done_callback(self._handling.discard)
        elif status != HEARTBEAT_STATUS:
            # A request ended (expired, or the server dropped it: 404, 408, 409); what it still owed
            # is in its header, or, when not said, every request is taken as ended and asked again.
            owed = headers.get(PENDING_HEADER)
            self._asked = max(0, self._asked - int(owed)) if owed else 0
            # A leader changing, the consumer deleted or a limit reached: not asked again at once.
            self._held_back = status == "409"

    async def _pass_over(self, msg: Msg, headers: dict[str, str]) -> None:
        """Acknowledge, in the order delivered and without a worker, an event not acted on."""
        if (version := headers.get(HEADER_AGGREGATE_VERSION)) is not None:
            self.turns.passed_over(aggregate_of(msg), int(version))
        REACTIONS.labels(self.manager.name, "skipped").inc()
        try:
            await msg.ack()
        except nats.errors.Error as error:  # delivered again after ACK_WAIT, and passed over again
            log.warning("%s could not acknowledge: %s", self.manager.name, type(error).__name__)

    async def _handle(self, msg: Msg) -> None:
        async with self._slots:
            if self._stopping:
                return  # not begun: delivered again after ACK_WAIT, to whoever is running then
            try:
                await self._handle_one(msg)
            except Exception as error:
                # An acknowledgement the connection could not send, or a park that failed: the event
                # is delivered again after ACK_WAIT. The error's kind only: its text may quote the event.
                log.error("%s could not finish an event: %s", self.manager.name, type(error).__name__)

    async def _handle_one(self, msg: Msg) -> None:
        manager = self.manager
        headers = msg.headers or {}
        aggregate = aggregate_of(msg)
        seq = msg.metadata.sequence.stream
        try:
            envelope = decode_message(msg.data, headers, manager.stream, sequence=seq)
        except Exception as error:
            await park(self.js, self.part, manager, msg, f"{type(error).__name__}: {error}", 1)
            REACTIONS.labels(manager.name, "parked").inc()
            await msg.ack()
            return
        with REACTIONS_WAITING.labels(manager.name).track_inprogress():
            turn = await self.turns.wait(aggregate, envelope.aggregate_version, msg.subject, seq)
        if not turn:
            await msg.nak(delay=TURN_RETRY)
            return
        self.turns.begin(aggregate)
        outcome = ""
        try:
            outcome = await react_or_park(self.js, self.part, manager, msg, envelope)
        finally:
            self.turns.end(aggregate, envelope.aggregate_version, handled=bool(outcome))
        REACTIONS.labels(manager.name, outcome).inc()
        await msg.ack()


async def react_or_park(
    js: JetStreamContext, part: str, manager: ProcessManager, msg: Msg, envelope: Envelope
) -> str:
    """``done`` or ``parked``."""
    for attempt in range(1, manager.max_deliver + 1):
        try:
            await manager.react(envelope)
            return "done"
        except Exception as error:
            if attempt == manager.max_deliver:
                await park(js, part, manager, msg, f"{type(error).__name__}: {error}", attempt)
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
    js: JetStreamContext, part: str, manager: ProcessManager, msg: Msg, reason: str, tries: int
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
    await js.publish(f"shakti.parked.{part}.{manager.name}", record.model_dump_json().encode())
