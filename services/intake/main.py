"""The intake service instance: its read models, its key store, its desk and its routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.intake.api import build_router
from services.intake.desk import IntakeDesk
from services.intake.keystore import KeyStore
from services.intake.priority import load_priority_table
from services.intake.read_model import CaseRegister, Jurisdiction
from shared.contracts.intake import SERVICE
from shared.readmodel import create_engine
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_INTAKE_", env_file=".env", extra="ignore")

    priority_table: Path | None = None
    """A YAML priority table to use instead of the one shipped beside the code."""


class Intake(ServiceInstance):
    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        url = ctx.settings.key_store_url
        # The key store may live in a database of its own, which this instance then owns.
        self.keys = KeyStore(create_engine(url) if url else ctx.engine)
        self.desk = IntakeDesk(ctx, self.keys, load_priority_table(IntakeSettings().priority_table))

    async def start(self) -> None:
        await self.keys.setup()

    async def stop(self) -> None:
        if self.keys.engine is not self.ctx.engine:
            await self.keys.engine.dispose()

    def routes(self) -> APIRouter:
        return build_router(self.desk)


service = ServiceDefinition(
    name=SERVICE,
    projections=lambda: [CaseRegister(), Jurisdiction()],
    reads=["routing", "escalation"],
    instance=Intake,
)
