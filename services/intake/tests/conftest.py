"""The intake service running for real (NATS, its read model on SQLite or PostgreSQL), reached over HTTP.

Routing and escalation are other engineers' services: their events are appended here as they would
append them, through the same event store and their own event schemas (the contract), so that intake
is tested against the facts it will really receive.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from services.intake.main import service
from shared.auth import Principal
from shared.clock import ManualClock
from shared.contracts.routing import (
    CaseRouted,
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    LocalityDefined,
    ThanaDefined,
)
from shared.events import Event
from shared.eventstore import CommandMeta, EventStore
from shared.roles import Role
from shared.runtime import ServiceRunner, build_app
from shared.settings import Settings
from tests.sessions import SignedCallers, keys_for_tests
from tests.waiting import eventually

OFFICER = Principal(
    username="asha",
    role=Role.KENDRA_OFFICER,
    service_number="PNO152301",
    district="SJP",
    circle="SJP-TILHAR",
    thana="SJP-KATRA",
)
INCHARGE = Principal(
    username="meera",
    role=Role.KENDRA_INCHARGE,
    service_number="PNO152302",
    district="SJP",
    circle="SJP-TILHAR",
    thana="SJP-KATRA",
)
OTHER_THANA = Principal(
    username="rekha",
    role=Role.KENDRA_OFFICER,
    service_number="PNO152399",
    district="SJP",
    circle="SJP-NAGAR",
    thana="SJP-SADAR-BAZAR",
)
CO = Principal(
    username="co-tilhar", role=Role.CO, service_number="PNO100001", district="SJP", circle="SJP-TILHAR"
)
SP = Principal(username="sp-sjp", role=Role.SP, service_number="PNO100002", district="SJP")
STATE = Principal(username="hq", role=Role.STATE_CELL, service_number="PNO100003")

JURISDICTION: list[Event] = [
    DistrictDefined(code="SJP", name_hi="शाहजहाँपुर", name_en="Shahjahanpur"),
    CircleDefined(code="SJP-TILHAR", district="SJP", name_hi="तिलहर", name_en="Tilhar"),
    CircleDefined(code="SJP-NAGAR", district="SJP", name_hi="नगर", name_en="Nagar"),
    ThanaDefined(
        code="SJP-KATRA",
        district="SJP",
        circle="SJP-TILHAR",
        name_hi="कटरा",
        name_en="Katra",
        pincodes=["242301"],
    ),
    ThanaDefined(
        code="SJP-SADAR-BAZAR", district="SJP", circle="SJP-NAGAR", name_hi="सदर बाजार", name_en="Sadar Bazar"
    ),
    LocalityDefined(
        code="SJP-KATRA-01",
        thana="SJP-KATRA",
        district="SJP",
        circle="SJP-TILHAR",
        name_hi="कटरा बाजार",
        name_en="Katra bazaar",
    ),
    KendraDefined(
        code="MSK-SJP-KATRA",
        thana="SJP-KATRA",
        district="SJP",
        circle="SJP-TILHAR",
        name_hi="मिशन शक्ति केन्द्र कटरा",
        name_en="Mission Shakti Kendra Katra",
    ),
]


def complaint(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "walk_in",
        "category": "domestic_violence",
        "description": "Beaten by her husband last night.",
        "district": "SJP",
        "thana": "SJP-KATRA",
        "minor": False,
        "danger_now": False,
        "language": "hi",
        "consent_to_share": True,
        "identity": {
            "name": "Sunita Devi",
            "phone": "9876543210",
            "address": "Mohalla Katra",
            "statement": "She says...",
        },
    }
    body.update(overrides)
    return body


@dataclass
class Intake:
    """A running intake service and the means to talk to it as officers, routing and escalation do."""

    app: FastAPI
    client: httpx.AsyncClient
    runner: ServiceRunner
    nc: NatsClient
    clock: ManualClock
    callers: SignedCallers
    database_url: str
    keys: itertools.count[int] = field(default_factory=itertools.count)

    def as_(self, principal: Principal, key: str | None = None) -> dict[str, str]:
        headers = self.callers.headers(principal)
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def register(self, principal: Principal = OFFICER, **overrides: Any) -> dict[str, Any]:
        response = await self.client.post(
            "/api/intake/cases",
            json=complaint(**overrides),
            headers=self.as_(principal, f"reg-{next(self.keys)}"),
        )
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    async def command(
        self,
        case_id: str,
        command: str,
        body: dict[str, Any] | None = None,
        principal: Principal = OFFICER,
        key: str | None = None,
    ) -> httpx.Response:
        path, headers = f"/api/intake/cases/{case_id}/{command}", self.as_(principal, key)
        if body is not None and "file" in body:  # a file goes as a form, the way a page sends it
            fields = {k: v for k, v in body.items() if k != "file"}
            return await self.client.post(path, data=fields, files={"file": body["file"]}, headers=headers)
        return await self.client.post(path, json=body, headers=headers)

    async def get(self, path: str, principal: Principal = OFFICER, **params: Any) -> httpx.Response:
        return await self.client.get(f"/api/intake{path}", params=params, headers=self.as_(principal))

    async def case(self, case_id: str, principal: Principal = OFFICER) -> dict[str, Any]:
        """The case as the register shows it, once the read model has it."""
        found: dict[str, Any] = {}

        async def shown() -> bool:
            response = await self.get(f"/cases/{case_id}", principal)
            if response.status_code == 200:
                found.update(response.json())
            return response.status_code == 200

        await eventually(shown, what=f"case {case_id} in the register")
        return found

    async def settled(self, case_id: str, check: Any, principal: Principal = OFFICER) -> dict[str, Any]:
        """Wait until the case's register row satisfies ``check``."""
        latest: dict[str, Any] = {}

        async def ok() -> bool:
            response = await self.get(f"/cases/{case_id}", principal)
            if response.status_code != 200:
                return False
            latest.clear()
            latest.update(response.json())
            return bool(check(latest))

        await eventually(ok, what=f"case {case_id} to settle")
        return latest

    async def publish(
        self, service: str, aggregate: str, aggregate_id: str, events: Sequence[Event], actor: str
    ) -> None:
        """Append events to another service's stream, as that service would."""
        store = EventStore(self.nc, service)
        history = await store.load(aggregate, aggregate_id)
        await store.append(
            aggregate,
            aggregate_id,
            events,
            expected_sequence=history[-1].sequence if history else 0,
            expected_version=len(history),
            meta=CommandMeta(
                command_id=f"{service}-{aggregate_id}-{len(history)}",
                actor=actor,
                occurred_at=self.clock.now(),
            ),
        )


def routed_to_katra(case_id: str, reason: str = "thana given") -> CaseRouted:
    return CaseRouted(
        case_id=case_id,
        district="SJP",
        circle="SJP-TILHAR",
        thana="SJP-KATRA",
        kendra="MSK-SJP-KATRA",
        reason=reason,
    )


async def import_jurisdiction(nc: NatsClient) -> None:
    store = EventStore(nc, "routing")
    await store.ensure_stream()
    await store.append(
        "district",
        "SJP",
        JURISDICTION,
        expected_sequence=0,
        expected_version=0,
        meta=CommandMeta(command_id="import-sjp", actor="routing"),
    )


@contextlib.asynccontextmanager
async def running_intake(
    nc: NatsClient,
    nats_url: str,
    database_url: str,
    *,
    clock: ManualClock | None = None,
    key_store_url: str | None = None,
    projections: bool = True,
    gather_ms: float | None = None,
) -> AsyncIterator[Intake]:
    settings = Settings(keys_dir=keys_for_tests(), key_store_url=key_store_url, data_dir=Path("var-unused"))
    if gather_ms is not None:
        settings = settings.model_copy(update={"projection_gather_ms": gather_ms})
    clock = clock or ManualClock()
    runner = ServiceRunner(
        service,
        settings,
        nats_url=nats_url,
        clock=clock,
        database_url=database_url,
        run_projections=projections,
    )
    callers = SignedCallers()
    app = build_app([runner], settings, directory=callers.directory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake.test") as client:
            yield Intake(app, client, runner, nc, clock, callers, database_url)


async def places_known(intake: Intake) -> None:
    async def loaded() -> bool:
        response = await intake.get("/places")
        return len(response.json()["places"]) == len(JURISDICTION)

    await eventually(loaded, what="the imported jurisdiction in intake's read model")


@pytest.fixture
async def intake(nats_client: NatsClient, nats_url: str, database_url: str) -> AsyncIterator[Intake]:
    """Intake with the Shahjahanpur jurisdiction imported; runs once on SQLite and once on PostgreSQL."""
    await import_jurisdiction(nats_client)
    async with running_intake(nats_client, nats_url, database_url) as running:
        await places_known(running)
        yield running


@pytest.fixture
async def intake_sqlite(nats_client: NatsClient, nats_url: str, sqlite_url: str) -> AsyncIterator[Intake]:
    """The same on SQLite only, for what does not depend on the database (input checks, auth)."""
    await import_jurisdiction(nats_client)
    async with running_intake(nats_client, nats_url, sqlite_url) as running:
        await places_known(running)
        yield running
