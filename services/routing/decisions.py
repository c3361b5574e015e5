"""One process's routing decisions: the duty board it decides from, one decision at a time.

Decisions read the duty board (``board.py``), which a ``BoardFeed`` keeps folded from the streams with
ordered consumers. Before deciding, a decision waits until the board has seen everything the streams
held a moment ago (``caught_up``), so that it never misses a posting, a certification or an
assignment that was already recorded. Both the process managers (``handlers.py``) and the supervisors'
commands (``commands.py``) decide through the one ``Decisions`` of their process, so that each sees
the workload the previous one left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from typing import ClassVar

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from services.routing.board import DutyBoard
from services.routing.domain import CaseRouting, Wording
from services.routing.policy import RoutingPolicy
from shared.bus import JETSTREAM_API_TIMEOUT
from shared.contracts.routing import CaseAssigned, CaseReassigned
from shared.events import HEADER_TYPE, Envelope, Event
from shared.eventstore import POLL_SECONDS, CommandMeta, DirectReader, Tail, decode_message, stored_sequence
from shared.runtime import ServiceContext

log = logging.getLogger(__name__)

ASSIGNING = frozenset({CaseAssigned.event_type, CaseReassigned.event_type})


class BoardFeed:
    """Folds the streams into a duty board as they grow, and tells how far it has got."""

    SOURCES: ClassVar[dict[str, str]] = {
        "ROUTING": "shakti.routing.>",
        "TRAINING": "shakti.training.>",
        "INTAKE": "shakti.intake.case.*",
    }

    def __init__(self, nc: NatsClient, board: DutyBoard, timeout: float) -> None:
        self.js = nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
        self.reader = DirectReader(nc)
        self.board = board
        self.timeout = timeout
        self.positions = dict.fromkeys(self.SOURCES, 0)
        self._waiters: list[tuple[dict[str, int], asyncio.Future[None]]] = []
        self._tails: dict[str, int] = {}
        self._covered_intake = 0

    async def run(self) -> None:
        """Follow the streams until cancelled (a worker of the service)."""
        async with asyncio.TaskGroup() as group:
            for stream, subject in self.SOURCES.items():
                group.create_task(self._follow(stream, subject))

    async def _follow(self, stream: str, subject: str) -> None:
        async with Tail(self.reader, stream, subject, after=self.positions[stream]) as tail:
            while True:
                for msg in await tail.next_page(POLL_SECONDS):
                    await self._receive(stream, msg)

    async def _receive(self, stream: str, msg: Msg) -> None:
        seq = stored_sequence(msg)
        if seq <= self.positions[stream]:
            return
        headers = msg.headers or {}
        event_type = headers.get(HEADER_TYPE, "")
        if self.board.wants(event_type):
            try:
                self.board.apply(decode_message(msg.data, headers, stream, sequence=seq))
            except Exception as error:  # one bad event must not stop every later decision
                log.error("duty board skipped %s #%d (%s): %s", stream, seq, event_type, type(error).__name__)
        self.positions[stream] = seq
        self._wake()

    def record(self, stored: Sequence[Envelope]) -> None:
        """Fold events this process has just appended as far as they follow what the board has seen;
        the feed brings the rest, in order."""
        for envelope in stored:
            if envelope.sequence != self.positions["ROUTING"] + 1:
                break
            if self.board.wants(envelope.event_type):
                self.board.apply(envelope)
            self.positions["ROUTING"] = envelope.sequence
        self._wake()

    def _reached(self, targets: dict[str, int]) -> bool:
        return all(self.positions[stream] >= seq for stream, seq in targets.items())

    def _wake(self) -> None:
        if not self._waiters:
            return
        waiting = []
        for targets, future in self._waiters:
            if future.done():
                continue
            if self._reached(targets):
                future.set_result(None)
            else:
                waiting.append((targets, future))
        self._waiters = waiting

    async def reach(self, targets: dict[str, int]) -> None:
        if self._reached(targets):
            return
        future = asyncio.get_running_loop().create_future()
        self._waiters.append((targets, future))
        try:
            await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise TimeoutError(f"duty board behind {targets}: at {self.positions}") from None

    async def caught_up(self, *, intake: int = 0) -> None:
        """Wait until the board has seen all of the streams as they were when asked, and INTAKE at
        least up to ``intake`` (by default its last case event: a case closed a moment before its
        officer went on leave must not be handed over).

        A cause already in INTAKE when the streams were last asked (a backlog) is covered by that
        answer: whatever was recorded before it was recorded before the question, so the board need
        not ask again. The three tails are asked at once; the server may answer one a moment before
        another, which can only leave out a fact recorded in that moment."""
        every_stream = not intake
        if every_stream or intake > self._covered_intake:
            routing, training, covered = await asyncio.gather(
                self._last("ROUTING"), self._last("TRAINING"), self._last("INTAKE")
            )
            self._tails, self._covered_intake = {"ROUTING": routing, "TRAINING": training}, covered
        # INTAKE's tail may be another aggregate's event, which the feed does not read: there it waits
        # for the cause, or, with no cause (a roster change, a supervisor's command), for every case
        # event stored when asked.
        await self.reach({**self._tails, "INTAKE": intake})
        if every_stream:
            await self._reach_case_events(self._covered_intake)

    async def _reach_case_events(self, last: int) -> None:
        """Wait until the board has seen every case event of INTAKE up to ``last``: the next one after
        what it has read, while there is one. (The last case event itself would be a lookup whose
        cost grows with the number of cases.)"""
        while True:
            page = await self.reader.page("INTAKE", self.SOURCES["INTAKE"], self.positions["INTAKE"] + 1, 1)
            if not page.messages or (following := stored_sequence(page.messages[0])) > last:
                return
            await self.reach({"INTAKE": following})

    async def _last(self, stream: str) -> int:
        info = await self.js.stream_info(stream)
        last: int = info.state.last_seq
        return last


Decide = Callable[[CaseRouting], Sequence[Event]]


class Decisions:
    """The duty board, its feed and the case records of one routing process, and how a decision on a
    case is recorded: one at a time, folded into the board, rechecked if the roster moved meanwhile."""

    def __init__(self, ctx: ServiceContext, policy: RoutingPolicy) -> None:
        self.board = DutyBoard()
        self.feed = BoardFeed(ctx.store.nc, self.board, policy.catch_up_seconds)
        self.cases = ctx.repository(CaseRouting)
        self.clock = ctx.clock
        # Decisions of one process go one at a time, so each sees the workload the previous one left.
        self.one_at_a_time = asyncio.Lock()

    async def record(self, case_id: str, decide: Decide, meta: CommandMeta) -> list[Envelope]:
        """Run a decision on a case and fold what it stored into the board (then recheck it)."""
        roster_seen = self.board.roster_seq
        stored = await self.cases.execute(case_id, decide, meta)
        self.feed.record(stored)
        return [*stored, *await self.recheck(case_id, stored, roster_seen, meta)]

    async def recheck(
        self, case_id: str, stored: Sequence[Envelope], roster_seen: int, meta: CommandMeta
    ) -> list[Envelope]:
        """If the roster moved while an assignment was being decided (another replica's posting, a
        duty change), make sure the officer may still hold the case, else pick again."""
        assigned = [e.event() for e in stored if e.event_type in ASSIGNING]
        last = assigned[-1] if assigned else None
        if not isinstance(last, CaseAssigned | CaseReassigned):
            return []
        await self.feed.reach({"ROUTING": stored[-1].sequence})
        officer, kendra = last.officer, last.kendra
        if self.board.roster_seq == roster_seen or self.board.may_hold(officer, kendra):
            return []
        return await self.move(
            case_id,
            cause=Wording(
                "the roster changed while the case was being assigned", "मामला सौंपते समय रोस्टर बदल गया"
            ),
            trigger="recheck",
            holder=officer,
            meta=meta.model_copy(update={"command_id": f"{meta.command_id}:recheck"}),
            recheck=False,
        )

    async def move(
        self,
        case_id: str,
        *,
        cause: Wording,
        trigger: str,
        holder: str | None,
        meta: CommandMeta,
        exclude: Collection[str] = (),
        release_on_vacancy: bool = True,
        recheck: bool = True,
    ) -> list[Envelope]:
        """Give a case to whoever the rules pick now at its Kendra, if ``holder`` still holds it."""
        category = self.board.cases[case_id].category

        def decide(case: CaseRouting) -> Sequence[Event]:
            if case.kendra is None:
                return []
            choice = self.board.pick(case.kendra, category, self.clock.now(), exclude)
            return case.reassign(
                choice,
                cause=cause,
                trigger=trigger,
                expected_holder=holder,
                release_on_vacancy=release_on_vacancy,
            )

        if recheck:
            return await self.record(case_id, decide, meta)
        stored = await self.cases.execute(case_id, decide, meta)
        self.feed.record(stored)
        return stored
