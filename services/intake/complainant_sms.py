"""Intake hands a complainant's SMS to the gateway (issue 17): notifications decides the message and
records it for ``complainant:<case id>`` without her phone; intake, the only service that can open her
sealed phone, sends it and records the outcome on her case, without the phone
(``ComplainantMessageSent`` / ``ComplainantMessageFailed``), which notifications shows as sent or failed.

Only while she consents and her identity is kept: the case is read when the message is due, so a
withdrawal or an erasure recorded since stops it (recorded as failed, parked at once, with the reason).
Not at night: a status message decided in the platform's quiet hours for complainants carries
``not_before``; intake leaves it until notifications' quiet-hours worker releases it
(``NotificationReleased``, carrying the request, so intake reads nothing of notifications' aggregates).
Exactly once per message: a message already sent on her case is not sent again (a redelivered request,
a second replica), and the notification id is the gateway's client reference on every try. A failing
gateway is tried ``ATTEMPTS`` times with backoff, each failure recorded, then parked; the request stays
unacknowledged on the bus meanwhile, so the tries stay under its 30 s (as notifications' policy does).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Protocol

from services.intake.commands import IDENTITY
from services.intake.domain import Case
from services.intake.keystore import KeyStore, unseal
from shared.complainant_sms import PlaceNames, complainant_sms
from shared.contracts.intake import CaseRegistered
from shared.contracts.notifications import (
    COMPLAINANT,
    NotificationChannel,
    NotificationReleased,
    NotificationRequested,
    NotificationRetried,
)
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta
from shared.runtime import ServiceContext
from shared.sms import ChannelError, Sms
from shared.subscriber import ProcessManager

log = logging.getLogger(__name__)

ATTEMPTS, FIRST_BACKOFF, BACKOFF_FACTOR, TIMEOUT = 4, 0.5, 2.0, 4.0
"""4 tries of at most 4 s with 0.5, 1 and 2 s between: 19.5 s at most, under the bus's 30 s."""
ACTOR = "intake"
TAKEN_UP = frozenset(t.event_type for t in (NotificationRequested, NotificationRetried, NotificationReleased))
"""The events of notifications' stream that can hand intake a complainant's SMS."""


def _waiting(wanted: NotificationRequested, now: datetime) -> bool:
    return wanted.not_before is not None and wanted.not_before > now


class SmsChannel(Protocol):
    via: str

    async def send_sms(self, sms: Sms) -> None: ...


class Outbox:
    """No gateway configured (``make run``): taken and sent nowhere; notifications' outbox shows it."""

    via = "outbox"

    async def send_sms(self, sms: Sms) -> None:
        return None


class ComplainantMessages:
    def __init__(
        self,
        ctx: ServiceContext,
        keys: KeyStore,
        channel: SmsChannel,
        names: Callable[[], Awaitable[PlaceNames]],
    ) -> None:
        self.ctx = ctx
        self.keys = keys
        self.channel = channel
        self.names = names
        self.cases = ctx.repository(Case)

    def process_managers(self) -> list[ProcessManager]:
        return [
            ProcessManager(
                name="intake_to_complainants",
                stream="NOTIFICATIONS",
                subject="shakti.notifications.notification.*",
                react=self.react,
                description="Sends a complainant who agreed to SMS the messages notifications decided "
                "for her (only intake opens her phone).",
                event_types=TAKEN_UP,
            )
        ]

    async def react(self, envelope: Envelope) -> None:
        if envelope.event_type not in TAKEN_UP:
            return
        told = envelope.event()
        # An operator's retry of a parked one carries the request; each retry is a round of its own. A
        # release at the end of her quiet hours carries it too: the message is due now.
        match told:
            case NotificationRetried():
                wanted, round_ = told.request, f":retry:{envelope.event_id}"
            case NotificationReleased() if told.request is not None:
                wanted, round_ = told.request, ""
            case NotificationRequested() if (
                told.not_before is None or told.not_before <= self.ctx.clock.now()
            ):
                wanted, round_ = told, ""
            case _:
                return  # held for the night: its release brings it back
        if wanted.recipient.startswith(COMPLAINANT) and wanted.channel is NotificationChannel.SMS:
            await self.deliver(wanted, round_)

    async def deliver(self, wanted: NotificationRequested, round_: str = "") -> None:
        case_id, message = wanted.case_id or "", wanted.notification_id
        case = await self.cases.get(case_id)
        if message in case.messages_sent:
            return
        reason = case.why_no_message() or (None if wanted.template_id else "no_template")
        phone = await self._phone(case_id) if reason is None else None
        if reason is not None or phone is None:
            now, why = self.ctx.clock.now(), reason or "no_phone"
            refused = self._meta(f"sms:{message}:refused{round_}")
            await self.cases.execute(case_id, lambda c: c.message_failed(message, 1, why, True, now), refused)
            log.info("case %s: SMS %s not sent (%s)", case_id, message, why)
            return
        await self._send(case, wanted, phone)

    async def _send(self, case: Case, wanted: NotificationRequested, phone: str) -> None:
        message, language = wanted.notification_id, wanted.language or "hi"
        english, hindi = complainant_sms(wanted, await self.names())
        sms = Sms(
            to=phone,
            text=english if language == "en" else hindi,
            unicode=language != "en",
            template_id=wanted.template_id or "",
            reference=message,
        )
        tried = case.message_tries.get(message, 0)
        for attempt in range(1, ATTEMPTS + 1):
            reason = await self._try(sms)
            now, count = self.ctx.clock.now(), tried + attempt
            if reason is None:
                via = self.channel.via
                done = self._meta(f"sms:{message}:sent")
                sent = partial(Case.message_sent, notification_id=message, via=via, attempts=count, at=now)
                await self.cases.execute(case.id, sent, done)
                log.info("case %s: SMS %s handed to %s", case.id, message, via)
                return
            last = attempt == ATTEMPTS
            failed = self._meta(f"sms:{message}:{count}:failed")
            failure = partial(
                Case.message_failed,
                notification_id=message,
                attempt=count,
                reason=reason,
                parked=last,
                at=now,
            )
            await self.cases.execute(case.id, failure, failed)
            log.warning(
                "case %s: SMS %s failed (%s), try %d of %d", case.id, message, reason, attempt, ATTEMPTS
            )
            if not last:
                await asyncio.sleep(FIRST_BACKOFF * BACKOFF_FACTOR ** (attempt - 1))

    async def _try(self, sms: Sms) -> str | None:
        try:
            await asyncio.wait_for(self.channel.send_sms(sms), TIMEOUT)
        except ChannelError as error:
            return error.reason
        except TimeoutError:
            return "timeout"
        return None

    async def _phone(self, case_id: str) -> str | None:
        """Her phone, opened from the sealed registration for this message only (never kept or logged)."""
        key = await self.keys.find(case_id)
        if key is None:
            return None
        history: Sequence[Envelope] = await self.cases.history(case_id)
        registered: Event | None = next(
            (e for envelope in history if isinstance(e := envelope.event(), CaseRegistered)), None
        )
        if not isinstance(registered, CaseRegistered):
            return None
        particulars = json.loads(unseal(key, case_id, IDENTITY, registered.sealed_identity))
        phone = particulars.get("phone")
        return phone if isinstance(phone, str) and phone else None

    def _meta(self, command_id: str) -> CommandMeta:
        return CommandMeta(command_id=command_id, actor=ACTOR, occurred_at=self.ctx.clock.now())
