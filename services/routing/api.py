"""Routing's HTTP routes (mounted at ``/api/routing``): jurisdiction and roster for operators and
Kendra in-charges, queues and workloads for supervisors, moving cases by hand, referral answers.

Every route admits only the roles it names and answers only inside the caller's jurisdiction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, UploadFile
from pydantic import BaseModel, Field

from services.routing.board import DutyBoard
from services.routing.certified import chosen_period, period_bounds, period_problem
from services.routing.commands import (
    AcceptReferral,
    AnswerToReferral,
    ChangeDuty,
    CompleteReferral,
    EnrolOfficer,
    ImportJurisdiction,
    ImportRoster,
    PostOfficer,
    ReassignCase,
    RejectReferral,
    RoutingCommands,
    TransferCase,
)
from services.routing.domain import (
    REASSIGN_REASONS,
    REJECTION_REASONS,
    TRANSFER_REASONS,
    Unroutable,
)
from services.routing.read_model.queries import RoutingQueries
from services.routing.sheets import SheetProblems
from shared.auth import (
    AGENCY_STAFF,
    FIELD_STAFF,
    PLATFORM_STAFF,
    SUPERVISORS,
    Principal,
    bilingual_error,
    require,
)
from shared.commands import Caller, IdempotencyKey
from shared.contracts.vocabulary import (
    AGENCY_LABELS,
    CATEGORY_LABELS,
    DUTY_LABELS,
    PRIORITY_LABELS,
    RANK_LABELS,
    DutyStatus,
    Record,
    label,
)
from shared.errors import NotFound
from shared.events import Envelope
from shared.roles import Role
from shared.runtime import ServiceContext
from shared.text import OneLine

ROSTER_KEEPERS = (Role.OPERATOR, Role.KENDRA_INCHARGE, Role.SHO)
CASE_MOVERS = (Role.KENDRA_INCHARGE, SUPERVISORS)
REFERRAL_KEEPERS = (FIELD_STAFF, SUPERVISORS, AGENCY_STAFF)
"""The police record an agency's answer given by phone; an agency desk gives her own agency's."""

Anyone = Annotated[Principal, Depends(require(PLATFORM_STAFF))]
# Routes that name cases: the state cell gets figures only, so it is not among their readers.
CaseReader = Annotated[Principal, Depends(require(FIELD_STAFF, SUPERVISORS, Role.OPERATOR))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
RosterKeeper = Annotated[Principal, Depends(require(*ROSTER_KEEPERS))]
CaseMover = Annotated[Principal, Depends(require(*CASE_MOVERS))]
ReferralKeeper = Annotated[Principal, Depends(require(*REFERRAL_KEEPERS))]
AgencyDesk = Annotated[Principal, Depends(require(AGENCY_STAFF))]
# Reason codes: what a supervisor and an agency desk choose from.
ReasonReader = Annotated[Principal, Depends(require(PLATFORM_STAFF, AGENCY_STAFF))]
# The compliance lists: supervisors name the cases, the state cell gets the figures only.
ComplianceReader = Annotated[Principal, Depends(require(Role.KENDRA_INCHARGE, SUPERVISORS, Role.STATE_CELL))]
ComplianceCaseReader = Annotated[Principal, Depends(require(Role.KENDRA_INCHARGE, SUPERVISORS))]
PeriodDay = Annotated[date | None, Query(description="A day in IST, YYYY-MM-DD.")]
PathKey = Annotated[str, Path(min_length=1, max_length=64), OneLine]
"""An id or code in a path: a case, referral, Kendra, district or service number."""
QueryCode = Annotated[str | None, Query(min_length=1, max_length=64), OneLine]


class Enrolment(BaseModel):
    service_number: Annotated[str, Field(min_length=3, max_length=20), OneLine]
    name: Annotated[str, Field(min_length=1, max_length=200), OneLine]
    rank: Annotated[str, Field(min_length=1, max_length=40), OneLine]
    gender: Literal["female", "male", "other"]


class Posting(BaseModel):
    kendra: Annotated[str, Field(min_length=5, max_length=80), OneLine]
    incharge: bool = False


class Duty(BaseModel):
    status: DutyStatus


class Reassignment(BaseModel):
    officer: Annotated[
        str | None,
        Field(default=None, max_length=20, description="None: whoever the rules pick at the Kendra."),
        OneLine,
    ]
    reason: Annotated[str, Field(max_length=64, description="A code from GET /reasons (reassign)."), OneLine]


class Transfer(BaseModel):
    thana: Annotated[str, Field(max_length=64), OneLine]
    reason: Annotated[str, Field(max_length=64, description="A code from GET /reasons (transfer)."), OneLine]


class ReferralAnswer(BaseModel):
    reason: Annotated[
        str | None,
        Field(default=None, max_length=64, description="For a rejection: a code from GET /reasons (reject)."),
        OneLine,
    ]


def _recorded(stored: Sequence[Envelope]) -> dict[str, Any]:
    return {"recorded": [{"type": e.event_type, **e.payload} for e in stored]}


async def _upload_text(file: UploadFile) -> str:
    try:
        return (await file.read()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise bilingual_error(
            422, "not_utf8", "Save the file as UTF-8 CSV.", "फ़ाइल को UTF-8 CSV के रूप में सहेजें।"
        ) from None


def _bad_sheet(problems: SheetProblems) -> Exception:
    detail = {
        "code": "bad_file",
        "en": "The file has problems; nothing was imported.",
        "hi": "फ़ाइल में त्रुटियाँ हैं; कुछ भी आयात नहीं हुआ।",
        "problems": [{"line": p.line, "column": p.column, "en": p.en, "hi": p.hi} for p in problems.problems],
    }
    return HTTPException(status_code=422, detail=detail)


Answer = Literal["accept", "reject", "complete"]


def _referral_answer(
    case_id: str, referral_id: str, answer: Answer, body: ReferralAnswer | None
) -> AnswerToReferral:
    match answer:
        case "accept":
            return AcceptReferral(case_id=case_id, referral_id=referral_id)
        case "reject":
            reason = body.reason if body else None
            return RejectReferral(case_id=case_id, referral_id=referral_id, reason=reason)
        case "complete":
            return CompleteReferral(case_id=case_id, referral_id=referral_id)


def build_router(
    ctx: ServiceContext, commands: RoutingCommands, board: DutyBoard, queries: RoutingQueries
) -> APIRouter:
    router = APIRouter(tags=["routing"])
    _jurisdiction_routes(router, commands, board, queries)
    _roster_routes(router, ctx, commands, queries)
    _case_routes(router, commands, board, queries)
    _move_and_referral_routes(router, ctx, commands, queries)
    _compliance_routes(router, ctx, queries)
    return router


def _jurisdiction_routes(
    router: APIRouter, commands: RoutingCommands, board: DutyBoard, queries: RoutingQueries
) -> None:
    @router.post("/jurisdiction/import")
    async def import_jurisdiction(file: UploadFile, principal: Operator) -> dict[str, Any]:
        """Validate a jurisdiction file and record what differs (nothing when it is unchanged)."""
        command = ImportJurisdiction(text=await _upload_text(file), source=file.filename or "upload")
        try:
            outcome = await commands.import_jurisdiction(Caller.person(principal), command)
        except SheetProblems as problems:
            raise _bad_sheet(problems) from None
        return {
            "district": outcome.district,
            "version": outcome.version,
            "unchanged": outcome.unchanged,
            "recorded": outcome.recorded,
        }

    @router.get("/jurisdiction/{district}")
    async def jurisdiction(district: PathKey, principal: Anyone) -> dict[str, Any]:
        # Imported a moment ago, perhaps (the user directory checks a new account's place here).
        found = await queries.projector.find(partial(queries.district, district))
        if found is None:
            raise NotFound(Record.DISTRICT, district)
        for agency in found.get("agencies", []):
            agency["kind"] = _code_and_labels(AGENCY_LABELS, agency["kind"])
        return found

    @router.get("/lookup")
    async def lookup(
        principal: Anyone,
        district: Annotated[str, Query(min_length=1, max_length=64), OneLine],
        thana: QueryCode = None,
        pincode: Annotated[str | None, Query(max_length=6), OneLine] = None,
        locality_code: Annotated[
            str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{0,63}$", max_length=64)
        ] = None,
    ) -> dict[str, Any]:
        """Which thana and Kendra a case with these details would go to, and why."""
        placed = board.resolve_place(district, thana, pincode, locality_code)
        if isinstance(placed, Unroutable):
            return {"routable": False, "why": {"en": placed.why.en, "hi": placed.why.hi}}
        return {
            "routable": True,
            "district": placed.district,
            "circle": placed.circle,
            "thana": placed.thana,
            "kendra": placed.kendra,
            "flagged": placed.flagged,
            "reason": {"en": placed.reason.en, "hi": placed.reason.hi},
        }


def _roster_routes(
    router: APIRouter, ctx: ServiceContext, commands: RoutingCommands, queries: RoutingQueries
) -> None:
    @router.post("/roster/import")
    async def import_roster(file: UploadFile, principal: Operator) -> dict[str, Any]:
        command = ImportRoster(text=await _upload_text(file))
        try:
            outcome = await commands.import_roster(Caller.person(principal), command)
        except SheetProblems as problems:
            raise _bad_sheet(problems) from None
        return {"rows": outcome.rows, "officers_changed": outcome.officers_changed, "events": outcome.events}

    @router.post("/officers")
    async def enrol(body: Enrolment, principal: RosterKeeper, key: IdempotencyKey = None) -> dict[str, Any]:
        command = EnrolOfficer(
            service_number=body.service_number, officer_name=body.name, rank=body.rank, gender=body.gender
        )
        return _recorded(await commands.enrol(Caller.person(principal, key), command))

    @router.post("/officers/{service_number}/posting")
    async def post(
        service_number: PathKey, body: Posting, principal: RosterKeeper, key: IdempotencyKey = None
    ) -> dict[str, Any]:
        command = PostOfficer(service_number=service_number, kendra=body.kendra, incharge=body.incharge)
        return _recorded(await commands.post(Caller.person(principal, key), command))

    @router.post("/officers/{service_number}/duty")
    async def duty(
        service_number: PathKey, body: Duty, principal: RosterKeeper, key: IdempotencyKey = None
    ) -> dict[str, Any]:
        command = ChangeDuty(service_number=service_number, status=body.status)
        return _recorded(await commands.change_duty(Caller.person(principal, key), command))

    @router.get("/roster")
    async def roster_view(principal: Anyone, kendra: QueryCode = None) -> list[dict[str, Any]]:
        return [_officer(o) for o in await queries.roster(principal.scope(), ctx.clock.now(), kendra)]

    @router.get("/workloads")
    async def workloads(principal: Anyone) -> list[dict[str, Any]]:
        loads = await queries.workloads(principal.scope(), ctx.clock.now())
        return [w | {"status": _code_and_labels(DUTY_LABELS, w["status"])} for w in loads]


def _case_routes(
    router: APIRouter, commands: RoutingCommands, board: DutyBoard, queries: RoutingQueries
) -> None:
    """Where cases sit: a Kendra's queue, the cases needing attention, and one case's record."""

    @router.get("/kendras/{kendra}/queue")
    async def queue(kendra: PathKey, principal: CaseReader) -> dict[str, Any]:
        found = board.kendras.get(kendra)
        if found is None:
            raise NotFound(Record.KENDRA, kendra)
        if not principal.covers(found.district, found.circle, found.thana):
            raise NotFound(Record.KENDRA, kendra)
        queued = await queries.queue(kendra)
        return queued | {
            "officers": [o | {"cases": [_case_line(c) for c in o["cases"]]} for o in queued["officers"]],
            "waiting": [_case_line(c) for c in queued["waiting"]],
        }

    @router.get("/attention")
    async def attention(principal: CaseReader) -> dict[str, list[dict[str, Any]]]:
        """Cases unroutable, at the control Kendra, with an in-charge for want of an officer, or waiting."""
        found = await queries.attention(principal.scope())
        return {group: [_case_line(c) for c in lines] for group, lines in found.items()}

    @router.get("/cases/{case_id}")
    async def case_record(case_id: PathKey, principal: CaseReader) -> dict[str, Any]:
        """Where a case sits and every routing decision about it, with its reasons."""
        await commands.case_in_reach(principal, case_id)
        history = await commands.cases.history(case_id)
        return {
            "case_id": case_id,
            "now": None if (now := await queries.case(case_id)) is None else _case_line(now),
            "referrals": [_referral(r) for r in await queries.referrals_of(case_id)],
            "record": [
                {"type": e.event_type, "at": e.occurred_at, "by": e.actor, **e.payload} for e in history
            ],
        }


def _move_and_referral_routes(
    router: APIRouter, ctx: ServiceContext, commands: RoutingCommands, queries: RoutingQueries
) -> None:
    """A supervisor's moves of a case, the agencies' answers to referrals, and the reasons to choose from."""

    @router.post("/cases/{case_id}/reassign")
    async def reassign(
        case_id: PathKey, body: Reassignment, principal: CaseMover, key: IdempotencyKey = None
    ) -> dict[str, Any]:
        command = ReassignCase(case_id=case_id, officer=body.officer, reason=body.reason)
        return _recorded(await commands.reassign(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/transfer")
    async def transfer(
        case_id: PathKey, body: Transfer, principal: CaseMover, key: IdempotencyKey = None
    ) -> dict[str, Any]:
        command = TransferCase(case_id=case_id, thana=body.thana, reason=body.reason)
        return _recorded(await commands.transfer(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/referrals/{referral_id}/{answer}")
    async def answer_referral(
        case_id: PathKey,
        referral_id: PathKey,
        answer: Answer,
        principal: ReferralKeeper,
        body: ReferralAnswer | None = None,
        key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        command = _referral_answer(case_id, referral_id, answer, body)
        return _recorded(await commands.answer_referral(Caller.person(principal, key), command))

    @router.get("/referrals/outstanding")
    async def referrals_outstanding(principal: CaseReader) -> list[dict[str, Any]]:
        found = await queries.referrals_outstanding(principal.scope(), ctx.clock.now())
        return [a | {"kind": _code_and_labels(AGENCY_LABELS, a["kind"])} for a in found]

    @router.get("/agency/referrals")
    async def agency_referrals(principal: AgencyDesk) -> dict[str, Any]:
        """An agency desk's own agency's referrals: open ones first by due time, then those answered,
        each with the least of its case needed to act on it (number, category, priority, thana, times);
        never the complainant's identity, never another agency's referral."""
        code = principal.agency or "-"
        agency = await queries.agency(code)
        lines = await queries.agency_referrals(code)
        return {
            "agency": agency and agency | {"kind": _code_and_labels(AGENCY_LABELS, agency["kind"])},
            "now": ctx.clock.now(),
            "referrals": [
                _referral(line)
                | {"category": _code_and_labels(CATEGORY_LABELS, line["category"])}
                | {"priority": _code_and_labels(PRIORITY_LABELS, line["priority"])}
                for line in lines
            ],
        }

    @router.get("/reasons")
    async def reasons(principal: ReasonReader) -> dict[str, dict[str, dict[str, str]]]:
        """The reason codes a supervisor or an agency desk chooses from, with their labels."""
        return {
            name: {code: {"hi": hi, "en": en} for code, (hi, en) in table.items()}
            for name, table in (
                ("reassign", REASSIGN_REASONS),
                ("transfer", TRANSFER_REASONS),
                ("reject", REJECTION_REASONS),
            )
        }


def _compliance_routes(router: APIRouter, ctx: ServiceContext, queries: RoutingQueries) -> None:
    """Cases given to an officer not certified for them at the time, in a period of IST days: how many
    per thana, circle and district, and which (``certified.py`` says what counts as certified)."""

    def period(first: date | None, last: date | None) -> tuple[date, date]:
        first, last = chosen_period(first, last, ctx.clock.now())
        if (problem := period_problem(first, last)) is not None:
            raise bilingual_error(422, "bad_period", *problem)
        return first, last

    @router.get("/compliance/uncertified")
    async def uncertified_counts(
        principal: ComplianceReader,
        first: Annotated[PeriodDay, Query(alias="from")] = None,
        last: Annotated[PeriodDay, Query(alias="to")] = None,
    ) -> dict[str, Any]:
        """How many cases of the period, per place of the caller's jurisdiction, an uncertified officer
        was given (a case given to two such officers counts once)."""
        first, last = period(first, last)
        lines = await queries.uncertified_assignments(principal.scope(), *period_bounds(first, last))
        per: dict[str, dict[str, set[str]]] = {"district": {}, "circle": {}, "thana": {}}
        for line in lines:
            for level, places in per.items():
                if line[level]:
                    places.setdefault(line[level], set()).add(line["case_id"])
        return {
            "from": first,
            "to": last,
            "cases": len({line["case_id"] for line in lines}),
            **{
                level: [{"code": code, "cases": len(ids)} for code, ids in sorted(places.items())]
                for level, places in per.items()
            },
        }

    @router.get("/compliance/uncertified/cases")
    async def uncertified_cases(
        principal: ComplianceCaseReader,
        first: Annotated[PeriodDay, Query(alias="from")] = None,
        last: Annotated[PeriodDay, Query(alias="to")] = None,
        district: QueryCode = None,
        circle: QueryCode = None,
        thana: QueryCode = None,
    ) -> dict[str, Any]:
        """Each assignment of the period, at the place asked for inside the caller's jurisdiction, to an
        officer not certified for the case's category at that moment; newest first."""
        first, last = period(first, last)
        asked = {k: v for k, v in (("district", district), ("circle", circle), ("thana", thana)) if v}
        lines = await queries.uncertified_assignments(principal.scope(), *period_bounds(first, last))
        return {
            "from": first,
            "to": last,
            "assignments": [
                line | {"category": _code_and_labels(CATEGORY_LABELS, line["category"])}
                for line in lines
                if all(line[k] == v for k, v in asked.items())
            ],
        }


# ---------------------------------------------------------------- presentation
# The read model answers with codes; what a person reads is labelled here, in Hindi and English.


def _code_and_labels(labels: Mapping[Any, tuple[str, str]], code: str | None) -> dict[str, str | None]:
    if code is None:
        return {"code": None, "hi": None, "en": None}
    return {"code": code, "hi": label(labels, code, "hi"), "en": label(labels, code, "en")}


def _case_line(line: dict[str, Any]) -> dict[str, Any]:
    return line | {
        "category": _code_and_labels(CATEGORY_LABELS, line["category"]),
        "priority": _code_and_labels(PRIORITY_LABELS, line["priority"]),
    }


def _officer(officer: dict[str, Any]) -> dict[str, Any]:
    return officer | {
        "rank": _code_and_labels(RANK_LABELS, officer["rank"]),
        "status": _code_and_labels(DUTY_LABELS, officer["status"]),
        "certified_for": [_code_and_labels(CATEGORY_LABELS, c) for c in officer["certified_for"]],
    }


def _referral(referral: dict[str, Any]) -> dict[str, Any]:
    return referral | {
        "kind": _code_and_labels(AGENCY_LABELS, referral["kind"]),
        "rejection": _code_and_labels(REJECTION_REASONS, referral["rejection"]),
    }
