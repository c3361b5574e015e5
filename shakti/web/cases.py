"""The Kendra officer's case work: registering a complaint, a case's page, its steps and its
identity (each viewing recorded by intake)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shakti.web.i18n import translator
from shakti.web.pages import (
    CASE_READERS,
    KENDRA_ROLES,
    SUPERVISOR_ROLES,
    Api,
    PageRefused,
    ServiceAPI,
    User,
    allow,
    check_case_id,
    optional,
    render,
)
from shakti.web.times import IST, limit_due
from shared.auth import IDENTITY_READERS, Principal
from shared.http_guard import CSRF_FIELD
from shared.roles import Role

CASE_STEPS = {
    "first-contact": "first-contact",
    "action": "actions",
    "referral": "referrals",
    "resolve": "resolve",
    "close": "close",
    "reopen": "reopen",
    "withdraw": "withdraw",
    "duplicate": "duplicate",
    "awaiting": "awaiting-complainant",
    "responded": "complainant-responded",
    "stop-sms": "withdraw-messages-consent",
}
# Steps that cannot be undone: the form asks to confirm, and the refusal says what the step ends.
CONFIRMATIONS = {
    "close": PageRefused(
        422,
        "Tick the box to confirm: closing stops every deadline of the case.",
        "पुष्टि के लिए बॉक्स चुनें: मामला बंद करने से उसकी सभी समय-सीमाएँ रुक जाती हैं।",
    ),
    "withdraw": PageRefused(
        422,
        "Tick the box to confirm: a withdrawn case cannot be reopened and its deadlines stop.",
        "पुष्टि के लिए बॉक्स चुनें: वापस ली गई शिकायत का मामला पुनः नहीं खुलता और उसकी समय-सीमाएँ रुक जाती हैं।",
    ),
    "stop-sms": PageRefused(
        422,
        "Tick the box to confirm: she will be sent no more SMS about this case.",
        "पुष्टि के लिए बॉक्स चुनें: उन्हें इस मामले के बारे में आगे कोई एसएमएस नहीं भेजा जाएगा।",
    ),
    "duplicate": PageRefused(
        422,
        "Tick the box to confirm: a case marked a duplicate ends there and cannot be reopened.",
        "पुष्टि के लिए बॉक्स चुनें: दोहरी शिकायत चिह्नित मामला वहीं समाप्त होता है और पुनः नहीं खुलता।",
    ),
    "transfer": PageRefused(
        422,
        "Tick the box to confirm: the case goes to the other thana's Kendra.",
        "पुष्टि के लिए बॉक्स चुनें: मामला दूसरे थाने के केन्द्र को चला जाएगा।",
    ),
    "reject": PageRefused(
        422,
        "Tick the box to confirm: the agency's rejection cannot be changed afterwards.",
        "पुष्टि के लिए बॉक्स चुनें: संस्था का अस्वीकार बाद में बदला नहीं जा सकता।",
    ),
    "complete": PageRefused(
        422,
        "Tick the box to confirm: a completed referral cannot be changed afterwards.",
        "पुष्टि के लिए बॉक्स चुनें: पूर्ण संदर्भन बाद में बदला नहीं जा सकता।",
    ),
    "erase": PageRefused(
        422,
        "Tick the box to confirm: erasing the complainant's identity cannot be undone; nobody can read it"
        " again.",
        "पुष्टि के लिए बॉक्स चुनें: शिकायतकर्ता की पहचान मिटाना वापस नहीं होता; उसे फिर कोई नहीं पढ़ सकता।",
    ),
}
NO_FILE = PageRefused(422, "Choose the file to attach.", "जोड़ने के लिए फ़ाइल चुनें।")
ATTACHMENT_ID = re.compile(r"^[0-9a-f]{32}$")
ERASERS = frozenset({Role.KENDRA_INCHARGE, Role.SHO})
"""Who may erase a complainant's identity (intake's rule; the page offers the form to them alone)."""
# What the page says after a step (?done=step): the label's key. A move is routing's, and the
# register shows it a moment later, so the page says so.
DONE = {
    **dict.fromkeys((*CASE_STEPS, "note", "accept", "reject", "complete"), "step_recorded"),
    "erase": "done_erase",
    "attach": "done_attach",
    "acknowledged": "acknowledged",
    "reassign": "done_reassign",
    "transfer": "done_transfer",
}
WORKED = frozenset({"registered", "in_progress", "awaiting_complainant"})
"""A case still being worked: the statuses in which it may be moved, withdrawn or marked a duplicate."""
FINISHED = frozenset({"closed", "withdrawn", "duplicate"})
REFERRAL_ANSWERS = {"accept": ("issued",), "reject": ("issued",), "complete": ("issued", "accepted")}
"""Each answer an agency gives a referral, and the referral's states it may be given in."""
REFERRAL_ID = re.compile(r"^[0-9a-f]{1,64}$")
CASE_NUMBER = re.compile(r"^[A-Z0-9-]{1,40}$")
NO_SUCH_CASE_NUMBER = PageRefused(
    422,
    "No case with that number in your jurisdiction: give the original case's number (e.g. SJP-2026-000012).",
    "आपके क्षेत्राधिकार में इस संख्या का कोई मामला नहीं: मूल मामले की संख्या दें (जैसे SJP-2026-000012)।",
)
LADDER_OFFICE = {
    Role.KENDRA_INCHARGE: "kendra",
    Role.SHO: "thana",
    Role.CO: "circle",
    Role.ADDL_SP: "district",
    Role.SP: "district",
}


def awaiting_acknowledgement(
    principal: Principal, case: dict[str, Any], clocks: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The escalations of the case's current round to the caller's level and office, not yet taken up."""
    where = LADDER_OFFICE.get(principal.role)
    if where is None or not clocks or not clocks.get("escalations"):
        return []
    # An in-charge answers for the Kendra of her thana: the case's own Kendra when she sits at its thana.
    office = case["kendra"] if where == "kendra" and principal.thana == case["thana"] else None
    office = office or getattr(principal, where, None)
    current = max(e["round"] for e in clocks["escalations"])
    return [
        e
        for e in clocks["escalations"]
        if e["round"] == current
        and e["role"]["code"] == principal.role.value
        and e["office_code"] == office
        and not e["acknowledged_at"]
    ]


async def move_choices(
    api: ServiceAPI, case: dict[str, Any], routing: dict[str, Any] | None
) -> dict[str, list[dict[str, Any]]]:
    """Where a supervisor may move a case: another officer on duty at its Kendra (routing's roster,
    as routing itself sees the case), or another thana of its district."""
    now = (routing or {}).get("now") or {}
    kendra, holder = now.get("kendra") or case["kendra"], now.get("officer") or case["assigned_officer"]
    roster = await api.get("/api/routing/roster", kendra=kendra) if kendra else []
    places = await api.get("/api/intake/places", district=case["district"])
    return {
        "officers": [o for o in roster if o["status"]["code"] == "on_duty" and o["service_number"] != holder],
        "thanas": sorted(
            (p for p in places["places"] if p["kind"] == "thana" and p["code"] != case["thana"]),
            key=lambda p: str(p["name_en"]),
        ),
    }


async def register_form(
    request: Request, principal: Principal, api: ServiceAPI, status: int = 200, **extra: Any
) -> HTMLResponse:
    """The registration form, empty or again with what was typed and the refusal."""
    choices = await api.get("/api/intake/choices")
    places = await api.get("/api/intake/places", district=principal.district)
    thanas = sorted(
        (
            p
            for p in places["places"]
            if p["kind"] == "thana" and principal.covers(p["district"], p["circle"], p["code"])
        ),
        key=lambda p: p["name_en"],
    )
    # keys: localities are offered by code (the district's list); her own words go sealed.
    localities = sorted((p for p in places["places"] if p["kind"] == "locality"), key=lambda p: p["name_en"])
    return render(
        request, "register.html", principal, status,
        choices=choices, thanas=thanas, localities=localities, key=uuid.uuid4().hex,
        form=extra.pop("form", {}), **extra,
    )  # fmt: skip


EARLIEST_AS_OF = 2020
"""No case of the platform is older than this year: an earlier one is a slip of the keyboard."""
NOT_YET_REGISTERED = PageRefused(
    404, "The case was not yet registered at that moment.", "उस समय तक यह मामला दर्ज नहीं हुआ था।"
)


def as_of_moment(value: str | None) -> tuple[datetime, str]:
    """The moment a ``datetime-local`` field gives (India time, to the minute), or now; and the value to
    show in the field again."""
    if not value:
        at = datetime.now(UTC)
        return at, at.astimezone(IST).strftime("%Y-%m-%dT%H:%M")
    try:
        at = datetime.fromisoformat(value)
        at = at.replace(tzinfo=IST) if at.tzinfo is None else at
        shown = at.astimezone(IST)
    except (ValueError, OverflowError):  # not a moment, or one no calendar of ours can hold
        shown = None
    if shown is None or not EARLIEST_AS_OF <= shown.year <= datetime.now(UTC).year:
        raise PageRefused(
            422,
            f"Give a date and time from {EARLIEST_AS_OF} to now, as the form offers them "
            "(e.g. 2026-01-10T15:30).",
            f"{EARLIEST_AS_OF} से अब तक का दिनांक और समय फ़ॉर्म के अनुसार दें (जैसे 2026-01-10T15:30)।",
        )
    return at, shown.strftime("%Y-%m-%dT%H:%M")


async def case_page(
    request: Request,
    principal: Principal,
    api: ServiceAPI,
    case_id: str,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    """The case's page, with what the caller may do on it; ``extra`` carries a refusal or a shown identity."""
    case = await api.get(f"/api/intake/cases/{case_id}")
    timeline = await api.get(f"/api/intake/cases/{case_id}/timeline")
    clocks = await optional(api, f"/api/escalation/cases/{case_id}")
    routing = await optional(api, f"/api/routing/cases/{case_id}")
    choices = await api.get("/api/intake/choices")
    files = await optional(api, f"/api/intake/cases/{case_id}/attachments")
    places = (
        await optional(api, "/api/intake/places", district=case["district"]) if case["district"] else None
    )
    named = {(p["kind"], p["code"]): p for p in (places or {}).get("places", [])}
    may_move = principal.role in SUPERVISOR_ROLES and case["status"] in WORKED
    answerable = any(
        r["status"] in REFERRAL_ANSWERS["complete"] for r in (routing or {}).get("referrals", [])
    )
    done = request.query_params.get("done")
    return render(
        request, "case.html", principal, status,
        case=case, timeline=timeline["entries"], clocks=clocks, routing=routing, choices=choices,
        attachments=(files or {}).get("attachments", []),
        thana_place=named.get(("thana", case["thana"])), kendra_place=named.get(("kendra", case["kendra"])),
        may_act=principal.role in KENDRA_ROLES, may_read_identity=principal.may_read_identity,
        may_note=case["status"] not in FINISHED and not case["identity_erased"],
        may_erase=principal.role in ERASERS and not case["identity_erased"],
        moves=await move_choices(api, case, routing) if may_move else None,
        reasons=await api.get("/api/routing/reasons") if may_move or answerable else None,
        referral_answers=REFERRAL_ANSWERS,
        to_acknowledge=awaiting_acknowledgement(principal, case, clocks),
        registered=request.query_params.get("registered") == "1",
        done=DONE.get(done or ""), key=uuid.uuid4().hex,
        form=extra.pop("form", {}), opened=extra.pop("opened", None), **extra,
    )  # fmt: skip


async def answered(
    request: Request,
    principal: Principal,
    api: ServiceAPI,
    case_id: str,
    step: str,
    response: httpx.Response,
    form: dict[str, str],
) -> Response:
    """Back to the case page: saying the step is done, or with the service's refusal in both
    languages and what was typed still in the form that was sent."""
    if response.status_code < 400:
        return RedirectResponse(f"/cases/{case_id}?done={step}", status_code=303)
    refused = ServiceAPI.refusal(response)
    return await case_page(
        request, principal, api, case_id, refused.status, error=refused, form=form, opened=step
    )


async def posted(request: Request) -> tuple[dict[str, str], str]:
    """The form as typed (empty fields left out), without its token, and its idempotency key."""
    form = {k: str(v) for k, v in (await request.form()).items() if str(v) != ""}
    form.pop(CSRF_FIELD, None)  # checked at the door; not part of the command
    return form, form.pop("key", None) or uuid.uuid4().hex


def unconfirmed(step: str, form: dict[str, str]) -> PageRefused | None:
    """The refusal for a step that cannot be undone and was sent without its box ticked."""
    if step in CONFIRMATIONS and form.get("confirm") != "yes":
        return CONFIRMATIONS[step]
    return None


def mount_cases(app: FastAPI) -> None:
    """Registration and the case pages."""
    router = APIRouter(include_in_schema=False)
    _registration_routes(router)
    _case_page_routes(router)
    _as_of_route(router)
    _earlier_cases_routes(router)
    _note_and_move_routes(router)
    _file_routes(router)
    _erasure_routes(router)
    _referral_routes(router)
    # Last: its path takes any step name, so the routes above must be matched first.
    _step_routes(router)
    app.include_router(router)


def _registration_routes(router: APIRouter) -> None:
    """The Kendra officer registers a complaint."""

    @router.get("/kendra/register")
    async def register_page(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, KENDRA_ROLES)
        return await register_form(request, principal, api)

    @router.post("/kendra/register")
    async def register(request: Request, principal: User, api: Api) -> Response:
        allow(principal, KENDRA_ROLES)
        form = {k: str(v) for k, v in (await request.form()).items()}
        body: dict[str, Any] = {
            "channel": form.get("channel", ""),
            "category": form.get("category", ""),
            "description": form.get("statement", ""),
            "district": principal.district or "",
            "thana": form.get("thana") or None,
            "pincode": form.get("pincode") or None,
            "locality_code": form.get("locality_code") or None,
            "minor": "minor" in form,
            "danger_now": "danger_now" in form,
            "consent_to_share": "consent" in form,
            "consent_to_messages": "consent_messages" in form,
            "language": form.get("language", "hi"),
            "identity": {k: form.get(k) or None for k in ("name", "phone", "address", "locality")},
        }
        response = await api.call(
            "POST",
            "/api/intake/cases",
            json=body,
            headers={"Idempotency-Key": form.get("key", "")},
        )
        if response.status_code != 201:
            try:
                ServiceAPI._body(response)
            except PageRefused as refused:
                return await register_form(request, principal, api, 422, error=refused, form=form)
        case_id = response.json()["case_id"]
        # A complaint for a place outside her jurisdiction goes to that thana's Kendra (a zero FIR):
        # its case page is theirs, its receipt stays hers.
        seen = await api.call("GET", f"/api/intake/cases/{case_id}")
        if seen.status_code == 200:
            return RedirectResponse(f"/cases/{case_id}?registered=1", status_code=303)
        return RedirectResponse(f"/cases/{case_id}/receipt?registered=1", status_code=303)


def _as_of_route(router: APIRouter) -> None:
    """The case as it stood at a moment in the past."""

    @router.get("/cases/{case_id}/as-of")
    async def case_as_of(request: Request, case_id: str, principal: User, api: Api) -> HTMLResponse:
        """The case as it stood at a moment the officer picks (India time): folded from its events."""
        allow(principal, CASE_READERS)
        case = await api.get(f"/api/intake/cases/{check_case_id(case_id)}")
        at, picked = as_of_moment(request.query_params.get("at"))
        then: dict[str, Any] | None = None
        error: PageRefused | None = None
        try:
            then = await api.get(f"/api/intake/cases/{case_id}/as-of", at=at.isoformat())
        except PageRefused as refused:
            if refused.status not in (404, 422):
                raise
            # The case is there now (read above): not found then means not yet registered.
            error = NOT_YET_REGISTERED if refused.status == 404 else refused
        return render(request, "case_as_of.html", principal, case=case, then=then, picked=picked, error=error)


def _earlier_cases_routes(router: APIRouter) -> None:
    """A complainant's earlier cases by her phone: the number is posted, never in the address (an
    address lands in access logs and the browser's history), and the page does not show it again."""

    @router.get("/kendra/earlier-cases")
    async def earlier_cases_page(request: Request, principal: User, case: str | None = None) -> HTMLResponse:
        allow(principal, CASE_READERS)
        from_case = check_case_id(case) if case else None
        return render(request, "earlier_cases.html", principal, found=None, from_case=from_case)

    @router.post("/kendra/earlier-cases")
    async def earlier_cases(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, CASE_READERS)
        form = await request.form()
        from_case = str(form.get("from_case") or "") or None
        from_case = check_case_id(from_case) if from_case else None
        response = await api.call(
            "POST", "/api/intake/cases/by-phone", json={"phone": str(form.get("phone") or "")}
        )
        if response.status_code != 200:
            refused = ServiceAPI.refusal(response)
            return render(
                request, "earlier_cases.html", principal, refused.status,
                found=None, from_case=from_case, error=refused,
            )  # fmt: skip
        return render(request, "earlier_cases.html", principal, found=response.json(), from_case=from_case)


def _case_page_routes(router: APIRouter) -> None:
    """One case: its receipt, its page, its complainant's identity and a supervisor's taking it up."""

    @router.get("/cases/{case_id}/receipt")
    async def receipt(
        request: Request, case_id: str, principal: User, api: Api, paper: str = "a5"
    ) -> HTMLResponse:
        """The complainant's receipt, for print on an A5 sheet or an 80 mm thermal roll, in both
        languages whatever the page's; for the officer who registered it even when it went elsewhere."""
        allow(principal, CASE_READERS)
        kept = await api.get(f"/api/intake/cases/{check_case_id(case_id)}/receipt")
        places = await api.get("/api/intake/places", district=kept["district"])
        named = {p["code"]: p for p in places["places"]}
        policy = await api.get("/api/escalation/policy")
        limit = next(
            (c["limits"].get(kept["priority"]) for c in policy["clocks"] if c["code"] == "first_contact"),
            None,
        )
        first_contact = {
            "label": next((c for c in policy["clocks"] if c["code"] == "first_contact"), None),
            "limit": limit,
            "due": limit_due(kept["registered_at"], limit) if limit else None,
        }
        opens = await api.call("GET", f"/api/intake/cases/{case_id}")
        return render(
            request, "receipt.html", principal,
            receipt=kept, named=named, first_contact=first_contact, paper="80mm" if paper == "80mm" else "a5",
            registered=request.query_params.get("registered") == "1", may_open=opens.status_code == 200,
            th=translator("hi"), en=translator("en"),
        )  # fmt: skip

    @router.get("/cases/{case_id}")
    async def case_view(request: Request, case_id: str, principal: User, api: Api) -> HTMLResponse:
        allow(principal, CASE_READERS)
        return await case_page(request, principal, api, check_case_id(case_id))

    @router.post("/cases/{case_id}/identity")
    async def identity(request: Request, case_id: str, principal: User, api: Api) -> HTMLResponse:
        allow(principal, CASE_READERS)
        form = await request.form()
        shown = await api.get(
            f"/api/intake/cases/{check_case_id(case_id)}/identity", purpose=str(form.get("purpose", ""))
        )
        return await case_page(request, principal, api, case_id, identity=shown)

    @router.post("/cases/{case_id}/acknowledge")
    async def acknowledge(request: Request, case_id: str, principal: User, api: Api) -> Response:
        """A supervisor takes up the case escalated to her level, and may direct the officer in a note."""
        allow(principal, SUPERVISOR_ROLES)
        check_case_id(case_id)
        form = {k: str(v) for k, v in (await request.form()).items()}
        key = form.get("key") or uuid.uuid4().hex
        try:
            ServiceAPI._body(
                await api.call(
                    "POST", f"/api/escalation/cases/{case_id}/acknowledge", headers={"Idempotency-Key": key}
                )
            )
            if note := form.get("note", "").strip():
                ServiceAPI._body(
                    await api.call(
                        "POST",
                        f"/api/intake/cases/{case_id}/notes",
                        json={"text": note},
                        headers={"Idempotency-Key": f"{key}:note"},
                    )
                )
        except PageRefused as refused:
            if refused.status == 404:
                raise
            return await case_page(request, principal, api, case_id, error=refused)
        return RedirectResponse(f"/cases/{case_id}?done=acknowledged", status_code=303)


def _note_and_move_routes(router: APIRouter) -> None:
    """Notes on the case, and a supervisor's moves: to another officer or another thana."""

    @router.post("/cases/{case_id}/note")
    async def note(request: Request, case_id: str, principal: User, api: Api) -> Response:
        """A note on the case from anyone who may read it: the officer's own, or a supervisor's direction."""
        allow(principal, CASE_READERS)
        form, key = await posted(request)
        response = await api.call(
            "POST",
            f"/api/intake/cases/{check_case_id(case_id)}/notes",
            json={"text": form.get("text", "")},
            headers={"Idempotency-Key": key},
        )
        return await answered(request, principal, api, case_id, "note", response, form)

    @router.post("/cases/{case_id}/reassign")
    async def reassign(request: Request, case_id: str, principal: User, api: Api) -> Response:
        """A supervisor gives the case to another officer of its Kendra (or to whoever the rules pick)."""
        allow(principal, SUPERVISOR_ROLES)
        form, key = await posted(request)
        response = await api.call(
            "POST",
            f"/api/routing/cases/{check_case_id(case_id)}/reassign",
            json={"officer": form.get("officer"), "reason": form.get("reason", "")},
            headers={"Idempotency-Key": key},
        )
        return await answered(request, principal, api, case_id, "reassign", response, form)

    @router.post("/cases/{case_id}/transfer")
    async def transfer(request: Request, case_id: str, principal: User, api: Api) -> Response:
        """A supervisor sends the case to another thana's Kendra (it was not theirs to work)."""
        allow(principal, SUPERVISOR_ROLES)
        form, key = await posted(request)
        if refused := unconfirmed("transfer", form):
            return await case_page(
                request,
                principal,
                api,
                check_case_id(case_id),
                422,
                error=refused,
                form=form,
                opened="transfer",
            )
        response = await api.call(
            "POST",
            f"/api/routing/cases/{check_case_id(case_id)}/transfer",
            json={"thana": form.get("thana", ""), "reason": form.get("reason", "")},
            headers={"Idempotency-Key": key},
        )
        return await answered(request, principal, api, case_id, "transfer", response, form)


def _file_routes(router: APIRouter) -> None:
    """The case's files: attached by the Kendra, opened with a purpose."""

    @router.post("/cases/{case_id}/attachments")
    async def attach(request: Request, case_id: str, principal: User, api: Api) -> Response:
        """A file for the case (an FIR copy, a medical report, a photo), sent on to intake to be sealed."""
        allow(principal, KENDRA_ROLES)
        check_case_id(case_id)
        form = await request.form()
        sent, kind = form.get("file"), str(form.get("kind") or "")
        typed = {"kind": kind}
        if sent is None or isinstance(sent, str) or not sent.filename:
            return await case_page(
                request, principal, api, case_id, 422, error=NO_FILE, form=typed, opened="attach"
            )
        response = await api.call(
            "POST",
            f"/api/intake/cases/{case_id}/attachments",
            data={"kind": kind},
            files={
                "file": (sent.filename, await sent.read(), sent.content_type or "application/octet-stream")
            },
            headers={"Idempotency-Key": str(form.get("key") or uuid.uuid4().hex)},
        )
        return await answered(request, principal, api, case_id, "attach", response, typed)

    @router.post("/cases/{case_id}/attachments/{attachment_id}")
    async def open_file(
        request: Request, case_id: str, attachment_id: str, principal: User, api: Api
    ) -> Response:
        """A case's file, opened with a purpose: intake records the reading before it hands the file over."""
        allow(principal, IDENTITY_READERS)
        check_case_id(case_id)
        if not ATTACHMENT_ID.match(attachment_id):
            raise PageRefused(404, "No such file.", "ऐसी कोई फ़ाइल नहीं।")
        purpose = str((await request.form()).get("purpose") or "")
        response = await api.call(
            "GET", f"/api/intake/cases/{case_id}/attachments/{attachment_id}", params={"purpose": purpose}
        )
        if response.status_code >= 400:
            refused = ServiceAPI.refusal(response)
            return await case_page(request, principal, api, case_id, refused.status, error=refused)
        return Response(
            response.content,
            media_type=response.headers.get("content-type"),
            headers={
                "Cache-Control": "no-store",
                "Content-Disposition": response.headers.get("content-disposition", "attachment"),
                "X-Content-Type-Options": "nosniff",
            },
        )


def _erasure_routes(router: APIRouter) -> None:
    """The complainant's identity erased."""

    @router.post("/cases/{case_id}/erase")
    async def erase(request: Request, case_id: str, principal: User, api: Api) -> Response:
        """The complainant's identity erased (crypto-shredding) on a legal basis, by the in-charge or SHO."""
        allow(principal, ERASERS)
        check_case_id(case_id)
        form, key = await posted(request)
        if refused := unconfirmed("erase", form):
            return await case_page(
                request, principal, api, case_id, 422, error=refused, form=form, opened="erase"
            )
        response = await api.call(
            "POST",
            f"/api/intake/cases/{case_id}/erase-identity",
            json={"legal_basis": form.get("legal_basis", "")},
            headers={"Idempotency-Key": key},
        )
        return await answered(request, principal, api, case_id, "erase", response, form)


def _referral_routes(router: APIRouter) -> None:
    """The agencies' answers to referrals."""

    @router.post("/cases/{case_id}/referrals/{referral_id}/{answer}")
    async def answer_referral(
        request: Request, case_id: str, referral_id: str, answer: str, principal: User, api: Api
    ) -> Response:
        """The agency's word on a referral, recorded by whoever took it (often by phone)."""
        allow(principal, CASE_READERS)
        check_case_id(case_id)
        if answer not in REFERRAL_ANSWERS or not REFERRAL_ID.match(referral_id):
            raise PageRefused(404, "No such step.", "ऐसा कोई चरण नहीं।")
        form, key = await posted(request)
        form["referral_id"] = referral_id  # which referral's form to fill again if refused
        if refused := unconfirmed(answer, form):
            return await case_page(
                request, principal, api, case_id, 422, error=refused, form=form, opened=answer
            )
        response = await api.call(
            "POST",
            f"/api/routing/cases/{case_id}/referrals/{referral_id}/{answer}",
            json={"reason": form["reason"]} if answer == "reject" and "reason" in form else None,
            headers={"Idempotency-Key": key},
        )
        return await answered(request, principal, api, case_id, answer, response, form)


def _step_routes(router: APIRouter) -> None:
    """The Kendra's own steps on the case."""

    @router.post("/cases/{case_id}/{step}")
    async def record(request: Request, case_id: str, step: str, principal: User, api: Api) -> Response:
        """A step of the Kendra's own work on the case, given to intake."""
        allow(principal, KENDRA_ROLES)
        if step not in CASE_STEPS:
            raise PageRefused(404, "No such step.", "ऐसा कोई चरण नहीं।")
        check_case_id(case_id)
        form, key = await posted(request)
        if refused := unconfirmed(step, form):
            return await case_page(
                request, principal, api, case_id, 422, error=refused, form=form, opened=step
            )
        body: dict[str, Any] = {k: v for k, v in form.items() if k != "confirm"}
        if "feedback_rating" in body:
            body["feedback_rating"] = int(body["feedback_rating"]) if body["feedback_rating"].isdigit() else 0
        if step == "duplicate":
            # The officer knows the original by its number; intake wants its id (found in her reach only).
            number = body.pop("duplicate_number", "").strip().upper()
            found = (
                await api.call("GET", f"/api/intake/cases/by-number/{number}")
                if CASE_NUMBER.match(number)
                else None
            )
            if found is None or found.status_code != 200:
                return await case_page(
                    request, principal, api, case_id, 422, error=NO_SUCH_CASE_NUMBER, form=form, opened=step
                )
            body["duplicate_of"] = found.json()["case_id"]
        response = await api.call(
            "POST",
            f"/api/intake/cases/{case_id}/{CASE_STEPS[step]}",
            json=body,
            headers={"Idempotency-Key": key},
        )
        return await answered(request, principal, api, case_id, step, response, form)
