"""The HTTP SMS gateway adapter, shared by the two services that send SMS: notifications (to officers,
from its contacts file) and intake (to a complainant who agreed to them: only intake can open her sealed
phone). ``POST url`` with JSON ``{to, sender, template_id, text, unicode, reference}``; any 2xx answer is
taken as accepted. Indian SMS rules (TRAI DLT) send only registered texts: each SMS names the template
id its text is registered under. Hindi goes as Unicode. The reference is the notification id, the same
on every try, so a gateway that deduplicates on it never sends one twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx


class ChannelError(Exception):
    """The channel did not take the message; ``reason`` is a code (never the server's words)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Sms:
    to: str = field(repr=False)
    """A phone number: kept out of every repr (a complainant's is identity data)."""
    text: str
    unicode: bool
    template_id: str
    reference: str


class SmsGateway:
    via = "sms_gateway"

    def __init__(self, url: str, sender: str, *, api_key: str | None = None, timeout: float = 4.0) -> None:
        self.url = url
        self.sender = sender
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(timeout=timeout, headers=headers)

    async def send_sms(self, sms: Sms) -> None:
        body = {
            "to": sms.to,
            "sender": self.sender,
            "template_id": sms.template_id,
            "text": sms.text,
            "unicode": sms.unicode,
            "reference": sms.reference,
        }
        try:
            answer = await self.client.post(self.url, json=body)
        except httpx.TimeoutException:
            raise ChannelError("timeout") from None
        except httpx.TransportError:
            raise ChannelError("unreachable") from None
        if not answer.is_success:
            raise ChannelError(f"http_{answer.status_code}")

    async def close(self) -> None:
        await self.client.aclose()
