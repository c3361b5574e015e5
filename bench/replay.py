"""Replay of the read models from stored streams: time and SQL statements per projection.

The streams are those of ``tests/test_rebuild_equals_live.py``'s district at work (jurisdiction,
roster, users, a training programme, ten cases through every step, deadlines warning, breaching and
climbing the ladder), made once by ``--generate`` into a NATS data folder and replayed from it as often
as wanted, so that two versions of the code replay the very same events. Each round projects every
event into a fresh SQLite read model (``Projector.catch_up``, as a rebuild does); the time is the
best of the rounds, by the wall clock and by this process's CPU time (steadier on a shared machine),
and every statement sent to the database (checkpoints included) is counted with an SQLAlchemy
``before_cursor_execute`` listener (an executemany counts once).

    python -m bench.replay --data /tmp/replay --generate      # once (about a minute)
    python -m bench.replay --data /tmp/replay --rounds 10     # escalation, training, notifications
    python -m bench.replay --data /tmp/replay --services routing,intake

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client as NatsClient
from sqlalchemy import event

from shakti.platform import definition
from shared.natsserver import EmbeddedNatsServer
from shared.projection import Projector
from shared.readmodel import create_engine

DEFAULT_SERVICES = ("escalation", "training", "notifications")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def generate(nats_url: str, folder: Path) -> None:
    """The district at work of the rebuild test, its streams left on the server."""
    from services.intake.kek import write_kek_file
    from shakti.config import PlatformSettings
    from shakti.demo import DemoLoader
    from shakti.platform import build_platform, runners
    from shakti.users import UserStore
    from shared.clock import ManualClock
    from tests.sessions import keys_for_tests
    from tests.test_rebuild_equals_live import KATRA, KOTWALI, TILHAR, Platform, district_at_work
    from tests.waiting import eventually

    kek = folder / "kek.key"
    write_kek_file(kek)
    os.environ.update({"SHAKTI_KEK_FILE": str(kek), "SHAKTI_KEYS_DIR": str(keys_for_tests())})
    clock = ManualClock(datetime(2026, 1, 10, 4, 0, tzinfo=UTC))
    settings = PlatformSettings(data_dir=folder / "platform", keys_dir=keys_for_tests())
    users = UserStore(f"sqlite+aiosqlite:///{folder / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url, clock=clock), users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=30.0) as client:
            loader = DemoLoader(app, client)
            kendras = await loader.jurisdiction()
            registrar, incharges = await loader.roster(kendras)
            desks = [k for k in kendras if k["thana"] in (KATRA, KOTWALI, TILHAR)]
            await loader.people(desks, registrar, incharges)

            async def training_knows_the_roster() -> bool:
                officers = await client.get("/api/training/officers", headers=loader.operator)
                return len(officers.json()) >= 3 * len(kendras)

            await eventually(training_knows_the_roster, timeout=60, what="training has the roster")
            await loader.programme(kendras)
            await district_at_work(Platform(app, client, loader, clock))


class Statements:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: Any) -> None:
        self.count += 1


async def replay_once(nc: NatsClient, service: str, folder: Path, n: int) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for projection in definition(service).projections():
        engine = create_engine(f"sqlite+aiosqlite:///{folder / f'{projection.name}-{n}.db'}")
        projector: Projector[Any] = Projector(projection, engine, nc)
        await projector.setup()
        statements = Statements()
        event.listen(engine.sync_engine, "before_cursor_execute", statements)
        started, cpu = time.perf_counter(), time.process_time()
        await projector.catch_up(timeout=600)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        event.remove(engine.sync_engine, "before_cursor_execute", statements)
        await engine.dispose()
        out[projection.name] = {
            "events": projector.applied,
            "statements": statements.count,
            "s": seconds,
            "cpu": cpu,
        }
    return out


async def cases_in(nc: NatsClient) -> int:
    """Cases in intake's stream (the denominator of statements per case)."""
    info = await nc.jetstream().stream_info("INTAKE", subjects_filter="shakti.intake.case.*")
    return len(info.state.subjects or {})


async def replay(nats_url: str, services: list[str], rounds: int) -> dict[str, Any]:
    nc = await nats.connect(nats_url)
    try:
        cases = await cases_in(nc)
        figures: dict[str, Any] = {"cases": cases, "rounds": rounds, "projections": {}}
        with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
            for service in services:
                runs = [await replay_once(nc, service, Path(tmp), n) for n in range(rounds)]
                for name in runs[0]:
                    first = runs[0][name]
                    best = min(r[name]["s"] for r in runs)
                    cpu = min(r[name]["cpu"] for r in runs)
                    figures["projections"][name] = {
                        "events": first["events"],
                        "statements": first["statements"],
                        "statements_per_case": round(first["statements"] / cases, 1) if cases else None,
                        "best_ms": round(best * 1000, 1),
                        "best_cpu_ms": round(cpu * 1000, 1),
                        "events_per_s": round(first["events"] / best) if best else None,
                    }
                    say(f"{name}: {figures['projections'][name]}")
        return figures
    finally:
        await nc.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the NATS data folder to make or replay")
    parser.add_argument("--generate", action="store_true", help="make the streams (once)")
    parser.add_argument("--rounds", type=int, default=5, help="replays of each projection (best counts)")
    parser.add_argument("--services", default=",".join(DEFAULT_SERVICES))
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    with EmbeddedNatsServer(args.data / "nats") as server:
        if args.generate:
            asyncio.run(generate(server.url, args.data))
            say(f"streams made in {args.data / 'nats'}")
            return
        figures = asyncio.run(replay(server.url, args.services.split(","), args.rounds))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
