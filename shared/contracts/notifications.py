"""The facts the notifications service owns (stream ``NOTIFICATIONS``, subjects
``shakti.notifications.notification.<notification_id>``). This module is the public contract.

One notification is one message to one recipient on one channel because of one cause (another
service's event, or a round of a danger-now page). Its id derives from (cause, recipient, channel,
round), so a redelivered cause or a second replica can never make a second notification.

No event here carries a message's words: only codes, numbers, places and times, from which the text
is composed (Hindi and English) when it is shown or sent. Never anything about the complainant.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from shared.contracts.vocabulary import Labels, LadderRole
from shared.events import Event, derived_id, event_type

SERVICE = "notifications"
AGGREGATE = "notification"

RECIPIENT = r"^(officer|user|office|agency):[A-Za-z0-9_.:-]{1,120}$"
"""``officer:<service number>``, ``user:<user name>`` (a user without a service number),
``office:<ladder role>:<office code>`` (nobody holds the level now: whoever takes it up sees it),
``agency:<agency code>`` (an agency's desk)."""
CODE = r"^[A-Za-z0-9_:.-]{1,80}$"


class NotificationChannel(StrEnum):
    WEB = "web"
    """The bell of the web front: delivered when recorded."""
    EMAIL = "email"
    SMS = "sms"


class NotificationRule(StrEnum):
    ASSIGNED = "assigned"
    DANGER_NOW = "danger_now"
    DEADLINE_WARNING = "deadline_warning"
    BREACH = "breach"
    ESCALATION = "escalation"
    REFERRAL = "referral"


RULE_LABELS: Labels = {
    NotificationRule.ASSIGNED: ("नया मामला सौंपा गया", "New case assigned"),
    NotificationRule.DANGER_NOW: ("तत्काल खतरा", "Danger now"),
    NotificationRule.DEADLINE_WARNING: ("समय-सीमा निकट", "Deadline approaching"),
    NotificationRule.BREACH: ("समय-सीमा पार", "Deadline breached"),
    NotificationRule.ESCALATION: ("मामला आपके स्तर पर बढ़ाया गया", "Case escalated to you"),
    NotificationRule.REFERRAL: ("रेफरल प्राप्त", "Referral received"),
}

CHANNEL_LABELS: Labels = {
    NotificationChannel.WEB: ("वेब", "Web"),
    NotificationChannel.EMAIL: ("ई-मेल", "E-mail"),
    NotificationChannel.SMS: ("एसएमएस", "SMS"),
}


def notification_id(cause_id: str, recipient: str, channel: NotificationChannel, round: int = 1) -> str:
    """The one id of the message caused by ``cause_id`` to ``recipient`` on ``channel`` (in ``round``)."""
    return derived_id("notification", cause_id, recipient, channel.value, round).hex


@event_type("NotificationRequested")
class NotificationRequested(Event):
    notification_id: str
    rule: NotificationRule
    channel: NotificationChannel
    recipient: str = Field(pattern=RECIPIENT)
    cause_id: str
    """The id of the event that caused it (for a danger-now page: the registration, every round)."""
    case_id: str
    case_number: str
    district: str
    thana: str | None = None
    kendra: str | None = None
    at: datetime
    """When the cause happened."""
    urgent: bool = False
    round: int = 1
    page_id: str | None = None
    """Set on the notifications of a danger-now page (the case id): repeated until acknowledged."""
    repeat_at: datetime | None = None
    """When the page's next round goes out unless someone acknowledges first."""
    role: LadderRole | None = None
    """The ladder level the message is addressed to (escalation, breach, danger-now)."""
    clock: str | None = None
    due_at: datetime | None = None
    threshold_pct: int | None = None
    agency_code: str | None = None


@event_type("NotificationSent")
class NotificationSent(Event):
    notification_id: str
    channel: NotificationChannel
    via: str = Field(pattern=CODE)
    """The adapter that took it: ``web``, ``outbox``, ``smtp``, ``sms_gateway``."""
    attempts: int
    at: datetime


@event_type("NotificationFailed")
class NotificationFailed(Event):
    notification_id: str
    channel: NotificationChannel
    attempt: int
    reason: str = Field(pattern=CODE)
    """A code: ``timeout``, ``refused``, ``http_503``, ``no_address``, ..."""
    parked: bool
    """No more tries: visible in ``shakti notifications list`` and ``shakti status`` until retried."""
    at: datetime


@event_type("NotificationAcknowledged")
class NotificationAcknowledged(Event):
    notification_id: str
    by: str
    at: datetime
    page_id: str | None = None
    """An acknowledged danger-now notification stops its page."""
