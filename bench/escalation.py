"""Benchmark of the escalation service's durable timers: 100,000 open SOP clocks, then time moves and
breaches fire.

What runs is the real service (``services.escalation.main``: its projection, process managers and
deadline worker) on the embedded ``nats-server`` and a SQLite read model (``--database-url`` for
PostgreSQL), all in this process. Each case has the default policy's four clocks (acknowledge,
first contact, action taken, disposal), so 25,000 cases hold 100,000 open clocks.

Loading: every case's events come from the real aggregate (``EscalationCase.watch``; for the cases
that will breach, also a check at 85% of the acknowledgement limit, so their warnings are sent) and
are appended through ``EventStore.append``, one batch per case; the real projection then builds the
read model and the timer table from the stream. Time stands still meanwhile: nothing is due.

Phase A (throughput): time jumps to the moment ``--burst`` acknowledgement clocks fall due at once;
*breaches per second* is how fast the service clears them (until the last ``SlaBreached`` reaches a
subscriber on the stream). Phase B (lag): once the burst is cleared, time jumps again and then runs
in real time while ``--steady`` clocks fall due one after another over ``--window`` seconds; the
*lag* of each is the time from its due time to its ``SlaBreached`` reaching the subscriber (p50,
p99). The other cases (priority P4) keep their clocks open throughout and fall due in neither phase.
RSS is this process's peak (service, loader and measurement; the NATS server is its own process).

    python -m bench.escalation                                   # 100,000 open clocks
    python -m bench.escalation --cases 2500 --burst 500 --steady 200 --window 20   # quick

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg

from services.escalation.domain import EscalationCase, Jurisdiction, Place, Registration, ladder_offices
from services.escalation.main import build_service
from services.escalation.policy import DEFAULT_POLICY, load_policy
from services.escalation.read_model.queries import percentile
from shared.contracts.vocabulary import Category, Priority
from shared.events import HEADER_TYPE, Event
from shared.eventstore import CommandMeta, EventStore
from shared.natsserver import EmbeddedNatsServer
from shared.runtime import ServiceRunner
from shared.settings import Settings

CLOCKS_PER_CASE = 4
START = datetime(2026, 1, 12, 4, 30, tzinfo=UTC)
BURST_DUE = START + timedelta(days=2)
# An hour after the burst: before any of the burst's own next checks (first contact's 50% after 12
# hours, the ladder's next rung after a day), so phase B sees only its own clocks fall due.
STEADY_FROM = BURST_DUE + timedelta(hours=1)


class BenchClock:
    """Stands still at ``START`` until the first ``jump``; from each jump on it runs in real time."""

    def __init__(self) -> None:
        self._at = START
        self._jumped_at: float | None = None

    def jump(self, to: datetime) -> None:
        self._at, self._jumped_at = to, time.monotonic()

    def now(self) -> datetime:
        if self._jumped_at is None:
            return self._at
        return self._at + timedelta(seconds=time.monotonic() - self._jumped_at)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds if self._jumped_at is not None else min(seconds, 0.05))


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def load(
    store: EventStore, args: argparse.Namespace
) -> tuple[dict[str, datetime], dict[str, datetime]]:
    """Append every case's events; returns the burst's and the steady cases' acknowledgement due times."""
    policy = load_policy(DEFAULT_POLICY)
    offices = ladder_offices(Place("SJP", "SJP-TILHAR", "SJP-KATRA", "MSK-SJP-KATRA"), Jurisdiction(), "UP")
    burst: dict[str, datetime] = {}
    steady: dict[str, datetime] = {}
    slots = asyncio.Semaphore(64)

    async def one(n: int) -> None:
        case_id = uuid.uuid4().hex
        if n < args.burst + args.steady:
            priority = Priority.P3
            due = BURST_DUE
            if n >= args.burst:
                due = STEADY_FROM + timedelta(seconds=2 + args.window * (n - args.burst) / args.steady)
        else:
            # Registered an hour before the burst: their first deadline (the P4 acknowledgement's 50%,
            # after 12 hours) falls after both phases.
            priority, due = Priority.P4, BURST_DUE
        limit = policy.limit(priority, Category.DOMESTIC_VIOLENCE, "acknowledge").seconds
        registered = (
            due - timedelta(seconds=limit) if priority is Priority.P3 else BURST_DUE - timedelta(hours=1)
        )
        registration = Registration(
            f"SJP-2026-{n:06d}",
            priority,
            Category.DOMESTIC_VIOLENCE,
            False,
            "SJP",
            "SJP-TILHAR",
            "SJP-KATRA",
            registered,
        )
        case = EscalationCase(case_id)
        events: list[Event] = case.watch(registration, policy, offices)
        if priority is Priority.P3:
            for event in events:
                case.apply(event)
            events += case.check(registered + timedelta(seconds=0.85 * limit), policy, offices)
            (burst if n < args.burst else steady)[case_id] = due
        meta = CommandMeta(command_id=f"bench:{case_id}", actor="bench", occurred_at=registered)
        async with slots:
            await store.append("case", case_id, events, expected_sequence=0, expected_version=0, meta=meta)

    started = time.monotonic()
    for chunk in range(0, args.cases, 1000):
        await asyncio.gather(*(one(n) for n in range(chunk, min(args.cases, chunk + 1000))))
        if (chunk // 1000) % 5 == 4 or chunk + 1000 >= args.cases:
            say(f"  loaded {min(args.cases, chunk + 1000):>7,} cases  ({time.monotonic() - started:.0f}s)")
    return burst, steady


async def start_escalation(
    folder: Path, nats_url: str, database_url: str, clock: BenchClock, events: int
) -> tuple[ServiceRunner, float]:
    """The service started on the loaded stream: the runner, and the seconds its board took to catch up."""
    runner = ServiceRunner(
        build_service(DEFAULT_POLICY, poll_seconds=0.25),
        Settings(data_dir=folder),
        nats_url=nats_url,
        clock=clock,
        database_url=database_url,
    )
    started = time.monotonic()
    await runner.start()
    assert runner.context is not None
    board = runner.context.projector("escalation_board")
    while await board.checkpoint("ESCALATION") < events:
        await asyncio.sleep(0.5)
    project_seconds = time.monotonic() - started
    say(f"projected {events:,} events in {project_seconds:.0f}s ({events / project_seconds:,.0f} events/s)")
    return runner, project_seconds


async def breaches_fired(
    store: EventStore,
    clock: BenchClock,
    burst: dict[str, datetime],
    steady: dict[str, datetime],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Phases A and B, watched on the stream: the burst's throughput, the steady clocks' lag, peak RSS."""
    lags: dict[str, float] = {}
    arrived: dict[str, float] = {}
    due = burst | steady

    async def on_event(msg: Msg) -> None:
        if (msg.headers or {}).get(HEADER_TYPE) != "SlaBreached":
            return
        payload = json.loads(msg.data)["payload"]
        case_id = payload["case_id"]
        if payload["clock"] == "acknowledge" and case_id in due:
            lags[case_id] = (clock.now() - due[case_id]).total_seconds()
            arrived[case_id] = time.monotonic()

    watcher = await store.nc.subscribe("shakti.escalation.case.*", cb=on_event)
    say(f"phase A: {len(burst):,} clocks due at once")
    jumped = time.monotonic()
    clock.jump(BURST_DUE)
    while not set(burst) <= set(lags) and time.monotonic() < jumped + args.timeout:
        await asyncio.sleep(0.1)
    burst_done = [arrived[c] for c in burst if c in arrived]
    burst_seconds = max(burst_done) - jumped if burst_done else float("nan")
    say(f"phase B: {len(steady):,} clocks due over {args.window:.0f}s ({len(steady) / args.window:.1f}/s)")
    clock.jump(STEADY_FROM)
    jumped = time.monotonic()
    while not set(steady) <= set(lags) and time.monotonic() < jumped + args.window + args.timeout:
        await asyncio.sleep(0.25)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    await watcher.unsubscribe()

    steady_lags = sorted(lags[c] for c in steady if c in lags)
    return {
        "burst": len(burst),
        "burst_fired": len(burst_done),
        "burst_s": round(burst_seconds, 2),
        "breaches_per_s": round(len(burst_done) / burst_seconds, 1) if burst_done else 0.0,
        "steady": len(steady),
        "steady_fired": len(steady_lags),
        "steady_rate_per_s": round(len(steady) / args.window, 1),
        "fire_lag_p50_ms": round(1000 * percentile(steady_lags, 50)) if steady_lags else None,
        "fire_lag_p99_ms": round(1000 * percentile(steady_lags, 99)) if steady_lags else None,
        "fire_lag_max_ms": round(1000 * steady_lags[-1]) if steady_lags else None,
        "rss_mb": round(rss_mb),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bench-escalation-"))
    database_url = args.database_url or f"sqlite+aiosqlite:///{folder / 'escalation.db'}"
    with EmbeddedNatsServer(folder / "nats") as server:
        store = await EventStore.connect(server.url, "escalation")
        say(f"loading {args.cases:,} cases ({args.cases * CLOCKS_PER_CASE:,} open clocks) ...")
        started = time.monotonic()
        burst, steady = await load(store, args)
        load_seconds = time.monotonic() - started
        events = await store.last_sequence()
        clock = BenchClock()
        runner, project_seconds = await start_escalation(folder, server.url, database_url, clock, events)
        fired = await breaches_fired(store, clock, burst, steady, args)
        await runner.stop()
        await store.close()

    return {
        "open_clocks": args.cases * CLOCKS_PER_CASE,
        "cases": args.cases,
        "events_loaded": events,
        "load_s": round(load_seconds, 1),
        "projection_s": round(project_seconds, 1),
        "projection_eps": round(events / project_seconds),
        **fired,
        "database": "postgresql" if database_url.startswith("postgresql") else "sqlite",
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=25_000, help="cases to load (4 open clocks each)")
    parser.add_argument(
        "--burst", type=int, default=5_000, help="phase A: acknowledgement clocks due at once"
    )
    parser.add_argument("--steady", type=int, default=2_000, help="phase B: clocks due one after another")
    parser.add_argument(
        "--window", type=float, default=100.0, help="phase B: seconds over which they fall due"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for a phase's breaches")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy async URL (default: a SQLite file)")
    args = parser.parse_args()
    if args.burst + args.steady > args.cases or args.steady < 1:
        parser.error("--burst plus --steady must be at most --cases, and --steady at least 1")
    figures = asyncio.run(run(args))
    say("")
    for key, value in figures.items():
        say(f"  {key:<20} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
