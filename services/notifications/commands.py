"""Notifications' commands: what a reader or an operator asks the notifications service to do.

A route parses the request into a typed command, hands it with its ``Caller`` to the handler here and
shapes the answer from what the handler returns. A notification is the caller's when it is addressed
to them (their user name, their service number) or to the ladder office their role holds now.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar, Literal

from pydantic import Field

from shared.auth import Principal
from shared.commands import Caller, Command, fingerprint
from shared.contracts.notifications import (
    CLOCK_TIME,
    COMPLAINANT,
    MESSAGE_LANGUAGE,
    MutableChannel,
    PreferencesChanged,
    preferences_id,
)
from shared.contracts.vocabulary import Record
from shared.errors import NotFound
from shared.events import Envelope
from shared.places import PlaceTables, kendras_of
from shared.projection import Projector
from shared.roles import Role
from shared.rows import Row
from shared.runtime import ServiceContext

from .domain import Notification, Preferences
from .handlers import Delivery
from .read_model.queries import one
from .read_model.tables import BoardTables


class AcknowledgeNotification(Command):
    """The caller has seen a notification addressed to them; one of a danger-now page stops the page."""

    name: ClassVar[str] = "acknowledge"
    notification_id: str


class SendAgain(Command):
    """An operator sends a parked message again, now."""

    name: ClassVar[str] = "retry"
    notification_id: str


class ChoosePreferences(Command):
    """The caller's own choices for their messages (the request body of ``PUT /preferences``)."""

    name: ClassVar[str] = "preferences"
    language: str | None = Field(default=None, max_length=2, pattern=MESSAGE_LANGUAGE)
    """Of e-mail and SMS: ``hi`` or ``en``; none: as the contacts file says, else Hindi."""
    quiet_from: str | None = Field(default=None, max_length=5, pattern=CLOCK_TIME)
    """Start of the quiet hours, IST (``22:00``): messages that are not urgent wait until they end."""
    quiet_until: str | None = Field(default=None, max_length=5, pattern=CLOCK_TIME)
    muted_channels: list[MutableChannel] = Field(default_factory=list, max_length=2)
    """``email``, ``sms``: not sent for messages that are not urgent (urgent ones go on every channel;
    the bell shows everything)."""


def own_address(principal: Principal) -> str:
    """The address messages to this person are sent to (``domain.Holder.address``)."""
    if principal.service_number:
        return f"officer:{principal.service_number}"
    return f"user:{principal.username}"


class NotificationCommands:
    def __init__(
        self,
        ctx: ServiceContext,
        delivery: Delivery,
        board: Projector[BoardTables],
        places: Projector[PlaceTables],
    ) -> None:
        self.ctx = ctx
        self.delivery = delivery
        self.board = board
        self.places = places
        self.notifications = ctx.repository(Notification)
        self.preferences = ctx.repository(Preferences)

    async def acknowledge(self, caller: Caller, command: AcknowledgeNotification) -> list[Envelope]:
        """The events stored: the acknowledgement, or none when it was acknowledged before."""
        addressed = frozenset(await self.addresses(caller.who))
        at = self.ctx.clock.now()
        meta = caller.meta(command.name, command.notification_id, request=fingerprint({}), at=at)
        return await self.notifications.execute(
            command.notification_id, lambda n: n.acknowledge(caller.actor, addressed, at), meta
        )

    async def send_again(
        self, caller: Caller, command: SendAgain
    ) -> Literal["sent", "parked", "to_intake", "under_way"]:
        """What became of it: a channel took it this time, or it is parked again (each try is recorded),
        or, a complainant's SMS, it went back to intake to send; or it was not parked (being sent, or
        another retry took it first), and nothing was done."""
        row = await self.board.find(partial(self._row, command.notification_id))  # recorded a moment ago?
        if row is None:
            raise NotFound(Record.NOTIFICATION, command.notification_id)
        found = await self.notifications.get(command.notification_id)
        if found.sent:
            return "sent"
        retry = partial(Notification.retry, by=caller.actor, at=self.ctx.clock.now())
        meta = caller.meta(command.name, command.notification_id, step=f"after-{found.tries}-tries")
        # Recorded once, by one caller: only the one who stores the retry sends (the others, and a
        # delivery already under way, would send it a second time).
        if not await self.notifications.execute_once(command.notification_id, retry, meta, known=found):
            return "under_way"
        if str(row["recipient"]).startswith(COMPLAINANT):
            return "to_intake"  # hers is intake's to send (only intake opens her phone), from the event
        return "sent" if await self.delivery.deliver(command.notification_id) else "parked"

    async def _row(self, notification_id: str) -> Row | None:
        async with self.board.sessions() as session:
            return await one(session, self.board.tables, notification_id)

    async def choose_preferences(self, caller: Caller, command: ChoosePreferences) -> Preferences:
        """The caller's preferences after the change (a DomainError when the quiet hours are half given
        or empty)."""
        recipient = own_address(caller.who)
        choices = command.model_dump(mode="json")
        wanted = PreferencesChanged(recipient=recipient, **choices)
        meta = caller.meta(command.name, recipient, request=fingerprint(choices))
        await self.preferences.execute(preferences_id(recipient), lambda p: p.change(wanted), meta)
        return await self.preferences_of(recipient)

    async def preferences_of(self, recipient: str) -> Preferences:
        return await self.preferences.get(preferences_id(recipient))

    async def addresses(self, principal: Principal) -> list[str]:
        """Whom the caller answers for: themselves, and the ladder office their role holds now (an agency
        desk: her agency's desk)."""
        if principal.role is Role.AGENCY_DESK:
            # Only her agency's desk: nothing is sent to a desk by her user name, and what was sent to
            # that name under a police role before (a reused user name) is not hers to read.
            return [f"agency:{principal.agency}"] if principal.agency else []
        mine = [f"user:{principal.username}"]
        if principal.service_number:
            mine.append(f"officer:{principal.service_number}")
        offices: list[str] = []
        match principal.role:
            case Role.KENDRA_INCHARGE if principal.thana:
                async with self.places.sessions() as session:
                    offices = await kendras_of(session, self.places.tables, principal.thana)
            case Role.SHO if principal.thana:
                offices = [principal.thana]
            case Role.CO if principal.circle:
                offices = [principal.circle]
            case Role.ADDL_SP | Role.SP if principal.district:
                offices = [principal.district]
        return mine + [f"office:{principal.role.value}:{code}" for code in offices]
