"""The whole platform served over real HTTP (uvicorn on a free port), with the sample district's
jurisdiction and a roster imported, for the security tests that attack it as a client would."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.users import UserStore
from shared.natsserver import free_port
from tests.sessions import keys_for_tests

PASSWORD = "a long password"
KATRA = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}


@dataclass
class Served:
    app: FastAPI
    url: str
    settings: PlatformSettings
    client: httpx.AsyncClient
    operator: dict[str, str]
    """The operator console's headers (as `shakti users ...` sends them)."""
    registrar: dict[str, str]
    """Per thana, the service number of a constable on the roster."""
    incharges: dict[str, str]

    @property
    def users(self) -> UserStore:
        store: UserStore = self.app.state.users
        return store

    async def add_user(self, username: str, role: str, **record: Any) -> httpx.Response:
        body = {"username": username, "password": PASSWORD, "role": role, **record}
        return await self.client.post("/api/users", json=body, headers=self.operator)

    async def sign_in(self, username: str, password: str = PASSWORD) -> str:
        answer = await self.client.post("/api/auth/token", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["token"]
        return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.asynccontextmanager
async def served_platform(nats_url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Served]:
    config = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port(), **settings)
    app = build_platform(config, runners(config, nats_url))
    async with running(config, app) as url, httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        loader = DemoLoader(app, client)
        registrar, incharges = await loader.roster(await loader.jurisdiction())
        yield Served(app, url, config, client, loader.operator, registrar, incharges)
