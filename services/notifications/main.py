"""The notifications service instance (``services.notifications.main:service``): who must be told what.

The policy file is read when the service starts (``SHAKTI_NOTIFICATIONS_POLICY``, else ``policy.yaml``
beside this module); a bad file stops the start with a message naming each wrong field. E-mail goes
over SMTP when ``SHAKTI_NOTIFICATIONS_SMTP_HOST`` is set, SMS through the gateway at
``SHAKTI_NOTIFICATIONS_SMS_URL``; a channel not configured goes to the outbox (recorded, shown on the
outbox page, sent nowhere), which is what ``make run`` does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

from fastapi import APIRouter
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.notifications.api import build_router
from services.notifications.channels import Adapter, Outbox, SmsGateway, Smtp, Web, load_contacts
from services.notifications.commands import NotificationCommands
from services.notifications.domain import Roster
from services.notifications.handlers import (
    CaseEvents,
    Delivery,
    DeliveryFigures,
    Every,
    InterruptedDeliveries,
    PageWorker,
    QuietHoursOver,
)
from services.notifications.messages import Names
from services.notifications.policy import DEFAULT_POLICY, Policy, load_policy
from services.notifications.read_model.projection import NotificationBoard
from services.notifications.read_model.queries import (
    counts,
    due_pages,
    held_until,
    load_roster,
    waiting,
)
from services.notifications.read_model.tables import BoardTables
from shared.clock import Clock
from shared.contracts.notifications import SERVICE, NotificationChannel
from shared.observability import NOTIFICATION_LAG, NOTIFICATIONS
from shared.places import Places, PlaceTables, place_names, places_name
from shared.projection import Projector
from shared.runtime import ServiceContext, ServiceDefinition, ServiceInstance, Worker
from shared.subscriber import ProcessManager

log = logging.getLogger(__name__)


KENDRA = "kendra:"
"""The contacts file's address of a Kendra's public phone (``kendra:MSK-SJP-KATRA: {phone: ...}``)."""
ROSTER_SECONDS = 1.0
"""How long a read of the roster serves the decisions: a burst of alerts reads it once, and a change of
duty reaches the next decision within this long."""
NAMES_SECONDS = 30.0
"""Place names change with a jurisdiction import, rarely."""
DELIVERIES = "notifications_deliver"
"""The deliveries under way, as reported beside the reactions' backlog (once the name of their consumer)."""
STOP_WAITS_FOR_DELIVERIES = 5.0
"""Seconds a stop lets the deliveries under way finish; the rest are taken up again after the restart."""
INTERRUPTED_BEATS = 10
"""A replica looks for deliveries cut short every this many beats (one is taken to be cut short after
``Delivery.cut_short_after``: 25.4 s with the default policy)."""

T = TypeVar("T")


class Kept(Generic[T]):
    """The last answer of a read, kept for a while (one read at a time): ``seconds`` of wall time, and
    as long on the service's ``clock`` too when given. A history loaded at its own moments
    (``shakti.history``) moves its clock days in a second: a roster kept a wall second there would decide
    a week later on an officer's duty of the week before."""

    def __init__(self, seconds: float, clock: Clock | None = None) -> None:
        self.seconds = seconds
        self.clock = clock
        self.value: T | None = None
        self.read_at = float("-inf")
        self.read_on: datetime | None = None
        """The clock's time of the read."""
        self.lock = asyncio.Lock()

    def _stale(self) -> bool:
        if self.value is None or time.monotonic() - self.read_at > self.seconds:
            return True
        moved = self.clock.now() - self.read_on if self.clock and self.read_on else None
        return moved is not None and abs(moved.total_seconds()) > self.seconds

    async def get(self, read: Callable[[], Awaitable[T]]) -> T:
        async with self.lock:
            if self._stale():
                self.value = await read()
                self.read_at = time.monotonic()
                self.read_on = self.clock.now() if self.clock else None
            assert self.value is not None
            return self.value


class NotificationsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SHAKTI_NOTIFICATIONS_", extra="ignore")

    policy: Path = DEFAULT_POLICY
    contacts: Path | None = None
    """YAML: ``contacts: {officer:PNO1: {email: ..., phone: ..., language: hi}}``; never in events."""
    base_url: str = ""
    """Where the web front is reached, for the links in messages (e.g. ``https://shakti.up.gov.in``)."""
    poll_seconds: float = 1.0
    """How often the workers look for danger-now pages due again and quiet hours that are over (and,
    every ten such beats, for deliveries cut short by a stopped process)."""
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str = "mission-shakti@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    sms_url: str | None = None
    sms_sender: str = "MSHAKT"
    sms_api_key: str | None = None


def observe(figures: DeliveryFigures) -> None:
    NOTIFICATIONS.labels(figures.channel, figures.outcome).inc()
    if figures.outcome == "sent":
        NOTIFICATION_LAG.labels(figures.channel).observe(figures.lag_seconds)


class Notifications(ServiceInstance):
    def __init__(self, ctx: ServiceContext, policy: Policy, settings: NotificationsSettings) -> None:
        super().__init__(ctx)
        self.policy = policy
        self.settings = settings
        self.board: Projector[BoardTables] = ctx.projector(NotificationBoard.name)
        self.places: Projector[PlaceTables] = ctx.projector(places_name(SERVICE))
        timeout = policy.delivery.timeout.total_seconds()
        self.sms: SmsGateway | None = None
        email: Adapter = Outbox()
        sms: Adapter = Outbox()
        if settings.smtp_host:
            email = Smtp(
                settings.smtp_host,
                settings.smtp_port,
                settings.smtp_sender,
                username=settings.smtp_username,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls,
                timeout=timeout,
            )
        if settings.sms_url:
            sms = self.sms = SmsGateway(
                settings.sms_url, settings.sms_sender, api_key=settings.sms_api_key, timeout=timeout
            )
        contacts = load_contacts(settings.contacts)
        self.delivery = Delivery(
            ctx.store,
            policy,
            {NotificationChannel.WEB: Web(), NotificationChannel.EMAIL: email, NotificationChannel.SMS: sms},
            contacts,
            self.names,
            ctx.clock,
            base_url=settings.base_url,
            observe=observe,
        )
        self._names: Kept[Names] = Kept(NAMES_SECONDS)
        self._roster: Kept[Roster] = Kept(ROSTER_SECONDS, ctx.clock)
        # A Kendra's phone, told to a complainant who agreed to SMS: the contacts file's ``kendra:<code>``.
        phones = {
            address.removeprefix(KENDRA): contact.phone
            for address, contact in contacts.items()
            if address.startswith(KENDRA) and contact.phone
        }
        self.decisions = CaseEvents(
            ctx.store, policy, self.roster, ctx.clock, phones, self.delivery.hand_over
        )
        self.pages = PageWorker(self.decisions, self.due, ctx.clock)
        self.quiet = QuietHoursOver(self.delivery, self.held, ctx.clock)
        self.interrupted = InterruptedDeliveries(self.delivery, self.waiting)

    async def names(self) -> Names:
        async def read() -> Names:
            async with self.places.sessions() as session:
                return await place_names(session, self.places.tables)

        return await self._names.get(read)

    async def roster(self) -> Roster:
        async def read() -> Roster:
            async with self.board.sessions() as session:
                return await load_roster(session, self.board.tables, self.places.tables)

        return await self._roster.get(read)

    async def due(self, now: datetime) -> list[tuple[str, int, list[str]]]:
        async with self.board.sessions() as session:
            return [
                (p.page_id, p.round, p.notification_ids)
                for p in await due_pages(session, self.board.tables, now)
            ]

    async def held(self, now: datetime) -> list[tuple[str, datetime]]:
        async with self.board.sessions() as session:
            return await held_until(session, self.board.tables, now)

    async def waiting(self) -> list[tuple[str, str, int]]:
        async with self.board.sessions() as session:
            return await waiting(session, self.board.tables)

    async def figures(self) -> dict[str, int]:
        """Messages parked (no channel took them) and being retried, for ``shakti status``."""
        async with self.board.sessions() as session:
            found = await counts(session, self.board.tables)
        return {"messages_parked": found.get("parked", 0), "messages_retrying": found.get("retrying", 0)}

    async def stop(self) -> None:
        await self.delivery.close(within=STOP_WAITS_FOR_DELIVERIES)
        if self.sms is not None:
            await self.sms.close()

    def under_way(self) -> dict[str, int]:
        return {DELIVERIES: len(self.delivery.handing)}

    async def finish_under_way(self) -> None:
        await self.delivery.settle()

    def process_managers(self) -> list[ProcessManager]:
        return self.decisions.process_managers()

    def workers(self) -> list[Worker]:
        beat = self.settings.poll_seconds
        return [
            Every(self.pages.repeat_due, beat).run,
            Every(self.quiet.release_due, beat).run,
            Every(self.interrupted.resume_due, beat * INTERRUPTED_BEATS).run,
        ]

    def routes(self) -> APIRouter:
        commands = NotificationCommands(self.ctx, self.delivery, self.board, self.places)
        return build_router(commands, self.board, self.places, self.delivery.base_url)


def build_service(policy_file: Path | None = None, **overrides: object) -> ServiceDefinition:
    def instance(ctx: ServiceContext) -> ServiceInstance:
        settings = NotificationsSettings(**overrides)  # type: ignore[arg-type]
        source = policy_file or settings.policy
        policy = load_policy(source)
        log.info("notification policy %s (%s) from %s", policy.version, policy.status, source)
        return Notifications(ctx, policy, settings)

    return ServiceDefinition(
        name=SERVICE,
        projections=lambda: [NotificationBoard(), Places(SERVICE)],
        reads=["intake", "routing", "escalation", "training", "users"],
        instance=instance,
    )


service = build_service()
