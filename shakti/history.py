"""A history of complaints lived through the services' own HTTP API, each step at its own moment.

The platform runs on a ``HistoricalClock``; the loader sets it to each moment in turn and sends what
happens then (a registration, a first contact, an action, a referral and the agency's answer, a
disposal), so every event in the streams is the one the services append, their reactions and the
escalation timers' breaches included, at its historical time. The demo's 90 days (``shakti.demo``)
are loaded this way on the running platform; ``bench.state``'s year by default on the services run on
memory (``shakti.fastload``), whose ``settle`` the loader waits on after each moment and each step.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from shared.clock import HistoricalClock

WINDOW = timedelta(minutes=5)
CONCURRENCY = 32
HAPPENING, COMPLAINT = 0, 1

Desk = Callable[[str], Awaitable[dict[str, str]]]
"""The headers of the desk officer who registers and works a thana's complaints."""
Staff = Callable[[str], Awaitable[dict[str, str]]]
"""The headers of whoever a ``Happening`` names (``operator``, ``sp:<district>``...)."""
Progress = Callable[[int, int], None]
Settle = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    """One thing done on a case, ``after`` its registration: an intake command (``path`` under the case,
    e.g. ``first-contact``) or, for ``referral-accept``/``referral-reject``, routing's answer."""

    after: timedelta
    path: str
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Happening:
    """Something done at a moment of the history that is no complaint's step (a roster change, a
    training programme scheduled, its attendance or completion, an iGOT export imported): one request
    by ``who`` (a name the loader's ``staff`` turns into headers), sent alone at ``at``: the clock set to
    that very moment, the platform settled before and after, so that what the services decide on it
    (a case moved off an officer on leave, a certificate) is the same however the history is loaded."""

    at: datetime
    key: str
    """Its idempotency key, unique in the history: loaded again, it adds nothing."""
    what: str
    """What it is, for the load's figures (``programme``, ``leave``...)."""
    who: str
    path: str
    body: dict[str, Any] | None = None
    upload: tuple[str, str] | None = None
    """A file sent as ``file`` (name, CSV text) instead of a JSON body."""


class Lived(Protocol):
    """A complaint with the life it will have."""

    @property
    def n(self) -> int: ...

    @property
    def at(self) -> datetime: ...

    @property
    def thana(self) -> str: ...

    @property
    def district(self) -> str: ...

    @property
    def steps(self) -> tuple[Step, ...]: ...

    def registration(self) -> dict[str, Any]: ...


class HistoryLoader:
    def __init__(
        self,
        client: httpx.AsyncClient,
        clock: HistoricalClock,
        desk: Desk,
        key_prefix: str,
        settle: Settle | None = None,
        staff: Staff | None = None,
    ) -> None:
        self.client = client
        self.staff = staff
        """Whose headers a ``Happening`` is sent with; needed only for a history that has some."""
        self.settle = settle
        """Waited on after each move of the clock and each batch: what the platform does of itself then
        (reactions, timers) is done before the history goes on (``shakti.fastload``'s platform on memory
        runs it there; the platform on NATS does it meanwhile, at its own pace)."""
        self.clock = clock
        self.desk = desk
        self.key_prefix = key_prefix
        """Idempotency keys are ``<prefix>-<n>[-<step>]``: a history loaded again adds nothing."""
        self.cases: dict[int, str] = {}
        self.case_districts: dict[str, str] = {}
        self.refused: dict[str, int] = {}
        self.latency: dict[str, list[float]] = {}
        """Milliseconds of each request the load made, by what it did."""

    def took(self, what: str, started: float) -> None:
        self.latency.setdefault(what, []).append((time.perf_counter() - started) * 1000)

    def _refused(self, what: str) -> None:
        self.refused[what] = self.refused.get(what, 0) + 1

    async def live(
        self,
        complaints: Sequence[Lived],
        progress: Progress,
        window: timedelta = WINDOW,
        every: int = 2000,
        happenings: Sequence[Happening] = (),
    ) -> int:
        """Every registration, step and happening in order of time; returns the requests made.

        What falls in one ``window`` is sent at once (at most ``CONCURRENCY`` in flight, one request per
        case, the case's next step in a later window), the clock set to the window's first moment: a
        step is recorded up to a window early, far less than any deadline of the policy it is lived
        under. A happening goes alone, at its own moment (see ``Happening``); at the same moment, before
        the complaints."""
        # (moment, 0 for a happening / 1 for a complaint, its index or number, the step or -1)
        queue: list[tuple[Any, int, int, int]] = [(h.at, HAPPENING, i, -1) for i, h in enumerate(happenings)]
        queue += [(c.at, COMPLAINT, c.n, -1) for c in complaints]
        heapq.heapify(queue)
        by_n = {c.n: c for c in complaints}
        slots = asyncio.Semaphore(CONCURRENCY)
        done = reported = 0

        async def one(n: int, step: int) -> None:
            async with slots:
                complaint = by_n[n]
                if step < 0:
                    await self.register(complaint)
                    if n in self.cases:
                        for i, s in enumerate(complaint.steps):
                            heapq.heappush(queue, (complaint.at + s.after, COMPLAINT, n, i))
                else:
                    await self.act(complaint, step)

        while queue:
            if queue[0][1] == HAPPENING:
                at, _, i, _ = heapq.heappop(queue)
                await self.move_clock(at)
                await self.happen(happenings[i])
                if self.settle is not None:
                    await self.settle()
                done += 1
                continue
            start = queue[0][0]
            await self.move_clock(start)
            batch: dict[int, int] = {}
            later = []
            while queue and queue[0][0] < start + window and queue[0][1] == COMPLAINT:
                at, _, n, step = heapq.heappop(queue)
                if n in batch:
                    later.append((at, n, step))
                else:
                    batch[n] = step
            for item in later:
                heapq.heappush(queue, (start + window, COMPLAINT, item[1], item[2]))
            # Desk officers are made before the batch: two requests of a thana must not both create hers.
            for n in batch:
                await self.desk(by_n[n].thana)
            await asyncio.gather(*(one(n, step) for n, step in batch.items()))
            if self.settle is not None:
                await self.settle()
            done += len(batch)
            if done - reported >= every:
                reported = done
                progress(done, len(complaints))
        return done

    async def move_clock(self, moment: datetime) -> None:
        """The clock set to ``moment`` (never back), and what the platform does then done."""
        if moment > self.clock.now():
            self.clock.set(moment)
            if self.settle is not None:
                await self.settle()

    async def happen(self, h: Happening) -> None:
        if self.staff is None:
            raise RuntimeError("a history with happenings needs the loader's staff")
        headers = {**await self.staff(h.who), "Idempotency-Key": f"{self.key_prefix}-{h.key}"}
        started = time.perf_counter()
        if h.upload is not None:
            name, text = h.upload
            files = {"file": (name, text.encode(), "text/csv")}
            answer = await self.client.post(h.path, files=files, headers=headers)
        else:
            answer = await self.client.post(h.path, json=h.body, headers=headers)
        self.took(h.what, started)
        if answer.status_code >= 300:
            self._refused(f"{h.what} {answer.status_code}")

    async def register(self, c: Lived) -> None:
        desk = await self.desk(c.thana)
        started = time.perf_counter()
        answer = await self.client.post(
            "/api/intake/cases",
            json=c.registration(),
            headers={**desk, "Idempotency-Key": f"{self.key_prefix}-{c.n}"},
        )
        self.took("register", started)
        if answer.status_code not in (200, 201):
            self._refused(f"register {answer.status_code}")
            return
        self.cases[c.n] = answer.json()["case_id"]
        self.case_districts[self.cases[c.n]] = c.district

    async def act(self, c: Lived, i: int) -> None:
        step, case_id, desk = c.steps[i], self.cases[c.n], await self.desk(c.thana)
        key = {"Idempotency-Key": f"{self.key_prefix}-{c.n}-{i}"}
        started = time.perf_counter()
        if step.path.startswith("referral-"):
            referral = await self.referral(case_id, desk)
            self.took("wait for routing's referral", started)
            started = time.perf_counter()
            if referral is None:
                self._refused("referral not issued")
                return
            verb = step.path.removeprefix("referral-")
            path = f"/api/routing/cases/{case_id}/referrals/{referral}/{verb}"
        else:
            path = f"/api/intake/cases/{case_id}/{step.path}"
        answer = await self.client.post(path, json=step.body, headers={**desk, **key})
        self.took(step.path, started)
        if answer.status_code >= 300:
            self._refused(f"{step.path} {answer.status_code}")

    async def referral(self, case_id: str, desk: dict[str, str]) -> str | None:
        """The case's latest referral, once routing has issued it (a reaction to intake's event)."""
        for _ in range(200):
            answer = await self.client.get(f"/api/routing/cases/{case_id}", headers=desk)
            record = answer.json() if answer.status_code == 200 else None
            if record and record["referrals"]:
                found: str = record["referrals"][-1]["referral_id"]
                return found
            await asyncio.sleep(0.02)
        return None
