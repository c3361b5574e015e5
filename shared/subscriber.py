"""Process managers: a service reacting to other services' events, on FastStream durable pull consumers.

All replicas of a service share one durable consumer, which allows one event in flight
(``max_ack_pending`` = 1), so events reach the reaction in stream order whichever replica fetches
them. A reaction must be idempotent (derive its commands' ids from the cause, see
``CommandMeta.reacting_to``): the stream gives at-least-once delivery.

An event that keeps failing is retried in place (holding the stream back, to keep order) and parked after
``max_deliver`` tries: a record with the reason goes to
the ``PARKED`` stream (a reference to the event, never its payload), and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from faststream import Context
from faststream.middlewares import AckPolicy
from faststream.nats import JStream, NatsBroker, PullSub
from faststream.nats.message import NatsMessage
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, StorageType, StreamConfig
from nats.js.errors import APIError
from pydantic import BaseModel

from shared.events import HEADER_TYPE, Envelope, utcnow
from shared.eventstore import STREAM_EXISTS_OTHERWISE, decode_message

log = logging.getLogger(__name__)

Reaction = Callable[[Envelope], Awaitable[None]]

PARKED_STREAM = "PARKED"


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


async def ensure_parked_stream(broker: NatsBroker, replicas: int = 1) -> None:
    js = (await broker.connect()).jetstream()
    config = StreamConfig(
        name=PARKED_STREAM, subjects=["shakti.parked.>"], storage=StorageType.FILE, num_replicas=replicas
    )
    try:
        await js.add_stream(config)
    except APIError as error:
        if error.err_code != STREAM_EXISTS_OTHERWISE:
            raise


def subscribe(broker: NatsBroker, manager: ProcessManager) -> None:
    """Register ``manager`` on ``broker`` (before the broker starts)."""

    @broker.subscriber(
        manager.subject,
        stream=JStream(manager.stream, declare=False),
        durable=manager.name,
        # One message per fetch: a fetch returns as soon as an event arrives (FastStream's batch mode
        # waits to fill the batch), and one message in flight keeps stream order across replicas.
        pull_sub=PullSub(1, timeout=5.0),
        config=ConsumerConfig(max_ack_pending=1, ack_wait=30.0),
        ack_policy=AckPolicy.MANUAL,
        title=manager.name,
        description=manager.description,
    )
    async def handle(body: Any, message: NatsMessage = Context("message")) -> None:
        msg: Msg = message.raw_message
        seq = msg.metadata.sequence.stream
        for attempt in range(1, manager.max_deliver + 1):
            try:
                envelope = decode_message(msg.data, msg.headers or {}, manager.stream)
                await manager.react(envelope.model_copy(update={"sequence": seq}))
                break
            except Exception as error:
                if attempt == manager.max_deliver:
                    await park(broker, manager, msg, f"{type(error).__name__}: {error}", attempt)
                    break
                log.warning(
                    "%s failed on %s #%d (try %d): %s",
                    manager.name,
                    manager.stream,
                    seq,
                    attempt,
                    type(error).__name__,
                )
                # Retry in place, holding the events after it back, so that order is kept.
                await msg.in_progress()
                await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
        await msg.ack()


async def park(broker: NatsBroker, manager: ProcessManager, msg: Msg, reason: str, tries: int) -> None:
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
    js = (await broker.connect()).jetstream()
    await js.publish(f"shakti.parked.{manager.name}", record.model_dump_json().encode())
