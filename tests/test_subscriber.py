"""Process managers on FastStream durable pull consumers, against a real NATS server."""

from __future__ import annotations

import asyncio
import json

from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

from shared.aggregate import Repository
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.subscriber import PARKED_STREAM, ProcessManager, ensure_parked_stream, subscribe
from tests.sample import Tally, TallyOpened


async def test_reaction_in_order_once_each_and_poison_parked(nats_client: NatsClient, nats_url: str) -> None:
    store = EventStore(nats_client, "tests")
    await store.ensure_stream()
    mirror = Repository(store, Tally)
    seen: list[str] = []

    async def react(cause: Envelope) -> None:
        if not isinstance(cause.event(), TallyOpened) or cause.aggregate_id.startswith("m"):
            return
        if cause.aggregate_id == "poison":
            raise ValueError("cannot handle this one")
        seen.append(cause.aggregate_id)
        # Output id derives from the cause: a redelivery cannot count twice.
        await mirror.execute(f"m{cause.aggregate_id}", lambda t: t.open("mirror"), CommandMeta.reacting_to(cause, "mirror"))

    async def start_broker() -> NatsBroker:
        broker = NatsBroker(nats_url)
        await broker.connect()
        await ensure_parked_stream(broker)
        subscribe(broker, ProcessManager("mirror", "TESTS", "shakti.tests.tally.*", react, max_deliver=2))
        await broker.start()
        return broker

    broker = await start_broker()
    ids = [f"t{i}" for i in range(10)] + ["poison"] + [f"u{i}" for i in range(10)]
    sequences = {}
    for i in ids:
        [stored] = await store.append("tally", i, [TallyOpened(label=i)], expected_sequence=0, expected_version=0, meta=CommandMeta(command_id=i, actor="t"))
        sequences[i] = stored.sequence
    async with asyncio.timeout(20):
        while len(seen) < 20:
            await asyncio.sleep(0.05)
    await broker.stop()
    # Delivering everything again (a new consumer from the start) changes nothing.
    js = nats_client.jetstream()
    await js.delete_consumer("TESTS", "mirror")
    broker = await start_broker()
    async with asyncio.timeout(20):
        while len(seen) < 40:
            await asyncio.sleep(0.05)
    await broker.stop()
    assert seen[:20] == [i for i in ids if i != "poison"]  # stream order
    for i in ids:
        if i != "poison":
            assert len(await mirror.history(f"m{i}")) == 1
    parked = await js.get_msg(PARKED_STREAM, 1)
    record = json.loads(parked.data)
    assert record["consumer"] == "mirror" and record["sequence"] == sequences["poison"] and "cannot handle" in record["reason"]
