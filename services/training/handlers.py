"""What the training service does on events and on time.

- routing's ``OfficerPosted``: the officer gets the curriculum assigned with a due date;
- its own ``ProgrammeCompleted``: those present get the programme's modules counted;
- its own ``ModulePublished`` that requires retraining: every officer trained on an older version is
  told so, with a due date;
- the review timer (``ctx.clock``): overdue training is reported and certificates lapse at expiry.

Every output's command id derives from its cause (an event id, or the due date / certificate it is
about), so a redelivered event or a second replica cannot produce it twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import TypeVar

from services.training.curriculum import TrainingPolicy
from services.training.domain import CertificateIssuer, Module, OfficerRecord, Programme
from services.training.read_model.queries import TrainingRegister
from shared.contracts.routing import OfficerPosted
from shared.contracts.training import SERVICE, ModulePublished, ProgrammeCompleted
from shared.dispatch import Reactions, handles
from shared.events import Envelope
from shared.eventstore import CommandMeta
from shared.keys import CERTIFICATE_KEY, secret_key
from shared.places import places_name
from shared.runtime import ServiceContext, Worker
from shared.subscriber import ProcessManager

log = logging.getLogger(__name__)

ACTOR = "training"
REVIEW_SECONDS = 30.0
PARALLEL_COMMANDS = 16

T = TypeVar("T")


def register_of(ctx: ServiceContext) -> TrainingRegister:
    return TrainingRegister(ctx.projector("training_records"), ctx.projector(places_name(SERVICE)))


def issuer_of(ctx: ServiceContext) -> CertificateIssuer:
    return CertificateIssuer(secret_key(ctx.settings, CERTIFICATE_KEY))


async def bounded(items: Iterable[T], run: Callable[[T], Awaitable[object]]) -> None:
    """Run one command per item, a few at a time: they touch different aggregates."""
    gate = asyncio.Semaphore(PARALLEL_COMMANDS)

    async def one(item: T) -> None:
        async with gate:
            await run(item)

    await asyncio.gather(*(one(item) for item in items))


def reacting(ctx: ServiceContext, cause: Envelope, step: str) -> CommandMeta:
    return CommandMeta.reacting_to(cause, ACTOR, step).model_copy(update={"occurred_at": ctx.clock.now()})


async def publish_curriculum(ctx: ServiceContext, policy: TrainingPolicy) -> None:
    """Publish each module of the curriculum file whose version is new (a no-op when nothing changed)."""
    modules = ctx.repository(Module)
    now = ctx.clock.now()
    await bounded(
        policy.curriculum.modules,
        lambda spec: modules.execute(
            spec.id,
            lambda m: m.publish(spec),
            CommandMeta(command_id=f"publish:{spec.id}:v{spec.version}", actor=ACTOR, occurred_at=now),
        ),
    )


class TrainingReactions(Reactions):
    """The training service's reactions to postings, completed programmes and new module versions."""

    def __init__(self, ctx: ServiceContext, policy: TrainingPolicy) -> None:
        self.ctx = ctx
        self.policy = policy
        self.officers = ctx.repository(OfficerRecord)
        self.programmes = ctx.repository(Programme)
        self.issuer = issuer_of(ctx)

    def process_managers(self) -> list[ProcessManager]:
        return [
            ProcessManager(
                "training_on_roster",
                "ROUTING",
                "shakti.routing.officer.*",
                self,
                "assign the curriculum on posting",
            ),
            ProcessManager(
                "training_on_programmes",
                "TRAINING",
                "shakti.training.programme.*",
                self,
                "count a completed programme's modules for those present",
            ),
            ProcessManager(
                "training_on_modules",
                "TRAINING",
                "shakti.training.module.*",
                self,
                "ask for retraining when a module's new version requires it",
            ),
        ]

    @handles(OfficerPosted)
    async def posted(self, event: OfficerPosted, cause: Envelope) -> None:
        await self.officers.execute(
            event.service_number,
            lambda r: r.assign(self.policy, event.kendra, cause.occurred_at),
            reacting(self.ctx, cause, "assign"),
        )

    @handles(ProgrammeCompleted)
    async def programme_completed(self, event: ProgrammeCompleted, cause: Envelope) -> None:
        programme = await self.programmes.get(event.programme_id)
        now = self.ctx.clock.now()
        source = f"programme:{event.programme_id}"
        await bounded(
            programme.credits(self.policy).items(),
            lambda credit: self.officers.execute(
                credit[0],
                lambda r: r.credit(self.policy, self.issuer, credit[1], source, now),
                reacting(self.ctx, cause, credit[0]),
            ),
        )

    @handles(ModulePublished)
    async def module_published(self, event: ModulePublished, cause: Envelope) -> None:
        if not event.requires_retraining:
            return
        store = self.ctx.store
        info = await store.js.stream_info(store.stream, subjects_filter="shakti.training.officer.*")
        holders = [subject.rsplit(".", 1)[1] for subject in (info.state.subjects or {})]
        due_at = self.policy.retraining_due(cause.occurred_at)
        log.info(
            "module %s v%d requires retraining: %d records to check",
            event.module_id,
            event.version,
            len(holders),
        )
        await bounded(
            holders,
            lambda sn: self.officers.execute(
                sn,
                lambda r: r.require_retraining(event.module_id, event.accepted_from_version, due_at),
                reacting(self.ctx, cause, sn),
            ),
        )


async def review(ctx: ServiceContext, policy: TrainingPolicy, now: datetime) -> None:
    """Report overdue training and lapse expired certificates, as of ``now``."""
    officers = ctx.repository(OfficerRecord)
    due = await register_of(ctx).due_for_review(now)
    await bounded(
        due.overdue,
        lambda item: officers.execute(
            item[0],
            lambda r: r.report_overdue(item[1], now),
            CommandMeta(command_id=f"overdue:{item[0]}:{item[1].isoformat()}", actor=ACTOR, occurred_at=now),
        ),
    )
    await bounded(
        due.expired,
        lambda item: officers.execute(
            item[0],
            lambda r: r.expire(policy, item[1], now),
            CommandMeta(command_id=f"lapse:{item[1]}", actor=ACTOR, occurred_at=now),
        ),
    )


def review_worker(ctx: ServiceContext, policy: TrainingPolicy) -> Worker:
    records = ctx.projector("training_records")

    async def loop() -> None:
        seen: tuple[datetime, int] | None = None
        while True:
            # Nothing can have fallen due unless time moved or the read model changed; skipping then
            # keeps a test's manual clock (whose sleep is a few milliseconds) from hammering the database.
            now = ctx.clock.now()
            if (now, records.applied) != seen:
                seen = (now, records.applied)
                await review(ctx, policy, now)
            await ctx.clock.sleep(REVIEW_SECONDS)

    return loop
