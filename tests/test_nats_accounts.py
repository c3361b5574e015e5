"""The NATS accounts of ``shared.bus``, enforced by real servers started with the generated configuration.

Each part may publish only its own events and parked records, manage only its own stream and its
own durable consumers, use only its own inbox, yet read every stream; the whole service runtime
(event store with atomic batches and direct gets, projections, FastStream process managers) works
under those limits. A client without credentials is refused. ``deploy/nats/accounts.conf`` is the
same generated text, so what is tested here is what is deployed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from bench.e2e import Load, Platform
from services.intake.attachments import BUCKET, CaseFiles
from shakti.launcher import keep_private
from shared.aggregate import Repository
from shared.bus import CREDENTIALS_FILE, OPS, PARTS, accounts_conf, read_credentials
from shared.contracts.routing import CaseReassigned
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.natsserver import EmbeddedNatsServer, platform_server
from shared.runtime import ServiceDefinition, ServiceInstance, ServiceRunner
from shared.settings import Settings
from shared.subscriber import ProcessManager
from tests.sample import Tally, TallyCounted, TallyOpened, TallyProjection, TallyTables, rows
from tests.waiting import eventually

ACCOUNTS = Path(__file__).resolve().parent.parent / "deploy" / "nats" / "accounts.conf"
SERVICES = ("intake", "routing", "escalation", "training", "notifications")
REFUSED_WITHIN = 2.0
"""An impostor's append waits this long: the server's refusal reaches the connection's error callback,
never the request, which only times out (15 s by default, which these tests spent six times over)."""


class Bus:
    """A NATS server started as the platform starts its own: the generated accounts, passwords in
    its data folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.server = platform_server(folder)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def credentials_file(self) -> Path:
        return self.folder / CREDENTIALS_FILE

    def settings(self, **values: Any) -> Settings:
        return Settings(nats_url=self.url, nats_credentials_file=self.credentials_file, **values)

    def url_for(self, user: str) -> str:
        password = read_credentials(self.credentials_file)[user]
        return f"nats://{user}:{password}@{self.server.host}:{self.server.port}"

    async def connect(self, user: str, **options: Any) -> NatsClient:
        return await nats.connect(self.url, **self.settings().nats_options(user), **options)


@contextlib.contextmanager
def authenticated_bus(folder: Path) -> Iterator[Bus]:
    bus = Bus(folder)
    with bus.server:
        yield bus


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[Bus]:
    with authenticated_bus(tmp_path / "bus") as running:
        yield running


class Connections:
    """One connection per user; records the permission violations the server reports to each."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.clients: dict[str, NatsClient] = {}
        self.violations: dict[str, list[str]] = {}

    async def __call__(self, user: str) -> NatsClient:
        if user not in self.clients:
            seen = self.violations.setdefault(user, [])

            async def on_error(error: Exception) -> None:
                seen.append(str(error))

            self.clients[user] = await self.bus.connect(user, error_cb=on_error)
        return self.clients[user]

    def refused(self, user: str, subject: str) -> bool:
        """The server reported a permissions violation of ``user`` on ``subject``."""
        return any(subject.lower() in v.lower() for v in self.violations.get(user, []))

    async def close(self) -> None:
        for nc in self.clients.values():
            await nc.close()


@pytest.fixture
async def connect(bus: Bus) -> AsyncIterator[Connections]:
    connections = Connections(bus)
    try:
        yield connections
    finally:
        await connections.close()


def meta(command_id: str, actor: str = "test") -> CommandMeta:
    return CommandMeta(command_id=command_id, actor=actor)


def test_the_deployed_accounts_are_the_generated_ones() -> None:
    assert ACCOUNTS.read_text() == accounts_conf(), "run: python -m shared.bus > deploy/nats/accounts.conf"


async def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(bus: Bus) -> None:
    for url in (bus.url, f"nats://routing:wrong@{bus.server.host}:{bus.server.port}"):
        with pytest.raises(NatsError):
            await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    # The same server lets a part in with its password.
    nc = await bus.connect("routing")
    await nc.close()


async def test_intake_cannot_publish_a_routing_event_and_routing_can(connect: Connections) -> None:
    routing = EventStore(await connect("routing"), "routing")
    await routing.ensure_stream()
    intake_nc = await connect("intake")
    # The intake process, pretending to be routing: the server refuses the subject outright.
    impostor = EventStore(intake_nc, "routing", api_timeout=REFUSED_WITHIN)
    forged = impostor.append(
        "tally", "c1", [TallyOpened(label="forged")], expected_sequence=0, expected_version=0, meta=meta("x")
    )
    forged_batch = impostor.append(
        "tally",
        "c2",
        [TallyOpened(label="forged"), TallyCounted(amount=1, note="")],
        expected_sequence=0,
        expected_version=0,
        meta=meta("y"),
    )
    direct = intake_nc.jetstream().publish("shakti.routing.case.c1", b"{}", timeout=1.0)
    outcomes = await asyncio.gather(forged, forged_batch, direct, return_exceptions=True)
    assert all(isinstance(o, NatsError) for o in outcomes), outcomes
    await intake_nc.publish("shakti.routing.case.c1", b"{}")  # fire and forget: dropped by the server
    await intake_nc.flush()
    await eventually(lambda: connect.refused("intake", "shakti.routing.case.c1"))
    assert await routing.last_sequence() == 0, "a refused publish reached the ROUTING stream"
    assert all("permissions violation" in v for v in connect.violations["intake"]), connect.violations

    stored = await routing.append(
        "tally", "c1", [TallyOpened(label="real")], expected_sequence=0, expected_version=0, meta=meta("r")
    )
    assert [e.sequence for e in await routing.load("tally", "c1")] == [stored[0].sequence] == [1]
    assert connect.violations["routing"] == []


async def forge_reassignment(
    nc: NatsClient, case_id: str = "MSK-1", after: int = 0, version: int = 0
) -> list[Any]:
    """A ``CaseReassigned`` by 'demo.sp', appended as routing's event store would (after the case's
    last event: sequence ``after``, aggregate ``version``), by ``nc``."""
    forged = CaseReassigned(
        case_id=case_id,
        from_officer="PNO1",
        officer="PNO666",
        kendra="K1",
        reason="forged",
        trigger="by_hand",
    )
    impostor = EventStore(nc, "routing", api_timeout=REFUSED_WITHIN)
    attempts = [
        impostor.append("case", case_id, [forged], expected_sequence=after, expected_version=version, meta=meta("f1", "demo.sp")),
        nc.jetstream().publish(f"shakti.routing.case.{case_id}", b"{}", timeout=1.0),
    ]  # fmt: skip
    return list(await asyncio.gather(*attempts, return_exceptions=True))


@pytest.mark.parametrize("part", [p.name for p in PARTS if p.name != "routing"])
async def test_a_forged_reassignment_by_any_other_part_never_reaches_routing(
    connect: Connections, part: str
) -> None:
    routing = EventStore(await connect("routing"), "routing")
    await routing.ensure_stream()
    outcomes = await forge_reassignment(await connect(part))
    assert all(isinstance(o, NatsError) for o in outcomes), outcomes
    assert await routing.last_sequence() == 0
    assert await routing.load("case", "MSK-1") == []


async def test_no_service_can_change_or_empty_another_services_stream(connect: Connections) -> None:
    routing = EventStore(await connect("routing"), "routing")
    await routing.ensure_stream()
    await routing.append(
        "tally", "c1", [TallyOpened(label="kept")], expected_sequence=0, expected_version=0, meta=meta("r")
    )
    intake_nc = await connect("intake")
    js = intake_nc.jetstream(timeout=1.0)
    info = await js.stream_info("ROUTING")  # reading the configuration is allowed
    refused: dict[str, Callable[[], Awaitable[object]]] = {
        "$JS.API.STREAM.PURGE.ROUTING": lambda: js.purge_stream("ROUTING"),
        "$JS.API.STREAM.DELETE.ROUTING": lambda: js.delete_stream("ROUTING"),
        "$JS.API.STREAM.MSG.DELETE.ROUTING": lambda: js.delete_msg("ROUTING", 1),
        # Keeping one message only would be a way to empty it too.
        "$JS.API.STREAM.UPDATE.ROUTING": lambda: js.update_stream(info.config.evolve(max_msgs=1)),
    }
    outcomes = await asyncio.gather(*(attempt() for attempt in refused.values()), return_exceptions=True)
    assert all(isinstance(o, NatsError | TimeoutError) for o in outcomes), outcomes
    for subject in refused:
        await eventually(partial(connect.refused, "intake", subject), 5, f"{subject} refused")
    assert await routing.last_sequence() == 1
    assert len(await routing.load("tally", "c1")) == 1
    # The intake user may still read routing's events.
    assert [e.event_type for e in await EventStore(intake_nc, "routing").load("tally", "c1")] == [
        "TallyOpened"
    ]


async def test_a_stream_another_part_created_differently_is_taken_as_it_is(connect: Connections) -> None:
    """Routing runs on three replicas, intake (reading ROUTING) is configured with one: intake starting
    later takes routing's stream as it is; it neither fails nor tries to update it."""
    routing = EventStore(await connect("routing"), "routing", replicas=1)
    await routing.ensure_stream()
    js = (await connect("ops")).jetstream()
    await js.update_stream((await js.stream_info("ROUTING")).config.evolve(max_msgs_per_subject=1000))
    intake = EventStore(await connect("intake"), "intake")
    await intake.ensure_stream("routing")
    assert (await js.stream_info("ROUTING")).config.max_msgs_per_subject == 1000
    assert connect.violations["intake"] == []


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_appends_batches_and_loads_its_own_stream(
    connect: Connections, service: str
) -> None:
    store = EventStore(await connect(service), service)
    await store.ensure_stream()
    await store.ensure_stream(service)  # a second start of the service: unchanged config, allowed
    repo = Repository(store, Tally)
    await repo.execute("t1", lambda t: t.open("x"), meta("open"))
    batch = await store.append(
        "tally",
        "t1",
        [TallyCounted(amount=1, note=""), TallyCounted(amount=2, note="")],
        expected_sequence=1,
        expected_version=1,
        meta=meta("batch"),
    )
    assert [e.sequence for e in batch] == [2, 3]
    assert (await repo.get("t1")).total == 3
    assert connect.violations[service] == []


class IntakeTallies(TallyProjection):
    """Routing's read model of intake's events."""

    name = "routing_tallies"
    sources: ClassVar[dict[str, str]] = {"INTAKE": "shakti.intake.tally.*"}


def routing_definition(reactions: list[Envelope]) -> ServiceDefinition:
    async def react(envelope: Envelope) -> None:
        reactions.append(envelope)

    class TallyRouting(ServiceInstance):
        def process_managers(self) -> list[ProcessManager]:
            return [
                # Under the name of one of routing's durable consumers: no other name is allowed.
                ProcessManager(
                    name="routing_on_cases", stream="INTAKE", subject="shakti.intake.tally.*", react=react
                )
            ]

    return ServiceDefinition(
        name="routing", projections=lambda: [IntakeTallies()], reads=["intake"], instance=TallyRouting
    )


async def test_the_service_runtime_reads_other_streams_under_its_own_user(
    bus: Bus, connect: Connections, sqlite_url: str
) -> None:
    intake = EventStore(await connect("intake"), "intake")
    await intake.ensure_stream()
    await Repository(intake, Tally).execute("t1", lambda t: t.open("from intake"), meta("open"))
    reactions: list[Envelope] = []
    runner = ServiceRunner(
        routing_definition(reactions), bus.settings(), nats_url=bus.url, database_url=sqlite_url
    )
    ctx = await runner.start()
    try:
        projector = ctx.projector("routing_tallies")
        await eventually(lambda: _has_rows(projector, 1), what="routing projects intake's events")
        await eventually(
            lambda: len(reactions) == 1, what="routing's process manager reacts to intake's event"
        )
        assert reactions[0].event_type == "TallyOpened"
        # Live: the projection's doorbell rings for the next event.
        await Repository(intake, Tally).execute("t2", lambda t: t.open("later"), meta("open-2"))
        await eventually(lambda: _has_rows(projector, 2), what="routing projects the next event")
    finally:
        await runner.stop()


async def _has_rows(projector: Any, count: int) -> bool:
    async with projector.sessions() as session:
        tables: TallyTables = projector.tables
        return len(await rows(session, tables)) == count


async def test_another_part_cannot_touch_routings_durable_consumer(connect: Connections) -> None:
    """Training may not create, pull from, acknowledge or delete routing's consumer, publish routing's
    parked records or listen to routing's inbox."""
    routing_nc = await connect("routing")
    intake = EventStore(await connect("intake"), "intake")
    await intake.ensure_stream()
    await Repository(intake, Tally).execute("t1", lambda t: t.open("x"), meta("open"))
    config = ConsumerConfig(
        name="routing_on_cases",
        durable_name="routing_on_cases",
        filter_subject="shakti.intake.tally.*",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=30,
    )
    training_nc = await connect("training")
    training_js = training_nc.jetstream(timeout=1.0)
    # Creating it (or any consumer of another name) first is refused.
    for attempt in (config, config.evolve(name="training_spy", durable_name="training_spy")):
        with pytest.raises((NatsError, TimeoutError)):
            await training_js.add_consumer("INTAKE", attempt)
    await eventually(lambda: connect.refused("training", "$JS.API.CONSUMER.CREATE.INTAKE.routing_on_cases"))

    routing_js = routing_nc.jetstream()
    await routing_js.add_consumer("INTAKE", config)
    sub = await routing_js.pull_subscribe_bind(durable="routing_on_cases", stream="INTAKE")
    [held] = await sub.fetch(1, timeout=5)
    assert held.reply.startswith("$JS.ACK.INTAKE.routing_on_cases.")  # the ack subject the server uses

    # Training cannot acknowledge what routing holds.
    await training_nc.publish(held.reply, b"+ACK")
    await training_nc.flush()
    await eventually(lambda: connect.refused("training", held.reply))
    info = await routing_js.consumer_info("INTAKE", "routing_on_cases")
    assert info.num_ack_pending == 1 and info.ack_floor.stream_seq == 0

    # Nor pull from, read or delete it.
    stolen = await training_js.pull_subscribe_bind(durable="routing_on_cases", stream="INTAKE")
    with pytest.raises((NatsError, TimeoutError)):
        await stolen.fetch(1, timeout=1)
    await eventually(lambda: connect.refused("training", "$JS.API.CONSUMER.MSG.NEXT.INTAKE.routing_on_cases"))
    with pytest.raises((NatsError, TimeoutError)):
        await training_js.delete_consumer("INTAKE", "routing_on_cases")
    await eventually(lambda: connect.refused("training", "$JS.API.CONSUMER.DELETE.INTAKE.routing_on_cases"))
    assert (await routing_js.consumer_info("INTAKE", "routing_on_cases")).num_ack_pending == 1

    # Nor park on routing's behalf.
    ops_js = (await connect("ops")).jetstream()
    await ops_js.add_stream(name="PARKED", subjects=["shakti.parked.>"])
    with pytest.raises((NatsError, TimeoutError)):
        await training_js.publish("shakti.parked.routing.routing_on_cases", b"{}")
    await training_js.publish("shakti.parked.training.training_on_roster", b"{}")  # its own: allowed
    assert (await ops_js.stream_info("PARKED")).state.messages == 1

    # Nor listen to routing's inbox, where routing's answers (its reads of any stream) arrive.
    overheard: list[Msg] = []

    async def overhear(msg: Msg) -> None:
        overheard.append(msg)

    await training_nc.subscribe("_INBOX.routing.>", cb=overhear)
    await training_nc.flush()
    await eventually(lambda: connect.refused("training", "_INBOX.routing.>"))
    assert [e.event_type for e in await EventStore(routing_nc, "intake").load("tally", "t1")] == [
        "TallyOpened"
    ]
    await held.ack_sync()  # routing itself may
    await asyncio.sleep(0.2)
    assert overheard == []
    assert connect.violations["routing"] == []


async def test_streams_of_a_server_without_accounts_are_read_on_under_the_platforms_account(
    tmp_path: Path,
) -> None:
    """A data folder of an earlier version (no accounts: its streams in the global account) keeps its
    streams once the platform's server runs with accounts."""
    with EmbeddedNatsServer(tmp_path / "var" / "nats") as earlier:
        nc = await nats.connect(earlier.url)
        store = EventStore(nc, "intake")
        await store.ensure_stream()
        await Repository(store, Tally).execute("t1", lambda t: t.open("kept"), meta("open"))
        await nc.drain()
    with authenticated_bus(tmp_path / "var") as bus:
        nc = await bus.connect("intake")
        try:
            store = EventStore(nc, "intake")
            await store.ensure_stream()
            assert [e.payload["label"] for e in await store.load("tally", "t1")] == ["kept"]
        finally:
            await nc.drain()


def test_passwords_are_made_once_per_data_folder_and_kept_private(tmp_path: Path) -> None:
    first = platform_server(tmp_path)
    file = tmp_path / CREDENTIALS_FILE
    made = json.loads(file.read_text())
    assert set(made) == {p.name for p in PARTS} | {OPS, "sys"}
    assert len(set(made.values())) == len(made)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "nats-accounts.conf").stat().st_mode) == 0o600
    platform_server(tmp_path)
    assert json.loads(file.read_text()) == made  # reused, not made anew
    assert first.env == {f"SHAKTI_NATS_{u.upper()}_PASSWORD": pw for u, pw in made.items()}


def test_the_platform_keeps_its_data_private(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "var"
    (data / "nats").mkdir(parents=True)
    (data / "intake.db").write_bytes(b"keys")
    (data / "nats" / "block.blk").write_bytes(b"events")
    for path, mode in (
        (data, 0o755),
        (data / "nats", 0o755),
        (data / "intake.db", 0o644),
        (data / "nats" / "block.blk", 0o640),
    ):
        path.chmod(mode)  # fmt: skip
    previous = os.umask(0o022)
    try:
        with caplog.at_level(logging.INFO, logger="shakti.launcher"):
            keep_private(data)
        (data / "web.db").write_bytes(b"password hashes")  # written after the start
        (data / "later").mkdir()
    finally:
        os.umask(previous)
    modes = {p.relative_to(data).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in (data, *data.rglob("*"))}
    assert modes == {
        ".": 0o700, "nats": 0o700, "intake.db": 0o600, "nats/block.blk": 0o600, "web.db": 0o600, "later": 0o700
    }  # fmt: skip
    assert [r.getMessage() for r in caplog.records] == [
        f"data directory {data}: 4 files and folders made readable by their owner only"
    ]


async def test_the_whole_platform_runs_under_the_embedded_authentication(tmp_path: Path) -> None:
    """``shakti up`` as a user runs it: each part under its own NATS user, a complaint registered over
    HTTP is assigned; a forged reassignment by another part (or by anyone without credentials) is
    refused and never shows; the data directory is its owner's alone."""
    platform = Platform(tmp_path).start()
    load = Load(platform)
    ops: NatsClient | None = None
    try:
        await load.ready()
        await load.prepare()
        registered = await load.post_complaint(0, "auth-test-1")
        assert registered.status_code == 201, registered.text
        case_id = registered.json()["case_id"]

        async def case() -> dict[str, Any]:
            response = await load.client.get(f"/api/routing/cases/{case_id}", headers=load.operator)
            return dict(response.json()) if response.status_code == 200 else {}

        async def assigned() -> bool:
            return bool(((await case()).get("now") or {}).get("officer"))  # "now": null until assigned

        await eventually(assigned, 60, "the complaint is assigned")
        before = await case()

        ops = await platform.nats_connect("test-ops")
        js = ops.jetstream()
        durable = {
            (stream, consumer.name)
            for stream in ("INTAKE", "ROUTING", "ESCALATION", "TRAINING", "NOTIFICATIONS")
            for consumer in await js.consumers_info(stream)
        }
        assert durable == {(c.stream, c.name) for p in PARTS for c in p.consumers}

        routing_events = (await js.stream_info("ROUTING")).state.last_seq
        with pytest.raises(NatsError):  # no credentials: not even connected
            await nats.connect(platform.nats_url, allow_reconnect=False, max_reconnect_attempts=0)
        passwords = read_credentials(platform.credentials_file)
        training = await nats.connect(
            platform.nats_url, user="training", password=passwords["training"], inbox_prefix="_INBOX.training"
        )
        try:
            history = await EventStore(ops, "routing").load("case", case_id)
            outcomes = await forge_reassignment(
                training, case_id, after=history[-1].sequence, version=history[-1].aggregate_version
            )
            assert all(isinstance(o, NatsError) for o in outcomes), outcomes
        finally:
            await training.close()
        await asyncio.sleep(1.0)
        assert (await js.stream_info("ROUTING")).state.last_seq == routing_events
        after = await case()
        assert after["now"]["officer"] == before["now"]["officer"]
        assert all(entry["by"] != "demo.sp" for entry in after["record"])

        data = tmp_path / "var"
        loose = [p for p in (data, *data.rglob("*")) if not p.is_symlink() and p.stat().st_mode & 0o077]
        assert loose == [], "readable by others"
        assert {"intake.db", "web.db", CREDENTIALS_FILE} <= {p.name for p in data.iterdir()}
    finally:
        if ops is not None:
            await ops.close()
        await load.client.aclose()
        platform.stop()


async def test_a_part_parks_under_its_own_subjects_and_only_operators_remove_parked_records(
    bus: Bus, connect: Connections, sqlite_url: str
) -> None:
    intake = EventStore(await connect("intake"), "intake")
    await intake.ensure_stream()
    await Repository(intake, Tally).execute("t1", lambda t: t.open("poison"), meta("open"))

    async def fail(envelope: Envelope) -> None:
        raise RuntimeError("cannot")

    class Failing(ServiceInstance):
        def process_managers(self) -> list[ProcessManager]:
            return [
                ProcessManager("routing_on_cases", "INTAKE", "shakti.intake.tally.*", fail, max_deliver=1)
            ]

    definition = ServiceDefinition(name="routing", projections=lambda: [], reads=["intake"], instance=Failing)
    runner = ServiceRunner(definition, bus.settings(), nats_url=bus.url, database_url=sqlite_url)
    await runner.start()
    try:
        ops_js = (await connect("ops")).jetstream()

        async def parked() -> int:
            return int((await ops_js.stream_info("PARKED")).state.messages)

        await eventually(lambda: _equals(parked(), 1), what="the failing reaction is parked")
        record = await ops_js.get_msg("PARKED", 1)
        assert record.subject == "shakti.parked.routing.routing_on_cases"
        # Another part cannot remove it; the operators can.
        with pytest.raises((NatsError, TimeoutError)):
            await (await connect("training")).jetstream(timeout=1.0).delete_msg("PARKED", 1)
        assert await parked() == 1
        await ops_js.delete_msg("PARKED", 1)
        assert await parked() == 0
    finally:
        await runner.stop()


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_intake_keeps_and_deletes_case_files_in_its_bucket_and_no_other_part_can_touch_them(
    connect: Connections,
) -> None:
    files = CaseFiles(await connect("intake"))
    await files.put("c" * 32, "a" * 32, b"sealed bytes")
    assert await files.get("c" * 32, "a" * 32) == b"sealed bytes"
    js = (await connect("routing")).jetstream(timeout=1.0)
    bucket = await js.object_store(BUCKET)
    refused: dict[str, Callable[[], Awaitable[object]]] = {
        # A chunk published straight to the bucket (the client's put stops earlier: it may not read
        # the bucket's descriptions).
        f"$O.{BUCKET}.C.forged": lambda: js.publish(f"$O.{BUCKET}.C.forged", b"forged"),
        f".GET.OBJ_{BUCKET}": lambda: bucket.put("c" * 32 + "/forged", b"forged"),
        f"$JS.API.STREAM.PURGE.OBJ_{BUCKET}": lambda: js.purge_stream(f"OBJ_{BUCKET}"),
    }
    outcomes = await asyncio.gather(*(attempt() for attempt in refused.values()), return_exceptions=True)
    assert all(isinstance(o, NatsError | TimeoutError) for o in outcomes), outcomes
    for subject in refused:
        await eventually(partial(connect.refused, "routing", subject), 5, f"{subject} refused")
    assert await files.get("c" * 32, "a" * 32) == b"sealed bytes"
    await files.delete("c" * 32, "a" * 32)
    assert await files.get("c" * 32, "a" * 32) is None


async def test_no_other_part_reads_a_sealed_case_file_out_of_intakes_bucket(connect: Connections) -> None:
    """The files are sealed, but a copy of the ciphertext is only as safe as every place that holds it:
    no other part reads the bucket's messages (by sequence, directly, or through a consumer)."""
    files = CaseFiles(await connect("intake"))
    await files.put("d" * 32, "b" * 32, b"sealed bytes")
    js = (await connect("routing")).jetstream(timeout=1.0)
    stream = f"OBJ_{BUCKET}"
    refused: dict[str, Callable[[], Awaitable[object]]] = {
        f"$JS.API.STREAM.MSG.GET.{stream}": lambda: js.get_msg(stream, 1),
        f"$JS.API.DIRECT.GET.{stream}": lambda: js.get_msg(stream, 1, direct=True),
        f"$JS.API.CONSUMER.CREATE.{stream}": lambda: js.add_consumer(stream, ConsumerConfig()),
    }
    outcomes = await asyncio.gather(*(attempt() for attempt in refused.values()), return_exceptions=True)
    assert all(isinstance(o, NatsError | TimeoutError) for o in outcomes), outcomes
    for subject in refused:
        await eventually(partial(connect.refused, "routing", subject), 5, f"{subject} refused")
    assert await files.get("d" * 32, "b" * 32) == b"sealed bytes"
    await files.delete("d" * 32, "b" * 32)
