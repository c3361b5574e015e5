"""The dashboards' figures with 10,000 cases in the read models (issue 15): the open cases, the cases
registered on each IST day and the breaches by thana that an SP sees for the district, a circle and a
thana are the counts of every case loaded, not of a first page of them.

The cases go straight into the streams as the services would have appended them (intake's registration
and disposal, escalation's watch and first-contact clock, met or breached), each at its own moment of
the last 20 days; the services run their projections only (no reactions: nothing else is decided), so the
truth is exactly what was appended, and the page is compared with it."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from shakti.config import PlatformSettings
from shakti.demo import JURISDICTION_FILE, DemoLoader
from shakti.launcher import running
from shakti.platform import build_platform, definition
from shakti.users import UserStore, user_record
from shared.auth import COOKIE
from shared.clock import IST
from shared.contracts.escalation import CaseWatched, ClockStarted, ClockStopped, SlaBreached
from shared.contracts.intake import CaseClosed, CaseRegistered, CaseResolved
from shared.contracts.vocabulary import Category, Channel, Priority
from shared.events import Event
from shared.eventstore import CommandMeta, EventStore
from shared.natsserver import free_port
from shared.roles import Role
from shared.runtime import ServiceRunner
from tests.sessions import keys_for_tests
from tests.waiting import eventually

CASES = 10_000
NOW = datetime.now(UTC)
THANAS = [
    (row[2], row[1], row[4])
    for row in (line.split(",") for line in JURISDICTION_FILE.read_text(encoding="utf-8").splitlines())
    if row[0] == "thana"
]
"""(circle, thana, English name) of every thana of Shahjahanpur."""


@dataclass(frozen=True)
class Loaded:
    circle: str
    thana: str
    registered_at: datetime
    disposed: bool
    breached: bool


def the_cases() -> list[Loaded]:
    out = []
    for n in range(CASES):
        circle, thana, _ = THANAS[(n * 7) % len(THANAS)]
        at = NOW - timedelta(minutes=(n * 37) % (20 * 24 * 60))
        out.append(Loaded(circle, thana, at, disposed=n % 4 == 0, breached=n % 9 == 0))
    return out


async def append_case(intake: EventStore, escalation: EventStore, n: int, case: Loaded) -> None:
    case_id = uuid.UUID(int=n + 1).hex
    registered = CaseRegistered(
        case_number=f"SJP-2026-{n:06d}", channel=Channel.WALK_IN, category=Category.DOMESTIC_VIOLENCE,
        priority=Priority.P3, danger_now=False, minor=False, district="SJP", circle=case.circle,
        thana=case.thana, registered_by="DEMOKATRA1", sealed_identity="c2VhbGVk",
    )  # fmt: skip
    told: list[Event] = [registered]
    if case.disposed:
        told += [
            CaseResolved(outcome="counselled_reconciled", by="DEMOKATRA1"),
            CaseClosed(reason="disposed", by="DEMOKATRA1"),
        ]
    meta = CommandMeta(command_id=f"load-{n}", actor="test", occurred_at=case.registered_at)
    await intake.append("case", case_id, told, expected_sequence=0, expected_version=0, meta=meta)
    due = case.registered_at + timedelta(hours=24)
    watched: list[Event] = [
        CaseWatched(
            case_id=case_id, case_number=registered.case_number, priority=Priority.P3,
            category=Category.DOMESTIC_VIOLENCE, danger_now=False, district="SJP", circle=case.circle,
            thana=case.thana, registered_at=case.registered_at, policy_version="test",
        ),
        ClockStarted(
            case_id=case_id, clock="first_contact", started_at=case.registered_at, due_at=due,
            policy_version="test",
        ),
        SlaBreached(case_id=case_id, clock="first_contact", due_at=due, breached_at=due)
        if case.breached
        else ClockStopped(case_id=case_id, clock="first_contact", at=case.registered_at, met=True),
    ]  # fmt: skip
    meta = CommandMeta(command_id=f"watch-{n}", actor="test", occurred_at=case.registered_at)
    await escalation.append("case", case_id, watched, expected_sequence=0, expected_version=0, meta=meta)


@dataclass
class Site:
    client: httpx.AsyncClient
    sp: dict[str, str]
    cases: list[Loaded]


@pytest.fixture
async def district_of_10000(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    services = [
        ServiceRunner(definition(name), settings, nats_url=nats_url, run_reactions=False)
        for name in ("intake", "routing", "escalation", "training")
    ]
    app = build_platform(settings, services, users=users)
    cases = the_cases()
    async with running(settings, app) as url, httpx.AsyncClient(base_url=url, timeout=60.0) as client:
        loader = DemoLoader(app, client)
        await loader.jurisdiction()
        intake = EventStore(nats_client, "intake")
        escalation = EventStore(nats_client, "escalation")
        slots = asyncio.Semaphore(64)

        async def one(n: int, case: Loaded) -> None:
            async with slots:
                await append_case(intake, escalation, n, case)

        await asyncio.gather(*(one(n, case) for n, case in enumerate(cases)))
        await users.add(user_record("sjp.sp", Role.SP, district="SJP"), "a-long-test-password", actor="test")
        account = await users.get("sjp.sp")
        token = app.state.issuer.issue(account.username, account.session_version)
        sp = {"Authorization": f"Bearer {token}"}

        async def every_case_projected() -> bool:
            register = await client.get("/api/intake/cases", headers=sp, params={"size": 1})
            rates = await client.get("/api/escalation/breach-rates", headers=sp)
            decided = sum(r["decided"] for r in rates.json()["rates"])
            return bool(register.json()["total"] == CASES and decided == CASES)

        await eventually(every_case_projected, timeout=180, what="10,000 cases in the read models")
        yield Site(client, {"Cookie": f"{COOKIE}={token}; shakti_lang=en"}, cases)


def figure(page: str, id_: str) -> int:
    found = re.search(rf'id="{id_}">(\d+)<', page)
    assert found is not None, id_
    return int(found.group(1))


def columns(page: str) -> dict[str, int]:
    """The 'registered per day' chart: day-month -> cases (the weekly breaches' chart is labelled by
    day-month too: only this tile is read)."""
    tile = re.search(r'<section class="card" id="per-day">(.*?)</section>', page, re.S)
    assert tile is not None
    return {day: int(n) for day, n in re.findall(r"<title>(\d\d-\d\d): (\d+)</title>", tile.group(1))}


def breaches(page: str) -> dict[str, tuple[int, int]]:
    """The 'breaches by thana' table: the thana's name -> (breached, decided)."""
    rows = re.findall(r'<a href="/dashboard\?thana=[^"]+">([^<]+)</a></td><td>(\d+) / (\d+)</td>', page)
    return {name: (int(breached), int(decided)) for name, breached, decided in rows}


async def test_the_district_circle_and_thana_dashboards_count_all_10000_cases(
    district_of_10000: Site,
) -> None:
    site, names = district_of_10000, {thana: name for _, thana, name in THANAS}
    for where in ({}, {"circle": "SJP-TILHAR"}, {"thana": "SJP-KATRA"}):
        page = await site.client.get("/dashboard", params=where, headers=site.sp)
        assert page.status_code == 200, page.text
        mine = [c for c in site.cases if all(getattr(c, level) == code for level, code in where.items())]
        assert len(mine) > 200  # more than any first page of the register
        assert figure(page.text, "open-count") == sum(not c.disposed for c in mine)
        per_day = Counter(c.registered_at.astimezone(IST).strftime("%d-%m") for c in mine)
        shown = columns(page.text)
        assert {day: n for day, n in shown.items() if n} == dict(per_day), where
        expected = {
            names[thana]: (sum(c.breached for c in those), len(those))
            for thana in {c.thana for c in mine}
            for those in [[c for c in mine if c.thana == thana]]
        }
        assert breaches(page.text) == expected, where
