"""Read-your-writes through the HTTP API: how long after a registration is answered the register shows it.

The platform of ``bench.e2e`` (``shakti up``, embedded); after its warm-up, one case a second: from the
POST's answer, intake's ``GET /api/intake/cases/{id}`` is asked every 5 ms until it answers (the
registration applied to the register) and until it names the assigned officer (routing's CaseAssigned
applied too). What a web page that reads right after a command waits for.

    python -m bench.read_your_writes --cases 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from bench.e2e import Load, platform

POLL_SECONDS = 0.005
GIVE_UP_SECONDS = 10.0


async def seen_after(load: Load, n: int) -> tuple[float, float] | None:
    """Milliseconds from the n-th registration's answer until the register shows it, and its officer."""
    staff = load.desks[load.kendras[n % len(load.kendras)]["thana"]]
    answer = await load.post_complaint(n, f"bench-ryw-{uuid.uuid4().hex}")
    answered = time.monotonic()
    case_id = answer.json()["case_id"]
    shown: float | None = None
    while time.monotonic() - answered < GIVE_UP_SECONDS:
        got = await load.client.get(f"/api/intake/cases/{case_id}", headers=staff)
        # When the answer came, not when it was asked: intake's case view may wait for its read model.
        now = time.monotonic()
        if got.status_code == 200:
            shown = now if shown is None else shown
            if got.json().get("assigned_officer"):
                return (shown - answered) * 1000, (now - answered) * 1000
        await asyncio.sleep(POLL_SECONDS)
    return None


async def drive(cases: int) -> dict[str, float]:
    with platform("embedded") as (target, keeper):
        load = Load(target, keeper)
        try:
            await load.started()
            await load.prepare()
            async with load.watching():
                await load.run_stage(5, 2.0, first=0)  # warm up, as bench.e2e does
                await load.settle()
                found = []
                for n in range(100, 100 + cases):
                    began = time.monotonic()
                    if (seen := await seen_after(load, n)) is not None:
                        found.append(seen)
                    await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - began)))
        finally:
            await load.client.aclose()
    registered, assigned = sorted(s[0] for s in found), sorted(s[1] for s in found)
    p90 = min(len(found) - 1, int(0.9 * len(found)))
    return {
        "cases": len(found),
        "registered_p50_ms": round(statistics.median(registered), 1),
        "registered_p90_ms": round(registered[p90], 1),
        "assigned_p50_ms": round(statistics.median(assigned), 1),
        "assigned_p90_ms": round(assigned[p90], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20, help="cases registered, one a second")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(drive(args.cases))))


if __name__ == "__main__":
    main()
