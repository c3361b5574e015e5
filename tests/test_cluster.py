"""A three-node NATS JetStream cluster on loopback, R3 streams, and a node killed under load.

Writers keep issuing commands and a projection keeps applying them while the stream's leader is
killed with SIGKILL, restarted, and then the *new* leader is killed too, so that the restarted node
must be part of the quorum that stores what follows. At the end every acknowledged event is in the
stream exactly once, each aggregate's history has no gap, and the PostgreSQL read model equals both
what the acknowledgements say and a rebuild from scratch.

``NatsCluster`` is reused by the other cluster tests and by ``bench/e2e.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, BadRequestError

from shared.aggregate import Repository
from shared.consistency import compare_projection
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, EventStore, decode_message
from shared.natsserver import EmbeddedNatsServer, free_port
from shared.projection import Projector
from shared.readmodel import create_engine
from tests.sample import Tally, TallyCounted, TallyProjection, TallyTables, rows
from tests.waiting import eventually

CLUSTER_NAME = "shakti"
NO_SUITABLE_PEERS = 10005


class NatsCluster:
    """Three ``nats-server`` processes from the wheel, routed to each other, JetStream on each."""

    def __init__(
        self, root: Path, size: int = 3, node_args: Callable[[int], list[str]] | None = None
    ) -> None:
        """``node_args(i)``: more command-line arguments for node ``i`` (a config file, ports)."""
        self.routes = [free_port() for _ in range(size)]
        self.nodes: list[EmbeddedNatsServer] = []
        for i, route in enumerate(self.routes):
            peers = ",".join(f"nats://127.0.0.1:{p}" for p in self.routes if p != route)
            args = [
                "--server_name",
                f"n{i}",
                "--cluster_name",
                CLUSTER_NAME,
                "--cluster",
                f"nats://127.0.0.1:{route}",
                "--routes",
                peers,
                *(node_args(i) if node_args else []),
            ]
            self.nodes.append(EmbeddedNatsServer(root / f"n{i}", extra_args=args))

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def node(self, server_name: str) -> EmbeddedNatsServer:
        return self.nodes[int(server_name.removeprefix("n"))]

    def start(self) -> NatsCluster:
        for node in self.nodes:
            node.start()
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    async def connect(self, name: str, **options: Any) -> NatsClient:
        """A client that knows every node, so that it fails over when one dies."""
        nc = await nats.connect(
            self.urls,
            name=name,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            connect_timeout=2,
            **options,
        )
        await eventually(lambda: _jetstream_answers(nc), 30, "the cluster elects a JetStream meta leader")
        return nc


async def _jetstream_answers(nc: NatsClient) -> bool:
    try:
        await nc.jetstream().account_info()
    except Exception:
        return False
    return True


async def until_placed(create: Callable[[], Awaitable[Any]], timeout: float = 30) -> None:
    """Create a replicated stream once the cluster can place it.

    ``connect`` waits for a JetStream meta leader, which two nodes can elect before the third has
    joined the meta group: an R3 stream created in that moment is refused with "no suitable peers for
    placement" (err_code 10005). Seen when the nodes start fast (from the deploy config), and the kind
    of failure a loaded machine makes rare but possible."""

    async def placed() -> bool:
        try:
            await create()
        except BadRequestError as error:
            if error.err_code != NO_SUITABLE_PEERS:
                raise
            return False
        return True

    await eventually(placed, timeout, "the cluster places a replicated stream")


async def stream_leader(nc: NatsClient, stream: str) -> str:
    info = await nc.jetstream().stream_info(stream)
    assert info.cluster is not None and info.cluster.leader
    return str(info.cluster.leader)


async def replicas_current(nc: NatsClient, stream: str, size: int = 3) -> bool:
    """Every replica of the stream is online and has caught up with the leader."""
    try:
        info = await nc.jetstream().stream_info(stream)
    except Exception:
        return False
    cluster = info.cluster
    if cluster is None or not cluster.leader:
        return False
    peers = cluster.replicas or []
    return len(peers) == size - 1 and all(p.current and not p.offline and not p.lag for p in peers)


async def stored_events(nc: NatsClient, stream: str, subjects: str) -> list[Envelope]:
    """Everything in a stream, read with an ephemeral consumer (not through the code under test).

    Right after a node rejoins, the new consumer may have no leader for a moment: read again."""
    for attempt in itertools.count(1):
        try:
            return await _read_stream(nc, stream, subjects)
        except (APIError, TimeoutError):
            if attempt == 20:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def _read_stream(nc: NatsClient, stream: str, subjects: str) -> list[Envelope]:
    js = nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    sub = await js.pull_subscribe(
        subjects,
        stream=stream,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE, mem_storage=True),
    )
    out: list[Envelope] = []
    try:
        while not out or out[-1].sequence < last:
            for msg in await sub.fetch(500, timeout=5.0):
                envelope = decode_message(msg.data, msg.headers or {}, stream)
                out.append(envelope.model_copy(update={"sequence": msg.metadata.sequence.stream}))
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return out


async def keep_running(projector: Projector[Any]) -> None:
    """As the service runtime does: a projection loop that fails (its node died) starts again."""
    while True:
        try:
            await projector.run()
        except Exception:
            await asyncio.sleep(0.2)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    nodes = NatsCluster(tmp_path / "nats").start()
    try:
        yield nodes
    finally:
        nodes.stop()


@dataclass
class Load:
    """Writers issuing Tally commands until told to stop, each retried with its command id until
    acknowledged (as an HTTP client would), recording what each acknowledgement returned."""

    store: EventStore
    writers: int = 6
    acknowledged: dict[str, list[Envelope]] = field(default_factory=dict)
    amounts: dict[str, int] = field(default_factory=dict)
    opened: set[str] = field(default_factory=set)
    failures: int = 0
    _numbers: Iterator[int] = field(default_factory=itertools.count)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _until_acknowledged(self, tally: str, command: str, decide: Any) -> list[Envelope]:
        repo = Repository(self.store, Tally)
        while True:
            try:
                return await repo.execute(tally, decide, CommandMeta(command_id=command, actor="load"))
            except Exception:  # a node died mid-request: the same command again is harmless
                self.failures += 1
                await asyncio.sleep(0.1)

    async def _writer(self, w: int) -> None:
        # Each writer has its own tallies, and all share one, so conflicts cross the failovers too.
        own = [f"w{w}a", f"w{w}b"]
        for tally in [*own, "shared"]:
            await self._until_acknowledged(tally, f"open-{tally}", lambda t, n=tally: t.open(n))
            self.opened.add(tally)
        while not self._stop.is_set():
            n = next(self._numbers)
            tally = "shared" if n % 4 == 0 else own[n % 2]
            amount = n % 7 + 1

            def decide(t: Tally, amount: int = amount, n: int = n) -> list[Event]:
                if n % 5 == 0:  # two events in one atomic batch
                    return [*t.count(amount), TallyCounted(amount=0, note="batch")]
                return list(t.count(amount))

            command = f"c{n}"
            self.acknowledged[command] = await self._until_acknowledged(tally, command, decide)
            self.amounts[command] = amount

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        tasks = [asyncio.create_task(self._writer(w)) for w in range(self.writers)]
        try:
            yield self
        except BaseException:
            for task in tasks:  # the test failed: do not wait for writers that may never succeed
                task.cancel()
            raise
        finally:
            self._stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)

    async def reach(self, count: int, timeout: float = 30) -> None:
        await eventually(lambda: len(self.acknowledged) >= count, timeout, f"{count} commands acknowledged")


async def test_killing_a_node_loses_no_acknowledged_event_and_the_read_model_equals_a_rebuild(
    cluster: NatsCluster, postgres_url: str
) -> None:
    writer_nc = await cluster.connect("writers")
    projector_nc = await cluster.connect("projection")
    engine = create_engine(postgres_url)
    store = EventStore(writer_nc, "tests", replicas=3)
    await until_placed(store.ensure_stream)
    projector: Projector[TallyTables] = Projector(TallyProjection(), engine, projector_nc)
    await projector.setup()
    projecting = asyncio.create_task(keep_running(projector))
    load = Load(store)
    try:
        async with load.running():
            await load.reach(100)
            first = await stream_leader(writer_nc, "TESTS")
            cluster.node(first).kill()
            await load.reach(250, timeout=45)  # the two survivors elect a leader and go on
            cluster.node(first).start()
            await eventually(
                lambda: replicas_current(writer_nc, "TESTS"), 30, "the restarted node catches up"
            )
            second = await stream_leader(writer_nc, "TESTS")
            cluster.node(second).kill()  # now the restarted node is needed for a quorum
            await load.reach(400, timeout=45)
            cluster.node(second).start()
            await load.reach(450)
        await eventually(lambda: replicas_current(writer_nc, "TESTS"), 30, "every replica is current")

        stored = await stored_events(writer_nc, "TESTS", "shakti.tests.>")
        by_id = {e.event_id: e for e in stored}
        assert len(by_id) == len(stored), "an event was stored twice"
        for command, envelopes in load.acknowledged.items():
            for envelope in envelopes:
                assert by_id.get(envelope.event_id) is not None, f"acknowledged {command} is lost"
                assert by_id[envelope.event_id].sequence == envelope.sequence
        per_tally: dict[str, list[int]] = {}
        for e in stored:
            per_tally.setdefault(e.aggregate_id, []).append(e.aggregate_version)
        for tally, versions in per_tally.items():
            assert versions == list(range(1, len(versions) + 1)), f"history of {tally} has a gap or a repeat"

        # Every tally opened, counted or not: the numbers go round the writers, and one whose draws all
        # had one parity never counted on one of its own two (it failed once as "2 more items").
        expected: dict[str, tuple[int, int]] = {tally: (0, 1) for tally in load.opened}
        for command, envelopes in load.acknowledged.items():
            total, count = expected[envelopes[0].aggregate_id]
            expected[envelopes[0].aggregate_id] = (total + load.amounts[command], count + len(envelopes))
        await eventually(
            lambda: _lag_is_zero(projector), 30, "the projection applies everything after the failovers"
        )
        async with projector.sessions() as session:
            live = await rows(session, projector.tables)
        assert {tally: (total, events) for tally, _, total, events in live} == expected

        comparison = await compare_projection(projector, projector_nc, postgres_url)
        assert comparison.equal, comparison
        assert comparison.checkpoints["TESTS"] == stored[-1].sequence
        assert load.failures > 0, "no request failed: the kill did not happen under load"
    finally:
        projecting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await projecting
        await engine.dispose()
        await writer_nc.close()
        await projector_nc.close()


async def _lag_is_zero(projector: Projector[Any]) -> bool:
    try:
        return sum((await projector.lag()).values()) == 0
    except Exception:
        return False
