"""The whole platform as one HTTP app: the five services, the web front, sign-in and the operator API.

The same builder serves the embedded default (all five services in one process) and the scale-out
case (``shakti serve SERVICE``: one service, with its health, metrics and operator routes).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from shakti.asyncapi import mount_asyncapi
from shakti.basics import SERVICES
from shakti.config import PlatformSettings
from shakti.operations import operations_router
from shakti.signin import mount_signin
from shakti.users import Throttle, UserError, UserStore
from shakti.users_part import user_refused, users_part
from shakti.web.pages import mount_web
from shared.auth import SessionDirectory
from shared.clock import Clock
from shared.eventstore import subject_for
from shared.keys import load_signing_key
from shared.runtime import ServiceDefinition, ServiceRunner, build_app
from shared.settings import Settings
from shared.tokens import TokenIssuer


class UnknownService(ValueError):
    pass


def _raised_by_subject_check(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code is subject_for.__code__


async def unknown_record(request: Request, error: Exception) -> Response:
    """An id typed into a path that cannot even name a subject names no record: a 404, not a 500.

    Any other ValueError is a bug and stays a server error."""
    if not _raised_by_subject_check(error):
        raise error
    detail = {"code": "not_found", "en": "No such record.", "hi": "ऐसा कोई अभिलेख नहीं।"}
    return JSONResponse({"detail": detail}, 404)


def definition(name: str) -> ServiceDefinition:
    """``services.<name>.main:service``, imported only when asked for."""
    if name not in SERVICES:
        raise UnknownService(f"no service named {name!r}; choose one of {', '.join(SERVICES)}")
    module = importlib.import_module(f"services.{name}.main")
    found: Any = module.service
    if not isinstance(found, ServiceDefinition):
        raise TypeError(f"services.{name}.main.service is not a ServiceDefinition")
    return found


def runners(
    settings: Settings,
    nats_url: str,
    names: Sequence[str] = SERVICES,
    *,
    clock: Clock | None = None,
    database_urls: dict[str, str] | None = None,
) -> list[ServiceRunner]:
    return [
        ServiceRunner(
            definition(name),
            settings,
            nats_url=nats_url,
            clock=clock,
            database_url=(database_urls or {}).get(name),
        )
        for name in names
    ]


def build_platform(
    settings: PlatformSettings,
    service_runners: Sequence[ServiceRunner],
    *,
    web: bool = True,
    users: UserStore | None = None,
    nats_url: str | None = None,
    directory: SessionDirectory | None = None,
) -> FastAPI:
    """The HTTP app: the given services and the operator API; when ``web``, also the process that issues
    session tokens: the ``users`` part (the user directory's writer), sign-in and the pages.

    Keys are loaded here: a missing or unusable one raises ``shared.keys.KeyProblem`` before anything
    starts (the signing key only when ``web``: no other process may hold it)."""
    runners = list(service_runners)
    user_store: UserStore | None = None
    if web:
        issuer = TokenIssuer(load_signing_key(settings))
        user_store = users or UserStore(
            settings.database_for("web"),
            throttle=Throttle(
                free_failures=settings.signin_failures_allowed,
                longest_wait=timedelta(seconds=settings.signin_longest_wait_seconds),
                window=timedelta(seconds=settings.signin_window_seconds),
            ),
        )
        url = nats_url or (runners[0].nats_url if runners else None)
        if url is None:
            raise ValueError("the web front needs a NATS URL for the user directory")
        runners.insert(0, ServiceRunner(users_part(user_store, settings), settings, nats_url=url))

    def extra(app: FastAPI) -> None:
        app.add_exception_handler(ValueError, unknown_record)
        app.include_router(operations_router(), prefix="/api/ops")
        mount_asyncapi(app)
        if user_store is not None:
            app.state.users = user_store
            app.state.issuer = issuer
            app.state.trusted_proxies = settings.trusted_proxies
            app.add_exception_handler(UserError, user_refused)
            mount_signin(app, user_store)
            mount_web(app, settings)

    app = build_app(runners, settings, title="Mission Shakti", extra=extra, directory=directory)
    services_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if user_store is not None:
            await user_store.setup()
        try:
            async with services_lifespan(app):
                yield
        finally:
            if user_store is not None:
                await user_store.close()

    app.router.lifespan_context = lifespan
    return app
