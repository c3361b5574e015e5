"""Benchmark of the intake service over its HTTP API (in process), against the embedded NATS server.

The intake service runs as in production (its read models in SQLite, the key store beside them), with
a jurisdiction imported on the ROUTING stream. Workloads:

* **register**: ``--cases`` complaints, ``--concurrency`` at a time, all in one district, so that
  every registration contends for the same case-number series (the worst case): registrations/s
  and latency (sealing, key, number, append);
* **commands**: a note (sealed) and an action on every case, ``--concurrency`` at a time;
* **visible**: time from a registration's answer to the case appearing in the register;
* **queries**: the register's first page with a filter, and an identity view (recorded), median ms.

    python -m bench.intake            # 1,000 cases, 16 at a time
    python -m bench.intake --quick    # a smoke run (seconds)

The machine is shared: run it more than once. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client as NatsClient

from services.intake.main import service
from shared.aggregate import Repository
from shared.auth import Principal
from shared.contracts.routing import DistrictDefined, ThanaDefined
from shared.directory import UserAccount, account_id
from shared.eventstore import CommandMeta, EventStore
from shared.keys import init_keys, load_signing_key
from shared.natsserver import EmbeddedNatsServer
from shared.roles import Role
from shared.runtime import ServiceRunner, build_app
from shared.settings import Settings
from shared.tokens import TokenIssuer

THANAS = ["SJP-KATRA", "SJP-TILHAR", "SJP-SADAR-BAZAR", "SJP-KOTWALI"]
OFFICER = Principal(
    username="bench",
    role=Role.KENDRA_OFFICER,
    service_number="PNO900001",
    district="SJP",
    circle="SJP-TILHAR",
    thana="SJP-KATRA",
)


def complaint(n: int) -> dict[str, Any]:
    return {
        "channel": "helpline_181",
        "category": ["domestic_violence", "stalking", "dowry_harassment", "cyber_harassment"][n % 4],
        "description": f"Synthetic benchmark complaint {n}.",
        "district": "SJP",
        "thana": "SJP-KATRA",
        "minor": n % 7 == 0,
        "danger_now": n % 11 == 0,
        "identity": {"name": f"Bench Person {n}", "phone": f"9{n:09d}", "statement": "x" * 400},
    }


async def timed(
    count: int, concurrency: int, one: Callable[[int], Awaitable[None]]
) -> tuple[float, list[float]]:
    """Run ``one(n)`` for n in range(count), ``concurrency`` at a time: (seconds, latencies in ms)."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def run(n: int) -> None:
        async with gate:
            started = time.perf_counter()
            await one(n)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(run(n) for n in range(count)))
    return time.perf_counter() - started, latencies


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))], 1)


async def seed(nc: NatsClient, folder: Path) -> tuple[Settings, int]:
    """The district's places on the ROUTING stream, the keys, and the officer in the user directory:
    the settings, and how many places intake must show before the workloads start."""
    routing = EventStore(nc, "routing")
    await routing.ensure_stream()
    places = [DistrictDefined(code="SJP", name_hi="शाहजहाँपुर", name_en="Shahjahanpur")] + [
        ThanaDefined(code=t, district="SJP", circle="SJP-TILHAR", name_hi=t, name_en=t) for t in THANAS
    ]
    await routing.append(
        "district",
        "SJP",
        places,
        expected_sequence=0,
        expected_version=0,
        meta=CommandMeta(command_id="bench-import", actor="routing"),
    )
    settings = Settings(keys_dir=folder / "keys", data_dir=folder)
    init_keys(settings)
    # The officer is in the user directory, as the web front would have put her there: every
    # request resolves her token through it, as in production.
    users = EventStore(nc, "users")
    await users.ensure_stream()
    await Repository(users, UserAccount).execute(
        account_id(OFFICER.username),
        lambda a: a.add(OFFICER),
        CommandMeta(command_id="bench-user", actor="bench"),
    )
    return settings, len(places)


async def register_and_work(
    client: httpx.AsyncClient, headers: dict[str, str], cases: int, concurrency: int
) -> tuple[list[str], dict[str, Any]]:
    """The register and commands workloads: the cases' ids, and their figures."""
    case_ids: list[str] = [""] * cases

    async def register(n: int) -> None:
        answer = await client.post(
            "/api/intake/cases",
            json=complaint(n),
            headers=headers | {"Idempotency-Key": f"bench-{n}"},
        )
        answer.raise_for_status()
        case_ids[n] = answer.json()["case_id"]

    register_s, register_ms = await timed(cases, concurrency, register)

    async def command(n: int) -> None:
        case_id = case_ids[n // 2]
        body = {"text": "Called back; she will come on Monday."} if n % 2 else {"kind": "counselling"}
        path = "notes" if n % 2 else "actions"
        (
            await client.post(f"/api/intake/cases/{case_id}/{path}", json=body, headers=headers)
        ).raise_for_status()

    command_s, command_ms = await timed(2 * cases, concurrency, command)
    return case_ids, {
        "register_per_s": round(cases / register_s, 1),
        "register_p50_ms": percentile(register_ms, 50),
        "register_p99_ms": percentile(register_ms, 99),
        "commands_per_s": round(2 * cases / command_s, 1),
        "command_p50_ms": percentile(command_ms, 50),
    }


async def visible_lag(client: httpx.AsyncClient, headers: dict[str, str], cases: int) -> dict[str, Any]:
    """The visible workload: from a registration's answer to the case in the register."""
    shown: list[float] = []
    for n in range(cases, cases + 20):  # one at a time, so that each measures the lag alone
        answer = await client.post(
            "/api/intake/cases",
            json=complaint(n),
            headers=headers | {"Idempotency-Key": f"bench-{n}"},
        )
        answered = time.perf_counter()
        detail = f"/api/intake/cases/{answer.json()['case_id']}"
        while (await client.get(detail, headers=headers)).status_code != 200:
            await asyncio.sleep(0.002)
        shown.append((time.perf_counter() - answered) * 1000)
    return {"visible_p50_ms": percentile(shown, 50)}


async def query_times(
    client: httpx.AsyncClient, headers: dict[str, str], case_ids: list[str]
) -> dict[str, Any]:
    """The queries workload: the register's filtered first page, and an identity view."""
    query_ms, identity_ms = [], []
    for n in range(30):
        started = time.perf_counter()
        (
            await client.get(
                "/api/intake/cases", params={"category": "stalking", "size": 50}, headers=headers
            )
        ).raise_for_status()
        query_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        (
            await client.get(
                f"/api/intake/cases/{case_ids[n]}/identity",
                params={"purpose": "contact_complainant"},
                headers=headers,
            )
        ).raise_for_status()
        identity_ms.append((time.perf_counter() - started) * 1000)
    return {
        "register_query_p50_ms": round(statistics.median(query_ms), 1),
        "identity_view_p50_ms": round(statistics.median(identity_ms), 1),
    }


async def bench(cases: int, concurrency: int, folder: Path) -> dict[str, Any]:
    with EmbeddedNatsServer(folder / "nats") as server:
        nc = await nats.connect(server.url)
        settings, places = await seed(nc, folder)
        runner = ServiceRunner(
            service, settings, nats_url=server.url, database_url=f"sqlite+aiosqlite:///{folder / 'intake.db'}"
        )
        app = build_app([runner], settings)
        headers = {
            "Authorization": f"Bearer {TokenIssuer(load_signing_key(settings)).issue(OFFICER.username, 1)}"
        }
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake.bench", timeout=60
            ) as client,
        ):
            while len((await client.get("/api/intake/places", headers=headers)).json()["places"]) < places:
                await asyncio.sleep(0.05)
            case_ids, figures = await register_and_work(client, headers, cases, concurrency)
            figures |= await visible_lag(client, headers, cases)
            figures |= await query_times(client, headers, case_ids)
        await nc.drain()
    return {"cases": cases, "concurrency": concurrency, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="100 cases: a smoke run")
    args = parser.parse_args()
    cases = 100 if args.quick else args.cases
    with tempfile.TemporaryDirectory(prefix="shakti-bench-intake-") as folder:
        figures = asyncio.run(bench(cases, args.concurrency, Path(folder)))
    for key, value in figures.items():
        print(f"{key:>24}  {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
