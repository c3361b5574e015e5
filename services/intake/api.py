"""Intake's HTTP routes (mounted at ``/api/intake``): commands on cases, the register, identity views.

Every route admits only the roles it names and keeps to the caller's jurisdiction. Every refusal comes
back with an English and a Hindi message; a field that is missing, wrong or too long is named, with
its limit. Identity data is returned by one route only (``/cases/{id}/identity``), and each call of it
is recorded on the case.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Header, Path, Query, Request, Response, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from services.intake.attachments import MAX_BYTES, FileRefused
from services.intake.commands import (
    MAX_EARLIER_CASES,
    AddNote,
    AwaitComplainant,
    Close,
    ComplainantResponded,
    EraseIdentity,
    Identity,
    IntakeCommands,
    MakeFirstContact,
    MarkDuplicate,
    OpenAttachment,
    ReadIdentity,
    RecordAction,
    RecordAttachment,
    Refer,
    Refused,
    RegisterComplaint,
    Reopen,
    Resolve,
    Withdraw,
    WithdrawMessagesConsent,
)
from services.intake.domain import Complaint
from services.intake.read_model.queries import (
    IST,
    RegisterFilter,
    case_timeline,
    count_cases,
    find_case,
    find_cases,
    registered_per_ist_day,
)
from shared.auth import (
    FIELD_STAFF,
    IDENTITY_READERS,
    PLATFORM_STAFF,
    SUPERVISORS,
    Principal,
    bilingual_error,
    require,
)
from shared.commands import Caller, IdempotencyKey, actor_of
from shared.contracts.vocabulary import (
    ACTION_LABELS,
    AGENCY_LABELS,
    ATTACHMENT_LABELS,
    AWAITING_LABELS,
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CLOCK_LABELS,
    CLOSE_LABELS,
    CONTACT_LABELS,
    ERASURE_LABELS,
    IDENTITY_ERASED,
    IDENTITY_PROTECTED,
    OUTCOME_LABELS,
    PRIORITY_LABELS,
    PURPOSE_LABELS,
    REOPEN_LABELS,
    STATUS_LABELS,
    WITHDRAW_LABELS,
    ActionKind,
    AgencyKind,
    AttachmentKind,
    AwaitingReason,
    CaseStatus,
    Category,
    Channel,
    CloseReason,
    ContactMode,
    ErasureBasis,
    Labels,
    Language,
    Outcome,
    Priority,
    ReopenReason,
    ViewPurpose,
    WithdrawReason,
    labelled,
)
from shared.errors import CaseNotFound, DomainError
from shared.events import Envelope
from shared.places import find_places, list_places, narrowed_to
from shared.roles import Role
from shared.rows import Row
from shared.text import Lines, without_control_characters

CODE = r"^[A-Z0-9][A-Z0-9-]{0,63}$"
"""A jurisdiction or agency code: uppercase letters, digits and '-' (subject-safe)."""
CASE_ID = r"^[0-9a-f]{32}$"
CASE_NUMBER = r"^[A-Z0-9-]{1,40}$"
INTAKE_LEVELS = ("district", "circle", "thana", "locality", "kendra")
"""The places a registration names (agencies are routing's to choose)."""

Code = Annotated[str, Field(pattern=CODE, max_length=64)]
Remark = Annotated[str | None, Field(default=None, min_length=1, max_length=1000, repr=False), Lines]
CaseId = Annotated[str, Path(pattern=CASE_ID, max_length=32, description="The case's 32-character hex id")]

ERASED = "identity_erased"
READERS = FIELD_STAFF | SUPERVISORS
ERASERS = frozenset({Role.KENDRA_INCHARGE, Role.SHO})

Staff = Annotated[Principal, Depends(require(FIELD_STAFF))]
Reader = Annotated[Principal, Depends(require(READERS))]


# ---------------------------------------------------------------- bilingual refusals


def _problem(error: dict[str, Any]) -> dict[str, Any]:
    """One field's problem in both languages. Never echoes the value sent: it may be identity data."""
    field = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header"))
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    problem: dict[str, Any] = {"field": field or "body"}
    match kind:
        case "missing":
            en, hi = "This field is required.", "यह जानकारी आवश्यक है।"
        case "string_too_long":
            problem["limit"] = ctx.get("max_length")
            en = f"Too long: at most {problem['limit']} characters."
            hi = f"बहुत लंबा: अधिकतम {problem['limit']} अक्षर।"
        case "string_too_short":
            problem["limit"] = ctx.get("min_length")
            en = f"Too short: at least {problem['limit']} characters."
            hi = f"बहुत छोटा: कम से कम {problem['limit']} अक्षर।"
        case "string_pattern_mismatch":
            en, hi = "The format is not valid.", "प्रारूप मान्य नहीं है।"
        case "enum" | "literal_error":
            expected = str(ctx.get("expected", ""))
            en = f"Choose one of: {expected}."
            hi = f"इनमें से एक चुनें: {expected.replace(' or ', ' या ')}।"
        case "extra_forbidden":
            en, hi = "This field is not accepted here.", "यह जानकारी यहाँ स्वीकार्य नहीं है।"
        case "greater_than_equal" | "less_than_equal" | "greater_than" | "less_than":
            en = f"Out of range ({kind.replace('_', ' ')} {next(iter(ctx.values()), '')})."
            hi = f"सीमा से बाहर ({next(iter(ctx.values()), '')})।"
        case "bool_parsing" | "bool_type":
            en, hi = "Give true or false.", "true (हाँ) या false (नहीं) दें।"
        case _:
            en, hi = str(error.get("msg", "Not valid.")), "यह मान मान्य नहीं है।"
    return problem | {"en": en, "hi": hi}


def _refusal(code: str, en: str, hi: str, fields: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": {"code": code, "en": en, "hi": hi, "fields": fields}}, 422)


class IntakeRoute(APIRoute):
    """Turns bad input into a bilingual 422 naming the field, its problem and its limit."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handle(request)
            except RequestValidationError as error:
                return _refusal(
                    "invalid",
                    "Some fields are missing or wrong.",
                    "कुछ जानकारी छूटी है या गलत है।",
                    [_problem(e) for e in error.errors()],
                )
            except Refused as refused:
                problem = {"field": refused.field, "en": refused.en, "hi": refused.hi}
                return _refusal(refused.code, refused.en, refused.hi, [problem])
            except FileRefused as refused:
                problem = {"field": "file", "en": refused.en, "hi": refused.hi}
                detail = {"code": refused.code, "en": refused.en, "hi": refused.hi, "fields": [problem]}
                return JSONResponse({"detail": detail}, refused.status)
            except DomainError as error:
                if error.code != ERASED:
                    raise
                # Gone for good, not a conflict that a retry could clear.
                return JSONResponse({"detail": {"code": error.code, "en": error.en, "hi": error.hi}}, 410)

        return guarded


# ---------------------------------------------------------------- request bodies


BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Marks that reorder what is shown (photo, U+202E, gnp.pdf reads "photofdp.png"); the joiners that
Hindi writing needs are no such mark."""


def kept_filename(sent: str | None) -> str:
    """A file's name as kept (sealed): its last path part, without control characters or bidirectional
    marks, at most 255 characters. A name is no reason to refuse an officer's file."""
    last = (sent or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = BIDI_CONTROLS.sub("", without_control_characters(last)).strip()
    return name[:255] or "file"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegisterBody(Body):
    channel: Channel
    category: Category
    description: Annotated[str, Field(min_length=1, max_length=5000, repr=False), Lines]
    district: Code
    thana: Code | None = None
    pincode: str | None = Field(default=None, pattern=r"^[1-9][0-9]{5}$", max_length=6)
    locality_code: Code | None = None
    """A locality's code (GET /api/intake/places, kind ``locality``); what she says about the place goes
    into ``identity.locality``, sealed."""
    minor: bool
    danger_now: bool
    language: Language = Language.HINDI
    consent_to_share: bool = False
    consent_to_messages: bool = False
    """She agreed to be sent SMS about the case: its receipt (case number, the Kendra's phone) and its
    status changes, nothing else. Off unless she said so."""
    identity: Identity


class FirstContactBody(Body):
    mode: ContactMode
    at: datetime | None = None


class ActionBody(Body):
    kind: ActionKind
    at: datetime | None = None
    fir_number: str | None = Field(default=None, pattern=r"^[A-Za-z0-9/-]{1,40}$", max_length=40)


class ReferralBody(Body):
    agency_kind: AgencyKind
    agency_code: Code | None = None


class NoteBody(Body):
    text: Annotated[str, Field(min_length=1, max_length=5000, repr=False), Lines]


class AwaitingBody(Body):
    reason: AwaitingReason
    remark: Remark = None


class ResolveBody(Body):
    outcome: Outcome | None = None
    feedback_rating: int | None = Field(default=None, ge=1, le=5)
    feedback: Annotated[str | None, Field(default=None, min_length=1, max_length=2000, repr=False), Lines]


class CloseBody(Body):
    reason: CloseReason
    remark: Remark = None


class ReopenBody(Body):
    reason: ReopenReason
    remark: Remark = None


class WithdrawBody(Body):
    reason: WithdrawReason
    remark: Remark = None


class DuplicateBody(Body):
    duplicate_of: str = Field(pattern=CASE_ID, max_length=32)


class EraseBody(Body):
    legal_basis: ErasureBasis


# ---------------------------------------------------------------- answers


class Registration(BaseModel):
    case_id: str
    case_number: str
    priority: Priority
    flags: list[str]
    receipt: dict[str, str]


class CommandAnswer(BaseModel):
    case_id: str
    events: list[str]
    version: int


def _label(labels: Labels, code: str | None) -> dict[str, str] | None:
    if code is None:
        return None
    en, hi = labelled(labels, code)
    return {"en": en, "hi": hi}


def _case_view(row: dict[str, Any]) -> dict[str, Any]:
    view = {k: v for k, v in row.items() if k != "routed"}
    for listed in ("flags", "overdue_clocks", "due_soon_clocks"):
        view[listed] = [item for item in row[listed].split(",") if item]
    view["labels"] = {
        "status": _label(STATUS_LABELS, row["status"]),
        "category": _label(CATEGORY_LABELS, row["category"]),
        "priority": _label(PRIORITY_LABELS, row["priority"]),
        "channel": _label(CHANNEL_LABELS, row["channel"]),
        "outcome": _label(OUTCOME_LABELS, row["outcome"]),
        "next_clock": _label(CLOCK_LABELS, row["next_clock"]),
    }
    hi, en = IDENTITY_ERASED if row["identity_erased"] else IDENTITY_PROTECTED
    view["identity"] = {"en": en, "hi": hi}
    view["zero_fir"] = _zero_fir(row)
    return view


def _zero_fir(row: dict[str, Any]) -> bool:
    """Registered at one thana's Kendra for a place that belongs to another (the law requires it)."""
    where = row["registered_at_thana"]
    return bool(where and row["thana"] and row["thana"] != where)


def _receipt(row: dict[str, Any]) -> dict[str, Any]:
    """What the complainant takes away, and what the officer who registered the case keeps."""
    number = row["case_number"]
    return {
        "case_id": row["case_id"],
        "case_number": number,
        "registered_at": row["registered_at"],
        "district": row["district"],
        "thana": row["thana"],
        "kendra": row["kendra"],
        "zero_fir": _zero_fir(row),
        "registered_at_thana": row["registered_at_thana"],
        "registered_by": row["registered_by"],
        "priority": row["priority"],
        "text": {
            "en": f"Your complaint is registered. Case number: {number}. "
            "Quote it whenever you contact the Mission Shakti Kendra.",
            "hi": f"आपकी शिकायत दर्ज हो गई है। मामला संख्या: {number}। मिशन शक्ति केन्द्र से "
            "संपर्क करते समय यह संख्या बताएँ।",
        },
    }


def _answer(case_id: str, stored: Sequence[Envelope]) -> CommandAnswer:
    return CommandAnswer(
        case_id=case_id, events=[e.event_type for e in stored], version=stored[-1].aggregate_version
    )


def chosen(purpose: ViewPurpose) -> ViewPurpose:
    """The purpose a person gives for opening an identity or a file: never the one a search by phone
    records on the cases it shows (the timeline must say truly which reading was which)."""
    if purpose is ViewPurpose.EARLIER_CASES:
        raise Refused(
            "purpose_not_offered",
            "purpose",
            "Choose why you open the complainant's details: this purpose is recorded by a search by phone.",
            "शिकायतकर्ता का विवरण खोलने का कारण चुनें: यह उद्देश्य फ़ोन नंबर से खोज पर स्वयं दर्ज होता है।",
        )
    return purpose


def _choices(labels: Labels) -> list[dict[str, str]]:
    return [{"code": str(code), "hi": hi, "en": en} for code, (hi, en) in labels.items()]


# ---------------------------------------------------------------- routes


def build_router(commands: IntakeCommands) -> APIRouter:
    router = APIRouter(route_class=IntakeRoute, tags=["intake"])
    for add in (
        _registration_route,
        _case_step_routes,
        _attachment_routes,
        _complainant_wait_routes,
        _disposal_routes,
        _register_route,
        _case_read_routes,
        _earlier_cases_route,
        _count_routes,
        _reference_routes,
    ):
        add(router, commands)
    return router


def _registration_route(router: APIRouter, commands: IntakeCommands) -> None:
    @router.post("/cases", status_code=201, response_model=Registration)
    async def register_complaint(
        body: RegisterBody,
        principal: Staff,
        idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200)],
    ) -> Registration:
        """Register a complaint from any channel; the reply carries the case number to quote later."""
        complaint = Complaint(
            channel=body.channel,
            category=body.category,
            district=body.district,
            circle=None,
            thana=body.thana,
            pincode=body.pincode,
            locality_code=body.locality_code,
            minor=body.minor,
            danger_now=body.danger_now,
            language=body.language,
            consent_to_share=body.consent_to_share,
            consent_to_messages=body.consent_to_messages,
        )
        command = RegisterComplaint(complaint=complaint, description=body.description, identity=body.identity)
        done = await commands.register_complaint(Caller.person(principal, idempotency_key), command)
        return Registration(
            case_id=done.case_id,
            case_number=done.case_number,
            priority=done.event.priority,
            flags=done.event.flags,
            receipt={
                "en": f"Your complaint is registered. Case number: {done.case_number}. "
                "Quote it whenever you contact the Mission Shakti Kendra.",
                "hi": f"आपकी शिकायत दर्ज हो गई है। मामला संख्या: {done.case_number}। मिशन शक्ति केन्द्र से "
                "संपर्क करते समय यह संख्या बताएँ।",
            },
        )


def _case_step_routes(router: APIRouter, commands: IntakeCommands) -> None:
    """The Kendra's work on the case: first contact, actions, referrals and notes."""

    @router.post("/cases/{case_id}/first-contact", response_model=CommandAnswer)
    async def first_contact(
        case_id: CaseId, body: FirstContactBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = MakeFirstContact(case_id=case_id, mode=body.mode, at=body.at)
        return _answer(case_id, await commands.make_first_contact(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/actions", response_model=CommandAnswer)
    async def record_action(
        case_id: CaseId, body: ActionBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = RecordAction(case_id=case_id, kind=body.kind, at=body.at, fir_number=body.fir_number)
        return _answer(case_id, await commands.record_action(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/referrals", response_model=CommandAnswer)
    async def refer(
        case_id: CaseId, body: ReferralBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = Refer(case_id=case_id, agency_kind=body.agency_kind, agency_code=body.agency_code)
        return _answer(case_id, await commands.refer(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/notes", response_model=CommandAnswer)
    async def add_note(
        case_id: CaseId, body: NoteBody, principal: Reader, key: IdempotencyKey = None
    ) -> CommandAnswer:
        """A note on the case (sealed like the identity); supervisors direct the officer with one."""
        command = AddNote(case_id=case_id, text=body.text)
        return _answer(case_id, await commands.add_note(Caller.person(principal, key), command))


def _attachment_routes(router: APIRouter, commands: IntakeCommands) -> None:
    """The case's files: attached, listed, and opened for a purpose that is recorded."""

    @router.post("/cases/{case_id}/attachments", response_model=CommandAnswer)
    async def record_attachment(
        case_id: CaseId,
        kind: Annotated[AttachmentKind, Form()],
        file: Annotated[UploadFile, File(description="A PDF, JPEG or PNG of at most 10 MB")],
        principal: Staff,
        key: IdempotencyKey = None,
    ) -> CommandAnswer:
        """A file for the case (an FIR copy, a medical report, a photo), sealed with the case's key."""
        content = await file.read(MAX_BYTES + 1)
        filename = kept_filename(file.filename)
        command = RecordAttachment(case_id=case_id, kind=kind, filename=filename, content=content)
        return _answer(case_id, await commands.record_attachment(Caller.person(principal, key), command))

    @router.get("/cases/{case_id}/attachments")
    async def list_attachments(case_id: CaseId, principal: Reader) -> dict[str, Any]:
        """The case's files: kind, size, when and by whom (their names are sealed with the identity)."""
        files = await commands.attachments(Caller.person(principal), case_id)
        return {"case_id": case_id, "attachments": files}

    @router.get("/cases/{case_id}/attachments/{attachment_id}")
    async def open_attachment(
        case_id: CaseId,
        attachment_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", max_length=32)],
        purpose: ViewPurpose,
        principal: Annotated[Principal, Depends(require(IDENTITY_READERS))],
    ) -> Response:
        """The file itself, for those who may read the identity: the reading is recorded on the case."""
        command = OpenAttachment(case_id=case_id, attachment_id=attachment_id, purpose=chosen(purpose))
        opened = await commands.open_attachment(Caller.person(principal), command)
        return Response(
            opened.content,
            media_type=opened.media_type,
            headers={
                # No browser or proxy may keep a copy: the next reading must come back here and be recorded.
                "Cache-Control": "no-store",
                "Content-Disposition": f"attachment; filename*=UTF-8''{quote(opened.filename)}",
                "X-Content-Type-Options": "nosniff",
            },
        )


def _complainant_wait_routes(router: APIRouter, commands: IntakeCommands) -> None:
    """The case waiting on the complainant, and her answer."""

    @router.post("/cases/{case_id}/awaiting-complainant", response_model=CommandAnswer)
    async def await_complainant(
        case_id: CaseId, body: AwaitingBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = AwaitComplainant(case_id=case_id, reason=body.reason, remark=body.remark)
        return _answer(case_id, await commands.await_complainant(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/complainant-responded", response_model=CommandAnswer)
    async def complainant_responded(
        case_id: CaseId, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = ComplainantResponded(case_id=case_id)
        return _answer(case_id, await commands.complainant_responded(Caller.person(principal, key), command))


def _disposal_routes(router: APIRouter, commands: IntakeCommands) -> None:
    @router.post("/cases/{case_id}/resolve", response_model=CommandAnswer)
    async def resolve(
        case_id: CaseId, body: ResolveBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        """Dispose of the case (निस्तारण) with its outcome and the complainant's feedback."""
        command = Resolve(
            case_id=case_id, outcome=body.outcome, rating=body.feedback_rating, feedback=body.feedback
        )
        return _answer(case_id, await commands.resolve(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/close", response_model=CommandAnswer)
    async def close(
        case_id: CaseId, body: CloseBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = Close(case_id=case_id, reason=body.reason, remark=body.remark)
        return _answer(case_id, await commands.close(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/reopen", response_model=CommandAnswer)
    async def reopen(
        case_id: CaseId, body: ReopenBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = Reopen(case_id=case_id, reason=body.reason, remark=body.remark)
        return _answer(case_id, await commands.reopen(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/withdraw", response_model=CommandAnswer)
    async def withdraw(
        case_id: CaseId, body: WithdrawBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = Withdraw(case_id=case_id, reason=body.reason, remark=body.remark)
        return _answer(case_id, await commands.withdraw(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/withdraw-messages-consent", response_model=CommandAnswer)
    async def withdraw_messages_consent(
        case_id: CaseId, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        """She no longer wants SMS about her case: nothing more is sent to her."""
        command = WithdrawMessagesConsent(case_id=case_id)
        return _answer(
            case_id, await commands.withdraw_messages_consent(Caller.person(principal, key), command)
        )

    @router.post("/cases/{case_id}/duplicate", response_model=CommandAnswer)
    async def mark_duplicate(
        case_id: CaseId, body: DuplicateBody, principal: Staff, key: IdempotencyKey = None
    ) -> CommandAnswer:
        command = MarkDuplicate(case_id=case_id, original_id=body.duplicate_of)
        return _answer(case_id, await commands.mark_duplicate(Caller.person(principal, key), command))

    @router.post("/cases/{case_id}/erase-identity", response_model=CommandAnswer)
    async def erase_identity(
        case_id: CaseId,
        body: EraseBody,
        principal: Annotated[Principal, Depends(require(ERASERS))],
        key: IdempotencyKey = None,
    ) -> CommandAnswer:
        """Erase the complainant's personal data (crypto-shredding): the case stays, her identity goes."""
        command = EraseIdentity(case_id=case_id, basis=body.legal_basis)
        return _answer(case_id, await commands.erase_identity(Caller.person(principal, key), command))

    @router.get("/cases/{case_id}/identity")
    async def read_identity(
        case_id: CaseId,
        purpose: ViewPurpose,
        principal: Annotated[Principal, Depends(require(IDENTITY_READERS))],
        response: Response,
    ) -> dict[str, Any]:
        """The complainant's identity, notes and remarks; the reading is recorded on the case."""
        # No browser or proxy may keep a copy: the next reading must come back here and be recorded.
        response.headers["Cache-Control"] = "no-store"
        return await commands.read_identity(
            Caller.person(principal), ReadIdentity(case_id=case_id, purpose=chosen(purpose))
        )


def _register_route(router: APIRouter, commands: IntakeCommands) -> None:
    @router.get("/cases")
    async def case_register(
        principal: Reader,
        status: CaseStatus | None = None,
        category: Category | None = None,
        priority: Priority | None = None,
        registered_from: datetime | None = None,
        registered_to: datetime | None = None,
        overdue: Annotated[bool | None, Query(description="A step's deadline passed, still not done")] = None,
        due_soon: Annotated[
            bool | None, Query(description="A step's deadline warning came, still not done (at risk)")
        ] = None,
        still_open: Annotated[
            bool | None,
            Query(alias="open", description="Still being worked (registered, in progress, awaiting)"),
        ] = None,
        danger_now: bool | None = None,
        mine: Annotated[bool, Query(description="Only the cases assigned to the caller")] = False,
        number: Annotated[
            str | None,
            Query(pattern=CASE_NUMBER, max_length=40, description="A case number or its beginning"),
        ] = None,
        kendra: Annotated[str | None, Query(pattern=CODE, max_length=64)] = None,
        thana: Annotated[str | None, Query(pattern=CODE, max_length=64)] = None,
        circle: Annotated[str | None, Query(pattern=CODE, max_length=64)] = None,
        due_within_hours: Annotated[
            int | None,
            Query(ge=1, le=720, description="Only cases whose next deadline comes within so many hours"),
        ] = None,
        level: Annotated[
            int | None,
            Query(
                ge=0,
                le=6,
                description="Only cases escalated to this level (1 in-charge .. 6 state cell; 0 none)",
            ),
        ] = None,
        sort: Annotated[
            Literal["newest", "urgency"],
            Query(
                description="newest first, or most urgent first (the soonest next deadline, then danger "
                "now, priority)"
            ),
        ] = "newest",
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        """The case register of the caller's jurisdiction, filtered and paged in the read model.
        Searched by case number only: never by anything of the complainant's."""
        wanted = RegisterFilter(
            status,
            category,
            priority,
            registered_from,
            registered_to,
            overdue,
            kendra,
            thana,
            circle,
            open=still_open,
            due_soon=due_soon,
            danger_now=danger_now,
            # Someone with no service number holds no case: "mine" then finds none.
            officer=(principal.service_number or "-") if mine else None,
            number=number,
            by_urgency=sort == "urgency",
            due_by=None
            if due_within_hours is None
            else commands.ctx.clock.now() + timedelta(hours=due_within_hours),
            level=level,
        )
        async with commands.register.sessions() as session:
            rows, total = await find_cases(
                session, commands.register.tables, principal.scope(), wanted, page=page, size=size
            )
        return {"total": total, "page": page, "size": size, "cases": [_case_view(r) for r in rows]}


def _case_read_routes(router: APIRouter, commands: IntakeCommands) -> None:
    async def _visible(
        principal: Principal, *, case_id: str | None = None, number: str | None = None
    ) -> dict[str, Any]:
        async def found() -> Row | None:
            async with commands.register.sessions() as session:
                return await find_case(session, commands.register.tables, case_id=case_id, case_number=number)

        def reached(row: Row) -> bool:
            return principal.covers(row["district"], row["circle"], row["thana"])

        row = await commands.register.find(found, reached)  # registered a moment ago, perhaps
        if row is None:
            raise CaseNotFound(case_id or number or "")
        return row

    @router.get("/cases/by-number/{case_number}")
    async def case_by_number(
        case_number: Annotated[str, Path(pattern=CASE_NUMBER, max_length=40)], principal: Reader
    ) -> dict[str, Any]:
        return _case_view(await _visible(principal, number=case_number))

    @router.get("/cases/{case_id}")
    async def case_detail(case_id: CaseId, principal: Reader) -> dict[str, Any]:
        return _case_view(await _visible(principal, case_id=case_id))

    @router.get("/cases/{case_id}/receipt")
    async def receipt(case_id: CaseId, principal: Reader) -> dict[str, Any]:
        """The receipt of a case: for whoever may see the case, and for the officer who registered it
        even when it went to another thana (she registered a zero FIR and must be able to show it)."""
        async with commands.register.sessions() as session:
            row = await find_case(session, commands.register.tables, case_id=case_id)
        mine = row is not None and row["registered_by"] == actor_of(principal)
        if not mine:
            row = await _visible(principal, case_id=case_id)
        assert row is not None
        return _receipt(row)

    @router.get("/cases/{case_id}/as-of")
    async def case_as_of(
        case_id: CaseId,
        principal: Reader,
        at: Annotated[
            datetime, Query(description="the moment, with its zone (e.g. 2026-01-10T15:30:00+05:30)")
        ],
    ) -> dict[str, Any]:
        """The case as it stood at a past moment (status, officer, next deadline) and its timeline up to
        then, folded from its events; for whoever may see the case now."""
        now = await _visible(principal, case_id=case_id)
        moment = commands.moment(at)
        if moment < now["registered_at"]:
            raise CaseNotFound(case_id)  # not yet registered then: nothing to fold
        if now["updated_at"] is not None and moment >= now["updated_at"]:
            # Nothing has happened to the case since: the register's own row is the answer.
            async with commands.register.sessions() as session:
                entries = await case_timeline(session, commands.register.tables, case_id)
            return {"at": at, "case": _case_view(now), "entries": entries}
        row, entries = await commands.case_as_of(case_id, moment)
        return {"at": at, "case": _case_view(row), "entries": entries}

    @router.get("/cases/{case_id}/timeline")
    async def timeline(case_id: CaseId, principal: Reader) -> dict[str, Any]:
        """The case's story in words (English and Hindi), every reading of the identity included."""
        row = await _visible(principal, case_id=case_id)
        async with commands.register.sessions() as session:
            entries = await case_timeline(session, commands.register.tables, case_id)
        return {"case_id": case_id, "case_number": row["case_number"], "entries": entries}


class PhoneSearchBody(BaseModel):
    """Her phone, in the body and never in the URL: a URL lands in access logs, proxies' logs and the
    browser's history; a body does not."""

    model_config = ConfigDict(extra="forbid")
    phone: str = Field(min_length=1, max_length=24, repr=False)


SEARCHES_PER_WINDOW = 30
SEARCH_WINDOW_SECONDS = 15 * 60.0


class SearchQuota:
    """At most ``SEARCHES_PER_WINDOW`` searches by phone per person in ``SEARCH_WINDOW_SECONDS``, in
    this process: a search answers "who has this number?", so trying numbers in bulk is refused."""

    def __init__(self, limit: int = SEARCHES_PER_WINDOW, window: float = SEARCH_WINDOW_SECONDS) -> None:
        self.limit, self.window = limit, window
        self._recent: dict[str, deque[float]] = {}

    def take(self, who: str) -> None:
        now = time.monotonic()
        recent = self._recent.setdefault(who, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) >= self.limit:
            raise bilingual_error(
                429,
                "too_many_searches",
                f"Too many searches by phone: at most {self.limit} in {int(self.window // 60)} minutes.",
                f"फ़ोन नंबर से बहुत अधिक खोजें: {int(self.window // 60)} मिनट में अधिकतम {self.limit}।",
            )
        recent.append(now)


def _ist(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(IST).strftime("%d-%m-%Y %H:%M IST")


def _earlier_cases_route(router: APIRouter, commands: IntakeCommands) -> None:
    quota = SearchQuota()

    @router.post("/cases/by-phone")
    async def earlier_cases(body: PhoneSearchBody, principal: Reader) -> dict[str, Any]:
        """A complainant's cases in the caller's jurisdiction, found by her phone's blind index: case
        number, status, when registered (IST) and thana, never the phone. At most MAX_EARLIER_CASES;
        each search is recorded, and so is each case it shows (an identity reading)."""
        quota.take(principal.username)
        rows, capped = await commands.earlier_cases(Caller.person(principal), body.phone)
        async with commands.places.sessions() as session:
            thanas = await find_places(
                session, commands.places.tables, [("thana", r["thana"]) for r in rows if r["thana"]]
            )
        found = []
        for row in rows:
            thana = thanas.get(("thana", row["thana"]))
            found.append(
                {
                    "case_id": row["case_id"],
                    "case_number": row["case_number"],
                    "status": row["status"],
                    "registered_at": row["registered_at"],
                    "registered_at_ist": _ist(row["registered_at"]),
                    "thana": row["thana"],
                    "labels": {
                        "status": _label(STATUS_LABELS, row["status"]),
                        "thana": {"en": thana["name_en"], "hi": thana["name_hi"]} if thana else None,
                    },
                }
            )
        return {"cases": found, "capped": capped, "max": MAX_EARLIER_CASES}


def _count_routes(router: APIRouter, commands: IntakeCommands) -> None:
    """The dashboards' figures, counted in the register's SQL."""

    @router.get("/counts")
    async def counts(
        principal: Annotated[Principal, Depends(require(READERS | {Role.STATE_CELL}))],
        circle: Annotated[str | None, Query(pattern=CODE, max_length=64)] = None,
        thana: Annotated[str | None, Query(pattern=CODE, max_length=64)] = None,
    ) -> dict[str, Any]:
        """Figures for dashboards, of the caller's jurisdiction or of a circle or thana inside it: cases
        by status, category and priority, how many are open (still being worked) and overdue, and
        ``registered_per_ist_day``: cases registered on each of the last 30 days as India counts them
        (Asia/Kolkata), today included, oldest first."""
        scope = principal.scope() | await narrowed_to(commands.places, principal, circle=circle, thana=thana)
        tables = commands.register.tables
        today = commands.ctx.clock.now().astimezone(IST).date()
        async with commands.register.sessions() as session:
            figures = {
                by: await count_cases(session, tables, scope, by) for by in ("status", "category", "priority")
            }
            _, still_open = await find_cases(
                session, tables, scope, RegisterFilter(open=True), page=1, size=1
            )
            _, overdue = await find_cases(
                session, tables, scope, RegisterFilter(overdue=True), page=1, size=1
            )
            per_day = await registered_per_ist_day(session, tables, scope, today)
        return {
            "scope": scope or {"state": "UP"},
            **figures,
            "open": still_open,
            "overdue": overdue,
            "registered_per_ist_day": per_day,
        }


def _reference_routes(router: APIRouter, commands: IntakeCommands) -> None:
    """Reference lists for forms and for fixing a refused place."""

    @router.get("/places")
    async def places(
        _: Annotated[Principal, Depends(require(PLATFORM_STAFF))],
        district: Annotated[str | None, Query(pattern=CODE, max_length=64)] = None,
    ) -> dict[str, Any]:
        """The districts, circles, thanas, localities and Kendras intake knows (imported by routing), each
        with its level as ``kind``."""
        async with commands.places.sessions() as session:
            rows = await list_places(session, commands.places.tables, district, levels=INTAKE_LEVELS)
        return {"places": [row | {"kind": row["level"]} for row in rows]}

    @router.get("/choices")
    async def choices(_: Annotated[Principal, Depends(require(PLATFORM_STAFF))]) -> dict[str, Any]:
        """Every code a form offers, with its Hindi and English label."""
        return {
            "categories": [
                c for c in _choices(CATEGORY_LABELS) if commands.table.offers(Category(c["code"]))
            ],
            "channels": _choices(CHANNEL_LABELS),
            "agency_kinds": _choices(AGENCY_LABELS),
            "contact_modes": _choices(CONTACT_LABELS),
            "action_kinds": _choices(ACTION_LABELS),
            "attachment_kinds": _choices(ATTACHMENT_LABELS),
            "awaiting_reasons": _choices(AWAITING_LABELS),
            "outcomes": _choices(OUTCOME_LABELS),
            "close_reasons": _choices(CLOSE_LABELS),
            "reopen_reasons": _choices(REOPEN_LABELS),
            "withdraw_reasons": _choices(WITHDRAW_LABELS),
            # A search by phone records its own purpose; nobody chooses it for a viewing.
            "view_purposes": [c for c in _choices(PURPOSE_LABELS) if c["code"] != ViewPurpose.EARLIER_CASES],
            "erasure_bases": _choices(ERASURE_LABELS),
        }
