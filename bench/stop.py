"""How long ``shakti up`` takes to stop, by the way the signal arrives.

* ``launcher``: SIGTERM to the launcher alone (``kill PID``): it stops the services, then its NATS server;
* ``group``: SIGTERM to the launcher and its NATS server at the same moment, as systemd's default
  (every process of the unit) and Ctrl-C at a terminal (the foreground group) deliver it.

    python -m bench.stop                 # three of each
    python -m bench.stop --rounds 1 --demo   # shakti up --demo: its synthetic complaints keep coming

The platform idles (no load) and shares the machine's cores: the figures are for comparison. The last
line printed is one JSON object: seconds per way (each round's, and the worst).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
from pathlib import Path

from bench.e2e import Platform, until_ready
from shared.natsserver import LOCK_FILE

WAYS = ("launcher", "group")


def server_pid(target: Platform) -> int:
    """The embedded NATS server's pid, as its launcher recorded it beside the store."""
    record = json.loads((Path(target.env["SHAKTI_DATA_DIR"]) / "nats" / LOCK_FILE).read_text())
    pid: int = record["server"]
    return pid


async def stop_time(target: Platform, way: str) -> float:
    """Seconds from the signal until the launcher has exited."""
    target.start()
    await until_ready(target)
    assert target.process is not None
    pids = [target.process.pid] + ([server_pid(target)] if way == "group" else [])
    began = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    await asyncio.to_thread(target.process.wait, 120)
    took = time.monotonic() - began
    target.process = None
    return took


async def measure(rounds: int, demo: bool) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="shakti-stop-") as folder:
        target = Platform(Path(folder), command=("up", "--demo") if demo else ("up",))
        try:
            return {way: [round(await stop_time(target, way), 2) for _ in range(rounds)] for way in WAYS}
        finally:
            target.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--demo", action="store_true", help="run shakti up --demo")
    args = parser.parse_args()
    figures = asyncio.run(measure(args.rounds, args.demo))
    for way, seconds in figures.items():
        print(f"{way:9} {' '.join(f'{s:5.2f}' for s in seconds)} s")
    print(json.dumps({"seconds": figures, "worst": {w: max(s) for w, s in figures.items()}}))


if __name__ == "__main__":
    main()
