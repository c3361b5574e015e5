"""The deadline worker: wakes at the next due check and lets each due case decide what has come due.

Durable: the schedule is the ``next_check`` table, rebuilt from escalation's own events, so a restart
loses nothing and a service that was down fires late, never skips. Exactly once: the worker only
proposes; the case aggregate decides from its own history and appends under optimistic concurrency,
so two replicas (or a restart half-way) find the work already done and append nothing. Each check's
command id derives from the case and the due time, so a retried append returns the first answer.

Right after a check, the table still shows the old due time until the projection has applied the
new events; the worker remembers what it handled so it does not reload those cases meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from shared.contracts.escalation import SERVICE, SlaBreached
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta
from shared.observability import BREACHES
from shared.places import places_name
from shared.runtime import ServiceContext

from .domain import EscalationCase, Jurisdiction, ladder_offices
from .policy import Policy
from .read_model.projection import EscalationBoard
from .read_model.queries import DueCheck, JurisdictionCache, due_checks, next_check_after

log = logging.getLogger(__name__)

ACTOR = "escalation-timer"
SHORTEST_NAP = 0.05
"""Checks falling due in a steady trickle are taken a few at a time rather than one wake-up each:
every wake-up costs two queries of the timer table."""


class DeadlineWorker:
    def __init__(
        self,
        ctx: ServiceContext,
        policy: Policy,
        *,
        poll_seconds: float = 0.25,
        page: int = 500,
        concurrency: int = 32,
    ) -> None:
        self.ctx = ctx
        self.policy = policy
        self.cases = ctx.repository(EscalationCase)
        self.board = ctx.projector(EscalationBoard.name)
        self.jurisdiction = JurisdictionCache(ctx.projector(places_name(SERVICE)))
        # Bounds how long a check added by another replica (or a projection catching up) waits.
        self.poll_seconds = poll_seconds
        self.page = page
        self._slots = asyncio.Semaphore(concurrency)
        self._handled: dict[str, datetime] = {}
        self.checks = 0
        self.sweeps = 0

    async def run(self) -> None:
        while True:
            if not await self.sweep():
                await self.ctx.clock.sleep(await self._pause())

    async def sweep(self) -> int:
        """Check every case whose next check has come; returns how many were checked."""
        now = self.ctx.clock.now()
        seen: dict[str, datetime] = {}
        checked = 0
        after: tuple[datetime, str] | None = None
        while True:
            async with self.board.sessions() as session:
                page = await due_checks(session, self.board.tables, now, after, self.page)
            seen.update((d.case_id, d.at) for d in page)
            todo = [d for d in page if self._handled.get(d.case_id) != d.at]
            if todo:
                known = await self.jurisdiction.get()
                await asyncio.gather(*(self._check(d, now, known) for d in todo))
                checked += len(todo)
            if len(page) < self.page:
                break
            after = (page[-1].at, page[-1].case_id)
        # Forget what the table no longer shows as due at that time: the projection has moved on.
        self._handled = {c: at for c, at in self._handled.items() if seen.get(c) == at}
        self.sweeps += 1
        return checked

    async def _check(self, due: DueCheck, now: datetime, known: Jurisdiction) -> None:
        def decide(case: EscalationCase) -> list[Event]:
            offices = ladder_offices(due.place or case.place(), known, self.policy.state_office)
            return case.check(now, self.policy, offices)

        meta = CommandMeta(
            command_id=f"check:{due.case_id}:{due.at.isoformat()}", actor=ACTOR, occurred_at=now
        )
        async with self._slots:
            try:
                stored = await self.cases.execute(due.case_id, decide, meta)
            except Exception:
                # Left unmarked, so the next sweep tries again; the case id is all a log line may say.
                log.exception("check of case %s failed", due.case_id)
                return
        self._handled[due.case_id] = due.at
        self.checks += 1
        _count_breaches(stored)

    async def _pause(self) -> float:
        now = self.ctx.clock.now()
        async with self.board.sessions() as session:
            upcoming = await next_check_after(session, self.board.tables, now)
        if upcoming is None:
            return self.poll_seconds
        return min(self.poll_seconds, max(SHORTEST_NAP, (upcoming - now).total_seconds()))


def _count_breaches(stored: list[Envelope]) -> None:
    for envelope in stored:
        if envelope.event_type == SlaBreached.event_type:
            BREACHES.labels(envelope.payload.get("clock", "?")).inc()
