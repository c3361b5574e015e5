"""The web front's plumbing: sign-in and sign-out, who is signed in, the services' API as that user,
rendering in Hindi or English, and the mounting of each area's pages (``cases``, ``queues``,
``dashboards``, ``operator``, ``notifications``, ``training``). Pages get their data from the services'
HTTP APIs with the signed-in user's own token, so every page sees exactly what its user may see, whether
the services run in this process or not."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from shakti.basics import SERVICES
from shakti.config import PlatformSettings
from shakti.signin import check_credentials, issue, sign_out
from shakti.users import UserStore
from shakti.web import charts
from shakti.web.i18n import LANG_COOKIE, LANGUAGES, language, translator
from shakti.web.times import ist, limit_words, overdue, time_left
from shared.auth import COOKIE, Principal, SessionRefused, Sessions
from shared.contracts.vocabulary import (
    AGENCY_LABELS,
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    CLOCK_STATE_LABELS,
    LADDER_LABELS,
    PRIORITY_LABELS,
    REFERRAL_STATUS_LABELS,
    ROLE_LABELS,
    STATUS_LABELS,
    label,
)
from shared.http_guard import form_token, presession_cookie
from shared.roles import Role
from shared.tokens import TOKEN_MAX_AGE
from shared.written import HEADER
from shared.written import parse as parse_written

HERE = Path(__file__).parent


def clock_state(clock: dict[str, Any], lang: str) -> str:
    """A clock's state in words; a stopped one says whether its step was done in time."""
    state = clock["state"]
    if state == "stopped" and clock.get("met") is not None:
        state = "met" if clock["met"] else "late"
    return label(CLOCK_STATE_LABELS, state, lang)


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(
    CATEGORY_LABELS=CATEGORY_LABELS,
    STATUS_LABELS=STATUS_LABELS,
    CHANNEL_LABELS=CHANNEL_LABELS,
    PRIORITY_LABELS=PRIORITY_LABELS,
    AGENCY_LABELS=AGENCY_LABELS,
    LADDER_LABELS=LADDER_LABELS,
    REFERRAL_STATUS_LABELS=REFERRAL_STATUS_LABELS,
    ROLE_LABELS=ROLE_LABELS,
    label=label,
    charts=charts,
    breach_items=charts.breach_items,
    compliance_items=charts.compliance_items,
    first_contact_items=charts.first_contact_items,
    state_items=charts.state_items,
    category_items=charts.category_items,
    ist=ist,
    clock_state=clock_state,
    time_left=time_left,
    overdue=overdue,
    limit_words=limit_words,
    now=lambda: datetime.now(UTC),
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
        """The service's answer; after a change it made, only once its read models hold that change, so
        that the page shown next (a redirect, usually) reads what the officer just did."""
        try:
            response = await self.client.request(
                method, path, headers={**self.headers, **(headers or {})}, **kwargs
            )
            if method != "GET" and response.status_code < 400 and HEADER in response.headers:
                await self.applied(parse_written(response.headers[HEADER]))
            return response
        except httpx.HTTPError:
            raise PageRefused(
                503, "The service is not available now; try again shortly.", "सेवा अभी उपलब्ध नहीं।"
            ) from None

    async def applied(self, streams: dict[str, int]) -> None:
        """Wait until every service's read models hold what a change wrote to ``streams``: the page after
        it may read another service's read model of the same stream (intake's register shows routing's
        reassignment). Each service answers within a few seconds even when they do not, and the page then
        shows what they hold: a wait is never a refusal."""

        async def asked(service: str, stream: str, sequence: int) -> None:
            with contextlib.suppress(httpx.HTTPError):  # the change is made; the page may show it late
                await self.client.get(
                    f"/api/{service}/applied",
                    params={"stream": stream, "sequence": sequence},
                    headers=self.headers,
                )

        await asyncio.gather(
            *(asked(service, stream, n) for service in SERVICES for stream, n in streams.items())
        )

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.call("GET", path, params={k: v for k, v in params.items() if v is not None})
        return self._body(response)

    async def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._body(await self.call("POST", path, json=body))

    async def put(self, path: str, body: dict[str, Any]) -> Any:
        return self._body(await self.call("PUT", path, json=body))

    @staticmethod
    def _body(response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise ServiceAPI.refusal(response)
        return response.json() if response.content else None

    @staticmethod
    def refusal(response: httpx.Response) -> PageRefused:
        """A service's refusal (status 400 or more) in both languages, as the page shows it."""
        detail: Any = {}
        try:
            detail = response.json().get("detail", {})
        except ValueError:
            detail = {}
        if isinstance(detail, dict) and "en" in detail:
            problems = detail.get("fields") or []
            en = detail["en"] + "".join(f" {p.get('field')}: {p.get('en')}" for p in problems)
            hi = str(detail.get("hi", detail["en"]))
            hi += "".join(f" {p.get('field')}: {p.get('hi')}" for p in problems if p.get("hi"))
            return PageRefused(response.status_code, en, hi)
        return PageRefused(
            response.status_code if response.status_code < 500 else 503,
            "The service could not answer.",
            "सेवा उत्तर नहीं दे सकी।",
        )


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
            # With its query: switching language keeps a queue's filters and page.
            "path": f"{request.url.path}?{request.url.query}" if request.url.query else request.url.path,
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
        case Role.AGENCY_DESK:
            return "/agency"
        case _:
            return "/dashboard"


NO_SUCH_PAGE = PageRefused(
    404,
    "There is no page at this address. Start again from the home page.",
    "इस पते पर कोई पृष्ठ नहीं है। मुख्य पृष्ठ से फिर शुरू करें।",
)


def _answers_for_people(app: FastAPI) -> None:
    """What a person sees instead of a page: the sign-in, a refusal in her language, no such page."""

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

    @app.exception_handler(StarletteHTTPException)
    async def no_such_page(request: Request, error: StarletteHTTPException) -> Response:
        # A person following a mistyped or stale link gets a page in her language; programs asking
        # the API get FastAPI's JSON as before.
        if error.status_code != 404 or request.url.path.startswith("/api/"):
            return await http_exception_handler(request, error)
        return await refused(request, NO_SUCH_PAGE)


def mount_web(app: FastAPI, settings: PlatformSettings) -> None:
    app.state.settings = settings
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    users: UserStore = app.state.users

    _answers_for_people(app)

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
    from shakti.web.agency import mount_agency
    from shakti.web.cases import mount_cases
    from shakti.web.dashboards import mount_dashboards
    from shakti.web.notifications import mount_notifications
    from shakti.web.operator import mount_operator
    from shakti.web.queues import mount_queues
    from shakti.web.tour import mount_tour
    from shakti.web.training import mount_training

    for mount in (
        mount_cases,
        mount_queues,
        mount_dashboards,
        mount_operator,
        mount_notifications,
        mount_training,
        mount_tour,
        mount_agency,
    ):
        mount(app)


CASE_READERS = KENDRA_ROLES | SUPERVISOR_ROLES
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
