"""Training's commands: what an organiser asks the training service to do, one handler per command.

A route parses the request into a typed command, hands it with its ``Caller`` to the handler here and
shapes the answer from the events the handler returns. The handler keeps the command inside the
caller's district (a programme elsewhere does not exist for them), checks what the register must know,
decides on the ``Programme`` aggregate and stores the outcome under the command id of
``shared.commands``' one rule.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from services.training.curriculum import TrainingPolicy
from services.training.domain import IST, Mark, Programme
from services.training.handlers import register_of
from shared.auth import Principal
from shared.commands import Caller, Command, fingerprint
from shared.contracts.training import ProgrammeScheduled
from shared.contracts.vocabulary import Record
from shared.errors import DomainError, NotFound
from shared.events import Envelope
from shared.runtime import ServiceContext
from shared.text import OneLine

CODE = r"^[A-Za-z0-9_-]{1,64}$"
SERVICE_NUMBER = r"^[A-Za-z0-9]{3,20}$"
Code = Annotated[str, Field(pattern=CODE, max_length=64)]
Title = Annotated[str, Field(min_length=1, max_length=300), OneLine]
Person = Annotated[str, Field(min_length=1, max_length=200), OneLine]
Ref = Annotated[str, Field(min_length=1, max_length=64), OneLine]
"""A module, Kendra or service number named in a body (checked against the register by the domain)."""


class ScheduleProgramme(Command):
    """Schedule a programme. A programme id chosen by the organiser is its idempotency key."""

    # Parsed straight from the HTTP body, which has always let unknown fields pass.
    model_config = ConfigDict(frozen=True, extra="ignore")
    name: ClassVar[str] = "schedule"

    programme_id: Code | None = None
    title_hi: Title
    title_en: Title
    ordered_by: Person
    directed_by: Person
    organised_by: Person
    venue: Title
    date: date
    district: Code
    modules: list[Ref] = Field(min_length=1, max_length=100)
    invited_kendras: list[Ref] = Field(default_factory=list, max_length=2000)
    invited_officers: list[Ref] = Field(default_factory=list, max_length=5000)


class MarkRequest(BaseModel):
    """One officer's mark in an attendance sheet."""

    service_number: str = Field(pattern=SERVICE_NUMBER, max_length=20)
    present: bool
    score: float | None = Field(default=None, ge=0, le=100)


class MarkAttendance(Command):
    """Mark who attended a programme (and their scores), from the programme's day on."""

    name: ClassVar[str] = "attendance"
    programme_id: str
    marks: list[MarkRequest]


class CompleteProgramme(Command):
    """Close a programme: those present get its modules counted."""

    name: ClassVar[str] = "complete"
    programme_id: str


def in_reach(principal: Principal, district: str) -> bool:
    """Is ``district`` the caller's own (or the caller the state cell)?"""
    return principal.level == "state" or principal.district == district


def check_district(principal: Principal, district: str) -> None:
    """Outside the caller's district a district does not exist for them."""
    if not in_reach(principal, district):
        raise NotFound(Record.DISTRICT, district)


class TrainingCommands:
    def __init__(self, ctx: ServiceContext, policy: TrainingPolicy) -> None:
        self.ctx = ctx
        self.policy = policy
        self.register = register_of(ctx)
        self.programmes = ctx.repository(Programme)

    async def schedule(self, caller: Caller, command: ScheduleProgramme) -> list[Envelope]:
        check_district(caller.who, command.district)
        programme_id = command.programme_id or uuid.uuid4().hex
        plan = ProgrammeScheduled(**{**command.model_dump(), "programme_id": programme_id})
        if caller.key is None:
            caller = replace(caller, key=command.programme_id)
        meta = caller.meta(command.name, programme_id, request=fingerprint(command), at=self.ctx.clock.now())
        return await self.programmes.execute(programme_id, lambda p: p.schedule(plan, self.policy), meta)

    async def mark_attendance(self, caller: Caller, command: MarkAttendance) -> list[Envelope]:
        await self._programme_in_reach(caller.who, command.programme_id)
        wanted = {m.service_number.upper() for m in command.marks}
        unknown = sorted(wanted - await self.register.known_officers(wanted))
        if unknown:
            # Posted a moment ago, perhaps: refused only once the read model holds what is stored.
            await self.register.records.require_current()
            unknown = sorted(wanted - await self.register.known_officers(wanted))
        if unknown:
            names = ", ".join(unknown)
            raise DomainError("unknown_officer", f"Unknown officers: {names}", f"अज्ञात अधिकारी: {names}")
        marks = [Mark(m.service_number.upper(), m.present, m.score) for m in command.marks]
        request = fingerprint(command.model_dump(mode="json", exclude={"programme_id"}))
        meta = caller.meta(command.name, command.programme_id, request=request, at=self.ctx.clock.now())
        return await self.programmes.execute(
            command.programme_id,
            lambda p: p.mark(marks, self.policy, self.ctx.clock.now().astimezone(IST).date()),
            meta,
        )

    async def complete(self, caller: Caller, command: CompleteProgramme) -> list[Envelope]:
        await self._programme_in_reach(caller.who, command.programme_id)
        meta = caller.meta(
            command.name, command.programme_id, request=fingerprint({}), at=self.ctx.clock.now()
        )
        return await self.programmes.execute(command.programme_id, lambda p: p.complete(), meta)

    async def _programme_in_reach(self, principal: Principal, programme_id: str) -> None:
        programme = await self.programmes.get(programme_id)
        # Another district's programme is refused as one that does not exist: "District X not found"
        # named where it was.
        if programme.plan is None or not in_reach(principal, programme.plan.district):
            raise NotFound(Record.PROGRAMME, programme_id)
