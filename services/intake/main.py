"""Wiring of the intake service: its read models, its key store, its desk and its routes."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path

from fastapi import APIRouter
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.intake.api import build_router
from services.intake.desk import IntakeDesk
from services.intake.kek import load_kek_ring
from services.intake.keystore import KeyStore
from services.intake.priority import load_priority_table
from services.intake.read_model import CaseRegister, Jurisdiction
from shared.contracts.intake import SERVICE
from shared.eventstore import EventStore
from shared.runtime import ServiceContext, ServiceDefinition, Worker


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_INTAKE_", env_file=".env", extra="ignore")

    priority_table: Path | None = None
    """A YAML priority table to use instead of the one shipped beside the code."""


# One desk per running service instance (two may share a process, as in the tests), found by the
# context's event store, which lives exactly as long as the instance.
_desks: weakref.WeakKeyDictionary[EventStore, IntakeDesk] = weakref.WeakKeyDictionary()


def desk_of(ctx: ServiceContext) -> IntakeDesk:
    return _desks[ctx.store]


async def open_desk(ctx: ServiceContext) -> None:
    table = load_priority_table(IntakeSettings().priority_table)
    kek = load_kek_ring(ctx.settings)  # refuses to start without a usable KEK (bilingual message)
    url = ctx.settings.key_store_url or ctx.engine.url.render_as_string(hide_password=False)
    keys = KeyStore.open(url, kek)
    await keys.setup()
    # Every erasure recorded in the stream is final here too, whatever copy of the store this is.
    await keys.apply_erasures(ctx.store)
    _desks[ctx.store] = IntakeDesk(ctx, keys, table)


def key_store_keeper(ctx: ServiceContext) -> list[Worker]:
    """The key store has an engine of its own (its connections overwrite what they delete), closed
    when the service stops; the runtime stops a service by cancelling its workers, so a worker that
    only waits owns that engine."""
    engine = desk_of(ctx).keys.engine

    async def keep() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await engine.dispose()

    return [keep]


def routes(ctx: ServiceContext) -> APIRouter:
    return build_router(desk_of(ctx))


service = ServiceDefinition(
    name=SERVICE,
    projections=lambda: [CaseRegister(), Jurisdiction()],
    reads=["routing", "escalation"],
    workers=key_store_keeper,
    routes=routes,
    on_start=open_desk,
)
