"""The whole platform running for real, as ``shakti up`` runs it, with every file it writes in one data
directory: the embedded NATS server's store (``<data>/nats``) and the SQLite databases of the four
services and the web front. For the tests that read those files as an attacker would."""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.intake.tests.conftest import INCHARGE, OFFICER, complaint
from shakti.config import PlatformSettings
from shakti.platform import build_platform, runners
from shared.auth import Principal
from shared.natsserver import EmbeddedNatsServer
from shared.roles import Role
from tests.sessions import bearer, enrol, keys_for_tests
from tests.waiting import eventually

SAMPLE = Path(__file__).parents[2] / "services" / "routing" / "data"
OPERATOR = Principal(username="ops", role=Role.OPERATOR)
NAME = "Zarnigar Vyomkesh Quillfeather"
PHONE = "9123487650"


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    settings: PlatformSettings
    nats_url: str
    tokens: dict[str, str]
    """A session token per user name, of the users enrolled in the platform's directory at start."""

    def as_(self, principal: Principal, key: str | None = None) -> dict[str, str]:
        headers: dict[str, str] = bearer(self.tokens[principal.username])
        return headers | ({"Idempotency-Key": key} if key else {})

    async def register(self, key: str) -> str:
        body = complaint(identity={"name": NAME, "phone": PHONE, "address": "House 7", "statement": "..."})
        registered = await self.client.post("/api/intake/cases", json=body, headers=self.as_(OFFICER, key))
        assert registered.status_code == 201, registered.text
        case_id: str = registered.json()["case_id"]
        return case_id

    async def identity(self, case_id: str) -> httpx.Response:
        return await self.client.get(
            f"/api/intake/cases/{case_id}/identity",
            params={"purpose": "contact_complainant"},
            headers=self.as_(OFFICER),
        )

    async def erase(self, case_id: str) -> None:
        erased = await self.client.post(
            f"/api/intake/cases/{case_id}/erase-identity",
            json={"legal_basis": "dpdp_request"},
            headers=self.as_(INCHARGE, f"erase-{case_id}"),
        )
        assert erased.status_code == 200, erased.text


def settings_for(data_dir: Path, **overrides: Any) -> PlatformSettings:
    fields: dict[str, Any] = {
        "keys_dir": keys_for_tests(),
        "data_dir": data_dir,
        "nats_url": None,
        "database_url": None,
    }
    return PlatformSettings(**(fields | overrides))


@contextlib.asynccontextmanager
async def embedded_nats(data_dir: Path) -> AsyncIterator[str]:
    with EmbeddedNatsServer(data_dir / "nats") as server:
        yield server.url


@contextlib.asynccontextmanager
async def running_platform(settings: PlatformSettings, nats_url: str) -> AsyncIterator[Running]:
    app = build_platform(settings, runners(settings, nats_url))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shakti.test") as client,
    ):
        tokens = {p.username: await enrol(app, p) for p in (OFFICER, INCHARGE, OPERATOR)}
        yield Running(app, client, settings, nats_url, tokens)


async def import_sample(platform: Running) -> None:
    for path, sheet in [
        ("/api/routing/jurisdiction/import", "shahjahanpur.csv"),
        ("/api/routing/roster/import", "shahjahanpur-roster.csv"),
    ]:
        content = (SAMPLE / sheet).read_bytes()
        imported = await platform.client.post(
            path, files={"file": (sheet, content, "text/csv")}, headers=platform.as_(OPERATOR)
        )
        assert imported.status_code == 200, imported.text

    async def katra_known() -> bool:
        places = await platform.client.get(
            "/api/intake/places", params={"district": "SJP"}, headers=platform.as_(OFFICER)
        )
        return any(p["code"] == "SJP-KATRA" for p in places.json()["places"])

    await eventually(katra_known, what="routing's jurisdiction in intake")


def sealed_identity(stream_message: bytes) -> tuple[str, bytes, bytes]:
    """(case id, nonce, ciphertext) of the sealed identity in a stored ``CaseRegistered``."""
    envelope = json.loads(stream_message)
    raw = base64.b64decode(envelope["payload"]["sealed_identity"])
    return envelope["aggregate_id"], raw[:12], raw[12:]


def files_under(folder: Path) -> dict[Path, bytes]:
    """Every file's bytes, as a copy of the running machine would find them. A file or folder the
    platform removes while it is read (NATS stages an atomic batch in a folder of its own) is not there
    to copy: walking into it failed once with FileNotFoundError."""
    found: dict[Path, bytes] = {}
    for root, _, names in os.walk(folder):  # a folder gone mid-walk is passed over
        for name in names:
            path = Path(root) / name
            with contextlib.suppress(FileNotFoundError):
                found[path] = path.read_bytes()
    return dict(sorted(found.items()))
