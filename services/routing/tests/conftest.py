"""A running routing service on the real NATS server and a real database, with intake's stream to write
registrations into, an HTTP client, and a clock the test moves."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.routing.jurisdiction import import_jurisdiction
from services.routing.main import routing_service
from services.routing.policy import RoutingPolicy
from services.routing.roster import Roster
from shared.auth import Principal
from shared.clock import ManualClock
from shared.contracts.intake import CaseRegistered
from shared.contracts.vocabulary import Category, Channel, DutyStatus, Priority
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, EventStore
from shared.roles import Role
from shared.runtime import ServiceContext, ServiceRunner, build_app
from shared.settings import Settings
from tests.sessions import SignedCallers, keys_for_tests
from tests.waiting import eventually

SAMPLE = Path(__file__).parents[1] / "data" / "shahjahanpur.csv"
ROSTER = Path(__file__).parents[1] / "data" / "shahjahanpur-roster.csv"


def case_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "case_number": f"SJP-2026-{uuid.uuid4().int % 1_000_000:06d}",
        "channel": Channel.WALK_IN,
        "category": Category.FAMILY_DISPUTE,
        "priority": Priority.P3,
        "danger_now": False,
        "minor": False,
        "district": "SJP",
        "registered_by": "PNO100001",
        "sealed_identity": "c2VhbGVk",
    }
    return fields | overrides


@dataclass
class Routing:
    """The service under test and what a test does to it."""

    ctx: ServiceContext
    intake: EventStore
    clock: ManualClock
    client: httpx.AsyncClient
    callers: SignedCallers

    @property
    def store(self) -> EventStore:
        return self.ctx.store

    async def register(self, case_id: str | None = None, **fields: Any) -> str:
        case_id = case_id or uuid.uuid4().hex
        await self.intake_event(case_id, CaseRegistered(**case_fields(**fields)), version=0)
        return case_id

    async def intake_event(self, case_id: str, event: Event, *, version: int | None = None) -> Envelope:
        history = await self.intake.load("case", case_id)
        [stored] = await self.intake.append(
            "case",
            case_id,
            [event],
            expected_sequence=history[-1].sequence if history else 0,
            expected_version=len(history) if version is None else version,
            meta=CommandMeta(command_id=uuid.uuid4().hex, actor="intake", occurred_at=self.clock.now()),
        )
        return stored

    async def record(self, case_id: str) -> list[Envelope]:
        return await self.store.load("case", case_id)

    async def settled(self, case_id: str, *types: str, timeout: float = 15.0) -> list[Envelope]:
        """Wait until the case's routing record holds these event types (in order, at least)."""

        async def holds() -> bool:
            return _contains_in_order([e.event_type for e in await self.record(case_id)], types)

        await eventually(holds, timeout, what=f"{case_id} records {types}")
        return await self.record(case_id)

    async def officer(
        self,
        service_number: str,
        kendra: str,
        *,
        gender: str = "female",
        rank: str = "constable",
        incharge: bool = False,
    ) -> None:
        roster = Roster(self.store)
        meta = CommandMeta(command_id=uuid.uuid4().hex, actor="test")
        await roster.enrol(service_number, f"Officer {service_number}", rank, gender, meta)
        await roster.post(
            service_number, kendra, incharge, meta.model_copy(update={"command_id": uuid.uuid4().hex})
        )

    async def duty(self, service_number: str, status: DutyStatus) -> None:
        meta = CommandMeta(command_id=uuid.uuid4().hex, actor="test")
        await Roster(self.store).change_duty(service_number, status, meta)

    async def caught_up(self) -> None:
        """Wait until the running read model has applied everything in its streams so far."""
        projector = self.ctx.projector("routing")

        async def applied() -> bool:
            return not any((await projector.lag()).values())

        await eventually(applied, what="the read model caught up")
        assert await projector.parked() == []

    def auth(self, role: Role, **place: str) -> dict[str, str]:
        principal = Principal(username=f"{role}-user", role=role, service_number="PNO999001", **place)
        return self.callers.headers(principal)


def _contains_in_order(found: list[str], wanted: tuple[str, ...]) -> bool:
    rest = iter(found)
    return all(any(w == f for f in rest) for w in wanted)


async def start_routing(
    stack: AsyncExitStack,
    nats_url: str,
    database_url: str,
    clock: ManualClock,
    policy: RoutingPolicy | None = None,
    *,
    gather_ms: float | None = None,
) -> Routing:
    """``gather_ms``: how long the read models hold a burst of events (the settings' default if None)."""
    settings = Settings(keys_dir=keys_for_tests(), data_dir=Path("/nonexistent"))
    if gather_ms is not None:
        settings = settings.model_copy(update={"projection_gather_ms": gather_ms})
    runner = ServiceRunner(
        routing_service(policy or RoutingPolicy()),
        settings,
        nats_url=nats_url,
        clock=clock,
        database_url=database_url,
    )
    callers = SignedCallers()
    app = build_app([runner], settings, directory=callers.directory)
    await stack.enter_async_context(app.router.lifespan_context(app))
    client = await stack.enter_async_context(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing.test")
    )
    assert runner.context is not None
    intake = EventStore(runner.context.store.nc, "intake")
    return Routing(runner.context, intake, clock, client, callers)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def routing(
    nats_client: NatsClient, nats_url: str, sqlite_url: str, clock: ManualClock
) -> AsyncIterator[Routing]:
    """The service with the sample district imported, on SQLite."""
    async with AsyncExitStack() as stack:
        service = await start_routing(stack, nats_url, sqlite_url, clock)
        await import_jurisdiction(SAMPLE, service.store)
        yield service


@pytest.fixture
async def empty_routing(
    nats_client: NatsClient, nats_url: str, database_url: str, clock: ManualClock
) -> AsyncIterator[Routing]:
    """The service with nothing imported, once on SQLite and once on PostgreSQL."""
    async with AsyncExitStack() as stack:
        yield await start_routing(stack, nats_url, database_url, clock)
