"""Time, injected: services ask a clock, so a test can live through a week of deadlines in milliseconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Protocol

IST = timezone(timedelta(hours=5, minutes=30), "IST")
"""India's time (no daylight saving): every time a person sees is shown in it, labelled."""


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to; ``sleep`` yields without waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 10, 10, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.01))


class HistoricalClock:
    """Now is a past moment its loader sets, until ``release``; real time after. Loading a history
    through the services' own API (the demo's 90 days, ``bench.state``'s year) records every event at
    its historical moment, and the platform then runs on live.

    While in the past a sleep is real but at most a quarter of a second (the escalation timers' own
    poll), so that a jump of the clock is seen at once; a manual clock's 10 ms would have the timers'
    loops poll the database a hundred times a second."""

    def __init__(self, start: datetime) -> None:
        self._past: datetime | None = start

    def now(self) -> datetime:
        return self._past if self._past is not None else datetime.now(UTC)

    @property
    def in_the_past(self) -> bool:
        return self._past is not None

    def set(self, moment: datetime) -> None:
        if self._past is None:
            raise RuntimeError("the clock runs on real time now: a past moment can no longer be set")
        self._past = moment

    def release(self) -> None:
        """From now on, real time."""
        self._past = None

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.25) if self._past is not None else seconds)
