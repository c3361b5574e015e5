"""The Kendra officer's case work: registering a complaint, a case's page, its steps and its
identity (each viewing recorded by intake)."""

from __future__ import annotations

import uuid
from typing import Any

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
from shakti.web.times import limit_due
from shared.auth import Principal, Role
from shared.http_guard import CSRF_FIELD

CASE_STEPS = {
    "first-contact": "first-contact",
    "action": "actions",
    "referral": "referrals",
    "resolve": "resolve",
    "close": "close",
    "reopen": "reopen",
}
# Steps that end the case's work (its clocks stop, nobody is reminded): the form asks to confirm.
CONFIRMED = frozenset({"close"})
NOT_CONFIRMED = PageRefused(
    422,
    "Tick the box to confirm: closing stops every deadline of the case.",
    "पुष्टि के लिए बॉक्स चुनें: मामला बंद करने से उसकी सभी समय-सीमाएँ रुक जाती हैं।",
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


def mount_cases(app: FastAPI) -> None:
    """Registration and the case pages."""
    router = APIRouter(include_in_schema=False)

    # ---- Kendra officer ------------------------------------------------------------------------

    async def register_form(
        request: Request, principal: Principal, api: ServiceAPI, status: int = 200, **extra: Any
    ) -> HTMLResponse:
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
        localities = sorted(
            (p for p in places["places"] if p["kind"] == "locality"), key=lambda p: p["name_en"]
        )
        return render(
            request, "register.html", principal, status,
            choices=choices, thanas=thanas, localities=localities, key=uuid.uuid4().hex,
            form=extra.pop("form", {}), **extra,
        )  # fmt: skip

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

    # ---- one case --------------------------------------------------------------------------------

    async def case_page(
        request: Request, principal: Principal, api: ServiceAPI, case_id: str, **extra: Any
    ) -> HTMLResponse:
        case = await api.get(f"/api/intake/cases/{case_id}")
        timeline = await api.get(f"/api/intake/cases/{case_id}/timeline")
        clocks = await optional(api, f"/api/escalation/cases/{case_id}")
        routing = await optional(api, f"/api/routing/cases/{case_id}")
        choices = await api.get("/api/intake/choices")
        return render(
            request, "case.html", principal,
            case=case, timeline=timeline["entries"], clocks=clocks, routing=routing, choices=choices,
            may_act=principal.role in KENDRA_ROLES, may_read_identity=principal.may_read_identity,
            to_acknowledge=awaiting_acknowledgement(principal, case, clocks),
            registered=request.query_params.get("registered") == "1",
            done=request.query_params.get("done"), key=uuid.uuid4().hex, **extra,
        )  # fmt: skip

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

    @router.post("/cases/{case_id}/{step}")
    async def record(request: Request, case_id: str, step: str, principal: User, api: Api) -> Response:
        allow(principal, KENDRA_ROLES)
        if step not in CASE_STEPS:
            raise PageRefused(404, "No such step.", "ऐसा कोई चरण नहीं।")
        form = {k: str(v) for k, v in (await request.form()).items() if str(v) != ""}
        form.pop(CSRF_FIELD, None)  # checked at the door; not part of the command
        key = form.pop("key", None) or uuid.uuid4().hex
        if step in CONFIRMED and form.pop("confirm", None) != "yes":
            return await case_page(request, principal, api, case_id, error=NOT_CONFIRMED)
        body: dict[str, Any] = dict(form)
        if "feedback_rating" in body:
            body["feedback_rating"] = int(body["feedback_rating"]) if body["feedback_rating"].isdigit() else 0
        response = await api.call(
            "POST",
            f"/api/intake/cases/{check_case_id(case_id)}/{CASE_STEPS[step]}",
            json=body,
            headers={"Idempotency-Key": key},
        )
        if response.status_code >= 400:
            try:
                ServiceAPI._body(response)
            except PageRefused as refused:
                return await case_page(request, principal, api, case_id, error=refused)
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    app.include_router(router)
