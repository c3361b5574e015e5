"""What escalation does on intake's and routing's case events: start, pause, resume and stop clocks.

Two durable consumers (shared by all replicas), each in its stream's order. Every command's id derives
from the event it reacts to, so a redelivered or duplicated event changes nothing. The two streams are
not ordered with each other: when routing's event about a case comes before escalation has seen the
case's registration, the registration is read from intake's stream and handled first (under the same
command id intake's consumer will use, so it happens once).
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.contracts.escalation import SERVICE
from shared.contracts.intake import (
    ActionRecorded,
    AwaitingComplainant,
    CaseClosed,
    CaseMarkedDuplicate,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseWithdrawn,
    ComplainantResponded,
    FirstContactMade,
    ReferralMade,
)
from shared.contracts.routing import (
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CaseUnroutable,
    ReferralAccepted,
    ReferralCompleted,
    ReferralIssued,
    ReferralRejected,
)
from shared.dispatch import Reactions, handles
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta
from shared.places import places_name
from shared.readmodel import one_statement
from shared.runtime import ServiceContext
from shared.subscriber import ProcessManager

from .domain import EscalationCase, Place, Registration, ladder_offices
from .policy import Policy
from .read_model.projection import EscalationBoard
from .read_model.queries import JurisdictionCache, case_place

log = logging.getLogger(__name__)

ACTOR = "escalation"


class NotRegisteredYet(LookupError):
    """Routing spoke of a case whose registration is not in intake's stream (retried, then parked)."""


class _NotWatched(Exception):
    pass


class CaseWatch(Reactions):
    """The reactions of one running escalation service: an event the policy names no trigger for is
    skipped before it is decoded or its case loaded."""

    def __init__(self, ctx: ServiceContext, policy: Policy) -> None:
        self.ctx = ctx
        self.policy = policy
        self.cases = ctx.repository(EscalationCase)
        self.board = ctx.projector(EscalationBoard.name)
        self.jurisdiction = JurisdictionCache(ctx.projector(places_name(SERVICE)))

    def process_managers(self) -> list[ProcessManager]:
        return [
            ProcessManager(
                name="escalation_on_intake",
                stream="INTAKE",
                subject="shakti.intake.case.*",
                react=self,
                description="Starts, pauses, resumes and stops SOP clocks on the case lifecycle.",
            ),
            ProcessManager(
                name="escalation_on_routing",
                stream="ROUTING",
                subject="shakti.routing.case.*",
                react=self,
                description="Stops the acknowledgement clock on assignment; keeps referral clocks.",
            ),
        ]

    async def __call__(self, cause: Envelope) -> None:
        if cause.event_type in self.policy.triggers:
            await super().__call__(cause)

    @handles(CaseRegistered)
    async def registered(self, event: CaseRegistered, cause: Envelope) -> None:
        await self.watch(cause, event)

    @handles(FirstContactMade, ActionRecorded)
    async def step_done(self, event: FirstContactMade | ActionRecorded, cause: Envelope) -> None:
        # The officer's recorded time, not the moment it was entered, is when the step was done.
        await self.lifecycle(cause.aggregate_id, cause, event.at, None)

    @handles(
        ReferralMade,
        AwaitingComplainant,
        ComplainantResponded,
        CaseResolved,
        CaseClosed,
        CaseReopened,
        CaseWithdrawn,
        CaseMarkedDuplicate,
    )
    async def case_changed(self, event: Event, cause: Envelope) -> None:
        await self.lifecycle(cause.aggregate_id, cause, cause.occurred_at, None)

    @handles(CaseRouted, CaseAssigned, CaseReassigned, CaseUnroutable)
    async def routed(
        self, event: CaseRouted | CaseAssigned | CaseReassigned | CaseUnroutable, cause: Envelope
    ) -> None:
        await self.lifecycle(event.case_id, cause, cause.occurred_at, None)

    @handles(ReferralIssued, ReferralAccepted, ReferralRejected, ReferralCompleted)
    async def referral(
        self,
        event: ReferralIssued | ReferralAccepted | ReferralRejected | ReferralCompleted,
        cause: Envelope,
    ) -> None:
        await self.lifecycle(event.case_id, cause, cause.occurred_at, event.referral_id)

    async def watch(self, envelope: Envelope, event: CaseRegistered) -> None:
        case_id = envelope.aggregate_id
        async with one_statement(self.board.sessions) as session:
            routed = await case_place(session, self.board.tables, case_id)
        known = await self.jurisdiction.get()
        registered_thana = known.thanas.get(event.thana) if event.thana else None
        registration = Registration(
            case_number=event.case_number,
            priority=event.priority,
            category=event.category,
            danger_now=event.danger_now,
            district=event.district,
            circle=registered_thana.circle if registered_thana else None,
            thana=event.thana,
            at=envelope.occurred_at,
        )
        offices = ladder_offices(
            routed if routed and routed.thana else _as_place(registration), known, self.policy.state_office
        )
        meta = _meta(envelope, "watch", envelope.occurred_at)
        await self.cases.execute(case_id, lambda c: c.watch(registration, self.policy, offices), meta)

    async def lifecycle(
        self, case_id: str, envelope: Envelope, at: datetime, referral_id: str | None
    ) -> None:
        def decide(case: EscalationCase) -> list[Event]:
            if not case.watched:
                raise _NotWatched
            return case.on_lifecycle(envelope.event_type, at, self.policy, referral_id)

        meta = _meta(envelope, "lifecycle", at)
        try:
            await self.cases.execute(case_id, decide, meta)
        except _NotWatched:
            await self._watch_from_intake(case_id)
            await self.cases.execute(case_id, decide, meta)

    async def _watch_from_intake(self, case_id: str) -> None:
        for envelope in await self.ctx.store.load("case", case_id, service="intake"):
            event = envelope.event()
            if isinstance(event, CaseRegistered):
                log.info("case %s: registration read from intake ahead of its own consumer", case_id)
                await self.watch(envelope, event)
                return
        raise NotRegisteredYet(f"case {case_id} has no CaseRegistered in the INTAKE stream")


def _as_place(registration: Registration) -> Place:
    return Place(registration.district, registration.circle, registration.thana)


def _meta(cause: Envelope, step: str, at: datetime) -> CommandMeta:
    return CommandMeta.reacting_to(cause, ACTOR, step).model_copy(update={"occurred_at": at})
