"""The pages: sign-in, the Kendra officer's screens, the supervisors' dashboards, the state cell's
figures. Pages get their data from the services' HTTP APIs with the signed-in user's own token, so
every page sees exactly what its user may see, whether the services run in this process or not."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from shakti.config import PlatformSettings
from shakti.signin import check_credentials, issue, sign_out
from shakti.users import UserStore
from shakti.web import charts
from shakti.web.i18n import LANG_COOKIE, LANGUAGES, ROLE_LABELS, language, translator
from shared.auth import COOKIE, TOKEN_MAX_AGE, Principal, Role, SessionRefused, Sessions
from shared.contracts.vocabulary import (
    AGENCY_LABELS,
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    LADDER_LABELS,
    PRIORITY_LABELS,
    label,
)
from shared.http_guard import CSRF_FIELD, form_token, presession_cookie

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    CATEGORY_LABELS=CATEGORY_LABELS,
    CHANNEL_LABELS=CHANNEL_LABELS,
    PRIORITY_LABELS=PRIORITY_LABELS,
    AGENCY_LABELS=AGENCY_LABELS,
    LADDER_LABELS=LADDER_LABELS,
    ROLE_LABELS=ROLE_LABELS,
    label=label,
    charts=charts,
    breach_items=charts.breach_items,
    compliance_items=charts.compliance_items,
    state_items=charts.state_items,
    category_items=charts.category_items,
)

SUPERVISOR_ROLES = frozenset({Role.SHO, Role.CO, Role.ADDL_SP, Role.SP, Role.KENDRA_INCHARGE})
KENDRA_ROLES = frozenset({Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO})


class SignInNeeded(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class PageRefused(Exception):
    """A page the user's role may not open, or a service answer the page cannot show."""

    def __init__(self, status: int, en: str, hi: str) -> None:
        self.status = status
        self.en = en
        self.hi = hi


def _safe_next(path: str | None) -> str:
    # Only paths on this site: never an absolute or scheme-relative URL (open redirect).
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path


async def page_user(request: Request) -> Principal:
    """The signed-in user, resolved as every API route resolves its caller (``shared.auth.Sessions``):
    a session that has ended, or a user disabled or changed since, goes back to sign in."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInNeeded(request.url.path)
    sessions: Sessions = request.app.state.sessions
    try:
        return await sessions.principal(token)
    except SessionRefused:
        raise SignInNeeded(request.url.path) from None


User = Annotated[Principal, Depends(page_user)]


async def service_api(request: Request) -> AsyncIterator[ServiceAPI]:
    """The services' API for this request: in this process, or at ``SHAKTI_API_URL`` when scaled out."""
    settings: PlatformSettings = request.app.state.settings
    token = request.cookies.get(COOKIE, "")
    if settings.api_url:
        async with httpx.AsyncClient(base_url=settings.api_url, timeout=10.0) as client:
            yield ServiceAPI(client, token)
    else:
        transport = httpx.ASGITransport(app=request.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=10.0) as client:
            yield ServiceAPI(client, token)


Api = Annotated["ServiceAPI", Depends(service_api)]


def allow(principal: Principal, roles: frozenset[Role]) -> None:
    if principal.role not in roles:
        raise PageRefused(403, "Your role may not open this page.", "आपकी भूमिका यह पृष्ठ नहीं खोल सकती।")


class ServiceAPI:
    """The services' HTTP API, called with the signed-in user's token."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        try:
            return await self.client.request(
                method, path, headers={**self.headers, **(headers or {})}, **kwargs
            )
        except httpx.HTTPError:
            raise PageRefused(
                503, "The service is not available now; try again shortly.", "सेवा अभी उपलब्ध नहीं।"
            ) from None

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.call("GET", path, params={k: v for k, v in params.items() if v is not None})
        return self._body(response)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._body(await self.call("POST", path, json=body))

    @staticmethod
    def _body(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            detail: Any = {}
            try:
                detail = response.json().get("detail", {})
            except ValueError:
                detail = {}
            if isinstance(detail, dict) and "en" in detail:
                problems = detail.get("fields") or []
                en = detail["en"] + "".join(f" {p.get('field')}: {p.get('en')}" for p in problems)
                raise PageRefused(response.status_code, en, str(detail.get("hi", detail["en"])))
            raise PageRefused(
                response.status_code if response.status_code < 500 else 503,
                "The service could not answer.",
                "सेवा उत्तर नहीं दे सकी।",
            )
        return response.json() if response.content else None


def render(
    request: Request, template: str, principal: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    lang = language(request)
    settings: PlatformSettings = request.app.state.settings
    token, fresh = form_token(request.cookies, secure=settings.secure_cookies)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": translator(lang),
            "user": principal,
            "demo": settings.demo,
            "path": request.url.path,
            "csrf_token": token,
            **context,
        },
        status_code=status,
    )
    if fresh is not None:
        # No session yet (the sign-in page): the forms' token comes from this cookie instead.
        set_cookie(response, settings, presession_cookie(settings.secure_cookies), fresh)
    return response


def set_cookie(
    response: Response, settings: PlatformSettings, name: str, value: str, max_age: int | None = None
) -> None:
    """Every cookie of the web front: out of reach of scripts, not sent with other sites' requests
    (Strict: the web front is only ever entered at its own pages), and HTTPS-only when served so."""
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", secure=settings.secure_cookies
    )


def home_for(principal: Principal) -> str:
    match principal.role:
        case Role.KENDRA_OFFICER:
            return "/kendra/queue"
        case Role.STATE_CELL:
            return "/state"
        case Role.OPERATOR:
            return "/operations"
        case _:
            return "/dashboard"


def mount_web(app: FastAPI, settings: PlatformSettings) -> None:
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    users: UserStore = app.state.users

    @app.exception_handler(SignInNeeded)
    async def to_signin(_: Request, needed: SignInNeeded) -> Response:
        return RedirectResponse(f"/signin?next={quote(needed.next_path)}", status_code=303)

    @app.exception_handler(PageRefused)
    async def refused(request: Request, error: PageRefused) -> Response:
        principal: Principal | None
        try:
            principal = await page_user(request)
        except SignInNeeded:
            principal = None
        return render(request, "error.html", principal, error.status, error=error)

    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def home(request: Request) -> Response:
        try:
            principal = await page_user(request)
        except SignInNeeded:
            return RedirectResponse("/signin", status_code=303)
        return RedirectResponse(home_for(principal), status_code=303)

    @router.get("/signin")
    async def signin_page(request: Request, next: str = "/") -> HTMLResponse:
        return render(request, "signin.html", None, next=_safe_next(next))

    @router.post("/signin")
    async def signin(
        request: Request,
        username: Annotated[str, Form(max_length=64)] = "",
        password: Annotated[str, Form(max_length=256)] = "",
        next: Annotated[str, Form(max_length=500)] = "/",
    ) -> Response:
        try:
            account = await check_credentials(request, users, username, password)
        except HTTPException as refused:
            detail: dict[str, str] = refused.detail  # type: ignore[assignment]
            error = PageRefused(refused.status_code, detail["en"], detail["hi"])
            return render(
                request, "signin.html", None, refused.status_code, error=error, next=_safe_next(next)
            )
        principal = account.principal()
        target = _safe_next(next)
        response = RedirectResponse(home_for(principal) if target == "/" else target, status_code=303)
        set_cookie(response, settings, COOKIE, issue(request, account), max_age=TOKEN_MAX_AGE)
        # The session cookie now keys the forms' tokens; a later sign-in gets a fresh pre-session.
        response.delete_cookie(
            presession_cookie(settings.secure_cookies),
            secure=settings.secure_cookies,
            httponly=True,
            samesite="strict",
        )
        return response

    @router.post("/signout")
    async def signout(request: Request) -> Response:
        """Signing out ends every session of the user, not only this browser's cookie."""
        with contextlib.suppress(SignInNeeded):  # no session left to end
            await sign_out(users, await page_user(request))
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, secure=settings.secure_cookies, httponly=True, samesite="strict")
        return response

    @router.get("/lang/{lang}")
    async def switch_language(lang: str, next: str = "/") -> Response:
        response = RedirectResponse(_safe_next(next), status_code=303)
        if lang in LANGUAGES:
            set_cookie(response, settings, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
        return response

    app.include_router(router)
    mount_pages(app)


def mount_pages(app: FastAPI) -> None:
    """The screens of each role; every figure and case comes from the services' own API."""
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
        return RedirectResponse(f"/cases/{response.json()['case_id']}?registered=1", status_code=303)

    @router.get("/kendra/queue")
    async def queue(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, KENDRA_ROLES)
        register = await api.get("/api/intake/cases", size=200)
        active = [c for c in register["cases"] if c["status"] in ACTIVE_STATUSES]
        mine = [
            c for c in active if c["assigned_officer"] and c["assigned_officer"] == principal.service_number
        ]
        others = [c for c in active if c not in mine]
        return render(request, "queue.html", principal, mine=mine, others=others, total=register["total"])

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
            registered=request.query_params.get("registered") == "1", **extra,
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

    @router.post("/cases/{case_id}/{step}")
    async def record(request: Request, case_id: str, step: str, principal: User, api: Api) -> Response:
        allow(principal, KENDRA_ROLES)
        if step not in CASE_STEPS:
            raise PageRefused(404, "No such step.", "ऐसा कोई चरण नहीं।")
        form = {k: str(v) for k, v in (await request.form()).items() if str(v) != ""}
        form.pop(CSRF_FIELD, None)  # checked at the door; not part of the command
        key = form.pop("key", None) or uuid.uuid4().hex
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

    # ---- supervisors ------------------------------------------------------------------------------

    @router.get("/dashboard")
    async def dashboard(
        request: Request, principal: User, api: Api, circle: str | None = None, thana: str | None = None
    ) -> HTMLResponse:
        allow(principal, SUPERVISOR_ROLES)
        compliance = await optional(api, "/api/training/compliance")
        tree = compliance or {}
        focus = find_place(tree, thana or circle) if (thana or circle) else tree
        if (thana or circle) and focus is None:
            raise PageRefused(404, "No such place in your jurisdiction.", "आपके क्षेत्र में ऐसा स्थान नहीं।")
        thanas_in_focus = {p["code"] for p in places_under(focus or {}, "thana")}
        register = await api.get("/api/intake/cases", size=200, thana=thana)
        cases = [c for c in register["cases"] if not circle or c["circle"] == circle]
        rates = await optional(api, "/api/escalation/breach-rates", by="thana") or {"rates": []}
        by_thana: dict[str, list[int]] = {}
        for rate in rates["rates"]:
            if thanas_in_focus and rate["place"] not in thanas_in_focus:
                continue
            decided, breached = by_thana.setdefault(rate["place"], [0, 0])
            by_thana[rate["place"]] = [decided + rate["decided"], breached + rate["breached"]]
        workloads = await optional(api, "/api/routing/workloads") or []
        per_kendra: dict[str, list[int]] = {}
        for officer in workloads:
            if thanas_in_focus and officer["kendra"].removeprefix("MSK-") not in thanas_in_focus:
                continue
            staff, open_cases = per_kendra.setdefault(officer["kendra"], [0, 0])
            per_kendra[officer["kendra"]] = [staff + 1, open_cases + officer["open_cases"]]
        escalated = await optional(api, "/api/escalation/escalated-to-me") or {"cases": []}
        near = await optional(api, "/api/escalation/close-to-breach", within_hours=24) or {"clocks": []}
        return render(
            request, "dashboard.html", principal,
            focus=focus, circle=circle, thana=thana, cases=cases, total=register["total"],
            per_day=cases_per_day(cases), breaches=sorted(by_thana.items()),
            workloads=sorted(per_kendra.items()),
            escalated=escalated["cases"], near=near["clocks"], children=(focus or {}).get("children", []),
        )  # fmt: skip

    # ---- state cell -------------------------------------------------------------------------------

    @router.get("/state")
    async def state(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, frozenset({Role.STATE_CELL}))
        counts = await api.get("/api/intake/counts")
        rates = await api.get("/api/escalation/breach-rates", by="district")
        compliance = await api.get("/api/training/compliance")
        districts: dict[str, dict[str, Any]] = {}
        for d in compliance.get("children", []):
            districts[d["code"]] = district_row(d["name_hi"], d["name_en"], d["staff"], d["certified_share"])
        for rate in rates["rates"]:
            row = districts.setdefault(rate["place"], district_row(rate["place"], rate["place"], 0, None))
            row["decided"] += rate["decided"]
            row["breached"] += rate["breached"]
        return render(request, "state.html", principal, counts=counts, districts=sorted(districts.items()))

    # ---- operator ---------------------------------------------------------------------------------

    @router.get("/operations")
    async def operations(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, frozenset({Role.OPERATOR}))
        report = await api.get("/api/ops/status")
        parked = await api.get("/api/ops/parked")
        return render(request, "operations.html", principal, report=report, parked=parked)

    app.include_router(router)


ACTIVE_STATUSES = ("registered", "in_progress", "awaiting_complainant")
CASE_READERS = KENDRA_ROLES | SUPERVISOR_ROLES
CASE_STEPS = {
    "first-contact": "first-contact",
    "action": "actions",
    "referral": "referrals",
    "resolve": "resolve",
}
CASE_ID = re.compile(r"^[0-9a-f]{32}$")


def check_case_id(case_id: str) -> str:
    if not CASE_ID.match(case_id):
        raise PageRefused(404, "No such case.", "ऐसा कोई मामला नहीं।")
    return case_id


async def optional(api: ServiceAPI, path: str, **params: Any) -> Any:
    """A part of a page the user's role may not see is left out rather than failing the page."""
    try:
        return await api.get(path, **params)
    except PageRefused as refused:
        if refused.status in (403, 404):
            return None
        raise


def district_row(name_hi: str, name_en: str, staff: int, certified_share: float | None) -> dict[str, Any]:
    return {
        "name_hi": name_hi,
        "name_en": name_en,
        "staff": staff,
        "certified_share": certified_share,
        "decided": 0,
        "breached": 0,
    }


def find_place(tree: dict[str, Any], code: str | None) -> dict[str, Any] | None:
    if tree.get("code") == code:
        return tree
    for child in tree.get("children", []):
        if (found := find_place(child, code)) is not None:
            return found
    return None


def places_under(tree: dict[str, Any], level: str) -> list[dict[str, Any]]:
    found = [tree] if tree.get("level") == level else []
    for child in tree.get("children", []):
        found += places_under(child, level)
    return found


def cases_per_day(cases: list[dict[str, Any]], days: int = 30) -> list[tuple[str, float]]:
    counted = Counter(str(c["registered_at"])[:10] for c in cases if c.get("registered_at"))
    if not counted:
        return []
    last = date.fromisoformat(max(counted))
    span = [last - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return [(d.strftime("%d-%m"), float(counted.get(d.isoformat(), 0))) for d in span]
