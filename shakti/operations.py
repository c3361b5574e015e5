"""The operator API of a running platform: status, parked events, rebuilds.

The ``shakti`` CLI talks to these routes (with an operator token it signs with the shared secret),
so that a rebuild or a retry happens inside the process that owns the read model: a rebuild run
from another process would drop tables the running projector still writes to.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import nats
from fastapi import APIRouter, Depends, Path, Query, Request
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from pydantic import BaseModel

from shared.auth import Principal, bilingual_error, require
from shared.bus import JETSTREAM_API_TIMEOUT, OPS, CredentialsError
from shared.eventstore import decode_message
from shared.roles import Role
from shared.runtime import ServiceContext, ServiceRunner
from shared.subscriber import PARKED_STREAM, ParkedReaction

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
ServiceName = Annotated[str, Path(max_length=32)]
PARKED_SCAN_LIMIT = 5000


class ParkedItem(BaseModel):
    kind: str
    """``projection`` (a read model could not apply it) or ``reaction`` (a process manager failed)."""
    service: str
    name: str
    ref: int
    """The parked record's id (projection) or its sequence in the PARKED stream (reaction)."""
    stream: str
    sequence: int
    event_type: str
    reason: str
    attempts: int
    parked_at: str


class RetryOutcome(BaseModel):
    applied: int
    still_parked: int


class RebuildProgress(BaseModel):
    service: str
    projection: str = ""
    done: int = 0
    total: int = 0
    rate: float = 0.0
    """Events per second so far."""
    finished: bool = False
    error: str = ""


@dataclass
class Rebuild:
    service: str
    started: float = field(default_factory=time.monotonic)
    progress: RebuildProgress | None = None
    task: asyncio.Task[None] | None = None

    def snapshot(self) -> RebuildProgress:
        return self.progress or RebuildProgress(service=self.service)


def _runner(request: Request, service: str) -> ServiceContext:
    runners: dict[str, ServiceRunner] = request.app.state.runners
    runner = runners.get(service)
    if runner is None or runner.context is None:
        raise bilingual_error(
            404, "no_service", f"Service {service} does not run here.", f"सेवा {service} यहाँ नहीं चल रही।"
        )
    return runner.context


async def parked_reactions(ctx: ServiceContext) -> list[tuple[int, ParkedReaction]]:
    """(sequence in PARKED, record) of every reaction parked, by any service, still unresolved."""
    js = ctx.store.js
    try:
        info = await js.stream_info(PARKED_STREAM)
    except NotFoundError:
        return []
    found: list[tuple[int, ParkedReaction]] = []
    if not info.state.messages:
        return found
    first = max(info.state.first_seq, 1, info.state.last_seq - PARKED_SCAN_LIMIT + 1)
    for seq in range(first, info.state.last_seq + 1):
        with contextlib.suppress(NotFoundError):
            msg = await js.get_msg(PARKED_STREAM, seq)
            found.append((seq, ParkedReaction.model_validate_json(msg.data or b"{}")))
    return found


def _any_context(runners: dict[str, ServiceRunner]) -> ServiceContext | None:
    """The PARKED stream is shared: any running service's connection reads it."""
    return next((r.context for r in runners.values() if r.context is not None), None)


def _owner(runners: dict[str, ServiceRunner], consumer: str) -> tuple[str, ServiceContext] | None:
    for name, runner in runners.items():
        if runner.context is None:
            continue
        if runner.instance and any(m.name == consumer for m in runner.instance.process_managers()):
            return name, runner.context
    return None


async def _retry_reactions(
    runners: dict[str, ServiceRunner],
    chosen: list[tuple[int, ParkedReaction]],
    parked_admin: JetStreamContext,
) -> RetryOutcome:
    applied = failed = 0
    for seq, record in chosen:
        owner = _owner(runners, record.consumer)
        if owner is None:
            failed += 1
            continue
        service_ctx = owner[1]
        instance = runners[owner[0]].instance
        assert instance is not None  # the owner was found among the started services
        manager = next(m for m in instance.process_managers() if m.name == record.consumer)
        try:
            msg = await service_ctx.store.js.get_msg(record.stream, record.sequence)
            envelope = decode_message(msg.data or b"", {}, record.stream)
            await manager.react(envelope.model_copy(update={"sequence": record.sequence}))
        except Exception:
            failed += 1
            continue
        await parked_admin.delete_msg(PARKED_STREAM, seq)
        applied += 1
    return RetryOutcome(applied=applied, still_parked=failed)


@contextlib.asynccontextmanager
async def operators_bus(runner: ServiceRunner) -> AsyncIterator[JetStreamContext]:
    """A connection as the operators' NATS user, for what no part may do: removing a retried record
    from the PARKED stream (a part may only add its own)."""
    try:
        nc = await nats.connect(
            runner.nats_url, name="shakti-ops", allow_reconnect=False, **runner.settings.nats_options(OPS)
        )
    except (CredentialsError, NatsError, OSError):
        raise bilingual_error(
            503,
            "no_operator_bus",
            "Retrying parked reactions needs the operators' NATS user (ops) in this process's "
            "credentials (SHAKTI_NATS_CREDENTIALS_FILE).",
            "रुकी प्रतिक्रियाएँ दोबारा चलाने के लिए इस प्रक्रिया के NATS क्रेडेंशियल "
            "(SHAKTI_NATS_CREDENTIALS_FILE) में ऑपरेटर उपयोगकर्ता (ops) चाहिए।",
        ) from None
    try:
        yield nc.jetstream(timeout=JETSTREAM_API_TIMEOUT)
    finally:
        await nc.close()


async def parked_items(runners: dict[str, ServiceRunner]) -> list[ParkedItem]:
    """Every parked event of the services here: read models' records, then the shared PARKED stream's."""
    items: list[ParkedItem] = []
    for name, runner in runners.items():
        if runner.context is None:
            continue
        for projector in runner.context.projectors.values():
            items += [
                ParkedItem(
                    kind="projection",
                    service=name,
                    name=p.projection,
                    ref=p.id,
                    stream=p.stream,
                    sequence=p.sequence,
                    event_type=p.event_type,
                    reason=p.reason,
                    attempts=p.attempts,
                    parked_at=p.parked_at.isoformat(),
                )
                for p in await projector.parked()
            ]
    ctx = _any_context(runners)
    for seq, record in await parked_reactions(ctx) if ctx else []:
        owner = _owner(runners, record.consumer)
        items.append(
            ParkedItem(
                kind="reaction",
                service=owner[0] if owner else "?",
                name=record.consumer,
                ref=seq,
                stream=record.stream,
                sequence=record.sequence,
                event_type=record.event_type,
                reason=record.reason,
                attempts=record.deliveries,
                parked_at=record.parked_at,
            )
        )
    return items


async def retry_parked(runners: dict[str, ServiceRunner], name: str | None, ref: int | None) -> RetryOutcome:
    """Parked events applied again: the read models' first, then the reactions chosen by ``name``/``ref``."""
    applied = failed = 0
    for runner in runners.values():
        if runner.context is None:
            continue
        for projector in runner.context.projectors.values():
            if name is not None and projector.name != name:
                continue
            ok, bad = await projector.retry_parked(ref)
            applied, failed = applied + ok, failed + bad
    ctx = _any_context(runners)
    chosen = [
        (seq, record)
        for seq, record in (await parked_reactions(ctx) if ctx else [])
        if (name is None or record.consumer == name) and (ref is None or ref == seq)
    ]
    if not chosen:
        return RetryOutcome(applied=applied, still_parked=failed)
    async with operators_bus(next(r for r in runners.values() if r.context is not None)) as parked_admin:
        outcome = await _retry_reactions(runners, chosen, parked_admin)
    return RetryOutcome(applied=applied + outcome.applied, still_parked=failed + outcome.still_parked)


async def run_rebuild(job: Rebuild, ctx: ServiceContext) -> None:
    """Every read model of the service rebuilt in turn, the job's progress kept for the operator to poll."""
    try:
        for projector in ctx.projectors.values():
            started = time.monotonic()

            def report(done: int, total: int, name: str = projector.name, t0: float = started) -> None:
                elapsed = max(time.monotonic() - t0, 1e-6)
                job.progress = RebuildProgress(
                    service=job.service, projection=name, done=done, total=total, rate=done / elapsed
                )

            report(0, 0)
            await projector.rebuild(report)
        job.progress = job.snapshot().model_copy(update={"finished": True})
    except Exception as error:
        job.progress = job.snapshot().model_copy(update={"finished": True, "error": type(error).__name__})


def operations_router() -> APIRouter:
    router = APIRouter(tags=["operations"])
    _status_and_parked_routes(router)
    _rebuild_routes(router)
    return router


def _status_and_parked_routes(router: APIRouter) -> None:
    """The services' status, and the events parked by read models and reactions."""

    @router.get("/status")
    async def status(request: Request, _: Operator) -> dict[str, Any]:
        """Each service here: NATS connection, lag per projection and stream, parked counts."""
        runners: dict[str, ServiceRunner] = request.app.state.runners
        report = {name: await runner.readiness() for name, runner in runners.items()}
        ctx = _any_context(runners)
        reactions = len(await parked_reactions(ctx)) if ctx else 0
        return {"services": report, "parked_reactions": reactions}

    @router.get("/parked")
    async def parked(request: Request, _: Operator) -> list[ParkedItem]:
        """Events a read model or a process manager gave up on, with the reason."""
        return await parked_items(request.app.state.runners)

    @router.post("/parked/retry")
    async def retry(
        request: Request,
        _: Operator,
        name: Annotated[str | None, Query(max_length=100)] = None,
        ref: Annotated[int | None, Query(ge=1)] = None,
    ) -> RetryOutcome:
        """Apply parked events again (all, those of one projection or consumer, or one record)."""
        return await retry_parked(request.app.state.runners, name, ref)


def _rebuild_routes(router: APIRouter) -> None:
    """Read models rebuilt inside the process that owns them, one job per service at a time."""
    rebuilds: dict[str, Rebuild] = {}

    @router.post("/rebuild/{service}", status_code=202)
    async def start_rebuild(request: Request, service: ServiceName, _: Operator) -> RebuildProgress:
        """Rebuild every read model of the service from the start of the streams, then switch."""
        ctx = _runner(request, service)
        current = rebuilds.get(service)
        if current is not None and current.task is not None and not current.task.done():
            return current.snapshot()
        job = Rebuild(service)
        job.task = asyncio.create_task(run_rebuild(job, ctx), name=f"rebuild {service}")
        rebuilds[service] = job
        return job.snapshot()

    @router.get("/rebuild/{service}")
    async def rebuild_progress(request: Request, service: ServiceName, _: Operator) -> RebuildProgress:
        _runner(request, service)
        job = rebuilds.get(service)
        if job is None:
            raise bilingual_error(
                404, "no_rebuild", f"No rebuild of {service} started.", f"{service} का पुनर्निर्माण शुरू नहीं हुआ।"
            )
        return job.snapshot()
