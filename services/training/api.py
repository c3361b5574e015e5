"""HTTP routes of the training service (mounted at ``/api/training``).

Every route but ``/verify/{certificate_id}`` needs a signed-in role and answers only inside the
caller's jurisdiction. The verification route is public on purpose (anyone shown a certificate may
check it, most often by scanning its QR code with a phone) and reveals only the holder's name and rank
and whether the certificate is valid: a bilingual page, or JSON to a client that asks for it.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi import Path as InPath
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel, Field

from services.training.commands import (
    CompleteProgramme,
    MarkAttendance,
    MarkRequest,
    ScheduleProgramme,
    TrainingCommands,
    in_reach,
)
from services.training.curriculum import TrainingPolicy
from services.training.domain import IST
from services.training.handlers import register_of
from services.training.igot import MAX_BYTES, import_igot
from services.training.read_model.queries import TrainingRegister
from shared.auth import FIELD_STAFF, PLATFORM_STAFF, SUPERVISORS, Principal, require
from shared.commands import Caller, IdempotencyKey
from shared.contracts.vocabulary import (
    CATEGORY_LABELS,
    CERTIFICATE_STATUS_LABELS,
    RANK_LABELS,
    TRAINING_REASON_LABELS,
    Record,
    label,
)
from shared.errors import NotFound
from shared.http_guard import inline_style_policy
from shared.roles import Role
from shared.runtime import ServiceContext
from shared.text import OneLine

PathKey = Annotated[str, InPath(min_length=1, max_length=64), OneLine]
"""An id in a path: a service number, programme or certificate."""

READERS = FIELD_STAFF | SUPERVISORS | {Role.OPERATOR}
ORGANISERS = frozenset({Role.CO, Role.ADDL_SP, Role.SP, Role.OPERATOR})
ROLL_UP_READERS = SUPERVISORS | {Role.KENDRA_INCHARGE, Role.STATE_CELL, Role.OPERATOR}

templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape(["html"])
)
# The printable certificate and the verification page carry their own style sheets (training serves
# them alone, without the web front's static files): the content security policy admits exactly those
# blocks, by their hashes. The QR code is inline SVG: no script, no image source to allow.
CERTIFICATE_POLICY = inline_style_policy(
    (Path(__file__).parent / "templates" / "certificate.html").read_text(encoding="utf-8")
)
VERIFY_POLICY = inline_style_policy(
    (Path(__file__).parent / "templates" / "verify.html").read_text(encoding="utf-8")
)


def ist_day(moment: datetime) -> date:
    """The calendar day in India: a certificate's dates are read by people in India."""
    return moment.astimezone(IST).date()


def rank_words(rank: str) -> tuple[str, str]:
    """(Hindi, English) of a rank code; an unknown code as it is, in both."""
    return label(RANK_LABELS, rank, "hi"), label(RANK_LABELS, rank)


def qr_svg(text: str) -> Markup:
    """``text`` as an inline SVG QR code (error correction M survives a creased or stamped print)."""
    code = segno.make(text, error="m", micro=False)
    # A viewBox and no fixed size: the page's 34 mm square then shows the whole code, scaled; a fixed
    # 180 px drawing in that square was cut at its right and bottom, and no phone could read it.
    return Markup(code.svg_inline(scale=4, title="QR", omitsize=True))


def wants_json(request: Request) -> bool:
    """A client that asks for JSON and not for HTML; a browser (or no preference) gets the page."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


class AttendanceRequest(BaseModel):
    marks: list[MarkRequest] = Field(min_length=1, max_length=2000)


def certificate_status(row: dict[str, Any], now: datetime) -> str:
    if row["status"] == "valid" and row["valid_until"] <= now:
        return "expired"  # the review timer has not lapsed it yet
    return str(row["status"])


def build_router(ctx: ServiceContext, policy: TrainingPolicy, commands: TrainingCommands) -> APIRouter:
    router = APIRouter(tags=["training"])
    register = register_of(ctx)
    _record_routes(router, ctx, policy, register)
    _programme_routes(router, ctx, policy, commands, register)
    _certificate_routes(router, ctx, policy, register)
    return router


def _record_routes(
    router: APIRouter, ctx: ServiceContext, policy: TrainingPolicy, register: TrainingRegister
) -> None:
    @router.get("/curriculum")
    async def curriculum(_: Annotated[Principal, Depends(require(PLATFORM_STAFF))]) -> dict[str, Any]:
        rules = policy.rules
        return {
            "curriculum_version": policy.curriculum.curriculum_version,
            "modules": await register.modules(),
            "certification": {
                **rules.certification.model_dump(),
                "required_modules": list(policy.required),
                "renewal": rules.renewal.model_dump(),
            },
            # Categories every certified officer may handle, and those that need a specialist module.
            "endorsements": rules.endorsements.model_dump(mode="json"),
            "lapsing_within_days": rules.lapsing_within_days,
        }

    @router.get("/officers")
    async def officer_list(
        principal: Annotated[Principal, Depends(require(READERS))],
    ) -> list[dict[str, Any]]:
        """The posted officers in the caller's jurisdiction (a Kendra officer: herself only): certified or
        not, overdue, lapsing (the certificate ends within the compliance roll-up's horizon) and their
        next due date."""
        now = ctx.clock.now()
        horizon = policy.lapsing_horizon(now)
        return [
            {**o, "lapsing": o["certified"] and o["valid_until"] <= horizon}
            for o in await register.officers(principal.scope(), now)
            if principal.role is not Role.KENDRA_OFFICER or o["service_number"] == principal.service_number
        ]

    @router.get("/officers/{service_number}")
    async def officer_record(
        service_number: PathKey, principal: Annotated[Principal, Depends(require(READERS))]
    ) -> dict[str, Any]:
        def readable(record: dict[str, Any]) -> bool:
            # A Kendra officer reads her own record only; a supervisor those of her jurisdiction.
            return principal.service_number == service_number or (
                principal.role is not Role.KENDRA_OFFICER
                and principal.covers(record["district"], record["circle"], record["thana"])
            )

        # Posted a moment ago, perhaps (routing's roster, then this read model).
        record = await register.records.find(partial(register.officer, service_number), readable)
        if record is None:
            raise NotFound(Record.OFFICER, service_number)
        return record

    @router.get("/compliance")
    async def compliance(
        principal: Annotated[Principal, Depends(require(ROLL_UP_READERS))],
    ) -> dict[str, Any]:
        now = ctx.clock.now()
        figures = await register.compliance(principal.scope(), now, policy.lapsing_horizon(now))
        return {"as_of": now, "lapsing_within_days": policy.rules.lapsing_within_days, **figures.as_dict()}


def _programme_routes(
    router: APIRouter,
    ctx: ServiceContext,
    policy: TrainingPolicy,
    commands: TrainingCommands,
    register: TrainingRegister,
) -> None:
    @router.post("/programmes", status_code=201)
    async def schedule(
        body: ScheduleProgramme,
        principal: Annotated[Principal, Depends(require(ORGANISERS))],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        """Schedule a programme. A programme id chosen by the caller is its idempotency key."""
        stored = await commands.schedule(Caller.person(principal, idempotency_key), body)
        return stored[0].payload

    @router.get("/programmes")
    async def programme_list(
        principal: Annotated[Principal, Depends(require(ORGANISERS | SUPERVISORS))],
    ) -> list[dict[str, Any]]:
        return await register.programmes(None if principal.level == "state" else principal.district or "-")

    @router.get("/programmes/{programme_id}")
    async def programme_report(
        programme_id: PathKey, principal: Annotated[Principal, Depends(require(ORGANISERS | SUPERVISORS))]
    ) -> dict[str, Any]:
        # Scheduled a moment ago, perhaps, by the client asking; outside the caller's district it is
        # answered as one that does not exist (it said "District X not found", naming where it was).
        report = await register.records.find(
            partial(register.programme_report, programme_id),
            lambda report: in_reach(principal, report["district"]),
        )
        if report is None:
            raise NotFound(Record.PROGRAMME, programme_id)
        return report

    @router.post("/programmes/{programme_id}/attendance")
    async def attendance(
        programme_id: PathKey,
        body: AttendanceRequest,
        principal: Annotated[Principal, Depends(require(ORGANISERS))],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        command = MarkAttendance(programme_id=programme_id, marks=body.marks)
        stored = await commands.mark_attendance(Caller.person(principal, idempotency_key), command)
        return {"programme_id": programme_id, "marked": len(stored)}

    @router.post("/programmes/{programme_id}/complete")
    async def complete(
        programme_id: PathKey,
        principal: Annotated[Principal, Depends(require(ORGANISERS))],
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        command = CompleteProgramme(programme_id=programme_id)
        await commands.complete(Caller.person(principal, idempotency_key), command)
        return {"programme_id": programme_id, "completed": True}

    @router.post("/imports/igot")
    async def igot_import(
        file: Annotated[UploadFile, File()], _: Annotated[Principal, Depends(require(Role.OPERATOR))]
    ) -> JSONResponse:
        report = await import_igot(ctx, policy, await file.read(MAX_BYTES + 1))
        if report.imported:
            return JSONResponse(report.as_dict())
        detail = {
            "code": "igot_import_invalid",
            "en": "The file has problems; nothing was imported.",
            "hi": "फ़ाइल में त्रुटियाँ हैं; कुछ भी आयात नहीं हुआ।",
            "report": report.as_dict(),
        }
        return JSONResponse({"detail": detail}, 422)


def _certificate_routes(
    router: APIRouter, ctx: ServiceContext, policy: TrainingPolicy, register: TrainingRegister
) -> None:
    def verification_url(request: Request, certificate_id: str) -> str:
        address = request.url_for("verify_certificate", certificate_id=certificate_id)
        public = ctx.settings.public_url
        return f"{public.rstrip('/')}{address.path}" if public else str(address)

    @router.get("/certificates/{certificate_id}", response_class=HTMLResponse)
    async def certificate(
        certificate_id: PathKey, request: Request, principal: Annotated[Principal, Depends(require(READERS))]
    ) -> HTMLResponse:
        found = await register.certificate(certificate_id)
        if found is None:
            raise NotFound(Record.CERTIFICATE, certificate_id)
        holder = await register.officer(found["service_number"])
        place = (holder or {}).get
        own = principal.service_number == found["service_number"]
        if not own and not principal.covers(place("district"), place("circle"), place("thana")):
            raise NotFound(Record.CERTIFICATE, certificate_id)
        status = certificate_status(found, ctx.clock.now())
        page = _certificate_page(found, policy, status, verification_url(request, certificate_id))
        return HTMLResponse(page, headers={"Content-Security-Policy": CERTIFICATE_POLICY})

    @router.get(
        "/verify/{certificate_id}",
        name="verify_certificate",
        response_model=None,
        responses={
            200: {
                "description": "The bilingual verification page; JSON with ``Accept: application/json``",
                "content": {"text/html": {}, "application/json": {}},
            },
            404: {"description": "No certificate with this number (a page, or JSON when asked)"},
        },
    )
    async def verify(certificate_id: PathKey, request: Request) -> Response:
        """Whether a certificate is valid, for anyone shown it (the address its QR code carries)."""
        found = await register.certificate(certificate_id)
        now = ctx.clock.now()
        if wants_json(request):
            if found is None:
                raise NotFound(Record.CERTIFICATE, certificate_id)
            return JSONResponse(_verification(certificate_id, found, certificate_status(found, now)))
        shown: dict[str, Any] = {
            "certificate_id": certificate_id,
            "found": found,
            "checked_at": f"{now.astimezone(IST):%d-%m-%Y %H:%M}",
        }
        if found is not None:
            status = certificate_status(found, now)
            shown |= {
                "valid": status == "valid",
                "status": CERTIFICATE_STATUS_LABELS[status],
                "lapsed": TRAINING_REASON_LABELS.get(found["lapsed_why"] or "")
                if status == "lapsed"
                else None,
                "rank": rank_words(found["rank"]),
                "title": policy.rules.certification,
                "issued": f"{ist_day(found['issued_at']):%d-%m-%Y}",
                "valid_until": f"{ist_day(found['valid_until']):%d-%m-%Y}",
            }
        page = templates.get_template("verify.html").render(**shown)
        return HTMLResponse(
            page,
            status_code=200 if found is not None else 404,
            headers={"Content-Security-Policy": VERIFY_POLICY, "Cache-Control": "no-store"},
        )


def _certificate_page(found: dict[str, Any], policy: TrainingPolicy, status: str, verify_url: str) -> str:
    return templates.get_template("certificate.html").render(
        certificate=found,
        title=policy.rules.certification,
        rank=rank_words(found["rank"]),
        issued=f"{ist_day(found['issued_at']):%d-%m-%Y}",
        valid_until=f"{ist_day(found['valid_until']):%d-%m-%Y}",
        status=CERTIFICATE_STATUS_LABELS[status],
        lapsed=TRAINING_REASON_LABELS.get(found["lapsed_why"] or ""),
        endorsements=[
            (label(CATEGORY_LABELS, c, "hi"), label(CATEGORY_LABELS, c)) for c in found["endorsements"]
        ],
        qr=qr_svg(verify_url),
        verify_url=verify_url,
    )


def _verification(certificate_id: str, found: dict[str, Any], status: str) -> dict[str, Any]:
    """What the verification answers in JSON: the holder's name and rank, the status, the dates."""
    hi, en = CERTIFICATE_STATUS_LABELS[status]
    rank_hi, rank_en = rank_words(found["rank"])
    return {
        "certificate_id": certificate_id,
        "name": found["name"],
        "rank": found["rank"],
        "rank_hi": rank_hi,
        "rank_en": rank_en,
        "status": status,
        "status_hi": hi,
        "status_en": en,
        "issued_on": ist_day(found["issued_at"]).isoformat(),
        "valid_until": ist_day(found["valid_until"]).isoformat(),
    }
