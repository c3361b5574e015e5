"""What intake's and routing's read models cost per case: SQL statements and events per second on replay.

The whole platform runs in this process on a frozen clock, as the demo loads it: the district, its
roster and users, then ``--cases`` synthetic complaints through the desk officers' API (a third get a
first contact, a sixth are resolved), and the clock runs on two days so that deadlines warn, breach and
climb the ladder. The platform stops; then each read model of intake (``intake_jurisdiction``,
``intake_cases``) and routing (``routing``) is replayed from the streams into a fresh SQLite file, first
up to where the district's setup ended (not measured), then over the cases' events, which are measured:
the SQL statements the database is sent (an SQLAlchemy ``before_cursor_execute`` listener, the
checkpoint's included) and events per second. Each ``--batch`` size is a replay of its own: 256 is a
rebuild's batch, a small one what a live projection sees when events trickle in.

    python -m bench.readmodels                   # 60 cases, batches of 256 and of 16, best of 3 replays
    python -m bench.readmodels --cases 20 --batch 256
    python -m bench.readmodels --data /tmp/rm    # records into /tmp/rm, or replays what is there: run
                                                 # it from two checkouts to compare them on the same events

The last line printed is one JSON object: per batch size, per read model and in all, ``statements``,
``statements_per_case``, ``events`` and ``events_per_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from sqlalchemy import event

from services.intake.main import service as intake_service
from services.routing.main import service as routing_service
from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.platform import build_platform, runners
from shakti.synthetic import synthetic_complaints
from shakti.users import UserStore
from shared.clock import ManualClock
from shared.natsserver import EmbeddedNatsServer
from shared.projection import Projection, Projector
from shared.readmodel import create_engine
from shared.runtime import ServiceRunner
from tests.sessions import keys_for_tests

Positions = dict[str, dict[str, int]]
"""Per read model, per source stream: the last event of its filter when the district's setup ended."""


async def _settled(service_runners: list[ServiceRunner]) -> None:
    """Every projection caught up and every reaction made, three looks in a row."""
    quiet = 0
    for _ in range(2000):
        busy = False
        for runner in service_runners:
            report = await runner.readiness()
            busy |= any(n for per in report.get("lag", {}).values() for n in per.values())
            busy |= any(n for n in report.get("reactions", {}).values())
        quiet = 0 if busy else quiet + 1
        if quiet >= 3:
            return
        await asyncio.sleep(0.15)
    raise RuntimeError("bench: the platform never settled")


def _projections() -> list[Projection[Any]]:
    return [*intake_service.projections(), *routing_service.projections()]


async def _setup_ends(url: str) -> Positions:
    nc = await nats.connect(url)
    js = nc.jetstream()
    ends: Positions = {}
    for projection in _projections():
        for stream, subjects in projection.sources.items():
            try:
                last = (await js.get_last_msg(stream, subjects)).seq or 0
            except nats.js.errors.NotFoundError:
                last = 0
            ends.setdefault(projection.name, {})[stream] = last
    await nc.close()
    return ends


async def record(url: str, folder: Path, cases: int) -> Positions:
    """Runs the platform over ``cases`` complaints; returns where each stream stood before them."""
    clock = ManualClock(datetime(2026, 1, 10, 4, 0, tzinfo=UTC))
    settings = PlatformSettings(data_dir=folder / "platform", keys_dir=keys_for_tests())
    users = UserStore(f"sqlite+aiosqlite:///{folder / 'web.db'}")
    service_runners = runners(settings, url, clock=clock)
    app = build_platform(settings, service_runners, users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=60.0) as client:
            loader = DemoLoader(app, client)
            kendras = await loader.jurisdiction()
            registrar, incharges = await loader.roster(kendras)
            await loader.people(kendras, registrar, incharges)
            await _settled(service_runners)
            before = await _setup_ends(url)
            thanas = sorted(k["thana"] for k in kendras)
            for n, complaint in enumerate(synthetic_complaints(thanas, cases)):
                await loader.complaint(n, complaint)
            await _settled(service_runners)
            for _ in range(8):  # two days in steps: deadlines warn, breach and climb
                clock.advance(timedelta(hours=6))
                await _settled(service_runners)
    return before


class Counter:
    def __init__(self) -> None:
        self.statements = 0
        self.on = False

    def __call__(self, *args: Any) -> None:
        if self.on:
            self.statements += 1


async def replay(
    url: str, database: Path, projection: Projection[Any], before: dict[str, int], batch: int
) -> dict[str, Any]:
    nc = await nats.connect(url)
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    counter = Counter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    projector: Projector[Any] = Projector(projection, engine, nc, batch_size=batch)
    await projector.setup()
    # The district's setup, not measured: one event a page, so that no case's event is applied with it
    # (``_follow`` stops at a sequence, at the end of a page).
    projector.batch_size = 1
    for stream in projection.sources:
        if before.get(stream):
            await projector._follow(stream, 1, until=before[stream])
    projector.batch_size = batch
    applied_before = projector.applied
    counter.on = True
    started = time.perf_counter()
    await projector.catch_up(timeout=600)
    seconds = time.perf_counter() - started
    counter.on = False
    await engine.dispose()
    await nc.close()
    events = projector.applied - applied_before
    return {"statements": counter.statements, "events": events, "seconds": seconds}


async def run(cases: int, batches: list[int], rounds: int, data: Path) -> dict[str, Any]:
    recording = data / "recording.json"
    with EmbeddedNatsServer(data / "nats") as server:
        if recording.exists():  # replay what an earlier run recorded (to compare two versions' read models)
            kept = json.loads(recording.read_text())
            cases, before = kept["cases"], kept["before"]
        else:
            started = time.perf_counter()
            before = await record(server.url, data, cases)
            recording.write_text(json.dumps({"cases": cases, "before": before}))
            print(f"recorded {cases} cases in {time.perf_counter() - started:.1f}s", flush=True)
        figures: dict[str, Any] = {"cases": cases}
        with tempfile.TemporaryDirectory(prefix="shakti-bench-readmodels-") as replays:
            for batch in batches:
                per: dict[str, Any] = {}
                for projection in _projections():
                    best: dict[str, Any] = {}
                    for n in range(rounds):  # the fastest round counts: the machine is shared
                        database = Path(replays) / f"replay-{batch}-{projection.name}-{n}.db"
                        measured = await replay(
                            server.url, database, projection, before[projection.name], batch
                        )
                        if not best or measured["seconds"] < best["seconds"]:
                            best = measured
                    per[projection.name] = {
                        "statements": best["statements"],
                        "statements_per_case": round(best["statements"] / cases, 1),
                        "events": best["events"],
                        "seconds": round(best["seconds"], 3),
                        "events_per_s": round(best["events"] / best["seconds"]),
                    }
                    print(f"batch {batch} {projection.name}: {per[projection.name]}", flush=True)
                statements = sum(p["statements"] for p in per.values())
                events = sum(p["events"] for p in per.values())
                seconds = sum(p["seconds"] for p in per.values())
                per["all"] = {
                    "statements": statements,
                    "statements_per_case": round(statements / cases, 1),
                    "events": events,
                    "events_per_s": round(events / seconds) if seconds else None,
                }
                figures[f"batch_{batch}"] = per
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=60)
    parser.add_argument("--batch", default="256,16", help="batch sizes, comma-separated")
    parser.add_argument(
        "--rounds", type=int, default=3, help="replays of each read model; the fastest counts"
    )
    parser.add_argument("--data", type=Path, help="keep the recording here; replay it when it is there")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    batches = [int(b) for b in args.batch.split(",")]
    if args.data:
        args.data.mkdir(parents=True, exist_ok=True)
        figures = asyncio.run(run(args.cases, batches, args.rounds, args.data))
    else:
        with tempfile.TemporaryDirectory(prefix="shakti-bench-readmodels-") as data:
            figures = asyncio.run(run(args.cases, batches, args.rounds, Path(data)))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
