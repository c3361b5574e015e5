"""Benchmark of the training service at the scale of Uttar Pradesh, against the embedded NATS server.

The training service runs in this process as in production (process managers, review timer, read
model into SQLite). The state's tree is synthetic: 75 districts, 1,647 thanas (one Kendra each, the
count of Mission Shakti 5.0), spread over 3 circles a district; ``--officers`` officers are enrolled and
posted by appending routing's events to the ROUTING stream. Then, timed:

* **posting**: every officer's ``OfficerPosted`` until each has the curriculum assigned (assignments/s);
* **import**: an iGOT export of every officer x the 23 required modules, checked and recorded (lines/s;
  every officer certifies on the way), then the **same file again** (it must record nothing);
* **read model**: catching the ``training_records`` projection up after the import (events/s);
* **roll-up**: the state's compliance roll-up (median of 5 queries, ms);
* **retraining**: a restart on a curriculum where one module's new version requires retraining, until
  every officer has ``RetrainingRequired`` in the read model (officers/s).

    python -m bench.training              # 3,000 officers, 69,000 iGOT lines
    python -m bench.training --quick      # 300 officers (seconds)

The machine is shared: run it more than once. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from services.training.curriculum import TrainingPolicy, load_policy
from services.training.handlers import register_of
from services.training.igot import import_igot
from services.training.main import definition
from services.training.tests.conftest import curriculum_with, full_course, igot_csv
from shared.clock import ManualClock
from shared.contracts.routing import (
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    OfficerEnrolled,
    OfficerPosted,
    ThanaDefined,
)
from shared.events import Event
from shared.eventstore import CommandMeta, EventStore
from shared.keys import init_keys
from shared.natsserver import EmbeddedNatsServer
from shared.runtime import ServiceContext, ServiceRunner
from shared.settings import Settings

DISTRICTS = 75
THANAS = 1647
CIRCLES_PER_DISTRICT = 3


def kendras() -> list[tuple[str, str, str, str]]:
    """(district, circle, thana, kendra) for the synthetic state."""
    out = []
    for n in range(THANAS):
        district = f"D{n % DISTRICTS:02d}"
        circle = f"{district}-C{n // DISTRICTS % CIRCLES_PER_DISTRICT}"
        thana = f"{district}-T{n:04d}"
        out.append((district, circle, thana, f"MSK-{thana}"))
    return out


async def gather_bounded(calls: list[Any], width: int = 32) -> None:
    gate = asyncio.Semaphore(width)

    async def one(call: Any) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(c) for c in calls))


async def define_state(routing: EventStore, clock: ManualClock) -> None:
    by_district: dict[str, list[Event]] = {}
    circles: set[str] = set()
    for district, circle, thana, kendra in kendras():
        events = by_district.setdefault(
            district, [DistrictDefined(code=district, name_hi=district, name_en=district)]
        )
        if circle not in circles:
            circles.add(circle)
            events.append(CircleDefined(code=circle, district=district, name_hi=circle, name_en=circle))
        events.append(
            ThanaDefined(code=thana, district=district, circle=circle, name_hi=thana, name_en=thana)
        )
        events.append(
            KendraDefined(
                code=kendra, thana=thana, district=district, circle=circle, name_hi=kendra, name_en=kendra
            )
        )
    for district, events in by_district.items():
        meta = CommandMeta(command_id=f"state:{district}", actor="bench", occurred_at=clock.now())
        await routing.append("district", district, events, expected_sequence=0, expected_version=0, meta=meta)


async def officers_with_records(ctx: ServiceContext) -> int:
    info = await ctx.store.js.stream_info(ctx.store.stream, subjects_filter="shakti.training.officer.*")
    return len(info.state.subjects or {})


async def caught_up(ctx: ServiceContext) -> bool:
    """Every running projection has applied what its filters select (``catch_up`` is for stopped ones)."""
    for projector in ctx.projectors.values():
        for stream, subjects in projector.projection.sources.items():
            last = (await ctx.store.js.get_last_msg(stream, subjects)).seq or 0
            if await projector.checkpoint(stream) < last:
                return False
    return True


async def wait_until(check: Any, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark's workload did not finish")
        await asyncio.sleep(0.05)


async def post_officers(
    ctx: ServiceContext, routing: EventStore, clock: ManualClock, numbers: list[str]
) -> dict[str, Any]:
    """The posting workload: every officer enrolled and posted, until each has the curriculum assigned."""
    places = kendras()

    def posting(n: int, sn: str) -> Any:
        district, circle, thana, kendra = places[n * 7 % len(places)]
        events: list[Event] = [
            OfficerEnrolled(service_number=sn, name=f"Officer {sn}", rank="Constable", gender="female"),
            OfficerPosted(service_number=sn, kendra=kendra, thana=thana, circle=circle, district=district),
        ]
        meta = CommandMeta(command_id=uuid.uuid4().hex, actor="bench", occurred_at=clock.now())
        return lambda: routing.append(
            "officer", sn, events, expected_sequence=0, expected_version=0, meta=meta
        )

    started = time.perf_counter()
    await gather_bounded([posting(n, sn) for n, sn in enumerate(numbers)])

    async def all_assigned() -> bool:
        return await officers_with_records(ctx) >= len(numbers)

    await wait_until(all_assigned)
    seconds = time.perf_counter() - started
    await wait_until(lambda: caught_up(ctx))
    return {"posting_assignments_per_s": round(len(numbers) / seconds, 1)}


async def import_course(
    ctx: ServiceContext, policy: TrainingPolicy, clock: ManualClock, numbers: list[str]
) -> dict[str, Any]:
    """The import workload: every officer's full course from iGOT, then the same file again."""
    day = clock.now() - timedelta(days=1)
    content = igot_csv([row for sn in numbers for row in full_course(sn, day)]).encode()
    started = time.perf_counter()
    report = await import_igot(ctx, policy, content)
    seconds = time.perf_counter() - started
    assert report.imported and report.certified == len(numbers), report.problems[:3]
    figures: dict[str, Any] = {
        "import_lines": report.lines,
        "import_lines_per_s": round(report.lines / seconds, 1),
    }
    started = time.perf_counter()
    again = await import_igot(ctx, policy, content)
    figures["reimport_s"] = round(time.perf_counter() - started, 2)
    assert again.recorded == 0 and again.certified == 0
    return figures


async def read_model_catch_up(ctx: ServiceContext) -> dict[str, Any]:
    """The read model workload: ``training_records`` caught up with what the import appended."""
    behind = (await ctx.projector("training_records").lag())["TRAINING"]
    started = time.perf_counter()
    await wait_until(lambda: caught_up(ctx))
    seconds = time.perf_counter() - started
    return {
        "read_model_events": behind,
        "read_model_events_per_s": round(behind / seconds, 1) if seconds > 0 and behind else None,
    }


async def compliance_rollup(
    ctx: ServiceContext, policy: TrainingPolicy, clock: ManualClock, officers: int
) -> dict[str, Any]:
    """The roll-up workload: the state's compliance, the median of five queries."""
    register = register_of(ctx)
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        state = await register.compliance({}, clock.now(), policy.lapsing_horizon(clock.now()))
        timings.append(time.perf_counter() - started)
    assert state.staff == officers and state.certified == officers
    return {"rollup_state_ms": round(statistics.median(timings) * 1000, 1)}


async def retraining(
    tmp: Path, settings: Settings, nats_url: str, clock: ManualClock, database: str, officers: int
) -> dict[str, Any]:
    """The retraining workload: a restart on a curriculum whose changed module asks everyone to retrain."""
    changed = load_policy(curriculum_with(tmp, **{"IGOT-05": (2, 2)}))
    runner = ServiceRunner(
        definition(changed), settings, nats_url=nats_url, clock=clock, database_url=database
    )
    started = time.perf_counter()
    ctx = await runner.start()
    outstanding = ctx.projector("training_records").tables.outstanding

    async def all_asked_to_retrain() -> bool:
        async with ctx.projector("training_records").sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(outstanding).where(outstanding.c.reason == "retraining")
            )
        return (count or 0) >= officers

    await wait_until(all_asked_to_retrain)
    figures = {"retraining_officers_per_s": round(officers / (time.perf_counter() - started), 1)}
    await runner.stop()
    return figures


async def run(officers: int, tmp: Path) -> dict[str, Any]:
    figures: dict[str, Any] = {"officers": officers, "thanas": THANAS}
    clock = ManualClock()
    settings = Settings(keys_dir=tmp / "keys", data_dir=tmp)
    init_keys(settings)  # training's certificate ids need its key
    database = f"sqlite+aiosqlite:///{tmp / 'training.db'}"
    with EmbeddedNatsServer(tmp / "nats") as server:
        runner = ServiceRunner(
            definition(load_policy()), settings, nats_url=server.url, clock=clock, database_url=database
        )
        ctx = await runner.start()
        routing = EventStore(ctx.store.nc, "routing")
        await define_state(routing, clock)
        numbers = [f"PNO{n:06d}" for n in range(officers)]
        figures |= await post_officers(ctx, routing, clock, numbers)
        policy = load_policy()
        figures |= await import_course(ctx, policy, clock, numbers)
        figures |= await read_model_catch_up(ctx)
        figures |= await compliance_rollup(ctx, policy, clock, officers)
        await runner.stop()
        figures |= await retraining(tmp, settings, server.url, clock, database, officers)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--officers", type=int, default=3000)
    parser.add_argument("--quick", action="store_true", help="300 officers")
    args = parser.parse_args()
    officers = 300 if args.quick else args.officers
    with tempfile.TemporaryDirectory(prefix="shakti-bench-training-") as tmp:
        figures = asyncio.run(run(officers, Path(tmp)))
    for key, value in figures.items():
        print(f"{key:>28}: {value}", file=sys.stderr)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
