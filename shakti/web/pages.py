"""The pages: sign-in, the Kendra officer's screens, the supervisors' dashboards, the state cell's
figures. Pages get their data from the services' HTTP APIs with the signed-in user's own token, so
every page sees exactly what its user may see, whether the services run in this process or not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature

from shakti.config import PlatformSettings
from shakti.signin import check_credentials
from shakti.users import UserStore
from shakti.web import charts
from shakti.web.i18n import LANG_COOKIE, LANGUAGES, ROLE_LABELS, language, translator
from shared.auth import COOKIE, TOKEN_MAX_AGE, Principal, Role, Tokens
from shared.vocabulary import (
    AGENCY_LABELS,
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    LADDER_LABELS,
    PRIORITY_LABELS,
    label,
)

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


def page_user(request: Request) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInNeeded(request.url.path)
    tokens: Tokens = request.app.state.tokens
    try:
        return tokens.read(token)
    except (BadSignature, ValueError):
        raise SignInNeeded(request.url.path) from None


User = Annotated[Principal, Depends(page_user)]


def allow(principal: Principal, roles: frozenset[Role]) -> None:
    if principal.role not in roles:
        raise PageRefused(403, "Your role may not open this page.", "आपकी भूमिका यह पृष्ठ नहीं खोल सकती।")


class ServiceAPI:
    """The services' HTTP API, called with the signed-in user's token."""

    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.client.request(method, path, headers=self.headers, **kwargs)
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
    return templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "t": translator(lang),
            "user": principal,
            "demo": settings.demo,
            "path": request.url.path,
            **context,
        },
        status_code=status,
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

    async def service_client() -> AsyncIterator[httpx.AsyncClient]:
        if settings.api_url:
            async with httpx.AsyncClient(base_url=settings.api_url, timeout=10.0) as client:
                yield client
        else:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://platform", timeout=10.0
            ) as client:
                yield client

    async def service_api(
        request: Request, client: Annotated[httpx.AsyncClient, Depends(service_client)]
    ) -> ServiceAPI:
        return ServiceAPI(client, request.cookies.get(COOKIE, ""))

    app.state.service_api = service_api

    @app.exception_handler(SignInNeeded)
    async def to_signin(_: Request, needed: SignInNeeded) -> Response:
        return RedirectResponse(f"/signin?next={quote(needed.next_path)}", status_code=303)

    @app.exception_handler(PageRefused)
    async def refused(request: Request, error: PageRefused) -> Response:
        principal: Principal | None
        try:
            principal = page_user(request)
        except SignInNeeded:
            principal = None
        return render(request, "error.html", principal, error.status, error=error)

    router = APIRouter(include_in_schema=False)

    @router.get("/")
    async def home(request: Request) -> Response:
        try:
            principal = page_user(request)
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
            user = await check_credentials(request, users, username, password)
        except HTTPException as refused:
            detail: dict[str, str] = refused.detail  # type: ignore[assignment]
            error = PageRefused(refused.status_code, detail["en"], detail["hi"])
            return render(
                request, "signin.html", None, refused.status_code, error=error, next=_safe_next(next)
            )
        principal = user.principal()
        target = _safe_next(next)
        response = RedirectResponse(home_for(principal) if target == "/" else target, status_code=303)
        tokens: Tokens = request.app.state.tokens
        response.set_cookie(
            COOKIE, tokens.issue(principal), max_age=TOKEN_MAX_AGE, httponly=True, samesite="strict"
        )
        return response

    @router.post("/signout")
    async def signout() -> Response:
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @router.get("/lang/{lang}")
    async def switch_language(lang: str, next: str = "/") -> Response:
        response = RedirectResponse(_safe_next(next), status_code=303)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
        return response

    app.include_router(router)
