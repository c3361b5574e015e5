"""A world for the escalation service's tests: a real NATS server and database, a manual clock, and
intake and routing played by appending their contract events to their own streams."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.escalation.main import build_service
from services.escalation.read_model.tables import BoardTables
from shared.auth import Principal
from shared.clock import ManualClock
from shared.contracts.intake import CaseRegistered
from shared.contracts.routing import (
    CaseAssigned,
    CaseRouted,
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    ThanaDefined,
)
from shared.contracts.vocabulary import Category, Channel, Priority
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, EventStore
from shared.projection import Projector
from shared.roles import Role
from shared.runtime import ServiceDefinition, ServiceRunner, build_app
from shared.settings import Settings
from tests.sessions import SignedCallers, keys_for_tests
from tests.waiting import eventually

E = TypeVar("E", bound=Event)

START = datetime.fromisoformat("2026-01-12T04:30:00+00:00")  # Monday, 10:00 in Kolkata

# Two circles of Shahjahanpur, a thana in each; Sadar Bazar holds the district's control Kendra.
STOP_TIMEOUT = 30.0

THANAS = {"SJP-KATRA": "SJP-TILHAR", "SJP-SADAR-BAZAR": "SJP-NAGAR"}


@dataclass
class World:
    nats_url: str
    nc: NatsClient
    database_url: str
    settings: Settings
    clock: ManualClock = field(default_factory=lambda: ManualClock(START))
    runners: list[ServiceRunner] = field(default_factory=list)
    callers: SignedCallers = field(default_factory=SignedCallers)

    def __post_init__(self) -> None:
        self.intake = EventStore(self.nc, "intake")
        self.routing = EventStore(self.nc, "routing")
        self.escalation = EventStore(self.nc, "escalation")

    async def start(
        self, definition: ServiceDefinition | None = None, *, run_projections: bool = True
    ) -> ServiceRunner:
        runner = ServiceRunner(
            definition or build_service(poll_seconds=0.05),
            self.settings,
            nats_url=self.nats_url,
            clock=self.clock,
            database_url=self.database_url,
            run_projections=run_projections,
        )
        await runner.start()
        self.runners.append(runner)
        return runner

    async def stop(self, runner: ServiceRunner) -> None:
        await _stop(runner)
        self.runners.remove(runner)

    @contextlib.asynccontextmanager
    async def http(self) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRunner]]:
        """The service behind its HTTP app (started by the app's lifespan, as in production)."""
        runner = ServiceRunner(
            build_service(poll_seconds=0.05),
            self.settings,
            nats_url=self.nats_url,
            clock=self.clock,
            database_url=self.database_url,
        )
        app = build_app([runner], self.settings, directory=self.callers.directory)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client, runner

    def token(self, role: Role, **where: str) -> dict[str, str]:
        who = {"username": f"{role}-user", "role": role, "service_number": "PNO152301"}
        principal = Principal(**{**who, **where})
        return self.callers.headers(principal)

    # Playing intake and routing.

    async def append(self, store: EventStore, aggregate: str, aggregate_id: str, event: Event) -> Envelope:
        history = await store.load(aggregate, aggregate_id)
        last = history[-1] if history else None
        [stored] = await store.append(
            aggregate,
            aggregate_id,
            [event],
            expected_sequence=last.sequence if last else 0,
            expected_version=last.aggregate_version if last else 0,
            meta=CommandMeta(command_id=uuid.uuid4().hex, actor="test", occurred_at=self.clock.now()),
        )
        return stored

    async def define_jurisdiction(self) -> None:
        district = "SJP"
        await self.append(
            self.routing,
            "district",
            district,
            DistrictDefined(code=district, name_hi="शाहजहाँपुर", name_en="Shahjahanpur"),
        )
        for thana, circle in THANAS.items():
            await self.append(
                self.routing,
                "district",
                district,
                CircleDefined(code=circle, district=district, name_hi=circle, name_en=circle),
            )
            await self.append(
                self.routing,
                "district",
                district,
                ThanaDefined(code=thana, district=district, circle=circle, name_hi=thana, name_en=thana),
            )
            await self.append(
                self.routing,
                "district",
                district,
                KendraDefined(
                    code=f"MSK-{thana}",
                    thana=thana,
                    district=district,
                    circle=circle,
                    name_hi=thana,
                    name_en=thana,
                    control=thana == "SJP-SADAR-BAZAR",
                ),
            )

    async def register(
        self,
        *,
        priority: Priority = Priority.P3,
        category: Category = Category.DOMESTIC_VIOLENCE,
        danger_now: bool = False,
        thana: str | None = "SJP-KATRA",
        routed: bool = True,
        assigned: bool = False,
    ) -> str:
        case_id = uuid.uuid4().hex
        await self.append(
            self.intake,
            "case",
            case_id,
            CaseRegistered(
                case_number=f"SJP-2026-{uuid.uuid4().int % 1_000_000:06d}",
                channel=Channel.WALK_IN,
                category=category,
                priority=priority,
                danger_now=danger_now,
                minor=False,
                district="SJP",
                thana=thana,
                registered_by="PNO100001",
                sealed_identity="c2VhbGVk",
            ),
        )
        if routed and thana:
            await self.on_routing(
                case_id,
                CaseRouted(
                    case_id=case_id,
                    district="SJP",
                    circle=THANAS[thana],
                    thana=thana,
                    kendra=f"MSK-{thana}",
                    reason="thana",
                ),
            )
        if assigned and thana:
            await self.on_routing(
                case_id,
                CaseAssigned(case_id=case_id, officer="PNO100002", kendra=f"MSK-{thana}", reason="on duty"),
            )
        return case_id

    async def on_intake(self, case_id: str, event: Event) -> Envelope:
        return await self.append(self.intake, "case", case_id, event)

    async def on_routing(self, case_id: str, event: Event) -> Envelope:
        return await self.append(self.routing, "case", case_id, event)

    # Looking at what escalation did.

    async def history(self, case_id: str) -> list[Envelope]:
        return await self.escalation.load("case", case_id)

    async def facts(self, case_id: str, kind: type[E]) -> list[E]:
        return [e for e in (x.event() for x in await self.history(case_id)) if isinstance(e, kind)]

    async def wait_for(self, case_id: str, kind: type[E], count: int = 1, timeout: float = 20.0) -> list[E]:
        found: list[E] = []

        async def enough() -> bool:
            nonlocal found
            found = await self.facts(case_id, kind)
            return len(found) >= count

        await eventually(enough, timeout, f"{count} {kind.__name__} for case {case_id}")
        return found

    def board(self, runner: ServiceRunner) -> Projector[BoardTables]:
        assert runner.context is not None
        projector: Projector[BoardTables] = runner.context.projector("escalation_board")
        return projector

    async def projected(self, runner: ServiceRunner) -> None:
        """Wait until the running projection has applied everything in its streams so far.

        (Not ``Projector.catch_up``: a second follower on the consumer the running one uses races it.)"""
        board = self.board(runner)
        targets = {
            stream: (await self.nc.jetstream().stream_info(stream)).state.last_seq
            for stream in board.projection.sources
        }

        async def applied() -> bool:
            return all([await board.checkpoint(stream) >= last for stream, last in targets.items()])

        await eventually(applied, 20.0, "the escalation board applied every event so far")

    async def scheduled(self, runner: ServiceRunner, case_ids: list[str]) -> None:
        """Wait until the timer table holds a next check for each case."""
        board = self.board(runner)

        async def all_there() -> bool:
            async with board.sessions() as session:
                rows = await session.execute(board.tables.next_check.select())
                return set(case_ids) <= {r.case_id for r in rows}

        await eventually(all_there, 20.0, "next checks in the timer table")


async def _stop(runner: ServiceRunner) -> None:
    """Stop a runner; one that does not stop fails the test rather than hanging the suite."""
    await asyncio.wait_for(runner.stop(), STOP_TIMEOUT)


async def _world(nc: NatsClient, nats_url: str, database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    world = World(nats_url, nc, database_url, Settings(keys_dir=keys_for_tests(), data_dir=tmp_path))
    for store in (world.intake, world.routing, world.escalation):
        await store.ensure_stream()
    try:
        yield world
    finally:
        for runner in list(world.runners):
            await _stop(runner)


@pytest.fixture
async def world(
    nats_client: NatsClient, nats_url: str, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    """On SQLite (the embedded default)."""
    async for w in _world(nats_client, nats_url, sqlite_url, tmp_path):
        yield w


@pytest.fixture
async def world_on_each_database(
    nats_client: NatsClient, nats_url: str, database_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    """Once on SQLite and once on PostgreSQL."""
    async for w in _world(nats_client, nats_url, database_url, tmp_path):
        yield w


def payloads(envelopes: list[Envelope], event_type: str) -> list[dict[str, Any]]:
    return [e.payload for e in envelopes if e.event_type == event_type]
