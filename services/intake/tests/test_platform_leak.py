"""The identity-leak search across the whole platform: the four services running together as the
launcher runs them (each ``services.<name>.main:service``), the sample district and roster imported
through routing's API, a case registered over HTTP, routed and assigned by routing, its deadlines
armed by escalation; she agreed to SMS, so notifications decides her receipt and status message and
intake opens her phone to hand them over (to its outbox: no gateway here). Then the complainant's name
and phone are searched for in every stream, in the databases of all five services, in the logs and in
the answers: zero hits."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from services.intake.tests.conftest import INCHARGE, OFFICER, complaint
from services.intake.tests.test_identity import NAME, NOTE, PHONE, hits, identity, stream_bytes, table_rows
from shared.auth import Principal
from shared.clock import ManualClock
from shared.roles import Role
from shared.runtime import ServiceRunner, build_app
from shared.settings import Settings
from tests.sessions import SignedCallers, keys_for_tests
from tests.waiting import eventually

SERVICES = ("intake", "routing", "escalation", "training", "notifications")
SAMPLE = Path(__file__).parents[2] / "routing" / "data"
OPERATOR = Principal(username="ops", role=Role.OPERATOR)


async def test_no_identity_in_any_service(
    nats_client: NatsClient,
    nats_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(keys_dir=keys_for_tests(), data_dir=tmp_path)
    clock = ManualClock()
    databases = {name: f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}" for name in SERVICES}
    runners = [
        ServiceRunner(
            importlib.import_module(f"services.{name}.main").service,
            settings,
            nats_url=nats_url,
            clock=clock,
            database_url=databases[name],
        )
        for name in SERVICES
    ]
    callers = SignedCallers()
    app = build_app(runners, settings, directory=callers.directory)

    def as_(principal: Principal) -> dict[str, str]:
        return callers.headers(principal)

    answers: list[str] = []
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shakti.test") as client,
    ):
        for path, sheet in [
            ("/api/routing/jurisdiction/import", "shahjahanpur.csv"),
            ("/api/routing/roster/import", "shahjahanpur-roster.csv"),
        ]:
            content = (SAMPLE / sheet).read_bytes()
            imported = await client.post(
                path, files={"file": (sheet, content, "text/csv")}, headers=as_(OPERATOR)
            )
            assert imported.status_code == 200, imported.text

        async def katra_known() -> bool:
            places = (
                await client.get("/api/intake/places", params={"district": "SJP"}, headers=as_(OFFICER))
            ).json()
            return any(p["code"] == "SJP-KATRA" for p in places["places"])

        await eventually(katra_known, what="routing's jurisdiction in intake")
        registered = await client.post(
            "/api/intake/cases",
            json=complaint(
                identity=identity(), category="sexual_assault", minor=True, consent_to_messages=True
            ),
            headers=as_(OFFICER) | {"Idempotency-Key": "platform-leak"},
        )
        assert registered.status_code == 201, registered.text
        case_id = registered.json()["case_id"]
        for command, body in [("notes", {"text": NOTE}), ("first-contact", {"mode": "phone"})]:
            done = await client.post(
                f"/api/intake/cases/{case_id}/{command}", json=body, headers=as_(OFFICER)
            )
            assert done.status_code == 200, done.text
            answers.append(done.text)

        async def routed_and_clocked() -> bool:
            timeline = await client.get(f"/api/intake/cases/{case_id}/timeline", headers=as_(OFFICER))
            if timeline.status_code != 200:
                return False
            types: set[str] = {e["event_type"] for e in timeline.json()["entries"]}
            texts = " ".join(e["text_en"] for e in timeline.json()["entries"])
            return {"CaseAssigned", "ClockStarted"} <= types and texts.count(
                "SMS to the complainant handed"
            ) == 2

        await eventually(routed_and_clocked, timeout=30, what="routing's assignment and escalation's clocks")
        shown = await client.get(
            f"/api/intake/cases/{case_id}/identity",
            params={"purpose": "contact_complainant"},
            headers=as_(INCHARGE),
        )
        assert shown.json()["identity"]["name"] == NAME and shown.json()["identity"]["phone"] == PHONE
        for path in [
            f"/api/intake/cases/{case_id}",
            f"/api/intake/cases/{case_id}/timeline",
            f"/api/routing/cases/{case_id}",
        ]:
            answers.append((await client.get(path, headers=as_(OFFICER))).text)

        found = [h for n, a in enumerate(answers) for h in hits(f"answer {n}", a)]
        raw = await stream_bytes(nats_client)
        assert {"INTAKE", "ROUTING", "ESCALATION", "NOTIFICATIONS"} <= {
            where.split("#")[0] for where, _ in raw
        }
        found += [h for where, blob in raw for h in hits(where, blob)]
        for name, url in databases.items():
            tables = await table_rows(url)
            assert tables, f"{name} has no tables"
            found += [h for table, dump in tables.items() for h in hits(f"{name} table {table}", dump)]
    captured = capsys.readouterr()
    found += hits("log records", caplog.text) + hits("stdout", captured.out) + hits("stderr", captured.err)
    assert found == []
