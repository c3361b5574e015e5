"""The demo gives every demo user work (issue 16): demo.officer's service number is rostered at the
Kendra whose cases she registers and works, whatever list of Kendras the loader was given."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from nats.aio.client import Client as NatsClient

from shakti.config import PlatformSettings
from shakti.demo import HISTORY_PER_DAY, HOME_THANA, Demo, DemoLoader, roster_sheet
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.synthetic import synthetic_complaints
from shared.clock import IST
from shared.natsserver import free_port
from tests.security.served import served_platform
from tests.sessions import keys_for_tests
from tests.waiting import eventually

KENDRAS = [
    {
        "code": f"MSK-SJP-{thana}",
        "thana": f"SJP-{thana}",
        "name_en": f"Mission Shakti Kendra, {thana.title()}",
    }
    for thana in ("ALLAHGANJ", "BANDA", "KATRA", "SEHRAMAU-SOUTH", "GARHIA-RANGEEN")
]


def rostered_at(sheet: str) -> dict[str, str]:
    rows = [line.split(",") for line in sheet.splitlines()[2:]]
    return {row[0]: row[4] for row in rows}


def test_a_demo_officer_keeps_her_number_and_her_kendra_whichever_kendras_are_listed() -> None:
    full, registrar, incharges = roster_sheet(KENDRAS)
    # Intake's list of places was once read half-built: fewer Kendras before Katra in the list.
    partial, registrar_then, incharges_then = roster_sheet(KENDRAS[1:])
    assert registrar_then[HOME_THANA] == registrar[HOME_THANA]
    assert incharges_then[HOME_THANA] == incharges[HOME_THANA]
    assert (
        rostered_at(partial)[registrar[HOME_THANA]]
        == rostered_at(full)[registrar[HOME_THANA]]
        == "MSK-SJP-KATRA"
    )
    numbers = list(rostered_at(full))
    assert len(numbers) == len(set(numbers)) == 3 * len(KENDRAS)
    assert all(n.startswith("DEMO") and n.isalnum() and len(n) <= 20 for n in numbers)


async def test_demo_officer_finds_cases_of_her_own_kendra_in_her_queue(
    nats_client: NatsClient, nats_url: str, tmp_path: Path
) -> None:
    async with served_platform(nats_url, tmp_path) as site:
        await Demo(history_days=0).load(site.app, site.url)
        loader = DemoLoader(site.app, site.client)
        officer = (await site.users.get("demo.officer")).principal()
        roster = await loader.call("GET", "/api/routing/roster", loader.operator)
        assert {o["service_number"]: o["kendra"] for o in roster}[officer.service_number] == "MSK-SJP-KATRA"
        for n, complaint in enumerate(synthetic_complaints([HOME_THANA], 6)):
            await loader.complaint(n, complaint)
        mine: list[dict[str, Any]] = []

        async def assigned_to_her() -> bool:
            register = await loader.call(
                "GET", "/api/intake/cases", await loader.header("demo.officer"), params={"size": 200}
            )
            mine[:] = [c for c in register["cases"] if c["assigned_officer"] == officer.service_number]
            return bool(mine)

        await eventually(assigned_to_her, timeout=30, what="a case in demo.officer's queue")
        assert all(c["thana"] == HOME_THANA for c in mine)


async def test_a_fresh_demo_lives_its_history_at_past_moments_then_runs_on_real_time(
    nats_client: NatsClient, nats_url: str, tmp_path: Path
) -> None:
    """The demo's days of history go in through the API on the platform's own clock, set to each past
    moment: the register shows cases of each of those days (not of today), their disposals and the
    breaches of the late ones at their moments; then the clock runs on real time. A restart adds no
    history twice."""
    demo = Demo(history_days=3)
    config = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port())
    app = build_platform(config, runners(config, nats_url, clock=demo.clock))
    async with running(config, app) as url, httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        await demo.load(app, url)
        assert not demo.clock.in_the_past
        assert abs((demo.clock.now() - datetime.now(UTC)).total_seconds()) < 5
        loader = DemoLoader(app, client)
        sp = await loader.header("demo.sp")
        today = datetime.now(IST).date()
        expected_days = {today - timedelta(days=d) for d in (1, 2, 3)}
        found: list[dict[str, Any]] = []

        async def every_case_listed() -> bool:
            register = await loader.call("GET", "/api/intake/cases", sp, params={"size": 200})
            found[:] = register["cases"]
            return len(found) >= len(expected_days) * HISTORY_PER_DAY - 1

        await eventually(every_case_listed, timeout=60, what="the history's cases in the register")
        days = {datetime.fromisoformat(c["registered_at"]).astimezone(IST).date() for c in found}
        assert days == expected_days
        assert {c["status"] for c in found} & {"closed", "resolved"}
        timeline = await loader.call("GET", f"/api/intake/cases/{found[0]['case_id']}/timeline", sp)
        moments = [datetime.fromisoformat(e["occurred_at"]) for e in timeline["entries"]]
        assert all(m.astimezone(IST).date() in expected_days for m in moments), moments

        again = Demo(history_days=3)
        await again.load(app, url)
        register = await loader.call("GET", "/api/intake/cases", sp, params={"size": 200})
        assert register["total"] == len(found)
