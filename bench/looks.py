"""What a look at a read model costs as a state's cases grow: the last event of a wildcard filter (what
each look asked before 2 December 2026) against a read forward from the checkpoint (what it asks now).

INTAKE holds one subject per case (``shakti.intake.case.<id>``), as the platform's does, and after the
last case event a few hundred events of other subjects. A read model of ``shakti.intake.case.*`` (no
tables: it skips every event, so only its checkpoints move) is caught up. At each size the bench times,
in turns in this process:

* **before** (``look_before``, ``lag_before``): ``get_last_msg(INTAKE, "shakti.intake.case.*")`` and
  the checkpoint, what a look that found nothing (``require_current``), a reader's wait after a
  command (``/applied``) and a readiness probe asked for each stream a read model reads;
* **look** (``look_now``): ``Projector.require_current()`` now (for a caught-up read model its
  checkpoint, the stream's end and one message read forward from the checkpoint, of the stream's
  leader);
* **lag** (``lag_now``): ``Projector.lag()`` now (the same; the last of the filter only when it is behind).

Only the caught-up read model is measured, its checkpoint a few hundred events from the stream's end:
it is the common case, and the one an attacker can ask for at will (a case id that does not exist).
A read model that is behind still asks for the last of the filter in ``lag`` (a readiness probe), not
in a look. A checkpoint far from the end (more than ``FORWARD_READ_MOST`` sequences: a read model of
rare events, such as officers' on ROUTING, among a year of case events) asks for the last of its filter,
as before, and is not measured here.

    python -m bench.looks                        # 1,000, 10,000 and 100,000 cases
    python -m bench.looks --cases 1000,10000     # smaller

Each figure is in ms a look: its wall time (the median of the rounds) and the CPU time the
``nats-server`` process used for it (``_server_cpu_ms``, from ``/proc``, over all rounds). The machine
is shared: compare the figures of one size with each other, not across runs. The last line printed is
one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

from sqlalchemy import MetaData

from shared.events import HEADER_TYPE
from shared.eventstore import EventStore
from shared.natsserver import EmbeddedNatsServer
from shared.projection import Projection, Projector
from shared.readmodel import create_engine

FILTER = "shakti.intake.case.*"
OTHERS_AFTER = 300
ROUNDS = 5
LOOKS = 100
BODY = b"x" * 600  # about a case event's size; never decoded


class CaseSubjects(Projection[SimpleNamespace]):
    """A read model of every case subject that keeps nothing: the looks' cost, not the applying, is
    measured."""

    name = "bench_looks"
    sources: ClassVar[dict[str, str]] = {"INTAKE": FILTER}

    def define(self, metadata: MetaData, prefix: str) -> SimpleNamespace:
        return SimpleNamespace()


async def fill(store: EventStore, start: int, end: int) -> None:
    """Cases ``start``..``end``-1, one event each, then other subjects after the last of them; returns
    once the stream holds them all (a plain publish is stored a moment after it is sent)."""
    headers = {HEADER_TYPE: "BenchCaseEvent"}
    expected = await store.last_sequence("INTAKE") + end - start + OTHERS_AFTER
    for case in range(start, end):
        await store.nc.publish(f"shakti.intake.case.bench{case}", BODY, headers=headers)
        if case % 5000 == 4999:
            await store.nc.flush()
    for other in range(OTHERS_AFTER):
        await store.nc.publish(f"shakti.intake.erasure.bench{other % 7}", BODY, headers=headers)
    await store.nc.flush()
    while await store.last_sequence("INTAKE") < expected:
        await asyncio.sleep(0.1)


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used (user and system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(
    store: EventStore, projector: Projector[SimpleNamespace], server_pid: int
) -> dict[str, float]:
    """Each look's wall time (the median of ``ROUNDS`` rounds of ``LOOKS``, the looks taken in turns
    within each round) and the server's CPU time per look over all rounds, in ms."""

    async def checkpoint_reaches(target: int) -> bool:
        return await projector.checkpoint("INTAKE") >= target

    async def look_before() -> bool:  # require_current of a caught-up read model, before
        return await checkpoint_reaches((await store.js.get_last_msg("INTAKE", FILTER)).seq or 0)

    async def lag_before() -> int:
        last = (await store.js.get_last_msg("INTAKE", FILTER)).seq or 0
        return max(0, last - await projector.checkpoint("INTAKE"))

    looks: dict[str, Callable[[], Awaitable[Any]]] = {
        "look_before": look_before,
        "look_now": projector.require_current,
        "lag_before": lag_before,
        "lag_now": projector.lag,
    }
    wall: dict[str, list[float]] = {name: [] for name in looks}
    server: dict[str, float] = dict.fromkeys(looks, 0.0)
    for _ in range(ROUNDS):
        for name, look in looks.items():
            cpu, started = cpu_seconds(server_pid), time.perf_counter()
            for _ in range(LOOKS):
                await look()
            wall[name].append((time.perf_counter() - started) * 1000 / LOOKS)
            server[name] += cpu_seconds(server_pid) - cpu
    figures = {f"{name}_ms": round(statistics.median(times), 3) for name, times in wall.items()}
    figures |= {
        f"{name}_server_cpu_ms": round(cpu * 1000 / (ROUNDS * LOOKS), 3) for name, cpu in server.items()
    }
    return figures


async def run(sizes: list[int], folder: Path) -> dict[str, dict[str, float]]:
    figures: dict[str, dict[str, float]] = {}
    with EmbeddedNatsServer(folder / "nats") as server:
        store = await EventStore.connect(server.url, "intake", name="bench-looks")
        await store.ensure_stream()
        engine = create_engine(f"sqlite+aiosqlite:///{folder / 'looks.db'}")
        projector = Projector(CaseSubjects(), engine, store.nc)
        await projector.setup()
        filled = 0
        try:
            for size in sizes:
                await fill(store, filled, size)
                filled = size
                await projector.catch_up(timeout=600)
                assert not any((await projector.lag()).values()), "the read model did not catch up"
                assert server.pid is not None, "the embedded server's process is not known"
                figures[str(size)] = await measure(store, projector, server.pid)
                print(f"{size:>9,} cases: {json.dumps(figures[str(size)])}", flush=True)
        finally:
            await engine.dispose()
            await store.nc.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", default="1000,10000,100000", help="sizes, comma-separated, rising")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.cases.split(","))
    with tempfile.TemporaryDirectory(prefix="bench-looks-") as folder:
        figures = asyncio.run(run(sizes, Path(folder)))
    print(json.dumps({"ms_per_look": figures, "looks": LOOKS, "rounds": ROUNDS}))


if __name__ == "__main__":
    main()
