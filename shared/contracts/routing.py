"""The facts the routing service owns (stream ``ROUTING``).

Subjects: ``shakti.routing.district.<code>`` (jurisdiction and agencies of a district),
``shakti.routing.officer.<service_number>`` (the roster), ``shakti.routing.case.<case_id>``
(routing, assignment and referrals of one case). This module is the public contract.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.contracts.vocabulary import AgencyKind, DutyStatus
from shared.events import Event, JsonDict, event_type, events

SERVICE = "routing"


@event_type("JurisdictionImported")
class JurisdictionImported(Event):
    district: str
    version: str
    source: str
    checksum: str
    counts: dict[str, int]


@event_type("DistrictDefined")
class DistrictDefined(Event):
    code: str
    name_hi: str
    name_en: str
    state: str = "UP"


@event_type("CircleDefined")
class CircleDefined(Event):
    code: str
    district: str
    name_hi: str
    name_en: str
    basis: str = ""
    """How sure the link is (confirmed / inferred / illustrative), from the source data."""


@event_type("ThanaDefined", version=2)
class ThanaDefined(Event):
    code: str
    district: str
    circle: str
    name_hi: str
    name_en: str
    pincodes: list[str] = Field(default_factory=list)
    basis: str = ""
    """How sure the thana-to-circle link is (confirmed / inferred / illustrative), from the source data."""


@events.upcaster("ThanaDefined", 1)
def _thana_v1(payload: JsonDict) -> JsonDict:
    # v1 listed locality *names*; localities are units with codes now (LocalityDefined), and a name
    # no longer decides anything.
    payload.pop("localities", None)
    return payload


@event_type("LocalityDefined")
class LocalityDefined(Event):
    """A locality (mohalla, village) of a thana, with a code: what a registration names instead of
    typing a place, so that routing finds the thana and no one's words about where she lives are kept
    in clear."""

    code: str
    thana: str
    district: str
    circle: str
    name_hi: str
    name_en: str


@event_type("KendraDefined")
class KendraDefined(Event):
    code: str
    thana: str
    district: str
    circle: str
    name_hi: str
    name_en: str
    control: bool = False
    """The district's control Kendra takes cases whose thana cannot be resolved."""


@event_type("AgencyDefined")
class AgencyDefined(Event):
    code: str
    kind: AgencyKind
    district: str
    name_hi: str
    name_en: str
    basis: str = ""
    """Where the name comes from; sample data marks its invented names ``illustrative``."""


@event_type("UnitRetired")
class UnitRetired(Event):
    """A re-imported jurisdiction file no longer lists this unit: it takes no new cases."""

    level: str  # circle, thana, locality, kendra, agency
    code: str
    district: str


@event_type("OfficerEnrolled")
class OfficerEnrolled(Event):
    service_number: str
    name: str
    rank: str
    gender: str  # female, male, other


@event_type("OfficerPosted")
class OfficerPosted(Event):
    service_number: str
    kendra: str
    thana: str
    circle: str
    district: str
    incharge: bool = False


@event_type("OfficerDutyChanged")
class OfficerDutyChanged(Event):
    service_number: str
    status: DutyStatus


@event_type("CaseRouted")
class CaseRouted(Event):
    case_id: str
    district: str
    circle: str
    thana: str
    kendra: str
    reason: str
    flagged: bool = False
    reason_hi: str = ""
    transfer_from: str | None = None
    """The Kendra the case leaves when it is transferred (wrong jurisdiction); None on first routing."""


@event_type("CaseAssigned")
class CaseAssigned(Event):
    case_id: str
    officer: str
    kendra: str
    reason: str
    flagged: bool = False
    reason_hi: str = ""


@event_type("CaseReassigned")
class CaseReassigned(Event):
    case_id: str
    from_officer: str | None
    officer: str
    kendra: str
    reason: str
    flagged: bool = False
    reason_hi: str = ""
    trigger: str = ""
    """What moved it: off_duty, posted_away, escalation, by_hand, transfer, officer_available, recheck."""


@event_type("CaseUnassigned")
class CaseUnassigned(Event):
    """The case sits at its Kendra with no officer: nobody eligible, not even an in-charge, is posted.
    It is assigned as soon as an officer is posted or comes on duty there."""

    case_id: str
    kendra: str
    from_officer: str | None
    why: str
    why_hi: str = ""


@event_type("CaseUnroutable")
class CaseUnroutable(Event):
    case_id: str
    why: str
    why_hi: str = ""
    district: str = ""


@event_type("ReferralIssued")
class ReferralIssued(Event):
    case_id: str
    referral_id: str
    agency_code: str
    agency_kind: AgencyKind
    reason: str
    due_at: datetime
    reason_hi: str = ""


@event_type("ReferralAccepted")
class ReferralAccepted(Event):
    case_id: str
    referral_id: str
    by: str


@event_type("ReferralRejected")
class ReferralRejected(Event):
    case_id: str
    referral_id: str
    by: str
    reason: str
    """A code (``services.routing.domain.REJECTION_REASONS``), never free text: text could carry identity."""


@event_type("ReferralCompleted")
class ReferralCompleted(Event):
    case_id: str
    referral_id: str
    by: str
