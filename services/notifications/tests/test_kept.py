"""The roster kept for the decisions (``main.Kept``): a read serves a second of wall time and a second of
the service's clock, so a history loaded at its own moments decides on the roster of its moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.notifications.main import Kept
from shared.clock import HistoricalClock


async def test_a_kept_read_is_read_again_once_the_clock_has_moved_on() -> None:
    clock = HistoricalClock(datetime(2025, 1, 2, tzinfo=UTC))
    reads: list[str] = []

    async def read() -> str:
        reads.append(f"duty as of {clock.now():%d-%m}")
        return reads[-1]

    kept: Kept[str] = Kept(1.0, clock)
    assert await kept.get(read) == "duty as of 02-01"
    assert await kept.get(read) == "duty as of 02-01" and len(reads) == 1
    clock.set(clock.now() + timedelta(days=14))
    assert await kept.get(read) == "duty as of 16-01"
    assert len(reads) == 2
