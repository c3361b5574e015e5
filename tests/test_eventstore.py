"""The event store against a real NATS server: concurrency, idempotency, atomic batches, durability.

The contract tests (``store``) run on the JetStream store and on the in-memory store of the test kit,
so that unit tests using the latter rely on the same promises."""

from __future__ import annotations

import asyncio
import json
import random
from functools import partial
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shared.aggregate import Repository, Store
from shared.events import HEADER_TYPE, Envelope, events
from shared.eventstore import (
    BATCH_COMMIT,
    BATCH_ID,
    BATCH_SEQUENCE,
    FOLLOWER_RETRIES,
    CommandMeta,
    ConcurrencyError,
    DirectReader,
    EventStore,
    Page,
    Tail,
    stored_sequence,
)
from shared.natsserver import EmbeddedNatsServer
from shared.testing import MemoryEventStore, MemoryStreams
from tests.sample import Tally, TallyCounted, TallyOpened


def meta(command_id: str) -> CommandMeta:
    return CommandMeta(command_id=command_id, actor="test")


@pytest.fixture
async def jetstream(nats_client: NatsClient) -> EventStore:
    s = EventStore(nats_client, "tests")
    await s.ensure_stream()
    return s


@pytest.fixture(params=["jetstream", "memory"])
def store(request: pytest.FixtureRequest) -> Store:
    """The contract: both stores keep the same promises."""
    if request.param == "memory":
        return MemoryEventStore(MemoryStreams(), "tests")
    found: EventStore = request.getfixturevalue("jetstream")
    return found


async def test_twenty_concurrent_writers_on_one_aggregate(store: Store) -> None:
    await store.append(
        "tally", "t1", [TallyOpened(label="x")], expected_sequence=0, expected_version=0, meta=meta("open")
    )
    first = await store.load("tally", "t1")

    async def writer(n: int) -> str:
        try:
            await store.append(
                "tally",
                "t1",
                [TallyCounted(amount=n, note=str(n))],
                expected_sequence=first[-1].sequence,
                expected_version=1,
                meta=meta(f"w{n}"),
            )
        except ConcurrencyError:
            return "conflict"
        return "won"

    outcomes = await asyncio.gather(*(writer(n) for n in range(20)))
    assert outcomes.count("won") == 1
    assert outcomes.count("conflict") == 19
    history = await store.load("tally", "t1")
    assert [e.aggregate_version for e in history] == [1, 2]


async def test_concurrent_commands_with_retry_keep_every_success(store: Store) -> None:
    repo = Repository(store, Tally)
    await repo.execute("t2", lambda t: t.open("x"), meta("open"))
    results = await asyncio.gather(
        *(repo.execute("t2", partial(Tally.count, amount=n), meta(f"c{n}")) for n in range(20))
    )
    assert all(len(r) == 1 for r in results)
    history = await repo.history("t2")
    assert [e.aggregate_version for e in history] == list(range(1, 22))
    assert sorted(e.event().amount for e in history[1:]) == list(range(20))  # type: ignore[attr-defined]
    assert len({e.sequence for e in history}) == 21
    assert (await repo.get("t2")).total == sum(range(20))


async def test_repeated_command_stores_nothing_new(store: Store) -> None:
    repo = Repository(store, Tally)
    first = await repo.execute("t3", lambda t: t.open("x"), meta("open-3"))
    again = await repo.execute("t3", lambda t: t.open("x"), meta("open-3"))
    assert [e.event_id for e in again] == [e.event_id for e in first]
    # Through the store alone too: the stale expectation conflicts, and the store finds its own events.
    raw_again = await store.append(
        "tally", "t3", [TallyOpened(label="x")], expected_sequence=0, expected_version=0, meta=meta("open-3")
    )
    assert [e.sequence for e in raw_again] == [e.sequence for e in first]
    assert len(await store.load("tally", "t3")) == 1


async def test_a_command_run_once_returns_its_events_to_one_caller_alone(store: Store) -> None:
    """``execute_once``: of ten callers of one command at once (replicas, a redelivered cause), one
    gets the events to act on; later repeats, with or without the aggregate in hand, get none."""
    repo = Repository(store, Tally)
    runs = await asyncio.gather(
        *(
            repo.execute_once("t5", lambda t: t.open("x"), meta("open-5"), known=Tally("t5"))
            for _ in range(10)
        )
    )
    assert sorted(len(r) for r in runs) == [0] * 9 + [1]
    assert await repo.execute_once("t5", lambda t: t.open("x"), meta("open-5")) == []
    assert await repo.execute_once("t5", lambda t: t.open("x"), meta("open-5"), known=Tally("t5")) == []
    assert len(await store.load("tally", "t5")) == 1
    # Stored before commands were run once (no fingerprint): its repeat is not this caller's either.
    await repo.execute("t6", lambda t: t.open("x"), meta("open-6"))
    assert await repo.execute_once("t6", lambda t: t.open("x"), meta("open-6"), known=Tally("t6")) == []
    assert await repo.execute_once("t6", lambda t: t.open("x"), meta("open-6")) == []


async def test_several_events_are_stored_all_or_none(store: Store) -> None:
    three = [TallyOpened(label="b"), TallyCounted(amount=1, note=""), TallyCounted(amount=2, note="")]
    stored = await store.append(
        "tally", "t4", three, expected_sequence=0, expected_version=0, meta=meta("b1")
    )
    assert [e.aggregate_version for e in stored] == [1, 2, 3]
    assert [e.sequence for e in stored] == [e.sequence for e in await store.load("tally", "t4")]
    # A batch with a stale expectation is refused whole.
    with pytest.raises(ConcurrencyError):
        await store.append(
            "tally",
            "t4",
            [TallyCounted(amount=5, note=""), TallyCounted(amount=6, note="")],
            expected_sequence=stored[0].sequence,
            expected_version=1,
            meta=meta("b2"),
        )
    assert len(await store.load("tally", "t4")) == 3
    assert await store.last_sequence() == 3


async def test_event_type_travels_in_headers(jetstream: EventStore, nats_client: NatsClient) -> None:
    store = jetstream
    await store.append(
        "tally", "t5", [TallyOpened(label="h")], expected_sequence=0, expected_version=0, meta=meta("h")
    )
    msg = await nats_client.jetstream().get_msg("TESTS", 1)
    assert msg.headers is not None and msg.headers[HEADER_TYPE] == "TallyOpened"


async def test_load_pages_through_a_long_history(store: Store) -> None:
    """Twelve hundred events of one aggregate, interleaved with another's: more than one page."""
    batch = [TallyCounted(amount=1, note="") for _ in range(100)]
    seq = other_seq = 0
    for i in range(12):
        seq = (
            await store.append(
                "tally", "long", batch, expected_sequence=seq, expected_version=i * 100, meta=meta(f"l{i}")
            )
        )[-1].sequence
        other = [TallyCounted(amount=1, note="")]
        other_seq = (
            await store.append(
                "tally", "other", other, expected_sequence=other_seq, expected_version=i, meta=meta(f"o{i}")
            )
        )[-1].sequence
    history = await store.load("tally", "long")
    assert [e.aggregate_version for e in history] == list(range(1, 1201))
    assert len(await store.load("tally", "other")) == 12


async def test_v1_event_is_upcast_on_read(jetstream: EventStore, nats_client: NatsClient) -> None:
    store = jetstream
    old = Envelope(
        event_id="00000000-0000-0000-0000-000000000001",
        event_type="TallyCounted",
        schema_version=1,
        aggregate_type="tally",
        aggregate_id="up",
        aggregate_version=1,
        occurred_at="2025-01-01T00:00:00Z",
        correlation_id="00000000-0000-0000-0000-000000000002",
        actor="old",
        command_id="old",
        payload={"n": 7},
    )
    await nats_client.jetstream().publish("shakti.tests.tally.up", old.model_dump_json().encode())
    [loaded] = await store.load("tally", "up")
    event = loaded.event()
    assert isinstance(event, TallyCounted) and event.amount == 7 and event.note == "(v1)"
    assert events.decode("TallyCounted", 2, {"amount": 7, "note": "(v1)"}) == event


async def test_acknowledged_events_survive_a_server_restart(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats").start()
    port = server.port
    acked: list[int] = []
    stop = asyncio.Event()

    async def appender() -> None:
        s = await EventStore.connect(server.url, "tests")
        n = 0
        while not stop.is_set():
            try:
                await s.append(
                    "tally",
                    f"a{n}",
                    [TallyOpened(label=str(n))],
                    expected_sequence=0,
                    expected_version=0,
                    meta=meta(f"r{n}"),
                )
                acked.append(n)
                n += 1
            except Exception:
                await asyncio.sleep(0.05)  # server down: retry the same command
        await s.close()

    task = asyncio.create_task(appender())
    await asyncio.sleep(0.5)
    server.stop()
    await asyncio.sleep(0.3)
    server = EmbeddedNatsServer(tmp_path / "nats", port=port).start()
    await asyncio.sleep(0.5)
    stop.set()
    await task
    server.stop()
    server = EmbeddedNatsServer(tmp_path / "nats", port=port).start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        info = await js.stream_info("TESTS")
        labels = set()
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg("TESTS", seq)
            labels.add(int(json.loads(msg.data or b"{}")["payload"]["label"]))
        await nc.close()
    finally:
        server.stop()
    assert len(acked) > 10
    assert set(acked) <= labels
    assert info.state.messages == len(labels)  # nothing doubled by the retries


async def test_a_tail_stops_when_cancelled_wherever_the_cancellation_lands(
    jetstream: EventStore, nats_client: NatsClient
) -> None:
    """A follower (a projection, routing's duty board) is cancelled when its service stops. Before,
    waiting with Python 3.11's wait_for, a cancellation landing just as the doorbell rang or a page
    came in was lost, and the follower read on forever: the service never stopped (a quarter of 300
    cancellations under a steady stream of appends)."""
    store = jetstream
    js = nats_client.jetstream()
    appending = True

    async def append() -> None:
        n = 0
        while appending:
            await js.publish(f"shakti.tests.tally.{n % 7}", b"{}")
            n += 1
            await asyncio.sleep(random.uniform(0, 0.003))

    async def follow() -> None:
        async with Tail(DirectReader(nats_client), store.stream, "shakti.tests.>", batch=50) as tail:
            while True:
                await tail.next_page(5.0)

    appender = asyncio.create_task(append())
    try:
        for _ in range(150):
            follower = asyncio.create_task(follow())
            await asyncio.sleep(random.uniform(0, 0.05))
            follower.cancel()
            stopped, _ = await asyncio.wait([follower], timeout=3)
            assert stopped, "the follower went on after its cancellation"
    finally:
        appending = False
        await appender


async def test_a_tail_at_the_end_gets_a_batch_of_events_as_soon_as_it_is_stored(
    jetstream: EventStore, nats_client: NatsClient
) -> None:
    """A command's several events go in as one atomic batch: the doorbell rings for each message as it
    is published, before the batch is committed, and the read the first ring starts can find nothing
    yet. Then the tail must look again shortly; it waited for its 5-s poll instead, and the read model
    (the page after a command, a registration after an import) lagged by seconds."""
    store = jetstream
    async with Tail(DirectReader(nats_client), store.stream, "shakti.tests.>", batch=50) as tail:
        assert await tail.next_page(0) == []
        for n in range(10):
            three = [TallyOpened(label="b"), TallyCounted(amount=1, note=""), TallyCounted(amount=2, note="")]
            appending = asyncio.create_task(
                store.append(
                    "tally", f"b{n}", three, expected_sequence=0, expected_version=0, meta=meta(f"b{n}")
                )
            )
            got: list[int] = []
            async with asyncio.timeout(1.0):  # the poll would answer after 5 s
                while len(got) < 3:
                    got += [stored_sequence(m) for m in await tail.next_page(1.0)]
            stored = await appending
            assert got == [e.sequence for e in stored]


async def test_a_batch_rings_once_it_is_committed_not_at_each_of_its_messages(
    jetstream: EventStore, nats_client: NatsClient
) -> None:
    """An atomic batch is stored at its commit. Its other messages reach the doorbell first, as they are
    published: a read started by each of them found nothing and was retried, 2, 4, 8... ms later (41
    reads here while the commit was held back). The tail reads once the commit comes, and reads the
    whole batch."""
    store = jetstream
    reader = CountedReader(nats_client)
    subject = "shakti.tests.tally.batch"
    async with Tail(reader, store.stream, "shakti.tests.>", batch=50) as tail:
        assert await tail.next_page(0) == []
        before = reader.reads
        for n in (1, 2):  # held back: a publisher slow to send its commit
            await nats_client.publish(subject, b"{}", headers={BATCH_ID: "b1", BATCH_SEQUENCE: str(n)})
        assert await tail.next_page(0.3) == []
        assert reader.reads == before, f"{reader.reads - before} reads before the batch was committed"
        commit = {BATCH_ID: "b1", BATCH_SEQUENCE: "3", BATCH_COMMIT: "1"}
        answer = await nats_client.request(subject, b"{}", headers=commit, timeout=2.0)
        assert b'"count":3' in answer.data, answer.data
        got = await tail.next_page(1.0)
    assert len(got) == 3, got
    assert reader.reads - before <= 3, reader.reads - before  # the batch, and the next page's read ahead


class CountedReader(DirectReader):
    """Direct gets, counted."""

    reads = 0

    async def page(self, stream: str, subject: str, start: int, batch: int) -> Page:
        self.reads += 1
        return await super().page(stream, subject, start, batch)


class LaggingReplica(DirectReader):
    """Direct gets answered by a cluster replica that holds the stream only up to ``holds``, and, once
    it has answered, up to ``then``."""

    holds = 0
    then: int | None = None

    async def page(self, stream: str, subject: str, start: int, batch: int) -> Page:
        stored = await super().page(stream, subject, start, batch)
        answer = Page(asyncio.get_running_loop().create_future())
        answer.status = stored.status
        answer.messages = [m for m in stored.messages if stored_sequence(m) <= self.holds]
        answer.pending = stored.pending if answer.messages == stored.messages else 0
        if self.then is not None:
            self.holds = self.then
        return answer


async def test_a_message_that_never_rang_does_not_take_the_place_of_one_that_did(
    jetstream: EventStore, nats_client: NatsClient
) -> None:
    """A tail at the end waits for the doorbell rather than reading ahead after every page, while it has
    read as many messages as rang. A message published before the doorbell subscribed never rings; read
    late (a replica that lacked it at first), it made up for the ring of a message that replica did not
    have yet, and the tail waited for its 5-s poll to read that one (a review's reproduction)."""
    publisher = nats_client.jetstream()
    unrung = (await publisher.publish("shakti.tests.tally.u", b"U", headers={"Nats-Msg-Id": "u"})).seq
    replica = LaggingReplica(nats_client)
    replica.holds = unrung - 1
    async with Tail(replica, jetstream.stream, "shakti.tests.>", batch=50) as tail:
        assert await tail.next_page(0.05) == []  # the end, as far as the replica knows
        replica.holds = unrung
        rung = (await publisher.publish("shakti.tests.tally.m", b"M", headers={"Nats-Msg-Id": "m"})).seq
        async with asyncio.timeout(2.0):
            while not tail._unread:
                await asyncio.sleep(0.001)
        replica.then = rung  # the replica has it once it has answered the next read
        got: list[bytes] = []
        async with asyncio.timeout(2.0):  # the poll would answer after 5 s
            while b"M" not in got:
                got += [m.data for m in await tail.next_page(6.0)]
    assert got == [b"U", b"M"]


async def test_a_ring_no_message_answers_costs_a_few_reads_once(
    jetstream: EventStore, nats_client: NatsClient
) -> None:
    """A publish the server refuses (it lost the race for its subject's sequence) rings the doorbell and
    stores nothing. The tail looks for it a bounded number of times, once: it looked again at every
    quiet moment while events kept coming (145 reads where 20 do, in a review's repro)."""
    store = jetstream
    reader = CountedReader(nats_client)
    got: list[Msg] = []
    async with Tail(reader, store.stream, "shakti.tests.>", batch=50) as tail:
        assert await tail.next_page(0) == []

        async def follow() -> None:
            while True:
                got.extend(await tail.next_page(1.0))

        following = asyncio.create_task(follow())
        try:
            await asyncio.sleep(0.2)
            refused = {"Nats-Expected-Last-Subject-Sequence": "99"}
            await nats_client.publish("shakti.tests.tally.x", b"{}", headers=refused)
            await asyncio.sleep(0.2)
            before = reader.reads
            for n in range(10):  # an event every 0.3 s: never quiet for the 1.9 s the retries last
                await nats_client.jetstream().publish(f"shakti.tests.tally.{n}", b"{}")
                await asyncio.sleep(0.3)
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    assert len(got) == 10
    assert reader.reads - before <= 2 * 10 + FOLLOWER_RETRIES, reader.reads - before
