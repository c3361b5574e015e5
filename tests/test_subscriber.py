"""Process managers on FastStream durable pull consumers, against a real NATS server."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field

from faststream.nats import NatsBroker
from nats.aio.client import Client as NatsClient

from shared.aggregate import Repository
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.subscriber import PARKED_STREAM, ProcessManager, ensure_parked_stream, subscribe
from tests.sample import Tally, TallyCounted, TallyOpened
from tests.waiting import eventually


async def start_broker(nats_url: str, manager: ProcessManager) -> NatsBroker:
    broker = NatsBroker(nats_url)
    await broker.connect()
    await ensure_parked_stream(broker)
    await subscribe(broker, manager, "tests")
    await broker.start()
    return broker


async def test_reaction_once_each_and_poison_parked(nats_client: NatsClient, nats_url: str) -> None:
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
        await mirror.execute(
            f"m{cause.aggregate_id}", lambda t: t.open("mirror"), CommandMeta.reacting_to(cause, "mirror")
        )

    manager = ProcessManager("mirror", "TESTS", "shakti.tests.tally.*", react, max_deliver=2)
    broker = await start_broker(nats_url, manager)
    ids = [f"t{i}" for i in range(10)] + ["poison"] + [f"u{i}" for i in range(10)]
    sequences = {}
    for i in ids:
        sequences[i] = (await open_tally(store, i)).sequence
    await eventually(lambda: len(seen) >= 20, 20, "every event handled once")
    await broker.stop()
    # Delivering everything again (a new consumer from the start) changes nothing.
    js = nats_client.jetstream()
    await js.delete_consumer("TESTS", "mirror")
    broker = await start_broker(nats_url, manager)
    await eventually(lambda: len(seen) >= 40, 20, "every event handled again")
    await broker.stop()
    wanted = sorted(i for i in ids if i != "poison")
    assert sorted(seen[:20]) == wanted and sorted(seen[20:]) == wanted
    for i in ids:
        if i != "poison":
            assert len(await mirror.history(f"m{i}")) == 1
    parked = await js.get_msg(PARKED_STREAM, 1)
    record = json.loads(parked.data or b"{}")
    assert (
        record["consumer"] == "mirror"
        and record["sequence"] == sequences["poison"]
        and "cannot handle" in record["reason"]
    )


@dataclass
class Journal:
    """What the reactions did, in the order they did it, across replicas."""

    entries: list[tuple[str, str, int, str]] = field(default_factory=list)
    running: int = 0
    most_at_once: int = 0

    def manager(self, replica: str, fail: frozenset[tuple[str, int]] = frozenset()) -> ProcessManager:
        async def react(cause: Envelope) -> None:
            aggregate, version = cause.aggregate_id, cause.aggregate_version
            self.entries.append(("start", aggregate, version, replica))
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            try:
                await asyncio.sleep(random.uniform(0, 0.01))
                if (aggregate, version) in fail:
                    raise RuntimeError("this one always fails")
            finally:
                self.running -= 1
                self.entries.append(("end", aggregate, version, replica))

        return ProcessManager("journal", "TESTS", "shakti.tests.tally.*", react, max_deliver=2, concurrency=8)

    def of(self, aggregate: str) -> list[tuple[str, int]]:
        return [(what, version) for what, a, version, _ in self.entries if a == aggregate]

    def replicas(self) -> set[str]:
        return {replica for *_, replica in self.entries}


def one_after_another(versions: int, tries: dict[int, int] | None = None) -> list[tuple[str, int]]:
    """Each version started and ended before the next one starts (``tries``: a version run more than once)."""
    return [
        (what, v)
        for v in range(1, versions + 1)
        for _ in range((tries or {}).get(v, 1))
        for what in ("start", "end")
    ]


async def open_tally(store: EventStore, name: str) -> Envelope:
    """A new tally's first event, as stored."""
    [stored] = await store.append(
        "tally",
        name,
        [TallyOpened(label=name)],
        expected_sequence=0,
        expected_version=0,
        meta=CommandMeta(command_id=f"{name}:open", actor="t"),
    )
    return stored


async def append_interleaved(store: EventStore, aggregates: list[str], versions: int) -> None:
    """Every aggregate's events, the aggregates interleaved in the stream, some events as atomic batches."""
    for aggregate in aggregates:
        await open_tally(store, aggregate)
    last = {aggregate: (await store.load("tally", aggregate))[-1].sequence for aggregate in aggregates}
    version = 1
    while version < versions:
        size = 2 if version + 2 <= versions and version % 3 == 0 else 1
        for aggregate in aggregates:
            stored = await store.append(
                "tally",
                aggregate,
                [TallyCounted(amount=1, note="")] * size,
                expected_sequence=last[aggregate],
                expected_version=version,
                meta=CommandMeta(command_id=f"{aggregate}:{version}", actor="t"),
            )
            last[aggregate] = stored[-1].sequence
        version += size


async def test_aggregates_in_parallel_each_in_order(nats_client: NatsClient, nats_url: str) -> None:
    store = EventStore(nats_client, "tests")
    await store.ensure_stream()
    journal = Journal()
    aggregates = [f"a{i}" for i in range(24)]
    await append_interleaved(store, aggregates, 8)  # a backlog before the consumer starts
    broker = await start_broker(nats_url, journal.manager("one"))
    try:
        await eventually(lambda: len(journal.entries) == 2 * 24 * 8, 30, "every event handled")
    finally:
        await broker.stop()
    assert journal.most_at_once > 1, "reactions never overlapped"
    for aggregate in aggregates:
        assert journal.of(aggregate) == one_after_another(8), aggregate


async def test_two_replicas_share_the_work_and_keep_each_aggregates_order(
    nats_client: NatsClient, nats_url: str
) -> None:
    store = EventStore(nats_client, "tests")
    await store.ensure_stream()
    journal = Journal()
    aggregates = [f"b{i}" for i in range(20)]
    brokers = [await start_broker(nats_url, journal.manager(name)) for name in ("east", "west")]
    try:
        await append_interleaved(store, aggregates, 10)  # appended while both replicas are consuming
        await eventually(lambda: len(journal.entries) == 2 * 20 * 10, 60, "every event handled")
    finally:
        for broker in brokers:
            await broker.stop()
    assert journal.replicas() == {"east", "west"}
    for aggregate in aggregates:
        assert journal.of(aggregate) == one_after_another(10), aggregate


async def test_a_failing_event_holds_back_its_aggregate_only_then_is_parked(
    nats_client: NatsClient, nats_url: str
) -> None:
    store = EventStore(nats_client, "tests")
    await store.ensure_stream()
    journal = Journal()
    await append_interleaved(store, ["stuck", "free"], 4)
    broker = await start_broker(nats_url, journal.manager("one", fail=frozenset({("stuck", 2)})))
    try:
        await eventually(lambda: len(journal.entries) == 2 * (4 + 5), 30, "every event handled or parked")
    finally:
        await broker.stop()
    # Tried twice (max_deliver), parked, then the aggregate's later events in order.
    assert journal.of("stuck") == one_after_another(4, tries={2: 2})
    assert journal.of("free") == one_after_another(4)
    stuck = [n for n, (_, a, v, _) in enumerate(journal.entries) if a == "stuck" and v == 2]
    free_ended = [n for n, (what, a, _, _) in enumerate(journal.entries) if a == "free" and what == "end"]
    assert free_ended[-1] < stuck[-1], "the other aggregate waited for the failing one"
    record = json.loads((await nats_client.jetstream().get_msg(PARKED_STREAM, 1)).data or b"{}")
    assert record["consumer"] == "journal" and record["deliveries"] == 2


async def test_a_manager_naming_its_event_types_is_handed_only_those_and_the_rest_are_acknowledged(
    nats_client: NatsClient, nats_url: str
) -> None:
    """Of each tally's opening and three counts the journal acts on the counts alone: the openings are
    passed over unread, and the counts after them still come in order, each once."""
    store = EventStore(nats_client, "tests")
    await store.ensure_stream()
    seen: list[tuple[str, int]] = []

    async def react(cause: Envelope) -> None:
        seen.append((cause.aggregate_id, cause.aggregate_version))

    counts = frozenset({TallyCounted.event_type})
    manager = ProcessManager("counts", "TESTS", "shakti.tests.tally.*", react, event_types=counts)
    broker = await start_broker(nats_url, manager)
    await append_interleaved(store, ["a", "b"], 4)
    await eventually(lambda: len(seen) >= 6, 20, "every count handed over")
    await asyncio.sleep(0.3)
    await broker.stop()
    assert [v for a, v in seen if a == "a"] == [2, 3, 4] and [v for a, v in seen if a == "b"] == [2, 3, 4]
    info = await nats_client.jetstream().consumer_info("TESTS", "counts")
    assert info.num_ack_pending == 0 and info.num_pending == 0


async def test_an_event_is_handed_over_at_once_though_a_pull_request_of_many_lingers(
    nats_client: NatsClient, nats_url: str
) -> None:
    """nats-py leaves a pull request open on the server when it reads an earlier request's expiry as its
    own (seen under load: a fetch that timed out, then the server's 408 came after the next fetch had
    asked). Such a request, for many events and without ``no_wait``, takes the next event and no status
    follows it; a fetch of many then waited for more, holding the event until another came or the fetch
    expired (reactions 0.3-5 s late). Here such a request is made on purpose, on the subscriber's own
    inbox: every event after it must still reach its reaction at once."""
    store = EventStore(nats_client, "tests")
    await store.ensure_stream()
    handed: dict[str, float] = {}
    loop = asyncio.get_running_loop()

    async def react(cause: Envelope) -> None:
        handed[cause.aggregate_id] = loop.time()

    broker = await start_broker(nats_url, ProcessManager("prompt", "TESTS", "shakti.tests.tally.*", react))
    [subscriber] = broker.subscribers
    # nats-py keeps the inbox its fetches are answered on in a private field; the orphan must share it.
    inbox = subscriber.subscription._deliver  # type: ignore[attr-defined]
    waits: dict[str, float] = {}

    async def open_and_time(name: str) -> None:
        await open_tally(store, name)
        appended = loop.time()
        await eventually(lambda: name in handed, 20, f"{name} handed over")
        waits[name] = handed[name] - appended

    try:
        await open_and_time("before")
        lingering = {"batch": 16, "expires": 15_000_000_000}
        await nats_client.publish(
            "$JS.API.CONSUMER.MSG.NEXT.TESTS.prompt", json.dumps(lingering).encode(), reply=inbox
        )
        await nats_client.flush()
        for name in ("after-1", "after-2", "after-3"):
            await open_and_time(name)
    finally:
        await broker.stop()
    late = {name: round(wait, 2) for name, wait in waits.items() if wait > 2.0}
    assert not late, f"events held back by a lingering pull request (seconds): {late}"
