"""Wiring a service: NATS connection (FastStream broker), event store, read model, process managers,
background workers and HTTP routes. Used alike for one service per process (scale-out) and for all
four in one process (the embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from faststream.nats import NatsBroker
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.aggregate import A, DomainError, NotFound, Repository
from shared.auth import SessionDirectory, Sessions, TokenVerifier
from shared.clock import Clock, SystemClock
from shared.directory import UserDirectory
from shared.eventstore import ConcurrencyError, EventStore
from shared.keys import load_verification_keys
from shared.observability import CONSUMER_LAG, PARKED, REACTIONS_BACKLOG
from shared.projection import Projection, Projector
from shared.readmodel import create_engine
from shared.settings import Settings
from shared.subscriber import ProcessManager, ensure_parked_stream, subscribe

log = logging.getLogger(__name__)

READY_LAG = 1000
"""A projection further behind than this many events makes the service not ready."""


@dataclass
class ServiceContext:
    """What a running service's parts share."""

    name: str
    settings: Settings
    clock: Clock
    broker: NatsBroker
    store: EventStore
    engine: AsyncEngine
    projectors: dict[str, Projector[Any]] = field(default_factory=dict)

    def repository(self, cls: type[A]) -> Repository[A]:
        return Repository(self.store, cls)

    def projector(self, name: str) -> Projector[Any]:
        return self.projectors[name]


Worker = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service is made of; each service's ``main.py`` declares one."""

    name: str
    projections: Callable[[], Sequence[Projection[Any]]]
    reads: Sequence[str] = ()
    """Other services whose streams this one reads (their streams are created if missing)."""
    process_managers: Callable[[ServiceContext], Sequence[ProcessManager]] = lambda _: ()
    workers: Callable[[ServiceContext], Sequence[Worker]] = lambda _: ()
    routes: Callable[[ServiceContext], APIRouter] | None = None
    on_start: Callable[[ServiceContext], Awaitable[None]] | None = None


class ServiceRunner:
    def __init__(
        self,
        definition: ServiceDefinition,
        settings: Settings,
        *,
        nats_url: str,
        clock: Clock | None = None,
        database_url: str | None = None,
        run_projections: bool | None = None,
        run_reactions: bool | None = None,
    ) -> None:
        self.definition = definition
        self.settings = settings
        self.nats_url = nats_url
        self.clock = clock or SystemClock()
        self.database_url = database_url or settings.database_for(definition.name)
        self.run_projections = settings.projections if run_projections is None else run_projections
        self.run_reactions = settings.reactions if run_reactions is None else run_reactions
        self.context: ServiceContext | None = None
        self.process_managers: list[ProcessManager] = []
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def name(self) -> str:
        return self.definition.name

    async def start(self) -> ServiceContext:
        broker = NatsBroker(
            self.nats_url,
            name=f"shakti-{self.name}",
            max_reconnect_attempts=-1,
            logger=logging.getLogger(f"faststream.{self.name}"),
        )
        nc = await broker.connect()
        store = EventStore(nc, self.name, replicas=self.settings.stream_replicas)
        for service in (self.name, *self.definition.reads):
            await store.ensure_stream(service)
        await ensure_parked_stream(broker, self.settings.stream_replicas)
        engine = create_engine(self.database_url)
        ctx = ServiceContext(self.name, self.settings, self.clock, broker, store, engine)
        for projection in self.definition.projections():
            projector: Projector[Any] = Projector(projection, engine, nc)
            await projector.setup()
            ctx.projectors[projection.name] = projector
        self.context = ctx
        if self.definition.on_start:
            await self.definition.on_start(ctx)
        if self.run_reactions:
            self.process_managers = list(self.definition.process_managers(ctx))
            for manager in self.process_managers:
                await subscribe(broker, manager)
        await broker.start()
        for projector in ctx.projectors.values():
            if self.run_projections:
                self._spawn(f"projection {projector.name}", projector.run)
            else:
                self._spawn(f"generation of {projector.name}", projector.watch_generation)
        if self.run_reactions:
            for worker in self.definition.workers(ctx):
                self._spawn(f"worker of {self.name}", worker)
        log.info("service %s started", self.name)
        return ctx

    def _spawn(self, what: str, run: Worker) -> None:
        async def guarded() -> None:
            # A crashed loop restarts after a pause rather than leaving the service half alive.
            while True:
                try:
                    await run()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("%s failed; restarting in 1s", what)
                    await asyncio.sleep(1.0)

        self._tasks.append(asyncio.create_task(guarded(), name=what))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.context is not None:
            await self.context.broker.stop()
            await self.context.engine.dispose()
            self.context = None
        log.info("service %s stopped", self.name)

    async def readiness(self) -> dict[str, Any]:
        ctx = self.context
        if ctx is None:
            return {"ready": False, "why": "not started"}
        connected = ctx.store.nc.is_connected
        lags: dict[str, dict[str, int]] = {}
        parked: dict[str, int] = {}
        for name, projector in ctx.projectors.items():
            lags[name] = await projector.lag()
            parked[name] = len(await projector.parked())
            for stream, lag in lags[name].items():
                CONSUMER_LAG.labels(name, stream).set(lag)
            PARKED.labels(name).set(parked[name])
        # A process that keeps no read model cannot catch one up: another process's lag is reported,
        # not a reason to take this one out of service (its reactions and commands still work).
        behind = self.run_projections and any(
            lag > READY_LAG for per in lags.values() for lag in per.values()
        )
        return {
            "ready": connected and not behind,
            "nats": connected,
            "lag": lags,
            "parked": parked,
            "reactions": await self._reaction_backlog(),
        }

    async def _reaction_backlog(self) -> dict[str, int]:
        """Per process manager, the events not yet handled by any replica (waiting or in flight)."""
        assert self.context is not None
        backlog: dict[str, int] = {}
        for manager in self.process_managers:
            with contextlib.suppress(Exception):  # an unanswered question must not fail the probe
                info = await self.context.store.js.consumer_info(manager.stream, manager.name)
                backlog[manager.name] = (info.num_pending or 0) + (info.num_ack_pending or 0)
                REACTIONS_BACKLOG.labels(manager.name).set(backlog[manager.name])
        return backlog


def build_app(
    runners: Sequence[ServiceRunner],
    settings: Settings,
    *,
    title: str = "Mission Shakti",
    extra: Callable[[FastAPI], None] | None = None,
    directory: SessionDirectory | None = None,
) -> FastAPI:
    """One HTTP app for the given services: their routes under ``/api/<service>``, health, metrics.

    Every route resolves its caller through ``app.state.sessions``: the token checked with the public
    keys of ``settings`` (a missing or bad key raises ``shared.keys.KeyProblem`` here, before anything
    starts), the user looked up in ``directory`` (default: the user directory, read through the first
    runner's connection)."""
    sessions = Sessions(TokenVerifier(load_verification_keys(settings)), directory or UserDirectory())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started: list[ServiceRunner] = []
        try:
            for runner in runners:
                ctx = await runner.start()
                started.append(runner)
                if runner.definition.routes:
                    app.include_router(runner.definition.routes(ctx), prefix=f"/api/{runner.name}")
                if len(started) == 1:
                    await sessions.directory.start(ctx.store)
            app.openapi_schema = None  # routes were added after start: regenerate the schema
            yield
        finally:
            await sessions.directory.stop()
            for runner in reversed(started):
                await runner.stop()

    app = FastAPI(title=title, lifespan=lifespan, version="0.1.0")
    app.state.sessions = sessions
    app.state.runners = {r.name: r for r in runners}
    install_error_handlers(app)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz() -> JSONResponse:
        report = {r.name: await r.readiness() for r in runners}
        ready = all(part["ready"] for part in report.values())
        return JSONResponse({"ready": ready, "services": report}, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def metrics() -> Response:
        for r in runners:
            await r.readiness()  # refreshes the lag and parked gauges
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    if extra:
        extra(app)
    return app


def install_error_handlers(app: FastAPI) -> None:
    """Every error a user can cause comes back as JSON with an English and a Hindi message."""

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, error: DomainError) -> JSONResponse:
        status = 404 if isinstance(error, NotFound) else 409
        return JSONResponse({"detail": {"code": error.code, "en": error.en, "hi": error.hi}}, status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
                "en": e.get("msg", "invalid"),
                "hi": "यह मान मान्य नहीं है",
            }
            for e in error.errors()
        ]
        return JSONResponse(
            {
                "detail": {
                    "code": "invalid",
                    "en": "Some fields are missing or wrong.",
                    "hi": "कुछ जानकारी छूटी है या गलत है।",
                    "fields": problems,
                }
            },
            422,
        )

    @app.exception_handler(ConcurrencyError)
    async def busy(_: Request, __: ConcurrencyError) -> JSONResponse:
        detail = {"code": "busy", "en": "The case is busy; try again.", "hi": "मामला व्यस्त है; फिर से प्रयास करें।"}
        return JSONResponse({"detail": detail}, 409)
