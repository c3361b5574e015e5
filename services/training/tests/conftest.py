"""The training service running for real: NATS JetStream, a read-model database, the HTTP app, a manual
clock, and routing's roster and jurisdiction events appended to the ROUTING stream as routing would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.aio.client import Client as NatsClient

from services.training.curriculum import CURRICULUM_FILE, RULES_FILE, TrainingPolicy, load_policy
from services.training.domain import OfficerRecord
from services.training.main import definition
from shared.auth import Principal
from shared.clock import ManualClock
from shared.contracts.routing import (
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    OfficerEnrolled,
    OfficerPosted,
    ThanaDefined,
)
from shared.events import Event
from shared.eventstore import CommandMeta, EventStore
from shared.roles import Role
from shared.runtime import ServiceContext, ServiceRunner, build_app
from shared.settings import Settings
from tests.sessions import SignedCallers, keys_for_tests
from tests.waiting import eventually

# A small illustrative tree (not official circle links): two districts so the state level adds up.
PLACES = {
    "SJP": {
        "SJP-NAGAR": ["SJP-SADAR-BAZAR", "SJP-KOTWALI"],
        "SJP-TILHAR": ["SJP-TILHAR", "SJP-KATRA"],
    },
    "BLY": {"BLY-NAGAR": ["BLY-KOTWALI"]},
}


def thana_of(kendra: str) -> str:
    return kendra.removeprefix("MSK-")


def circle_of(thana: str) -> str:
    return next(c for circles in PLACES.values() for c, thanas in circles.items() if thana in thanas)


class RoutingFeed:
    """Appends routing's events to the ROUTING stream, on the subjects routing's contract names."""

    def __init__(self, store: EventStore, clock: ManualClock) -> None:
        self.store = store
        self.clock = clock
        self.last: dict[tuple[str, str], tuple[int, int]] = {}

    async def append(self, aggregate_type: str, aggregate_id: str, *events: Event) -> None:
        seq, version = self.last.get((aggregate_type, aggregate_id), (0, 0))
        stored = await self.store.append(
            aggregate_type,
            aggregate_id,
            list(events),
            expected_sequence=seq,
            expected_version=version,
            meta=CommandMeta(command_id=uuid.uuid4().hex, actor="routing", occurred_at=self.clock.now()),
        )
        self.last[(aggregate_type, aggregate_id)] = (stored[-1].sequence, stored[-1].aggregate_version)

    async def jurisdiction(self) -> None:
        for district, circles in PLACES.items():
            events: list[Event] = [
                DistrictDefined(code=district, name_hi=f"जनपद {district}", name_en=district)
            ]
            for circle, thanas in circles.items():
                events.append(CircleDefined(code=circle, district=district, name_hi=circle, name_en=circle))
                for thana in thanas:
                    events.append(
                        ThanaDefined(
                            code=thana, district=district, circle=circle, name_hi=thana, name_en=thana
                        )
                    )
                    events.append(
                        KendraDefined(
                            code=f"MSK-{thana}",
                            thana=thana,
                            district=district,
                            circle=circle,
                            name_hi="",
                            name_en="",
                        )
                    )
            await self.append("district", district, *events)

    async def post(self, service_number: str, kendra: str, *, rank: str = "Constable") -> None:
        thana = thana_of(kendra)
        circle = circle_of(thana)
        posted = OfficerPosted(
            service_number=service_number,
            kendra=kendra,
            thana=thana,
            circle=circle,
            district=thana.split("-")[0],
        )
        if ("officer", service_number) in self.last:
            await self.append("officer", service_number, posted)
            return
        enrolled = OfficerEnrolled(
            service_number=service_number, name=f"Officer {service_number}", rank=rank, gender="female"
        )
        await self.append("officer", service_number, enrolled, posted)


@dataclass
class Training:
    runner: ServiceRunner
    client: httpx.AsyncClient
    clock: ManualClock
    routing: RoutingFeed
    policy: TrainingPolicy
    callers: SignedCallers

    @property
    def ctx(self) -> ServiceContext:
        assert self.runner.context is not None
        return self.runner.context

    def headers(self, role: Role, **where: str) -> dict[str, str]:
        principal = Principal(**{"username": f"test-{role.value}", "role": role, **where})
        return self.callers.headers(principal)

    async def record(self, service_number: str) -> OfficerRecord:
        return await self.ctx.repository(OfficerRecord).get(service_number)

    async def events(self, service_number: str) -> list[Event]:
        """The officer's training record as stored in the TRAINING stream."""
        return [e.event() for e in await self.ctx.repository(OfficerRecord).history(service_number)]

    async def event_types(self, service_number: str) -> list[str]:
        return [e.event_type for e in await self.events(service_number)]

    async def settled(self) -> None:
        """Every projection has applied every event its filters select, as the streams are now."""
        js = self.ctx.store.js
        targets: list[tuple[Any, str, int]] = []
        for projector in self.ctx.projectors.values():
            for stream, subjects in projector.projection.sources.items():
                try:
                    last = (await js.get_last_msg(stream, subjects)).seq or 0
                except Exception:  # nothing on those subjects yet
                    last = 0
                targets.append((projector, stream, last))

        async def caught_up() -> bool:
            for projector, stream, last in targets:
                if await projector.checkpoint(stream) < last:
                    return False
            return True

        await eventually(caught_up, what="projections caught up")

    async def import_csv(self, text: str, role: Role = Role.OPERATOR) -> httpx.Response:
        return await self.client.post(
            "/api/training/imports/igot",
            files={"file": ("igot.csv", text.encode(), "text/csv")},
            headers=self.headers(role),
        )


def igot_csv(rows: Iterable[tuple[str, str, str, str]]) -> str:
    lines = ["service_number,module_id,completed_at,score"] + [",".join(r) for r in rows]
    return "\n".join(lines) + "\n"


def full_course(
    service_number: str, on: datetime, score: str = "80", skip: Iterable[str] = ()
) -> list[tuple[str, str, str, str]]:
    """Every module the certification requires, completed on ``on`` (assessment scored ``score``)."""
    policy = load_policy()
    day = on.date().isoformat()
    return [
        (service_number, m, day, score if m in policy.rules.certification.pass_marks else "")
        for m in policy.required
        if m not in skip
    ]


def curriculum_with(tmp_path: Path, **changes: tuple[int, int]) -> Path:
    """A copy of the curriculum file where module -> (version, accepted_from_version)."""
    data = yaml.safe_load(CURRICULUM_FILE.read_text(encoding="utf-8"))
    for module in data["modules"]:
        if module["id"] in changes:
            module["version"], module["accepted_from_version"] = changes[module["id"]]
    path = tmp_path / "curriculum.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@asynccontextmanager
async def running(
    nats_url: str,
    nats_client: NatsClient,
    database_url: str,
    clock: ManualClock,
    curriculum: Path = CURRICULUM_FILE,
    *,
    gather_ms: float | None = None,
) -> AsyncIterator[Training]:
    """``gather_ms``: how long the read models hold a burst of events before applying it (the
    settings' default when not given)."""
    policy = load_policy(curriculum, RULES_FILE)
    settings = Settings(keys_dir=keys_for_tests())
    if gather_ms is not None:
        settings = settings.model_copy(update={"projection_gather_ms": gather_ms})
    runner = ServiceRunner(
        definition(policy), settings, nats_url=nats_url, clock=clock, database_url=database_url
    )
    callers = SignedCallers()
    app = build_app([runner], settings, directory=callers.directory)
    routing = EventStore(nats_client, "routing")
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        yield Training(runner, client, clock, RoutingFeed(routing, clock), policy, callers)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def training(
    nats_url: str, nats_client: NatsClient, sqlite_url: str, clock: ManualClock
) -> AsyncIterator[Training]:
    async with running(nats_url, nats_client, sqlite_url, clock) as t:
        yield t


@pytest.fixture
async def training_on_both(
    nats_url: str, nats_client: NatsClient, database_url: str, clock: ManualClock
) -> AsyncIterator[Training]:
    """The same, once on SQLite and once on PostgreSQL."""
    async with running(nats_url, nats_client, database_url, clock) as t:
        yield t
