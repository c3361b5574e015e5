"""Escalation's commands: what a person asks the escalation service to do, one handler per command.

A route parses the request into a typed command, hands it with its ``Caller`` to the handler here and
shapes the answer from the events the handler returns. The handler finds what the command needs (the
caller's office), decides on the ``EscalationCase`` aggregate and stores the outcome under the command
id of ``shared.commands``' one rule.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

from shared.auth import Principal, bilingual_error
from shared.commands import Caller, Command, fingerprint
from shared.contracts.escalation import SERVICE
from shared.contracts.vocabulary import LadderRole
from shared.errors import CaseNotFound
from shared.events import Envelope
from shared.places import PlaceTables, places_name
from shared.projection import Projector
from shared.roles import Role
from shared.runtime import ServiceContext

from .domain import EscalationCase, Place
from .policy import Policy
from .read_model.projection import EscalationBoard
from .read_model.queries import case_place, kendra_of


class Acknowledge(Command):
    """The caller takes up a case escalated to their level and office: the climb stops."""

    name: ClassVar[str] = "acknowledge"
    case_id: str


class EscalationCommands:
    def __init__(self, ctx: ServiceContext, policy: Policy) -> None:
        self.ctx = ctx
        self.policy = policy
        self.cases = ctx.repository(EscalationCase)
        self.board = ctx.projector(EscalationBoard.name)
        self.places: Projector[PlaceTables] = ctx.projector(places_name(SERVICE))

    async def acknowledge(self, caller: Caller, command: Acknowledge) -> list[Envelope]:
        """The events stored: an acknowledgement, or none when the caller's level had already taken it up.

        A case outside the caller's jurisdiction is not found, as in every service; inside it, a case
        not escalated to the caller's office is a refusal of the domain (409)."""
        principal = caller.who
        await self.reach(principal, command.case_id)
        office = await self.office_of(principal)
        role = LadderRole(principal.role.value)
        meta = caller.meta(command.name, command.case_id, request=fingerprint({}), at=self.ctx.clock.now())
        return await self.cases.execute(
            command.case_id, lambda case: case.acknowledge(role, office, caller.actor, self.policy), meta
        )

    async def reach(self, principal: Principal, case_id: str) -> None:
        """Where the case is now (routing's placing, else its registration), as the case view reads it.
        A case the board lacks may be one registered a moment ago: looked for again once the board holds
        what is stored."""
        place = await self.board.find(partial(self._place, case_id))
        if place is None:
            raise CaseNotFound(case_id)
        principal.reach_case(case_id, place.district, place.circle, place.thana)

    async def _place(self, case_id: str) -> Place | None:
        async with self.board.sessions() as session:
            return await case_place(session, self.board.tables, case_id)

    async def office_of(self, principal: Principal) -> str:
        """The office a ladder officer answers for: their Kendra, thana, circle, district or the state."""
        place = {
            Role.KENDRA_INCHARGE: principal.thana,
            Role.SHO: principal.thana,
            Role.CO: principal.circle,
            Role.ADDL_SP: principal.district,
            Role.SP: principal.district,
        }.get(principal.role)
        if not place:
            raise bilingual_error(
                403,
                "no_office",
                "Your account has no office for this role.",
                "आपके खाते में इस भूमिका के लिए कोई कार्यालय दर्ज नहीं है।",
            )
        if principal.role is Role.KENDRA_INCHARGE:
            async with self.places.sessions() as session:
                return await kendra_of(session, self.places.tables, place)
        return place
