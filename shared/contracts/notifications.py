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
from typing import Literal

from pydantic import Field

from shared.contracts.vocabulary import CaseStatus, Labels, LadderRole, Language
from shared.events import Event, JsonDict, derived_id, event_type, events

SERVICE = "notifications"
AGGREGATE = "notification"

RECIPIENT = r"^(officer|user|office|agency|complainant):[A-Za-z0-9_.:-]{1,120}$"
"""``officer:<service number>``, ``user:<user name>`` (a user without a service number),
``office:<ladder role>:<office code>`` (nobody holds the level now: whoever takes it up sees it),
``agency:<agency code>`` (an agency's desk), ``complainant:<case id>`` (the complainant of a case who
agreed to SMS: only intake, which holds her sealed phone, can reach her; never her phone or name here)."""
COMPLAINANT = "complainant:"
PHONE = r"^\+?[0-9]{6,15}$"
CODE = r"^[A-Za-z0-9_:.-]{1,80}$"
MESSAGE_LANGUAGE = f"^({Language.HINDI.value}|{Language.ENGLISH.value})$"
"""The languages messages are written in."""


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
    TRAINING_DUE = "training_due"
    TRAINING_OVERDUE = "training_overdue"
    CERTIFICATION_LAPSED = "certification_lapsed"
    COMPLAINANT_RECEIPT = "complainant_receipt"
    """The complainant who agreed to SMS: her case number, the Kendra and its phone, the helplines."""
    COMPLAINANT_STATUS = "complainant_status"
    """The same complainant: her case's new status, in words."""


RULE_LABELS: Labels = {
    NotificationRule.ASSIGNED: ("नया मामला सौंपा गया", "New case assigned"),
    NotificationRule.DANGER_NOW: ("तत्काल खतरा", "Danger now"),
    NotificationRule.DEADLINE_WARNING: ("समय-सीमा निकट", "Deadline approaching"),
    NotificationRule.BREACH: ("समय-सीमा पार", "Deadline breached"),
    NotificationRule.ESCALATION: ("मामला आपके स्तर पर बढ़ाया गया", "Case escalated to you"),
    NotificationRule.REFERRAL: ("संदर्भन प्राप्त", "Referral received"),
    NotificationRule.TRAINING_DUE: ("प्रशिक्षण निर्धारित", "Training assigned"),
    NotificationRule.TRAINING_OVERDUE: ("प्रशिक्षण की समय-सीमा पार", "Training overdue"),
    NotificationRule.CERTIFICATION_LAPSED: ("प्रमाणन समाप्त", "Certification lapsed"),
    NotificationRule.COMPLAINANT_RECEIPT: ("शिकायत दर्ज होने की सूचना", "Complaint registered"),
    NotificationRule.COMPLAINANT_STATUS: ("शिकायत की स्थिति", "Status of the complaint"),
}

NOTIFICATION_CHANNEL_LABELS: Labels = {
    NotificationChannel.WEB: ("वेब", "Web"),
    NotificationChannel.EMAIL: ("ई-मेल", "E-mail"),
    NotificationChannel.SMS: ("एसएमएस", "SMS"),
}


def notification_id(cause_id: str, recipient: str, channel: NotificationChannel, round: int = 1) -> str:
    """The one id of the message caused by ``cause_id`` to ``recipient`` on ``channel`` (in ``round``)."""
    return derived_id("notification", cause_id, recipient, channel.value, round).hex


@event_type("NotificationRequested", version=4)
class NotificationRequested(Event):
    notification_id: str
    rule: NotificationRule
    channel: NotificationChannel
    recipient: str = Field(pattern=RECIPIENT)
    cause_id: str
    """The id of the event that caused it (for a danger-now page: the registration, every round)."""
    case_id: str | None = None
    case_number: str | None = None
    """The case the message is about; none for a message about an officer's training."""
    service_number: str | None = None
    """The officer whose training the message is about."""
    modules: list[str] = Field(default_factory=list)
    """The training modules it names (codes)."""
    district: str | None = None
    """The case's district (none for a message about training)."""
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
    case_status: CaseStatus | None = None
    """The case's new status (a complainant's status message)."""
    language: str | None = Field(default=None, pattern=MESSAGE_LANGUAGE)
    """The language of a complainant's message, hers from the registration (none: the recipient's)."""
    kendra_phone: str | None = Field(default=None, pattern=PHONE)
    """The Kendra's public phone, for a complainant's message (none: not in the contacts file)."""
    template_id: str | None = Field(default=None, pattern=r"^[0-9]{19}$")
    """The DLT template of a complainant's SMS, from this service's policy: intake sends it with it."""
    not_before: datetime | None = None
    """Not to be sent before this moment: a complainant's status message decided in the platform's quiet
    hours for complainants waits for their end (intake, which sends it, does not send it earlier)."""


@events.upcaster("NotificationRequested", 1)
def _requested_v1(payload: JsonDict) -> JsonDict:
    """v1 was always about a case (``case_id`` and ``case_number`` required): nothing to change, but a
    reader of v1 cannot read a v2 message about training, hence the new version."""
    return payload


@events.upcaster("NotificationRequested", 2)
def _requested_v2(payload: JsonDict) -> JsonDict:
    """v2 never addressed a complainant (no case status, language or Kendra phone): nothing to change, but a
    reader of v2 cannot read a message to her, hence the new version."""
    return payload


@events.upcaster("NotificationRequested", 3)
def _requested_v3(payload: JsonDict) -> JsonDict:
    """v3 never waited for the morning (no ``not_before``): nothing to change, but a reader of v3 (intake
    deciding whether to send now) cannot read a held message to her, hence the new version."""
    return payload


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


@event_type("NotificationDeferred")
class NotificationDeferred(Event):
    """Held in the recipient's quiet hours (never an urgent one): goes out at ``until``."""

    notification_id: str
    until: datetime
    at: datetime


@event_type("NotificationReleased", version=2)
class NotificationReleased(Event):
    """The quiet hours it was held for are over: the channel takes it now."""

    notification_id: str
    at: datetime
    request: NotificationRequested | None = None
    """A complainant's SMS only: the request, which intake sends from this event (it alone opens her
    phone, and reads no stream of this service's aggregates)."""


@events.upcaster("NotificationReleased", 1)
def _released_v1(payload: JsonDict) -> JsonDict:
    """v1 never released a complainant's message (no ``request``): nothing to change, but a reader of v1
    cannot read one that carries it, hence the new version."""
    return payload


@event_type("NotificationRetried", version=2)
class NotificationRetried(Event):
    """An operator asked a parked message to be tried again (``shakti notifications retry``). A
    complainant's SMS is intake's to send, as only intake opens her phone: it takes the message up from
    this event, which carries the request."""

    notification_id: str
    by: str
    at: datetime
    request: NotificationRequested


@events.upcaster("NotificationRetried", 1)
def _retried_v1(payload: JsonDict) -> JsonDict:
    """v1 carried a request of v3 (no ``not_before``): nothing to change, but a reader of v1 cannot read
    a request that carries it, hence the new version."""
    return payload


CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
"""A time of day in IST, 24-hour: ``22:00``."""
PREFERENCES = "preferences"
"""The aggregate of one recipient's preferences (``shakti.notifications.preferences.<id>``)."""


def preferences_id(recipient: str) -> str:
    """A recipient address (``officer:PNO1``) as one subject token."""
    return derived_id(PREFERENCES, recipient).hex


MutableChannel = Literal[NotificationChannel.EMAIL, NotificationChannel.SMS]
"""The channels a recipient may turn off: never the bell of the web front."""


@event_type("PreferencesChanged", version=2)
class PreferencesChanged(Event):
    """How one recipient wants to be told: in which language, when not to be disturbed by messages
    that are not urgent, and on which channels not at all for them (an urgent one — danger now, a
    breach, an escalation — always goes on every channel)."""

    recipient: str = Field(pattern=RECIPIENT)
    language: str | None = Field(default=None, pattern=MESSAGE_LANGUAGE)
    """Of e-mail and SMS; none: the contacts file's, else Hindi."""
    quiet_from: str | None = Field(default=None, pattern=CLOCK_TIME)
    quiet_until: str | None = Field(default=None, pattern=CLOCK_TIME)
    """Both or neither; a window may pass midnight (22:00 to 07:00)."""
    muted_channels: list[MutableChannel] = Field(default_factory=list)
    """E-mail and SMS not wanted for messages that are not urgent (the bell always shows them); an
    event before this field existed mutes nothing."""


@events.upcaster("PreferencesChanged", 1)
def _preferences_v1(payload: JsonDict) -> JsonDict:
    """v1 muted nothing (the default): nothing to change, but a reader of v1 refuses the new field,
    hence the new version."""
    return payload
