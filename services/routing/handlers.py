"""What routing does on other services' events, on its own roster changes, and when a supervisor asks.

Decisions read the duty board (``board.py``), which a ``BoardFeed`` keeps folded from the streams with
ordered consumers. Before deciding, a handler waits until the board has seen everything the streams
held a moment ago (``caught_up``), so that a decision never misses a posting, a certification or an
assignment that was already recorded. Every decision is stored as events of the case's aggregate with a
command id derived from its cause: a redelivered event, or two replicas handling the same one, cannot
assign a case twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace
from typing import ClassVar

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from services.routing.board import DutyBoard, OnRoster
from services.routing.domain import (
    REASSIGN_REASONS,
    TRANSFER_REASONS,
    CaseRouting,
    Pick,
    ReferralOrder,
    Unroutable,
    Vacancy,
    Wording,
)
from services.routing.policy import RoutingPolicy
from shared.contracts.escalation import CaseEscalated
from shared.contracts.intake import CaseRegistered, ReferralMade
from shared.contracts.routing import CaseAssigned, CaseReassigned, OfficerDutyChanged, OfficerPosted
from shared.contracts.vocabulary import LADDER_LABELS, SEXUAL_OFFENCES, DutyStatus, label
from shared.errors import DomainError, NotFound
from shared.events import HEADER_TYPE, Envelope, Event
from shared.eventstore import (
    POLL_SECONDS,
    CommandMeta,
    ConcurrencyError,
    DirectReader,
    Tail,
    decode_message,
    stored_sequence,
)
from shared.runtime import ServiceContext
from shared.subscriber import ProcessManager

log = logging.getLogger(__name__)

ACTOR = "routing"
COMMAND_ATTEMPTS = 40
ASSIGNING = frozenset({CaseAssigned.event_type, CaseReassigned.event_type})


class BoardFeed:
    """Folds the streams into a duty board as they grow, and tells how far it has got."""

    SOURCES: ClassVar[dict[str, str]] = {
        "ROUTING": "shakti.routing.>",
        "TRAINING": "shakti.training.>",
        "INTAKE": "shakti.intake.case.*",
    }

    def __init__(self, nc: NatsClient, board: DutyBoard, timeout: float) -> None:
        self.js = nc.jetstream()
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
                self.board.apply(
                    decode_message(msg.data, headers, stream).model_copy(update={"sequence": seq})
                )
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
        least up to ``intake``.

        A cause already in INTAKE when the streams were last asked (a backlog) is covered by that
        answer: whatever was recorded before it was recorded before the question, so the board need
        not ask again. The three tails are asked at once; the server may answer one a moment before
        another, which can only leave out a fact recorded in that moment."""
        if not intake or intake > self._covered_intake:
            routing, training, covered = await asyncio.gather(
                self._last("ROUTING"), self._last("TRAINING"), self._last("INTAKE")
            )
            self._tails, self._covered_intake = {"ROUTING": routing, "TRAINING": training}, covered
        # INTAKE's tail may be another aggregate's event, which the feed does not read: wait only for
        # the cause itself there.
        await self.reach({**self._tails, "INTAKE": intake})

    async def _last(self, stream: str) -> int:
        info = await self.js.stream_info(stream)
        last: int = info.state.last_seq
        return last


Decide = Callable[[CaseRouting], Sequence[Event]]


class Dispatch:
    """Routing's decisions: on a registered case, on roster changes, on escalations, and by hand."""

    def __init__(self, ctx: ServiceContext, policy: RoutingPolicy) -> None:
        self.board = DutyBoard()
        self.feed = BoardFeed(ctx.store.nc, self.board, policy.catch_up_seconds)
        self.cases = ctx.repository(CaseRouting)
        self.clock = ctx.clock
        self.policy = policy
        self.due_in = policy.referral_due_in()
        # Decisions of one process go one at a time, so each sees the workload the previous one left.
        self._deciding = asyncio.Lock()

    def process_managers(self) -> list[ProcessManager]:
        return [
            ProcessManager(
                "routing_on_cases",
                "INTAKE",
                "shakti.intake.case.*",
                self.on_case_event,
                description="Routes and assigns each registered case; issues referrals by rule and asked.",
            ),
            ProcessManager(
                "routing_on_roster",
                "ROUTING",
                "shakti.routing.officer.*",
                self.on_roster_change,
                description="Moves an officer's open cases when they go off duty, on leave or elsewhere; "
                "gives waiting cases to an officer who becomes available.",
            ),
            ProcessManager(
                "routing_on_escalations",
                "ESCALATION",
                "shakti.escalation.case.*",
                self.on_escalation,
                description="Moves an escalated case to another officer of its Kendra from the set level.",
            ),
        ]

    def _meta(self, cause: Envelope, step: str) -> CommandMeta:
        meta = CommandMeta.reacting_to(cause, ACTOR, step)
        return meta.model_copy(update={"occurred_at": self.clock.now()})

    async def _record(self, case_id: str, decide: Decide, meta: CommandMeta) -> list[Envelope]:
        """Run a decision on a case and fold what it stored into the board (then recheck it)."""
        roster_seen = self.board.roster_seq
        stored = await self.cases.execute(case_id, decide, meta)
        self.feed.record(stored)
        return [*stored, *await self._recheck(case_id, stored, roster_seen, meta)]

    async def _recheck(
        self, case_id: str, stored: Sequence[Envelope], roster_seen: int, meta: CommandMeta
    ) -> list[Envelope]:
        """If the roster moved while an assignment was being decided (another replica's posting, a
        duty change), make sure the officer may still hold the case, else pick again."""
        assigned = [e for e in stored if e.event_type in ASSIGNING]
        if not assigned:
            return []
        await self.feed.reach({"ROUTING": stored[-1].sequence})
        officer, kendra = assigned[-1].payload["officer"], assigned[-1].payload["kendra"]
        if self.board.roster_seq == roster_seen or self.board.may_hold(officer, kendra):
            return []
        return await self._move(
            case_id,
            cause=Wording(
                "the roster changed while the case was being assigned", "मामला सौंपते समय रोस्टर बदल गया"
            ),
            trigger="recheck",
            holder=officer,
            meta=meta.model_copy(update={"command_id": f"{meta.command_id}:recheck"}),
            recheck=False,
        )

    async def _move(
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
            return await self._record(case_id, decide, meta)
        stored = await self.cases.execute(case_id, decide, meta)
        self.feed.record(stored)
        return stored

    # --- intake's events ----------------------------------------------------------------------

    async def on_case_event(self, cause: Envelope) -> None:
        if cause.event_type == CaseRegistered.event_type:
            registered = cause.event()
            assert isinstance(registered, CaseRegistered)
            await self.route(cause, registered)
        elif cause.event_type == ReferralMade.event_type:
            asked = cause.event()
            assert isinstance(asked, ReferralMade)
            await self.refer_on_request(cause, asked)

    async def route(self, cause: Envelope, registered: CaseRegistered) -> list[Envelope]:
        """Route a registered case: its thana and Kendra, its officer, its referrals by rule."""
        at = cause.occurred_at
        meta = self._meta(cause, "route")
        async with self._deciding:
            await self.feed.caught_up(intake=cause.sequence)
            roster_seen = self.board.roster_seq
            placed = self.board.resolve_place(
                registered.district, registered.thana, registered.pincode, registered.locality_code
            )
            steps: list[tuple[str, Decide]]
            if isinstance(placed, Unroutable):
                why = placed.why
                steps = [("unroutable", lambda case: case.mark_unroutable(why, registered.district))]
            else:
                orders, missing = self.board.referrals_for(
                    registered.district, registered.category, registered.minor, at, self.due_in
                )
                placement = replace(placed, reason=placed.reason + missing)
                steps = [
                    ("place", lambda case: case.place_at(placement)),
                    (
                        "assign",
                        lambda case: case.assign_first(
                            self.board.pick(placement.kendra, registered.category, at)
                        ),
                    ),
                    *((f"refer:{order.agency_kind}", _referral(order)) for order in orders),
                ]
            stored = await self._in_steps(cause.aggregate_id, steps, meta)
            stored += await self._recheck(cause.aggregate_id, stored, roster_seen, meta)
        log.debug("case %s routed (%s)", cause.aggregate_id, ", ".join(e.event_type for e in stored))
        return stored

    async def _in_steps(
        self, case_id: str, steps: Sequence[tuple[str, Decide]], meta: CommandMeta
    ) -> list[Envelope]:
        """Record the first routing of a case step by step, each step one event under its own command
        id (``meta``'s, then the step's name). Single-event appends cost a fraction of an atomic
        batch, and a redelivered cause finishes only the steps an earlier attempt left undone. The
        record of a new case is not read first; if it exists, it is read and only the steps of this
        cause go on: another registration of the same case records nothing."""
        history: list[Envelope] = []
        stored: list[Envelope] = []
        for attempt in range(COMMAND_ATTEMPTS):
            if history and not any(e.command_id.startswith(meta.command_id) for e in history):
                return []
            case = CaseRouting.replay(case_id, history)
            done = {e.command_id for e in history}
            try:
                for name, decide in steps:
                    command = meta.model_copy(update={"command_id": f"{meta.command_id}:{name}"})
                    if command.command_id in done or not (decided := decide(case)):
                        continue
                    appended = await self.cases.store.append(
                        CaseRouting.aggregate_type,
                        case_id,
                        decided,
                        expected_sequence=case.sequence,
                        expected_version=case.version,
                        meta=command,
                    )
                    for envelope in appended:
                        case.apply(envelope.event())
                        case.version, case.sequence = envelope.aggregate_version, envelope.sequence
                    self.feed.record(appended)
                    done.add(command.command_id)
                    stored.extend(appended)
                return stored
            except ConcurrencyError:
                history = await self.cases.history(case_id)
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ConcurrencyError(self.cases.store.subject(CaseRouting.aggregate_type, case_id), -1)

    async def refer_on_request(self, cause: Envelope, asked: ReferralMade) -> None:
        """A referral the Kendra asked for (legal aid, shelter, hospital...), unless one is open."""

        def decide(case: CaseRouting) -> Sequence[Event]:
            if case.place is None:
                log.warning("referral for case %s not issued: the case is not routed", case.id)
                return []
            code = self.board.agency_for(case.place.district, asked.agency_kind, asked.agency_code)
            if code is None:
                log.warning("referral for case %s not issued: no %s agency", case.id, asked.agency_kind)
                return []
            reason = Wording(f"asked for at the Kendra by {asked.by}", f"{asked.by} द्वारा केन्द्र से अनुरोध")
            due = cause.occurred_at + self.due_in[asked.agency_kind]
            return case.issue_referral(ReferralOrder(code, asked.agency_kind, reason, due))

        async with self._deciding:
            await self.feed.caught_up(intake=cause.sequence)
            await self._record(cause.aggregate_id, decide, self._meta(cause, "refer"))

    # --- the roster -------------------------------------------------------------------------------

    async def on_roster_change(self, cause: Envelope) -> None:
        if cause.event_type not in (OfficerPosted.event_type, OfficerDutyChanged.event_type):
            return
        service_number = cause.aggregate_id
        async with self._deciding:
            await self.feed.caught_up()
            officer = self.board.officers[service_number]
            trigger, why = self._departure(officer)
            for case_id in self.board.open_cases_of(service_number):
                kendra = self.board.cases[case_id].kendra
                if kendra is None or (officer.kendra == kendra and officer.status == DutyStatus.ON_DUTY):
                    continue
                await self._move(
                    case_id,
                    cause=why,
                    trigger=trigger,
                    holder=service_number,
                    exclude={service_number},
                    meta=self._meta(cause, f"move:{case_id}"),
                )
            if officer.kendra is None or officer.status != DutyStatus.ON_DUTY:
                return
            arrived = Wording(
                f"officer {service_number} became available at {officer.kendra}",
                f"अधिकारी {service_number} {officer.kendra} पर उपलब्ध हुए",
            )
            for case_id in self.board.waiting_at(officer.kendra):
                await self._move(
                    case_id,
                    cause=arrived,
                    trigger="officer_available",
                    holder=None,
                    meta=self._meta(cause, f"give:{case_id}"),
                )

    @staticmethod
    def _departure(officer: OnRoster) -> tuple[str, Wording]:
        sn = officer.service_number
        if officer.status == DutyStatus.ON_LEAVE:
            return "on_leave", Wording(f"officer {sn} went on leave", f"अधिकारी {sn} अवकाश पर गए")
        if officer.status == DutyStatus.OFF_DUTY:
            return "off_duty", Wording(f"officer {sn} went off duty", f"अधिकारी {sn} ड्यूटी से बाहर गए")
        return "posted_away", Wording(
            f"officer {sn} was posted to {officer.kendra}", f"अधिकारी {sn} की तैनाती {officer.kendra} पर हुई"
        )

    # --- escalation ---------------------------------------------------------------------------

    async def on_escalation(self, cause: Envelope) -> None:
        if cause.event_type != CaseEscalated.event_type:
            return
        escalated = cause.event()
        assert isinstance(escalated, CaseEscalated)
        if not self.policy.moves_case(escalated):
            return
        role = Wording(label(LADDER_LABELS, escalated.role, "en"), label(LADDER_LABELS, escalated.role, "hi"))
        why = Wording(
            f"escalated to level {escalated.level} ({role.en}): another officer of the Kendra takes it up",
            f"स्तर {escalated.level} ({role.hi}) तक बढ़ाया गया: केन्द्र के अन्य अधिकारी को सौंपा गया",
        )
        async with self._deciding:
            await self.feed.caught_up()
            file = self.board.cases.get(escalated.case_id)
            if file is None or file.closed or file.kendra is None:
                return
            holder = file.officer
            await self._move(
                escalated.case_id,
                cause=why,
                trigger="escalation",
                holder=holder,
                exclude={holder} if holder else (),
                release_on_vacancy=False,
                meta=self._meta(cause, "escalation"),
            )

    # --- by hand ----------------------------------------------------------------------------------

    async def reassign_by_hand(
        self, case_id: str, officer: str | None, reason: str, meta: CommandMeta
    ) -> list[Envelope]:
        """A supervisor moves a case within its Kendra: to a named officer, or to whoever the rules pick."""
        words = _reason(REASSIGN_REASONS, reason, meta.actor)
        async with self._deciding:
            await self.feed.caught_up()
            file = self.board.cases.get(case_id)
            if file is None or file.kendra is None:
                raise NotFound("case", case_id)
            kendra, holder = file.kendra, file.officer
            if officer is None:
                choice: Pick | Vacancy = self.board.pick(
                    kendra, file.category, self.clock.now(), exclude={holder} if holder else ()
                )
            else:
                choice = self._named(officer, kendra, file.category)
            if isinstance(choice, Vacancy) or choice.officer == holder:
                raise DomainError(
                    "nobody_available",
                    f"No other officer at {kendra} can take this case.",
                    f"{kendra} पर कोई अन्य अधिकारी यह मामला नहीं ले सकता।",
                )
            stored = await self._record(
                case_id,
                lambda case: case.reassign(choice, cause=words, trigger="by_hand", expected_holder=holder),
                meta,
            )
        if not stored:
            raise DomainError(
                "busy", "The case moved meanwhile; look again.", "मामला इस बीच बदल गया; फिर देखें।"
            )
        return stored

    def _named(self, officer: str, kendra: str, category: str | None) -> Pick:
        on_roster = self.board.officers.get(officer)
        if on_roster is None or on_roster.kendra != kendra or on_roster.status != DutyStatus.ON_DUTY:
            raise DomainError(
                "officer_unavailable",
                f"Officer {officer} is not on duty at {kendra}.",
                f"अधिकारी {officer} {kendra} पर ड्यूटी पर नहीं हैं।",
            )
        if (category is None or category in SEXUAL_OFFENCES) and on_roster.gender != "female":
            raise DomainError(
                "woman_officer_needed",
                "A sexual-offence case is handled by a woman officer.",
                "यौन अपराध का मामला महिला अधिकारी ही देखती हैं।",
            )
        return Pick(officer, Wording(f"chosen by name at {kendra}", f"{kendra} पर नाम से चुना गया"))

    async def transfer(self, case_id: str, thana: str, reason: str, meta: CommandMeta) -> list[Envelope]:
        """Send a case to another thana's Kendra (wrong jurisdiction); its earlier record stays."""
        words = _reason(TRANSFER_REASONS, reason, meta.actor)
        async with self._deciding:
            await self.feed.caught_up()
            placement = self.board.placement(
                thana, Wording(f"transferred to thana {thana}", f"थाना {thana} को स्थानांतरित")
            )
            if placement is None:
                raise NotFound("thana", thana)
            file = self.board.cases.get(case_id)
            category = file.category if file else None
            choice = self.board.pick(placement.kendra, category, self.clock.now())
            return await self._record(case_id, lambda case: case.transfer(placement, choice, words), meta)

    async def respond_to_referral(
        self, case_id: str, referral_id: str, response: str, by: str, reason: str | None, meta: CommandMeta
    ) -> list[Envelope]:
        """Record an agency's answer to a referral: accepted, rejected (with a reason code) or completed."""

        def decide(case: CaseRouting) -> Sequence[Event]:
            match response:
                case "accept":
                    return case.accept_referral(referral_id, by)
                case "reject":
                    return case.reject_referral(referral_id, by, reason or "")
                case _:
                    return case.complete_referral(referral_id, by)

        return await self.cases.execute(case_id, decide, meta)


def _referral(order: ReferralOrder) -> Decide:
    return lambda case: case.issue_referral(order)


def _reason(reasons: dict[str, tuple[str, str]], code: str, by: str) -> Wording:
    if code not in reasons:
        raise DomainError(
            "bad_reason",
            f"Choose a reason: {', '.join(reasons)}.",
            f"कारण चुनें: {', '.join(reasons)}।",
        )
    hi, en = reasons[code]
    return Wording(f"{en} (by {by})", f"{hi} ({by} द्वारा)")
