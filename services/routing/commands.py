"""Routing's commands: what a roster keeper, a supervisor or a Kendra asks routing to do, one handler each.

A route parses the request into a typed command, hands it with its ``Caller`` to the handler here and
shapes the answer from the events the handler returns. The handler keeps the command inside the
caller's jurisdiction (a case elsewhere does not exist for them), decides through the process's
``Decisions`` where the duty board is needed (one decision at a time, with the reactions of
``handlers.py``) and stores the outcome under the command id of ``shared.commands``' one rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from services.routing.decisions import Decisions
from services.routing.domain import (
    REASSIGN_REASONS,
    TRANSFER_REASONS,
    CaseRouting,
    Officer,
    Pick,
    Vacancy,
    Wording,
)
from services.routing.jurisdiction import ImportOutcome, read_jurisdiction, record_jurisdiction
from services.routing.roster import Roster, RosterOutcome, valid_service_number
from shared.auth import Principal
from shared.commands import Caller, Command, fingerprint
from shared.contracts.vocabulary import SEXUAL_OFFENCES, DutyStatus, Record
from shared.errors import CaseNotFound, DomainError, NotFound
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta
from shared.roles import Role
from shared.runtime import ServiceContext


class ReassignCase(Command):
    """Move a case within its Kendra: to a named officer, or (``officer`` None) to whoever the rules
    pick; ``reason`` is a code of ``REASSIGN_REASONS``."""

    name: ClassVar[str] = "reassign"
    case_id: str
    officer: str | None
    reason: str


class TransferCase(Command):
    """Send a case to another thana's Kendra (wrong jurisdiction); ``reason`` is a code of
    ``TRANSFER_REASONS``."""

    name: ClassVar[str] = "transfer"
    case_id: str
    thana: str
    reason: str


class AcceptReferral(Command):
    """The agency took the referral up."""

    name: ClassVar[str] = "referral-accept"
    case_id: str
    referral_id: str


class RejectReferral(Command):
    """The agency refused the referral, for a reason code of ``REJECTION_REASONS``."""

    name: ClassVar[str] = "referral-reject"
    case_id: str
    referral_id: str
    reason: str | None


class CompleteReferral(Command):
    """The agency did what it was asked."""

    name: ClassVar[str] = "referral-complete"
    case_id: str
    referral_id: str


AnswerToReferral = AcceptReferral | RejectReferral | CompleteReferral


class ImportJurisdiction(Command):
    """Record what a district's jurisdiction file changes (nothing when it is unchanged)."""

    name: ClassVar[str] = "jurisdiction"
    text: str
    source: str


class ImportRoster(Command):
    """Record what a roster sheet changes, officer by officer (nothing when it is unchanged)."""

    name: ClassVar[str] = "roster"
    text: str


class EnrolOfficer(Command):
    """Put an officer on the roster (again: their name, rank or gender corrected)."""

    name: ClassVar[str] = "enrol"
    service_number: str
    officer_name: str
    rank: str
    gender: str


class PostOfficer(Command):
    """Post an officer to a Kendra, as its in-charge or not."""

    name: ClassVar[str] = "post"
    service_number: str
    kendra: str
    incharge: bool


class ChangeDuty(Command):
    """An officer goes on or off duty, or on leave."""

    name: ClassVar[str] = "duty"
    service_number: str
    status: DutyStatus


class RoutingCommands:
    def __init__(self, ctx: ServiceContext, decisions: Decisions) -> None:
        self.decisions = decisions
        self.board = decisions.board
        self.cases = decisions.cases
        self.clock = decisions.clock
        self.store = ctx.store
        self.roster = Roster(ctx.store)
        self.officers = ctx.repository(Officer)

    # --- imports: a file with a problem records nothing (``SheetProblems``, every problem by line) -------

    async def import_jurisdiction(self, caller: Caller, command: ImportJurisdiction) -> ImportOutcome:
        parsed = read_jurisdiction(command.text)
        return await record_jurisdiction(self.store, parsed, source=command.source, actor=caller.actor)

    async def import_roster(self, caller: Caller, command: ImportRoster) -> RosterOutcome:
        return await self.roster.import_sheet(command.text, actor=caller.actor)

    # --- the roster -------------------------------------------------------------------------------

    async def enrol(self, caller: Caller, command: EnrolOfficer) -> list[Envelope]:
        """Anyone who keeps a roster may enrol a new officer; an enrolled one only inside their reach."""
        if (await self.officers.get(valid_service_number(command.service_number))).exists:
            await self._officer_in_reach(caller.who, command.service_number)
        body = {
            "service_number": command.service_number,
            "name": command.officer_name,
            "rank": command.rank,
            "gender": command.gender,
        }
        meta = self._meta(caller, command, command.service_number, body)
        return await self.roster.enrol(
            command.service_number, command.officer_name, command.rank, command.gender, meta
        )

    async def post(self, caller: Caller, command: PostOfficer) -> list[Envelope]:
        """Both the officer and the Kendra must be inside the caller's reach."""
        await self._officer_in_reach(caller.who, command.service_number)
        kendra = await self.roster.kendra(command.kendra)
        if not caller.who.covers(kendra.district, kendra.circle, kendra.thana):
            raise NotFound(Record.KENDRA, command.kendra)
        body = {"kendra": command.kendra, "incharge": command.incharge}
        meta = self._meta(caller, command, command.service_number, body)
        return await self.roster.post(command.service_number, command.kendra, command.incharge, meta)

    async def change_duty(self, caller: Caller, command: ChangeDuty) -> list[Envelope]:
        await self._officer_in_reach(caller.who, command.service_number)
        meta = self._meta(caller, command, command.service_number, {"status": command.status.value})
        return await self.roster.change_duty(command.service_number, command.status, meta)

    async def _officer_in_reach(self, principal: Principal, service_number: str) -> None:
        """An officer posted outside the caller's jurisdiction does not exist for them."""
        officer = await self.officers.get(valid_service_number(service_number))
        if not officer.exists:
            raise NotFound(Record.OFFICER, service_number)
        posting = officer.posting
        if posting is not None and not principal.covers(posting.district, posting.circle, posting.thana):
            raise NotFound(Record.OFFICER, service_number)

    # --- cases ------------------------------------------------------------------------------------

    async def reassign(self, caller: Caller, command: ReassignCase) -> list[Envelope]:
        await self.case_in_reach(caller.who, command.case_id)
        meta = self._meta(
            caller, command, command.case_id, {"officer": command.officer, "reason": command.reason}
        )
        words = _reason(REASSIGN_REASONS, command.reason, meta.actor)
        case_id = command.case_id
        async with self.decisions.one_at_a_time:
            await self.decisions.feed.caught_up()
            file = self.board.cases.get(case_id)
            if file is None or file.kendra is None:
                raise CaseNotFound(case_id)
            kendra, holder = file.kendra, file.officer
            if command.officer is None:
                choice: Pick | Vacancy = self.board.pick(
                    kendra, file.category, self.clock.now(), exclude={holder} if holder else ()
                )
            else:
                choice = self._named(command.officer, kendra, file.category)
            if isinstance(choice, Vacancy) or choice.officer == holder:
                raise DomainError(
                    "nobody_available",
                    f"No other officer at {kendra} can take this case.",
                    f"{kendra} पर कोई अन्य अधिकारी यह मामला नहीं ले सकता।",
                )
            stored = await self.decisions.record(
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

    async def transfer(self, caller: Caller, command: TransferCase) -> list[Envelope]:
        """The case's earlier record stays; it goes on at the other thana's Kendra."""
        await self.case_in_reach(caller.who, command.case_id)
        meta = self._meta(
            caller, command, command.case_id, {"thana": command.thana, "reason": command.reason}
        )
        words = _reason(TRANSFER_REASONS, command.reason, meta.actor)
        thana = command.thana
        async with self.decisions.one_at_a_time:
            await self.decisions.feed.caught_up()
            placement = self.board.placement(
                thana, Wording(f"transferred to thana {thana}", f"थाना {thana} को स्थानांतरित")
            )
            if placement is None:
                raise NotFound(Record.THANA, thana)
            file = self.board.cases.get(command.case_id)
            category = file.category if file else None
            choice = self.board.pick(placement.kendra, category, self.clock.now())
            return await self.decisions.record(
                command.case_id, lambda case: case.transfer(placement, choice, words), meta
            )

    async def answer_referral(self, caller: Caller, command: AnswerToReferral) -> list[Envelope]:
        """An agency's answer to a referral: accepted, rejected (with a reason code) or completed, by the
        agency's own desk or recorded by the police for it."""
        await self.referral_in_reach(caller.who, command.case_id, command.referral_id)
        body = {"reason": command.reason} if isinstance(command, RejectReferral) else {}
        meta = self._meta(caller, command, f"{command.case_id}:{command.referral_id}", body)
        by, referral_id = meta.actor, command.referral_id

        def decide(case: CaseRouting) -> Sequence[Event]:
            match command:
                case AcceptReferral():
                    return case.accept_referral(referral_id, by)
                case RejectReferral():
                    return case.reject_referral(referral_id, by, command.reason or "")
                case CompleteReferral():
                    return case.complete_referral(referral_id, by)

        return await self.cases.execute(command.case_id, decide, meta)

    async def case_in_reach(self, principal: Principal, case_id: str) -> CaseRouting:
        """The case, if it is inside the caller's jurisdiction; else, as if it did not exist, not found."""
        case = await self.cases.get(case_id)
        if not case.exists:
            raise CaseNotFound(case_id)
        place = case.place
        principal.reach_case(
            case_id, case.district, place.circle if place else None, place.thana if place else None
        )
        return case

    async def referral_in_reach(self, principal: Principal, case_id: str, referral_id: str) -> CaseRouting:
        """The case of a referral the caller may answer: inside her jurisdiction (police staff), or a
        referral to her own agency (an agency desk). Anything else, as if the case did not exist."""
        if principal.role is not Role.AGENCY_DESK:
            return await self.case_in_reach(principal, case_id)
        case = await self.cases.get(case_id)
        referral = case.referrals.get(referral_id) if case.exists else None
        if referral is None or not principal.reaches_agency(referral.agency_code):
            raise CaseNotFound(case_id)
        return case

    def _meta(self, caller: Caller, command: Command, target: str, body: Mapping[str, object]) -> CommandMeta:
        return caller.meta(command.name, target, request=fingerprint(body), at=self.clock.now())


def _reason(reasons: dict[str, tuple[str, str]], code: str, by: str) -> Wording:
    if code not in reasons:
        raise DomainError(
            "bad_reason",
            f"Choose a reason: {', '.join(reasons)}.",
            f"कारण चुनें: {', '.join(reasons)}।",
        )
    hi, en = reasons[code]
    return Wording(f"{en} (by {by})", f"{hi} ({by} द्वारा)")
