"""The channels a notification goes out on, each an adapter behind one interface (``Adapter.send``).

- ``web``: the bell of the web front; the notification is there once recorded, nothing to hand over.
- ``outbox``: recorded only (``make run``, or a channel not configured): the outbox page shows what
  would have been sent, so nothing needs a real mail server or SMS gateway.
- ``smtp``: e-mail over SMTP (aiosmtplib), both languages in one message, the reader's own first.
- ``sms_gateway``: an HTTP SMS gateway (``shared/sms.py``, which intake uses too for complainants),
  one POST per message carrying the TRAI DLT template id the text is registered under, Hindi in
  Unicode; the notification id goes along as the client reference, so a gateway that deduplicates on
  it never sends one twice.

An adapter raises ``ChannelError`` with a reason code when the channel refused or failed; the
delivery loop (``handlers.Delivery``) retries with backoff and parks the message after the last try.
Addresses (e-mail, phone) come from the contacts file, never from events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import aiosmtplib
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.contracts.notifications import NotificationChannel
from shared.sms import ChannelError as ChannelError  # what the delivery loop catches
from shared.sms import Sms
from shared.sms import SmsGateway as Gateway

from .messages import Message


class Contact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9]{10,15}$")
    language: str = Field(default="hi", pattern=r"^(hi|en)$")


class ContactsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contacts: dict[str, Contact] = Field(default_factory=dict)
    """Recipient (``officer:<service number>``, ``agency:<code>``, ...) -> how to reach them."""


class ContactsError(ValueError):
    pass


def load_contacts(path: Path | None) -> Mapping[str, Contact]:
    """The address book of the channels (officers' and agency desks' e-mail and phone); none: empty."""
    if path is None:
        return {}
    try:
        return ContactsFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {}).contacts
    except (OSError, yaml.YAMLError) as error:
        raise ContactsError(f"{path}: cannot read the contacts file ({error})") from None
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise ContactsError(f"{path} is not a valid contacts file: {problems}") from None


@dataclass(frozen=True)
class Outgoing:
    notification_id: str
    channel: NotificationChannel
    recipient: str
    message: Message
    contact: Contact | None
    template_id: str | None = None


class Adapter(Protocol):
    via: str
    """The name recorded in ``NotificationSent.via``."""

    async def send(self, outgoing: Outgoing) -> None: ...


class Web:
    via = "web"

    async def send(self, outgoing: Outgoing) -> None:
        return None


class Outbox:
    """Takes every message and sends nothing: the outbox page lists what went this way."""

    via = "outbox"

    async def send(self, outgoing: Outgoing) -> None:
        return None


class Smtp:
    via = "smtp"

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 4.0,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password, self.starttls = username, password, starttls
        self.timeout = timeout

    async def send(self, outgoing: Outgoing) -> None:
        if outgoing.contact is None or outgoing.contact.email is None:
            raise ChannelError("no_address")
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = outgoing.contact.email
        language = outgoing.contact.language
        mail["Subject"] = outgoing.message.both_subjects(language)
        domain = self.sender.rpartition("@")[2] or "shakti"
        # The same message id on every try: a mail system that saw it once can drop the repeat.
        mail["Message-ID"] = f"<{outgoing.notification_id}@{domain}>"
        mail.set_content(outgoing.message.both(language), charset="utf-8")
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                username=self.username,
                password=self.password,
                start_tls=self.starttls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPTimeoutError:
            raise ChannelError("timeout") from None
        except aiosmtplib.SMTPConnectError:
            raise ChannelError("unreachable") from None
        except aiosmtplib.SMTPResponseException as error:
            raise ChannelError(f"smtp_{error.code}") from None
        except aiosmtplib.SMTPException:
            raise ChannelError("smtp_error") from None


class SmsGateway(Gateway):
    """The shared gateway (``shared/sms.py``) as this service's adapter: the phone and the language from
    the contacts file, the DLT template id from the policy."""

    async def send(self, outgoing: Outgoing) -> None:
        if outgoing.contact is None or outgoing.contact.phone is None:
            raise ChannelError("no_address")
        if outgoing.template_id is None:
            raise ChannelError("no_template")
        language = outgoing.contact.language
        await self.send_sms(
            Sms(
                to=outgoing.contact.phone,
                text=outgoing.message.text(language),
                unicode=language == "hi",
                template_id=outgoing.template_id,
                reference=outgoing.notification_id,
            )
        )
