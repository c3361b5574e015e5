"""What routing does on other services' events and on its own roster changes.

Each reaction decides through the process's ``Decisions`` (``decisions.py``): it waits until the duty
board has caught up with the streams, then stores its decision as events of the case's aggregate with
a command id derived from its cause: a redelivered event, or two replicas handling the same one,
cannot assign a case twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from services.routing.board import OnRoster
from services.routing.decisions import Decide, Decisions
from services.routing.domain import CaseRouting, ReferralOrder, Unroutable, Wording
from services.routing.policy import RoutingPolicy
from shared.aggregate import on_conflict
from shared.contracts.escalation import CaseEscalated
from shared.contracts.intake import CaseRegistered, ReferralMade
from shared.contracts.routing import OfficerDutyChanged, OfficerPosted
from shared.contracts.vocabulary import LADDER_LABELS, DutyStatus, label
from shared.dispatch import Reactions, handles
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta
from shared.subscriber import ProcessManager

log = logging.getLogger(__name__)

ACTOR = "routing"


class Dispatch(Reactions):
    """Routing's reactions: on a registered case, on roster changes and on escalations."""

    def __init__(self, decisions: Decisions, policy: RoutingPolicy) -> None:
        self.decisions = decisions
        self.board = decisions.board
        self.feed = decisions.feed
        self.cases = decisions.cases
        self.clock = decisions.clock
        self.policy = policy
        self.due_in = policy.referral_due_in()

    def process_managers(self) -> list[ProcessManager]:
        return [
            ProcessManager(
                "routing_on_cases",
                "INTAKE",
                "shakti.intake.case.*",
                self,
                description="Routes and assigns each registered case; issues referrals by rule and asked.",
            ),
            ProcessManager(
                "routing_on_roster",
                "ROUTING",
                "shakti.routing.officer.*",
                self,
                description="Moves an officer's open cases when they go off duty, on leave or elsewhere; "
                "gives waiting cases to an officer who becomes available.",
            ),
            ProcessManager(
                "routing_on_escalations",
                "ESCALATION",
                "shakti.escalation.case.*",
                self,
                description="Moves an escalated case to another officer of its Kendra from the set level.",
            ),
        ]

    def _meta(self, cause: Envelope, step: str) -> CommandMeta:
        meta = CommandMeta.reacting_to(cause, ACTOR, step)
        return meta.model_copy(update={"occurred_at": self.clock.now()})

    # --- intake's events ----------------------------------------------------------------------

    @handles(CaseRegistered)
    async def route(self, registered: CaseRegistered, cause: Envelope) -> list[Envelope]:
        """Route a registered case: its thana and Kendra, its officer, its referrals by rule."""
        at = cause.occurred_at
        meta = self._meta(cause, "route")
        async with self.decisions.one_at_a_time:
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
            stored += await self.decisions.recheck(cause.aggregate_id, stored, roster_seen, meta)
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
        stored: list[Envelope] = []

        async def attempt(tried: int) -> list[Envelope]:
            history = await self.cases.history(case_id) if tried else []
            if history and not any(e.command_id.startswith(meta.command_id) for e in history):
                return []
            case = CaseRouting.replay(case_id, history)
            done = {e.command_id for e in history}
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

        return await on_conflict(attempt)

    @handles(ReferralMade)
    async def refer_on_request(self, asked: ReferralMade, cause: Envelope) -> None:
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

        async with self.decisions.one_at_a_time:
            await self.feed.caught_up(intake=cause.sequence)
            await self.decisions.record(cause.aggregate_id, decide, self._meta(cause, "refer"))

    # --- the roster -------------------------------------------------------------------------------

    @handles(OfficerPosted, OfficerDutyChanged)
    async def on_roster_change(self, changed: OfficerPosted | OfficerDutyChanged, cause: Envelope) -> None:
        service_number = changed.service_number
        async with self.decisions.one_at_a_time:
            await self.feed.caught_up()
            officer = self.board.officers[service_number]
            trigger, why = self._departure(officer)
            for case_id in self.board.open_cases_of(service_number):
                kendra = self.board.cases[case_id].kendra
                if kendra is None or (officer.kendra == kendra and officer.status == DutyStatus.ON_DUTY):
                    continue
                await self.decisions.move(
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
                await self.decisions.move(
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

    @handles(CaseEscalated)
    async def on_escalation(self, escalated: CaseEscalated, cause: Envelope) -> None:
        if not self.policy.moves_case(escalated):
            return
        role = Wording(label(LADDER_LABELS, escalated.role, "en"), label(LADDER_LABELS, escalated.role, "hi"))
        why = Wording(
            f"escalated to level {escalated.level} ({role.en}): another officer of the Kendra takes it up",
            f"स्तर {escalated.level} ({role.hi}) तक बढ़ाया गया: केन्द्र के अन्य अधिकारी को सौंपा गया",
        )
        async with self.decisions.one_at_a_time:
            await self.feed.caught_up()
            file = self.board.cases.get(escalated.case_id)
            if file is None or file.closed or file.kendra is None:
                return
            holder = file.officer
            await self.decisions.move(
                escalated.case_id,
                cause=why,
                trigger="escalation",
                holder=holder,
                exclude={holder} if holder else (),
                release_on_vacancy=False,
                meta=self._meta(cause, "escalation"),
            )


def _referral(order: ReferralOrder) -> Decide:
    return lambda case: case.issue_referral(order)
