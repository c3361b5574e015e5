"""The facts the intake service owns (stream ``INTAKE``, subjects ``shakti.intake.case.<case_id>``).

This module is the public contract other services may import. Identity data (name, phone, address,
statement, free-text notes) never appears in clear: it travels only as ``sealed_*`` fields, AES-GCM
ciphertext under a per-case key that lives in intake's key store, not in the stream.

Kinds, modes, outcomes, reasons, purposes and legal bases are codes from ``shared/contracts/vocabulary.py``
(with Hindi and English labels), never an officer's free words: those go only into ``sealed_*`` fields.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.vocabulary import AgencyKind, Category, Channel, Priority
from shared.events import Event, JsonDict, event_type, events

SERVICE = "intake"
AGGREGATE = "case"
SERIES = "series"
"""Aggregate type of a case-number series (one per district and year): ``shakti.intake.series.SJP-2026``."""
PHONE_SEARCH = "phone-search"
"""Aggregate type of one search for a complainant's earlier cases by her phone (the audit record):
``shakti.intake.phone-search.<id>``."""


PLACE_CODE = r"^[A-Z0-9][A-Z0-9-]{0,63}$"


@event_type("CaseRegistered", version=3)
class CaseRegistered(Event):
    case_number: str
    channel: Channel
    category: Category
    priority: Priority
    danger_now: bool
    minor: bool
    district: str
    circle: str | None = None
    """The thana's circle as imported from routing when the thana is known; routing's ``CaseRouted`` rules."""
    thana: str | None = None
    pincode: str | None = Field(default=None, pattern=r"^[1-9][0-9]{5}$")
    locality_code: str | None = Field(default=None, pattern=PLACE_CODE)
    """A locality from the jurisdiction (routing's ``LocalityDefined``); her own words about the place are
    sealed with the identity."""
    language: str = "hi"
    consent_to_share: bool = False
    """Her consent to share the case with agencies (a referral); not a consent to be sent messages."""
    consent_to_messages: bool = False
    """Her consent to be sent SMS about the case (its receipt, its status changes): recorded, never
    assumed. The phone stays sealed; only intake opens it to send (issue 17)."""
    registered_by: str
    registered_at_thana: str | None = Field(default=None, pattern=PLACE_CODE)
    """The registering officer's own thana. A complaint about a place elsewhere is still registered
    where it was made (zero FIR: the law requires it) and routed to the thana it belongs to."""
    flags: list[str] = Field(default_factory=list)
    """Derived markers safe to share: ``pocso`` and ``cwc`` mark a minor's sexual-offence case."""
    sealed_identity: str
    """Base64 AES-GCM ciphertext of name, phone, address, statement and the officer's description of the
    complaint; readable only in intake."""


@events.upcaster("CaseRegistered", 1)
def _registered_v1(payload: JsonDict) -> JsonDict:
    """v1 carried ``locality``, free text typed at registration, in clear. It is dropped on read, so no
    reader (read model, routing, API) shows it again; the stored v1 event keeps its bytes (stored events
    are never rewritten), so an erasure of an old case cannot remove that text from the stream."""
    payload.pop("locality", None)
    payload["locality_code"] = None
    return payload


@events.upcaster("CaseRegistered", 2)
def _registered_v2(payload: JsonDict) -> JsonDict:
    """v2 had no consent to messages: nobody was asked, so nobody agreed."""
    payload["consent_to_messages"] = False
    return payload


@event_type("FirstContactMade")
class FirstContactMade(Event):
    by: str
    at: datetime
    mode: str  # visit, phone, at_kendra


@event_type("ActionRecorded")
class ActionRecorded(Event):
    kind: str  # counselling, fir_registered, medical_exam, rescue, notice
    by: str
    at: datetime
    fir_number: str | None = None


@event_type("ReferralMade")
class ReferralMade(Event):
    agency_kind: AgencyKind
    agency_code: str | None = None
    by: str


@event_type("NoteAdded")
class NoteAdded(Event):
    by: str
    sealed_text: str


@event_type("AttachmentRecorded")
class AttachmentRecorded(Event):
    attachment_id: str
    kind: str  # photo, medical_report, fir_copy, other
    size_bytes: int
    sha256: str
    """HMAC-SHA256 of the file under the case's key (not its plain digest): after an erasure it confirms
    nothing about a copy of the file."""
    by: str
    sealed_filename: str


@event_type("AwaitingComplainant")
class AwaitingComplainant(Event):
    reason: str
    by: str
    sealed_remark: str | None = None


@event_type("ComplainantResponded")
class ComplainantResponded(Event):
    by: str


@event_type("CaseResolved")
class CaseResolved(Event):
    outcome: str
    feedback_rating: int | None = Field(default=None, ge=1, le=5)
    by: str
    sealed_feedback: str | None = None
    """The complainant's own words about the disposal, sealed like the identity."""


@event_type("CaseClosed")
class CaseClosed(Event):
    reason: str
    by: str
    sealed_remark: str | None = None


@event_type("CaseReopened")
class CaseReopened(Event):
    reason: str
    by: str
    sealed_remark: str | None = None


@event_type("CaseWithdrawn")
class CaseWithdrawn(Event):
    reason: str
    by: str
    sealed_remark: str | None = None


@event_type("CaseMarkedDuplicate")
class CaseMarkedDuplicate(Event):
    duplicate_of: str
    by: str
    duplicate_of_number: str | None = None


@event_type("IdentityViewed")
class IdentityViewed(Event):
    by: str
    role: str
    purpose: str


@event_type("MessagesConsentWithdrawn")
class MessagesConsentWithdrawn(Event):
    """She no longer wants SMS about the case: nothing more is sent to her (recorded by the Kendra)."""

    by: str


@event_type("ComplainantMessageSent")
class ComplainantMessageSent(Event):
    """Intake handed notifications' message ``notification_id`` for her to the SMS channel (her phone,
    opened only for this, is not recorded). Notifications shows the message sent from this."""

    notification_id: str
    via: str = Field(pattern=r"^[a-z_]{1,40}$")
    """``sms_gateway``, or ``outbox`` where no gateway is configured (``make run``)."""
    attempts: int
    at: datetime


@event_type("ComplainantMessageFailed")
class ComplainantMessageFailed(Event):
    """One try of her SMS failed, or it may not go at all (``no_consent``, ``identity_erased``,
    ``no_phone``: ``parked`` at once). A code only, never the gateway's words."""

    notification_id: str
    attempt: int
    reason: str = Field(pattern=r"^[A-Za-z0-9_:.-]{1,80}$")
    parked: bool
    at: datetime


@event_type("IdentityErased")
class IdentityErased(Event):
    by: str
    legal_basis: str


@event_type("EarlierCasesSearched")
class EarlierCasesSearched(Event):
    """Someone looked for a complainant's earlier cases by her phone (the audit record of every such
    search, found or not). Who, and how many cases were shown: never the number, its index or which
    cases (with them the record would tie the cases to her number, or to each other, after an erasure);
    each case shown records its own ``IdentityViewed``."""

    by: str
    role: str
    found: int
    capped: bool
    """More cases matched than a search shows (``services/intake/api.py``: MAX_EARLIER_CASES)."""


@event_type("CaseNumberIssued")
class CaseNumberIssued(Event):
    """The next running number of a district's series for a year, taken by one case (series subject)."""

    case_number: str
    district: str
    year: int
    running: int
    case_id: str
