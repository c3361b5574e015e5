"""Wiring a service: NATS connection (FastStream broker), event store, read model, process managers,
background workers and HTTP routes. Used alike for one service per process (scale-out) and for all
four in one process (the embedded default)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import anyio
import nats.errors
import nats.js.errors
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from faststream.nats import NatsBroker, NatsUserPassword
from nats.aio.client import Client as NatsClient
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.aggregate import A, Repository
from shared.auth import (
    EVERY_ROLE,
    PLATFORM_STAFF,
    Principal,
    SessionDirectory,
    Sessions,
    TokenVerifier,
    require,
)
from shared.bus import JETSTREAM_API_TIMEOUT
from shared.clock import Clock, SystemClock
from shared.contracts.vocabulary import Record
from shared.directory import UserDirectory
from shared.errors import DomainError, NotFound, TryAgain
from shared.eventstore import ConcurrencyError, EventStore
from shared.http_guard import HttpGuard
from shared.keys import load_verification_keys
from shared.observability import CONSUMER_LAG, PARKED, REACTIONS_BACKLOG
from shared.projection import Projection, Projector
from shared.readmodel import count_statements, create_engine
from shared.settings import Settings
from shared.subscriber import ProcessManager, Reactor, ensure_parked_stream
from shared.text import CONTROL_CHARACTERS
from shared.written import WrittenHeader

log = logging.getLogger(__name__)

READY_LAG = 1000
"""A projection further behind than this many events makes the service not ready."""
CLOSE_SECONDS = 1.0
SERVER_WATCH_SECONDS = 0.05
"""How often a stopping service looks whether its NATS connection is lost."""
DRAIN_SECONDS = 5.0
"""At most this long to drain a service's NATS connection when it stops."""
APPLIED_WAIT_SECONDS = 3.0
"""At most this long a reader waits for the read models to hold what it wrote (``shared.written``)."""
APPLIED_WAITERS = 64
"""Readers waiting at once in one service; one more is told 'not yet' at once rather than queued."""


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


class ServiceInstance:
    """One running service beyond its projections, wired the same way in every service.

    A service's ``main.py`` subclasses it: ``start`` opens what the instance holds (a key store, a
    feed), ``process_managers`` and ``workers`` are its reactions and timers (run only where this
    process reacts), ``routes`` its HTTP API, and ``stop`` closes what ``start`` opened, after its
    workers and reactions have stopped."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def process_managers(self) -> Sequence[ProcessManager]:
        return ()

    def workers(self) -> Sequence[Worker]:
        return ()

    def routes(self) -> APIRouter | None:
        return None

    async def figures(self) -> Mapping[str, int]:
        """What an operator should see of this instance beyond its projections (``shakti status``),
        e.g. messages no channel took."""
        return {}

    def under_way(self) -> Mapping[str, int]:
        """Work this instance runs in the background after a reaction has ended (deliveries handed to
        their channels), by name: reported with the reactions' backlog, so that whoever waits for the
        platform to be quiet waits for it too."""
        return {}

    async def finish_under_way(self) -> None:
        """Wait until that work is done (a fast load settles before its clock moves)."""
        return None


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service is: its name, the streams it reads, its read models and its instance."""

    name: str
    projections: Callable[[], Sequence[Projection[Any]]]
    instance: Callable[[ServiceContext], ServiceInstance] = ServiceInstance
    reads: Sequence[str] = ()
    """Other services whose streams this one reads (their streams are created if missing)."""


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
        self.instance: ServiceInstance | None = None
        self.process_managers: list[ProcessManager] = []
        self.reactors: list[Reactor] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._applied_waiters = asyncio.Semaphore(APPLIED_WAITERS)

    @property
    def name(self) -> str:
        return self.definition.name

    async def start(self) -> ServiceContext:
        broker = NatsBroker(
            self.nats_url,
            name=f"shakti-{self.name}",
            max_reconnect_attempts=-1,
            logger=logging.getLogger(f"faststream.{self.name}"),
            js_options={"timeout": JETSTREAM_API_TIMEOUT},
            **broker_login(self.settings, self.name),
        )
        nc = await broker.connect()
        store = EventStore(nc, self.name, replicas=self.settings.stream_replicas, clock=self.clock)
        for service in (self.name, *self.definition.reads):
            await store.ensure_stream(service)
        await ensure_parked_stream(nc, self.settings.stream_replicas)
        engine = create_engine(self.database_url)
        count_statements(engine, self.name)
        ctx = ServiceContext(self.name, self.settings, self.clock, broker, store, engine)
        for projection in self.definition.projections():
            await projection.open(self.settings, engine)
            projector: Projector[Any] = Projector(
                projection, engine, nc, gather_seconds=self.settings.projection_gather_ms / 1000
            )
            await projector.setup()
            ctx.projectors[projection.name] = projector
        self.context = ctx
        self.instance = instance = self.definition.instance(ctx)
        await instance.start()
        await broker.start()
        if self.run_reactions:
            self.process_managers = list(instance.process_managers())
            for manager in self.process_managers:
                reactor = Reactor(nc, manager, self.name)
                await reactor.start()
                self.reactors.append(reactor)
        for projector in ctx.projectors.values():
            if self.run_projections:
                self._spawn(f"projection {projector.name}", projector.run)
            else:
                self._spawn(f"generation of {projector.name}", projector.watch_generation)
        if self.run_reactions:
            for worker in instance.workers():
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
        # Reactions first: what they are handling may still need the instance and its read models.
        await asyncio.gather(*(reactor.stop() for reactor in self.reactors))
        self.reactors.clear()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.instance is not None:
            await self.instance.stop()
            self.instance = None
        if self.context is not None:
            await self._close_bus(self.context)
            for projector in self.context.projectors.values():
                await projector.projection.close()
            await self.context.engine.dispose()
            self.context = None
        log.info("service %s stopped", self.name)

    async def _close_bus(self, ctx: ServiceContext) -> None:
        """Drain the connection while its server is there. Once the connection is lost (the stop
        signal reached the server too, as systemd and a terminal send it) it is closed at once, so
        that the broker stops without waiting on reconnects to a server that is not coming back."""
        expect_closed_streams(asyncio.get_running_loop())
        nc = ctx.store.nc
        stopping = asyncio.create_task(ctx.broker.stop())
        deadline = asyncio.get_running_loop().time() + DRAIN_SECONDS
        while not stopping.done():
            if nc.is_closed:
                break  # the drain's own end: the broker's little left to do is waited on below
            lost = not nc.is_connected  # before the drain closed it: the server went first
            if lost or asyncio.get_running_loop().time() > deadline:
                why = "server gone" if lost else f"drain not done in {DRAIN_SECONDS:g} s"
                log.warning("service %s: NATS connection closed undrained (%s)", self.name, why)
                await self._close_connection(nc)
                break
            await asyncio.wait({stopping}, timeout=SERVER_WATCH_SECONDS)
        # Not cancelled (the broker must stop its subscribers, whose loops would otherwise run on),
        # but not waited on for ever either.
        await asyncio.wait({stopping}, timeout=CLOSE_SECONDS)
        if not stopping.done():
            log.warning("service %s: NATS subscribers still stopping; left to finish", self.name)
        elif not stopping.cancelled() and (error := stopping.exception()) is not None:
            log.info("service %s: broker stopped with %s", self.name, type(error).__name__)

    @staticmethod
    async def _close_connection(nc: NatsClient) -> None:
        # Run apart and waited for a bounded time: nats-py's close swallows a cancellation while it
        # waits for its reconnect loop, and can hang on what it still had to send.
        closing = asyncio.create_task(nc.close())
        await asyncio.wait({closing}, timeout=CLOSE_SECONDS)
        if closing.done() and not closing.cancelled():
            closing.exception()  # what was pending cannot be sent anywhere: retrieved, not raised

    async def applied(self, stream: str, sequence: int, timeout: float = APPLIED_WAIT_SECONDS) -> bool:
        """Wait until every read model of this service that reads ``stream`` has applied it through
        ``sequence``; False if they have not within ``timeout``, when too many readers wait already, or
        when the bus or the database does not answer (the page then shows what the read models hold)."""
        assert self.context is not None
        if self._applied_waiters.locked():
            return False
        async with self._applied_waiters:
            try:
                return await self._wait_applied(self.context, stream, sequence, timeout)
            except (nats.errors.Error, SQLAlchemyError) as error:
                # The error's kind only: a database error's text carries its statement's parameters.
                log.warning(
                    "service %s could not say how far %s is applied: %s",
                    self.name,
                    stream,
                    type(error).__name__,
                )
                return False

    @staticmethod
    async def _wait_applied(ctx: ServiceContext, stream: str, sequence: int, timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        readers = [p for p in ctx.projectors.values() if stream in p.projection.sources]
        with contextlib.ExitStack() as waiting:
            for projector in readers:  # none holds what it read for its gathering window meanwhile
                waiting.enter_context(projector.waited_on())
            for projector in readers:
                if not await projector.applied_through(stream, sequence, deadline):
                    return False
        return True

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
        # Just started, a read model that has not applied what was stored before would answer
        # commands wrongly (a jurisdiction 'not imported'), whoever keeps it.
        catching_up = [name for name, p in ctx.projectors.items() if not await p.caught_up_with_start()]
        return {
            "ready": connected and not behind and not catching_up,
            "nats": connected,
            "catching_up": catching_up,
            "lag": lags,
            "parked": parked,
            "reactions": await self._reaction_backlog(),
            "figures": dict(await self.instance.figures()) if self.instance else {},
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
        if self.instance is not None:
            backlog.update(self.instance.under_way())
        return backlog


def broker_login(settings: Settings, user: str) -> dict[str, Any]:
    """FastStream's spelling of ``Settings.nats_options``: each part connects as its own user."""
    options = settings.nats_options(user)
    login: dict[str, Any] = {"inbox_prefix": options["inbox_prefix"]}
    if "password" in options:
        login["security"] = NatsUserPassword(options["user"], options["password"])
    return login


def build_app(
    runners: Sequence[ServiceRunner],
    settings: Settings,
    *,
    title: str = "Mission Shakti",
    extra: Callable[[FastAPI], None] | None = None,
    directory: SessionDirectory | None = None,
) -> FastAPI:
    """One HTTP app for the given services: their routes under ``/api/<service>``, health, metrics.

    Every answer passes through ``HttpGuard`` (security headers, body limits, CSRF). ``/healthz``,
    ``/readyz`` and ``/metrics`` are open for probes and scrapers that reach the pod directly; the
    gateway does not route them. The OpenAPI document is served to signed-in users only (it is
    checked in as ``docs/openapi.json`` anyway); the interactive pages (``/docs``, ``/redoc``) are
    not served: they load scripts from a CDN, which the content security policy forbids and an
    offline network could not reach.
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
                await runner.start()
                started.append(runner)
                routes = runner.instance.routes() if runner.instance else None
                if routes is not None:
                    app.include_router(routes, prefix=f"/api/{runner.name}")
                if len(started) == 1:
                    assert runner.context is not None
                    await sessions.directory.start(runner.context.store)
            app.openapi_schema = None  # routes were added after start: regenerate the schema
            # What start-up made (models, tables, routes, caches) lives as long as the services: frozen,
            # a full collection no longer walks it. Each walk stopped the event loop, every request and
            # projection with it, for a time that grew with the heap (0.43-0.53 s in bench.state).
            gc.freeze()
            yield
        finally:
            gc.unfreeze()
            await sessions.directory.stop()
            # Every service stops (its database closed) even when one fails to.
            for runner in reversed(started):
                try:
                    await runner.stop()
                except Exception:
                    log.exception("service %s did not stop cleanly", runner.name)

    app = FastAPI(
        title=title, lifespan=lifespan, version="0.1.0", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.add_middleware(
        HttpGuard,
        secure_cookies=settings.secure_cookies,
        body_limit=settings.body_limit_bytes,
        upload_limit=settings.upload_limit_bytes,
    )
    # Outermost, so that each request's record is its own before anything else runs.
    app.add_middleware(WrittenHeader)
    app.state.sessions = sessions
    app.state.runners = {r.name: r for r in runners}
    install_error_handlers(app)
    _operation_routes(app, runners)
    if extra:
        extra(app)
    return app


def _operation_routes(app: FastAPI, runners: Sequence[ServiceRunner]) -> None:
    """Health, readiness and metrics for probes and scrapers; the OpenAPI document for signed-in users."""

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

    @app.get("/api/{service}/applied", tags=["operations"])
    async def applied(
        service: Annotated[str, Path(max_length=40, pattern=r"^[a-z][a-z_]*$")],
        stream: Annotated[str, Query(max_length=64, pattern=r"^[A-Z][A-Z0-9_-]*$")],
        sequence: Annotated[int, Query(ge=0)],
        _: Annotated[Principal, Depends(require(EVERY_ROLE))],
    ) -> dict[str, bool]:
        """Answers once the service's read models hold what a request wrote (its ``Shakti-Written``
        header): ``applied`` is false when they still did not after a few seconds."""
        runner = app.state.runners.get(service)
        if runner is None or runner.context is None:
            raise NotFound(Record.SERVICE, service)
        return {"applied": await runner.applied(stream, sequence)}

    # For those who work inside the police's platform: an agency desk's role names no document (deny by
    # default), and the whole API is more than she needs to answer her agency's referrals.
    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_: Annotated[Principal, Depends(require(PLATFORM_STAFF))]) -> JSONResponse:
        return JSONResponse(app.openapi())


def install_error_handlers(app: FastAPI) -> None:
    """Every error a user can cause comes back as JSON with an English and a Hindi message."""

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, error: DomainError) -> JSONResponse:
        status = 404 if isinstance(error, NotFound) else 409
        return JSONResponse({"detail": {"code": error.code, "en": error.en, "hi": error.hi}}, status)

    @app.exception_handler(TryAgain)
    async def not_yet(_: Request, error: TryAgain) -> JSONResponse:
        detail = {"code": error.code, "en": error.en, "hi": error.hi}
        return JSONResponse({"detail": detail}, 503, headers={"Retry-After": str(error.retry_after)})

    @app.exception_handler(nats.errors.Error)
    async def bus_trouble(request: Request, error: nats.errors.Error) -> JSONResponse:
        if not bus_unavailable(error):
            raise error
        what = f"{type(error).__name__} {getattr(error, 'description', '') or ''}".strip()
        log.warning("%s %s: the bus is unavailable (%s)", request.method, request.url.path, what)
        detail = {
            "code": "bus_unavailable",
            "en": "The platform cannot record this right now; send the same request again in a moment.",
            "hi": "प्लेटफ़ॉर्म अभी इसे दर्ज नहीं कर पा रहा; थोड़ी देर में वही अनुरोध फिर भेजें।",
        }
        return JSONResponse({"detail": detail}, 503, headers={"Retry-After": "2"})

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [field_problem(e) for e in error.errors()]
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


def bus_unavailable(error: Exception) -> bool:
    """NATS could not take or answer a request for a while (a node stopped and its streams electing a
    leader, the server restarting): the same request, sent again, may succeed. A 4xx of JetStream's is
    a mistake in the request and stays an error."""
    if isinstance(error, nats.js.errors.APIError):
        return (error.code or 0) >= 500
    passing = nats.errors.NoRespondersError | nats.errors.TimeoutError | nats.errors.ConnectionClosedError
    return isinstance(error, passing)


def field_problem(error: Mapping[str, Any]) -> dict[str, Any]:
    """One field's problem, named and in both languages. Never the value sent: it may be identity data."""
    where = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path", "header")]
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    problem: dict[str, Any] = {"field": ".".join(where) or "body"}
    match kind:
        case "missing":
            en, hi = "This field is required.", "यह जानकारी आवश्यक है।"
        case "string_too_long":
            problem["limit"] = ctx.get("max_length")
            en, hi = (
                f"Too long: at most {problem['limit']} characters.",
                f"बहुत लंबा: अधिकतम {problem['limit']} अक्षर।",
            )
        case "string_too_short":
            problem["limit"] = ctx.get("min_length")
            en = f"Too short: at least {problem['limit']} characters."
            hi = f"बहुत छोटा: कम से कम {problem['limit']} अक्षर।"
        case "control_characters":
            en, hi = CONTROL_CHARACTERS
        case "string_pattern_mismatch":
            en, hi = "The format is not valid.", "प्रारूप मान्य नहीं है।"
        case _:
            en, hi = str(error.get("msg", "Not valid.")), "यह मान मान्य नहीं है।"
    return problem | {"en": en, "hi": hi}


def closed_while_stopping(error: BaseException | None) -> bool:
    """An error of a stream closed under a task (alone or in a group): what a subscriber's consume task
    raises when it fetched messages as the service stopped."""
    if isinstance(error, anyio.ClosedResourceError):
        return True
    if isinstance(error, BaseExceptionGroup):
        return all(closed_while_stopping(e) for e in error.exceptions)
    return False


def expect_closed_streams(loop: asyncio.AbstractEventLoop) -> None:
    """While services stop, FastStream's pull subscribers may have fetched messages their closed streams
    cannot take: the task's error is reported as never retrieved, at error level, although nothing is
    wrong (the messages were not acknowledged: the bus delivers them again). Said at info instead; every
    other unretrieved error is reported as before."""
    previous = loop.get_exception_handler()
    if getattr(previous, "expects_closed_streams", False):
        return

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if closed_while_stopping(context.get("exception")):
            log.info("messages fetched as a subscriber stopped were left unacknowledged; the bus redelivers")
        elif previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler.expects_closed_streams = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)
