"""The intake service instance: its read models, its key store, its commands and its routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.intake.api import build_router
from services.intake.commands import IntakeCommands
from services.intake.kek import load_kek_ring
from services.intake.keystore import KeyStore
from services.intake.phone_index import load_phone_index
from services.intake.priority import load_priority_table
from services.intake.read_model.projection import CaseRegister
from shared.contracts.intake import SERVICE
from shared.places import Places
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_INTAKE_", env_file=".env", extra="ignore")

    priority_table: Path | None = None
    """A YAML priority table to use instead of the one shipped beside the code."""


class Intake(ServiceInstance):
    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        kek = load_kek_ring(ctx.settings)  # refuses to start without a usable KEK (bilingual message)
        url = ctx.settings.key_store_url or ctx.engine.url.render_as_string(hide_password=False)
        # The key store has an engine of its own: its connections overwrite what they delete.
        self.keys = KeyStore.open(url, kek)
        table = load_priority_table(IntakeSettings().priority_table)
        self.commands = IntakeCommands(ctx, self.keys, table, load_phone_index(ctx.settings))

    async def start(self) -> None:
        await self.keys.setup()
        # Every erasure recorded in the stream is final here too, whatever copy of the store this is.
        await self.keys.apply_erasures(self.ctx.store)

    async def stop(self) -> None:
        await self.keys.close()

    def routes(self) -> APIRouter:
        return build_router(self.commands)


service = ServiceDefinition(
    name=SERVICE,
    projections=lambda: [CaseRegister(), Places(SERVICE)],
    reads=["routing", "escalation"],
    instance=Intake,
)
