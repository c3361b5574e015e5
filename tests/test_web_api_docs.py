"""The API documents: OpenAPI and AsyncAPI are served, checked in under docs/, and current; and no
input a user can type makes the API answer with a server error (schemathesis, bounded examples)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from shakti.asyncapi import asyncapi_text
from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.docs import DOCS, document_text, started_openapi
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.users import UserStore
from shared.auth import Principal
from shared.natsserver import free_port
from shared.roles import Role
from tests.sessions import enrol, keys_for_tests


@dataclass
class Served:
    app: FastAPI
    url: str


@pytest.fixture
async def served(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url), users=users)
    async with running(settings, app) as url:
        yield Served(app, url)


async def test_checked_in_documents_are_current_and_served(served: Served) -> None:
    openapi = document_text(started_openapi(served.app))
    assert (DOCS / "openapi.json").read_text(encoding="utf-8") == openapi, (
        "run `shakti docs` and commit docs/"
    )
    assert (DOCS / "asyncapi.json").read_text(encoding="utf-8") == asyncapi_text(), "run `shakti docs`"
    reader = Principal(username="docs-reader", role=Role.SP, district="SJP")
    signed_in = {"Authorization": f"Bearer {await enrol(served.app, reader)}"}
    async with httpx.AsyncClient(base_url=served.url, headers=signed_in) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
        events = (await client.get("/asyncapi.json")).json()
    assert "/api/intake/cases" in paths and "/api/auth/token" in paths
    assert events["asyncapi"].startswith("3.")
    titles = {channel["address"] for channel in events["channels"].values()}
    assert "shakti.intake.case.{case_id}" in titles
    messages = json.dumps(events["components"])
    for event in ("CaseRegistered", "CaseAssigned", "SlaBreached", "OfficerCertified"):
        assert event in messages
    # Identity travels sealed: the schema of CaseRegistered has no clear name or phone field.
    registered = events["components"]["schemas"]["CaseRegistered"]["properties"]
    assert "sealed_identity" in registered and "name" not in registered and "phone" not in registered


async def fuzz(served: Served, principal: Principal, include: str) -> tuple[int, str]:
    token = await enrol(served.app, principal)
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "st"), "run", f"{served.url}/openapi.json",
        "--checks", "not_a_server_error", "--max-examples", "8", "--phases", "examples,fuzzing",
        "--include-path-regex", include, "--workers", "1", "--suppress-health-check", "all", "--seed", "7",
        "-H", f"Authorization: Bearer {token}", "--no-color",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )  # fmt: skip
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode(errors="replace")


@pytest.mark.parametrize(
    ("role", "where", "include"),
    [
        (
            Role.KENDRA_OFFICER,
            {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"},
            "^/api/intake/",
        ),
        (Role.SP, {"district": "SJP"}, "^/api/(escalation|routing|training|notifications)/"),
        (Role.OPERATOR, {}, "^/api/(ops|auth|users|routing/(jurisdiction|roster))"),
    ],
    ids=["kendra-officer-intake", "sp-supervision", "operator"],
)
async def test_no_input_makes_the_api_fail_with_a_server_error(
    served: Served, role: Role, where: dict[str, str], include: str
) -> None:
    async with httpx.AsyncClient(base_url=served.url, timeout=30.0) as client:
        loader = DemoLoader(served.app, client)
        registrar, _ = await loader.roster(await loader.jurisdiction())
    officer = registrar[where.get("thana", "SJP-KATRA")]
    code, out = await fuzz(
        served, Principal(username="fuzz", role=role, service_number=officer, **where), include
    )
    assert "Server error" not in out, out[-3000:]
    assert code == 0, out[-3000:]
