"""The NATS accounts of deploy/nats/accounts.conf, enforced by a real server started with that file.

Each service user may publish only to its own subjects and manage only its own stream, yet reads
every stream; the whole service runtime (event store with atomic batches and direct gets,
projections, FastStream process managers) works under those limits.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError

from shared.aggregate import Repository
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.natsserver import EmbeddedNatsServer
from shared.runtime import ServiceDefinition, ServiceInstance, ServiceRunner
from shared.settings import Settings
from shared.subscriber import ProcessManager
from tests.sample import Tally, TallyCounted, TallyOpened, TallyProjection, TallyTables, rows
from tests.waiting import eventually

ACCOUNTS = Path(__file__).resolve().parent.parent / "deploy" / "nats" / "accounts.conf"
SERVICES = ("intake", "routing", "escalation", "training")
PASSWORDS = {user: f"test-{user}-secret" for user in (*SERVICES, "ops", "sys")}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmbeddedNatsServer]:
    for user, password in PASSWORDS.items():
        monkeypatch.setenv(f"SHAKTI_NATS_{user.upper()}_PASSWORD", password)
    with EmbeddedNatsServer(tmp_path / "nats", extra_args=["-c", str(ACCOUNTS)]) as nats_server:
        yield nats_server


def url_for(server: EmbeddedNatsServer, user: str) -> str:
    return f"nats://{user}:{PASSWORDS[user]}@{server.host}:{server.port}"


class Connections:
    """One connection per user; records the permission violations the server reports to each."""

    def __init__(self, server: EmbeddedNatsServer) -> None:
        self.server = server
        self.clients: dict[str, NatsClient] = {}
        self.violations: dict[str, list[str]] = {}

    async def __call__(self, user: str) -> NatsClient:
        if user not in self.clients:
            seen = self.violations.setdefault(user, [])

            async def on_error(error: Exception) -> None:
                seen.append(str(error))

            self.clients[user] = await nats.connect(url_for(self.server, user), error_cb=on_error)
        return self.clients[user]

    def refused(self, user: str, subject: str) -> bool:
        """The server reported a permissions violation of ``user`` on ``subject``."""
        return any(subject.lower() in v.lower() for v in self.violations.get(user, []))

    async def close(self) -> None:
        for nc in self.clients.values():
            await nc.close()


@pytest.fixture
async def connect(server: EmbeddedNatsServer) -> AsyncIterator[Connections]:
    connections = Connections(server)
    try:
        yield connections
    finally:
        await connections.close()


def meta(command_id: str) -> CommandMeta:
    return CommandMeta(command_id=command_id, actor="test")


async def test_intake_cannot_publish_a_routing_event_and_routing_can(connect: Connections) -> None:
    routing = EventStore(await connect("routing"), "routing")
    await routing.ensure_stream()
    intake_nc = await connect("intake")
    # The intake process, pretending to be routing: the server refuses the subject outright.
    impostor = EventStore(intake_nc, "routing")
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


async def test_no_service_can_change_or_empty_another_services_stream(connect: Connections) -> None:
    routing = EventStore(await connect("routing"), "routing")
    await routing.ensure_stream()
    await routing.append(
        "tally", "c1", [TallyOpened(label="kept")], expected_sequence=0, expected_version=0, meta=meta("r")
    )
    intake_nc = await connect("intake")
    js = intake_nc.jetstream(timeout=1.0)
    info = await js.stream_info("ROUTING")  # reading the configuration is allowed
    refused = {
        "$JS.API.STREAM.PURGE.ROUTING": lambda: js.purge_stream("ROUTING"),
        "$JS.API.STREAM.DELETE.ROUTING": lambda: js.delete_stream("ROUTING"),
        "$JS.API.STREAM.MSG.DELETE.ROUTING": lambda: js.delete_msg("ROUTING", 1),
        # Keeping one message only would be a way to empty it too.
        "$JS.API.STREAM.UPDATE.ROUTING": lambda: js.update_stream(info.config.evolve(max_msgs=1)),
    }
    outcomes = await asyncio.gather(*(attempt() for attempt in refused.values()), return_exceptions=True)
    assert all(isinstance(o, NatsError | TimeoutError) for o in outcomes), outcomes
    for subject in refused:
        await eventually(lambda s=subject: connect.refused("intake", s), 5, f"{subject} refused")
    assert await routing.last_sequence() == 1
    assert len(await routing.load("tally", "c1")) == 1
    # The intake user may still read routing's events.
    assert [e.event_type for e in await EventStore(intake_nc, "routing").load("tally", "c1")] == [
        "TallyOpened"
    ]


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
                ProcessManager(
                    name="routing_on_tallies", stream="INTAKE", subject="shakti.intake.tally.*", react=react
                )
            ]

    return ServiceDefinition(
        name="routing", projections=lambda: [IntakeTallies()], reads=["intake"], instance=TallyRouting
    )


async def test_the_service_runtime_reads_other_streams_under_its_own_user(
    server: EmbeddedNatsServer, connect: Connections, sqlite_url: str
) -> None:
    intake = EventStore(await connect("intake"), "intake")
    await intake.ensure_stream()
    await Repository(intake, Tally).execute("t1", lambda t: t.open("from intake"), meta("open"))
    reactions: list[Envelope] = []
    runner = ServiceRunner(
        routing_definition(reactions),
        Settings(),
        nats_url=url_for(server, "routing"),
        database_url=sqlite_url,
    )
    ctx = await runner.start()
    try:
        projector = ctx.projector("routing_tallies")
        await eventually(lambda: _has_rows(projector), what="routing projects intake's events")
        await eventually(
            lambda: len(reactions) == 1, what="routing's process manager reacts to intake's event"
        )
        assert reactions[0].event_type == "TallyOpened"
    finally:
        await runner.stop()


async def _has_rows(projector: Any) -> bool:
    async with projector.sessions() as session:
        tables: TallyTables = projector.tables
        return len(await rows(session, tables)) == 1


async def test_a_wrong_password_is_refused(server: EmbeddedNatsServer) -> None:
    with pytest.raises(NatsError):
        await nats.connect(
            f"nats://intake:wrong@{server.host}:{server.port}",
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
