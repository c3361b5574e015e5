"""The intake service instance: its read models, its key store, its commands and its routes."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.intake.api import build_router
from services.intake.commands import IntakeCommands
from services.intake.complainant_sms import TIMEOUT, ComplainantMessages, Outbox, SmsChannel
from services.intake.kek import load_kek_ring
from services.intake.keystore import KeyStore
from services.intake.phone_index import load_phone_index
from services.intake.priority import load_priority_table
from services.intake.read_model.projection import CaseRegister
from shared.complainant_sms import PlaceNames
from shared.contracts.intake import SERVICE
from shared.places import Places, PlaceTables, place_names, places_name
from shared.projection import Projector
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance
from shared.sms import SmsGateway
from shared.subscriber import ProcessManager


class IntakeSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_INTAKE_", env_file=".env", extra="ignore")

    priority_table: Path | None = None
    """A YAML priority table to use instead of the one shipped beside the code."""
    sms_url: str | None = None
    """The HTTP SMS gateway a complainant's SMS go through (``shared/sms.py``); none: the outbox."""
    sms_sender: str = "MSHAKT"
    sms_api_key: str | None = None


class Intake(ServiceInstance):
    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx)
        kek = load_kek_ring(ctx.settings)  # refuses to start without a usable KEK (bilingual message)
        url = ctx.settings.key_store_url or ctx.engine.url.render_as_string(hide_password=False)
        # The key store has an engine of its own: its connections overwrite what they delete.
        self.keys = KeyStore.open(url, kek)
        settings = IntakeSettings()
        table = load_priority_table(settings.priority_table)
        self.commands = IntakeCommands(ctx, self.keys, table, load_phone_index(ctx.settings))
        self.gateway: SmsGateway | None = None
        channel: SmsChannel = Outbox()
        if settings.sms_url:
            channel = self.gateway = SmsGateway(
                settings.sms_url, settings.sms_sender, api_key=settings.sms_api_key, timeout=TIMEOUT
            )
        self.complainants = ComplainantMessages(ctx, self.keys, channel, self.names)

    async def names(self) -> PlaceNames:
        places: Projector[PlaceTables] = self.ctx.projector(places_name(SERVICE))
        async with places.sessions() as session:
            return await place_names(session, places.tables)

    def process_managers(self) -> list[ProcessManager]:
        return self.complainants.process_managers()

    async def start(self) -> None:
        await self.keys.setup()
        # Every erasure recorded in the stream is final here too, whatever copy of the store this is.
        await self.keys.apply_erasures(self.ctx.store)

    async def stop(self) -> None:
        await self.keys.close()
        if self.gateway is not None:
            await self.gateway.close()

    def routes(self) -> APIRouter:
        return build_router(self.commands)


service = ServiceDefinition(
    name=SERVICE,
    projections=lambda: [CaseRegister(), Places(SERVICE)],
    reads=["routing", "escalation", "notifications"],
    instance=Intake,
)
