"""What a second process keeping the same read model costs: replay with one keeper, then two.

Each keeper is a ``Projector`` with an engine of its own (as two processes would have) on one SQLite
read model; the checkpoint row lock lets one apply each batch and the other fetch it and skip it.
Both run in this process, on one core, so the ratio is the whole cost of the second keeper. Rounds
alternate one and two keepers on fresh read models over the same stream; the best of each counts.

    python -m bench.keepers              # 10,000 events, two rounds each
    python -m bench.keepers --quick      # 2,000 events

The last line printed is one JSON object: one_keeper_eps, two_keepers_eps, ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import nats

from shared.eventstore import CommandMeta, EventStore
from shared.natsserver import EmbeddedNatsServer
from shared.projection import Projector
from shared.readmodel import create_engine
from tests.sample import TallyCounted, TallyOpened, TallyProjection

EVENTS_PER_TALLY = 20


async def fill(url: str, events: int) -> int:
    store = await EventStore.connect(url, "tests")
    limit = asyncio.Semaphore(64)

    async def tally(a: int) -> None:
        async with limit:
            last = 0
            for v in range(EVENTS_PER_TALLY):
                event = TallyOpened(label="bench") if v == 0 else TallyCounted(amount=1, note="")
                meta = CommandMeta(command_id=f"{a}-{v}", actor="bench")
                [stored] = await store.append(
                    "tally", f"a{a}", [event], expected_sequence=last, expected_version=v, meta=meta
                )
                last = stored.sequence

    await asyncio.gather(*(tally(a) for a in range(events // EVENTS_PER_TALLY)))
    last = await store.last_sequence()
    await store.close()
    return last


async def replay(url: str, database: Path, keepers: int, last: int) -> float:
    """Events per second until the read model's checkpoint reaches ``last``."""
    nc = await nats.connect(url)
    engines = [create_engine(f"sqlite+aiosqlite:///{database}") for _ in range(keepers)]
    projectors = [Projector(TallyProjection(), engine, nc) for engine in engines]
    for projector in projectors:
        await projector.setup()
    started = time.perf_counter()
    tasks = [asyncio.create_task(projector.run()) for projector in projectors]
    while await projectors[0].checkpoint("TESTS") < last:
        await asyncio.sleep(0.02)
    seconds = time.perf_counter() - started
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for engine in engines:
        await engine.dispose()
    await nc.close()
    return last / seconds


async def run(events: int, rounds: int) -> dict[str, float]:
    with (
        tempfile.TemporaryDirectory(prefix="shakti-bench-keepers-") as folder,
        EmbeddedNatsServer(Path(folder) / "nats") as server,
    ):
        last = await fill(server.url, events)
        best = {1: 0.0, 2: 0.0}
        for n in range(rounds):
            for keepers in (1, 2):
                eps = await replay(server.url, Path(folder) / f"read-{n}-{keepers}.db", keepers, last)
                print(f"round {n + 1}: {keepers} keeper(s) {eps:,.0f} events/s", flush=True)
                best[keepers] = max(best[keepers], eps)
    return {
        "events": last,
        "one_keeper_eps": round(best[1]),
        "two_keepers_eps": round(best[2]),
        "ratio": round(best[2] / best[1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2,000 events, one round")
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds = 2_000, 1
    print(json.dumps(asyncio.run(run(args.events, args.rounds))))


if __name__ == "__main__":
    main()
