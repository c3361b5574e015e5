"""Process managers on JetStream durable pull consumers, against a real NATS server."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field
from typing import Any, cast

import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext

from shared.aggregate import Repository
from shared.dispatch import Reactions, handles
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.subscriber import (
    LOST_AFTER,
    PARKED_STREAM,
    AggregateTurns,
    ProcessManager,
    Reactor,
    consumer_config,
    ensure_parked_stream,
)
from tests.sample import Tally, TallyCounted, TallyOpened
from tests.waiting import eventually


async def start_reactor(nats_url: str, manager: ProcessManager) -> Reactor:
    """A replica of its own: its own connection, as each process of a service has."""
    nc = await nats.connect(nats_url)
    await ensure_parked_stream(nc)
    reactor = Reactor(nc, manager, "tests")
    await reactor.start()
    return reactor


async def stop(reactor: Reactor) -> None:
    await reactor.stop()
    await reactor.nc.close()


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
    reactor = await start_reactor(nats_url, manager)
    ids = [f"t{i}" for i in range(10)] + ["poison"] + [f"u{i}" for i in range(10)]
    sequences = {}
    for i in ids:
        sequences[i] = (await open_tally(store, i)).sequence
    await eventually(lambda: len(seen) >= 20, 20, "every event handled once")
    await stop(reactor)
    # Delivering everything again (a new consumer from the start) changes nothing.
    js = nats_client.jetstream()
    await js.delete_consumer("TESTS", "mirror")
    reactor = await start_reactor(nats_url, manager)
    await eventually(lambda: len(seen) >= 40, 20, "every event handled again")
    await stop(reactor)
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
    reactor = await start_reactor(nats_url, journal.manager("one"))
    try:
        await eventually(lambda: len(journal.entries) == 2 * 24 * 8, 30, "every event handled")
    finally:
        await stop(reactor)
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
    reactors = [await start_reactor(nats_url, journal.manager(name)) for name in ("east", "west")]
    try:
        await append_interleaved(store, aggregates, 10)  # appended while both replicas are consuming
        await eventually(lambda: len(journal.entries) == 2 * 20 * 10, 60, "every event handled")
    finally:
        for reactor in reactors:
            await stop(reactor)
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
    reactor = await start_reactor(nats_url, journal.manager("one", fail=frozenset({("stuck", 2)})))
    try:
        await eventually(lambda: len(journal.entries) == 2 * (4 + 5), 30, "every event handled or parked")
    finally:
        await stop(reactor)
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
    reactor = await start_reactor(nats_url, manager)
    await append_interleaved(store, ["a", "b"], 4)
    await eventually(lambda: len(seen) >= 6, 20, "every count handed over")
    await asyncio.sleep(0.3)
    await stop(reactor)
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

    reactor = await start_reactor(nats_url, ProcessManager("prompt", "TESTS", "shakti.tests.tally.*", react))
    inbox = reactor.inbox  # the orphan is answered where the reactor's own requests are
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
        await stop(reactor)
    late = {name: round(wait, 2) for name, wait in waits.items() if wait > 2.0}
    assert not late, f"events held back by a lingering pull request (seconds): {late}"


class CountsOnly(Reactions):
    """Acts on counts alone; names no event types to its manager."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    @handles(TallyCounted)
    async def counted(self, event: TallyCounted, cause: Envelope) -> None:
        self.seen.append((cause.aggregate_id, cause.aggregate_version))


async def test_a_reactions_policy_is_handed_only_what_it_handles_and_the_aggregates_order_holds(
    nats_client: NatsClient, nats_url: str
) -> None:
    """A ``Reactions`` is its own list of event types: each tally's opening is acknowledged from its
    headers, and since this replica saw the opening passed over, the first count goes at once: it does
    not ask the server what the other replicas have acknowledged (the store's answer is never needed)."""
    store = EventStore(nats_client, "tests")
    await store.ensure_stream()
    policy = CountsOnly()
    reactor = await start_reactor(nats_url, ProcessManager("policy", "TESTS", "shakti.tests.tally.*", policy))
    asked: list[str] = []
    ack_floor = reactor.turns._ack_floor

    async def counted_floor() -> int:
        asked.append("floor")
        return await ack_floor()

    reactor.turns._ack_floor = counted_floor  # type: ignore[method-assign]
    try:
        await append_interleaved(store, ["a", "b"], 4)
        await eventually(lambda: len(policy.seen) >= 6, 20, "every count handed over")
    finally:
        await stop(reactor)
    assert [v for a, v in policy.seen if a == "a"] == [2, 3, 4]
    assert [v for a, v in policy.seen if a == "b"] == [2, 3, 4]
    assert asked == [], "a count waited on the acknowledgement floor though its opening was passed over here"
    js = nats_client.jetstream()

    async def all_acknowledged() -> bool:
        info = await js.consumer_info("TESTS", "policy")
        return bool(info.num_ack_pending == 0 and info.num_pending == 0)

    await eventually(all_acknowledged, 5, "every event acknowledged")


async def test_a_pull_request_the_server_forgot_is_asked_for_again(
    nats_client: NatsClient, nats_url: str
) -> None:
    """The server drops a consumer's waiting pull requests when the consumer is deleted (it says so, 409)
    or when nobody listens on the inbox they answer to, as while a connection is lost (it says nothing):
    either way the reactor asks again and an event stored after that is handed over."""
    store = EventStore(nats_client, "tests")
    await store.ensure_stream()
    seen: list[str] = []

    async def react(cause: Envelope) -> None:
        seen.append(cause.aggregate_id)

    manager = ProcessManager("forgotten", "TESTS", "shakti.tests.tally.*", react)
    reactor = await start_reactor(nats_url, manager)
    try:
        await open_tally(store, "first")
        await eventually(lambda: seen == ["first"], 20, "the first event handed over")
        js = nats_client.jetstream()
        await js.delete_consumer("TESTS", "forgotten")
        await js.add_consumer("TESTS", consumer_config(manager))
        await open_tally(store, "second")
        await eventually(lambda: "second" in seen, 3 * LOST_AFTER, f"handed over after a 409: {seen}")
        # The inbox without a listener for a moment: the server forgets the requests and says nothing.
        assert reactor._subscription is not None
        await reactor._subscription.unsubscribe()
        await reactor.nc.flush()
        await asyncio.sleep(0.5)
        reactor._subscription = await reactor.nc.subscribe(reactor.inbox, cb=reactor._received)
        await open_tally(store, "third")
        await eventually(lambda: "third" in seen, 3 * LOST_AFTER, f"handed over after silence: {seen}")
    finally:
        await stop(reactor)


class NoServer:
    """Where the turns would ask what other replicas acknowledged: they must not need to here."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"asked the server ({name}) though this replica knew the answer")


async def test_an_event_passed_over_while_an_earlier_one_runs_counts_as_handled_when_that_one_ends() -> None:
    """Version 2 is not acted on and is passed over while version 1 is still being handled: once 1
    ends, 3 may go at once, without asking the server what the other replicas acknowledged."""
    turns = AggregateTurns(cast(JetStreamContext, NoServer()), "TESTS", "journal")
    turns.begin("tally.a")
    turns.passed_over("tally.a", 2)
    turns.end("tally.a", 1, handled=True)
    assert await turns.wait("tally.a", 3, "shakti.tests.tally.a", 3)
    turns.begin("tally.a")
    turns.end("tally.a", 3, handled=True)
    # Passed over out of order: each counts once the versions before it are handled.
    turns.passed_over("tally.a", 5)
    turns.passed_over("tally.a", 4)
    assert await turns.wait("tally.a", 6, "shakti.tests.tally.a", 6)
