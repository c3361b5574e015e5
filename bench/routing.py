"""Benchmark of the routing service: decisions per second, and the time from ``CaseRegistered``
appended to ``CaseAssigned`` appended under a steady load, against the embedded NATS server.

The routing service runs in this process as it runs in production (duty board, process managers,
read model into SQLite), with the sample district and the synthetic demo roster imported. Another
process plays intake: it appends ``CaseRegistered`` events to the INTAKE stream, in two phases:

* **capacity**: a burst of ``--burst`` registrations at once; decisions/s is how fast routing drains
  them (first to last ``CaseAssigned``);
* **steady**: ``--rate`` registrations a second for ``--seconds``, on a fixed schedule (open loop, so
  a slow router cannot slow the arrivals down); latency is the server's timestamp of each case's
  ``CaseAssigned`` minus that of its ``CaseRegistered`` (both stamped by the same NATS server).

Cases are spread over the district's thanas, categories and channels (a share by PIN code only, some
to the control Kendra, some minors), with a fixed seed. The machine is shared: run it more than once.

    python -m bench.routing                  # 2,000 burst, then 500/s for 10 s
    python -m bench.routing --quick          # a smoke run (seconds)
    python -m bench.routing --read-model process   # the read model kept by a second routing process
    python -m bench.routing --read-model none      # routing alone, the read model's projector not running
    python -m bench.routing --state          # the duty board holding a state's roster (75 districts)

``--read-model`` says where routing's read model is kept: ``here`` (default: in the deciding process,
as ``shakti up`` runs it), ``process`` (a second routing process with its reactions off, as
``shakti serve routing --no-reactions`` beside ``shakti serve routing --no-projections`` runs it; the
two processes share the machine's two cores) or ``none``.

The last line printed is one JSON object: decisions_per_s, assign_p50_ms, assign_p99_ms and more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
from nats.js.api import DeliverPolicy

from bench.state_data import SAMPLE_DISTRICT, jurisdiction_sheet, read_districts, roster_sheet
from services.routing.jurisdiction import import_jurisdiction
from services.routing.main import routing_service
from services.routing.roster import Roster, import_roster
from shared.contracts.intake import CaseRegistered
from shared.contracts.vocabulary import Category, Channel, Priority
from shared.eventstore import CommandMeta, EventStore
from shared.natsserver import EmbeddedNatsServer
from shared.observability import configure_logging
from shared.runtime import ServiceRunner
from shared.settings import Settings

DATA = Path(__file__).parents[1] / "services" / "routing" / "data"
THANAS = [
    "SJP-SADAR-BAZAR",
    "SJP-KOTWALI",
    "SJP-RC-MISSION",
    "SJP-TILHAR",
    "SJP-KATRA",
    "SJP-JAITIPUR",
    "SJP-KHUDAGANJ",
    "SJP-NIGOHI",
    "SJP-GARHIA-RANGEEN",
    "SJP-JALALABAD",
    "SJP-ALLAHGANJ",
    "SJP-KALAN",
    "SJP-PARAUR",
    "SJP-MIRZAPUR",
    "SJP-POWAYAN",
    "SJP-BANDA",
    "SJP-KHUTAR",
    "SJP-SINDHAULI",
    "SJP-KANT",
    "SJP-ROZA",
    "SJP-SEHRAMAU-SOUTH",
    "SJP-MADNAPUR",
]
PINCODES = ["242001", "242307", "242301", "242127", "242406", "242405"]
DONE = {"CaseAssigned", "CaseUnassigned", "CaseUnroutable"}


def registration(rng: random.Random) -> CaseRegistered:
    place: dict[str, Any] = {"thana": rng.choice(THANAS)}
    if rng.random() < 0.25:  # by PIN code (and sometimes locality) only: some go to the control Kendra
        localities = [None, "SJP-KOTWALI-01", "SJP-KATRA-01", "SJP-ROZA-01"]
        place = {"pincode": rng.choice(PINCODES), "locality_code": rng.choice(localities)}
    return CaseRegistered(
        case_number=f"SJP-2026-{rng.randrange(1_000_000):06d}",
        channel=rng.choice(list(Channel)),
        category=rng.choice(list(Category)),
        priority=rng.choice(list(Priority)),
        danger_now=rng.random() < 0.1,
        minor=rng.random() < 0.15,
        district="SJP",
        registered_by="DEMO9001",
        sealed_identity="QkVOQ0hNQVJLLU5PVC1BLVJFQUwtSURFTlRJVFk=",
        **place,
    )


async def publish(url: str, count: int, rate: float | None, seed: int) -> None:
    """Play intake: append ``count`` registrations, ``rate`` a second on a fixed schedule (None: at
    once), then wait until routing has decided every one (counted here, not in routing's process)."""
    store = await EventStore.connect(url, "intake", name="bench-intake")
    rng = random.Random(seed)
    cases = [(uuid.uuid4().hex, registration(rng)) for _ in range(count)]
    waiting = {case_id for case_id, _ in cases}
    decided = asyncio.Event()

    async def count_decision(msg: Any) -> None:
        if (msg.headers or {}).get("Shakti-Event-Type") in DONE:
            waiting.discard(msg.subject.rsplit(".", 1)[1])
            if not waiting:
                decided.set()

    await store.nc.subscribe("shakti.routing.case.*", cb=count_decision)
    pending: set[asyncio.Task[Any]] = set()
    start = time.monotonic()
    for n, (case_id, event) in enumerate(cases):
        if rate:
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        meta = CommandMeta(command_id=case_id, actor="bench")
        task = asyncio.create_task(
            store.append("case", case_id, [event], expected_sequence=0, expected_version=0, meta=meta)
        )
        pending.add(task)
        task.add_done_callback(pending.discard)
        if len(pending) > 256:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.gather(*pending)
    await asyncio.wait_for(decided.wait(), timeout=600)
    await store.close()


def _publisher(url: str, count: int, rate: float | None, seed: int) -> None:
    asyncio.run(publish(url, count, rate, seed))


async def in_another_process(url: str, count: int, rate: float | None, seed: int) -> None:
    process = multiprocessing.get_context("spawn").Process(target=_publisher, args=(url, count, rate, seed))
    process.start()
    await asyncio.to_thread(process.join)
    if process.exitcode != 0:
        raise RuntimeError(f"intake process failed ({process.exitcode})")


async def stamps(url: str, stream: str, subject: str, types: set[str]) -> dict[str, datetime]:
    """The server's timestamp of the first event of ``types`` for each case, read from the stream."""
    nc = await nats.connect(url)
    js = nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq
    found: dict[str, datetime] = {}
    if last:
        sub = await js.subscribe(
            subject, stream=stream, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        while True:
            msg = await sub.next_msg(timeout=10)
            event_type = (msg.headers or {}).get("Shakti-Event-Type", "")
            if event_type in types:
                found.setdefault(msg.subject.rsplit(".", 1)[1], msg.metadata.timestamp)
            if msg.metadata.sequence.stream >= last:
                break
        await sub.unsubscribe()
    await nc.close()
    return found


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _keep_read_model(url: str, folder: str, stop: Any) -> None:
    async def keep() -> None:
        runner = ServiceRunner(
            routing_service(),
            Settings(data_dir=Path(folder)),
            nats_url=url,
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'routing.db'}",
            run_projections=True,
            run_reactions=False,
        )
        await runner.start()
        await asyncio.to_thread(stop.wait)
        await runner.stop()

    configure_logging()
    asyncio.run(keep())


async def the_other_districts(store: EventStore, folder: Path) -> None:
    """The other 74 districts' synthetic jurisdictions and rosters (``bench.state_data``: every Kendra of
    the state, three DEMO officers each), so that the duty board holds a state's roster."""
    started = time.monotonic()
    others = [d for d in read_districts() if d.code != SAMPLE_DISTRICT]
    for district in others:
        sheet = folder / f"{district.code}.csv"
        await asyncio.to_thread(sheet.write_text, jurisdiction_sheet(district), encoding="utf-8")
        await import_jurisdiction(sheet, store, actor="bench")
        await Roster(store).import_sheet(roster_sheet(district), actor="bench")
    kendras = sum(d.thanas for d in others)
    print(f"state: {len(others)} more districts, {kendras} Kendras, {3 * kendras} officers imported "
          f"({time.monotonic() - started:.1f}s)")  # fmt: skip


async def run(
    burst: int, rate: float, seconds: float, read_model: str, state: bool = False
) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="shakti-bench-routing-") as folder,
        EmbeddedNatsServer(Path(folder) / "nats") as server,
    ):
        settings = Settings(data_dir=Path(folder))
        runner = ServiceRunner(
            routing_service(),
            settings,
            nats_url=server.url,
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'routing.db'}",
            run_projections=read_model == "here",
        )
        ctx = await runner.start()
        spawn = multiprocessing.get_context("spawn")
        stop_keeper = spawn.Event()
        keeper = spawn.Process(target=_keep_read_model, args=(server.url, folder, stop_keeper))
        if read_model == "process":
            keeper.start()
        try:
            await import_jurisdiction(DATA / "shahjahanpur.csv", ctx.store)
            await import_roster(DATA / "shahjahanpur-roster.csv", ctx.store)
            if state:
                await the_other_districts(ctx.store, Path(folder))
                # The read model takes in the state's roster before the burst, not while it is timed.
                while read_model == "here" and await lag(ctx.projectors.values()):
                    await asyncio.sleep(0.05)
            started = time.monotonic()
            await in_another_process(server.url, burst, None, seed=1)
            routed = await stamps(server.url, "ROUTING", "shakti.routing.case.*", DONE)
            capacity = burst / (max(routed.values()) - min(routed.values())).total_seconds()
            print(f"capacity: {burst} cases decided at {capacity:.0f}/s ({time.monotonic() - started:.1f}s)")

            steady = int(rate * seconds)
            await in_another_process(server.url, steady, rate, seed=2)
            registered = await stamps(server.url, "INTAKE", "shakti.intake.case.*", {"CaseRegistered"})
            routed = await stamps(server.url, "ROUTING", "shakti.routing.case.*", DONE)
            steady_cases = sorted(registered, key=lambda c: registered[c])[burst:]
            latencies = [(routed[c] - registered[c]).total_seconds() * 1000 for c in steady_cases]
            span = (
                max(routed[c] for c in steady_cases) - min(registered[c] for c in steady_cases)
            ).total_seconds()
            # The read model must keep up too: how long after the last decision it has every event.
            decided_by = time.monotonic()
            while read_model != "none" and await lag(ctx.projectors.values()):
                await asyncio.sleep(0.05)
            read_model_behind = time.monotonic() - decided_by
        finally:
            await runner.stop()
            if keeper.is_alive():
                stop_keeper.set()
                await asyncio.to_thread(keeper.join, 30)
    return {
        "decisions_per_s": round(capacity, 1),
        "assign_p50_ms": round(statistics.median(latencies), 2),
        "assign_p99_ms": round(percentile(latencies, 99), 2),
        "assign_max_ms": round(max(latencies), 2),
        "steady_rate_offered": rate,
        "steady_rate_achieved": round(len(steady_cases) / span, 1),
        "steady_cases": len(steady_cases),
        "burst_cases": burst,
        "read_model": read_model,
        "roster": "state" if state else "district",
        "read_model_behind_s": round(read_model_behind, 2) if read_model != "none" else None,
    }


async def lag(projectors: Any) -> int:
    behind = 0
    for projector in projectors:
        behind += sum((await projector.lag()).values())
    return behind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--quick", action="store_true", help="200 burst, then 100/s for 3 s")
    parser.add_argument(
        "--read-model",
        choices=("here", "process", "none"),
        default="here",
        help="where routing's read model is kept: in the deciding process, a second process, or nowhere",
    )
    parser.add_argument(
        "--state",
        action="store_true",
        help="the duty board holds a state's roster: the other 74 districts' synthetic jurisdictions and "
        "rosters imported first (cases still go to Shahjahanpur's Kendras)",
    )
    args = parser.parse_args()
    if args.quick:
        args.burst, args.rate, args.seconds = 200, 100.0, 3.0
    configure_logging()  # as the launcher does: the service's own logs, FastStream's warnings only
    figures = asyncio.run(run(args.burst, args.rate, args.seconds, args.read_model, args.state))
    for key, value in figures.items():
        print(f"{key:>24}: {value}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
