"""The facts the routing service owns (stream ``ROUTING``).

Subjects: ``shakti.routing.district.<code>`` (jurisdiction and agencies of a district),
``shakti.routing.officer.<service_number>`` (the roster), ``shakti.routing.case.<case_id>``
(routing, assignment and referrals of one case). This module is the public contract.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.events import Event, event_type
from shared.vocabulary import AgencyKind, DutyStatus

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


@event_type("ThanaDefined")
class ThanaDefined(Event):
    code: str
    district: str
    circle: str
    name_hi: str
    name_en: str
    pincodes: list[str] = Field(default_factory=list)
    localities: list[str] = Field(default_factory=list)


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


@event_type("CaseAssigned")
class CaseAssigned(Event):
    case_id: str
    officer: str
    kendra: str
    reason: str
    flagged: bool = False


@event_type("CaseReassigned")
class CaseReassigned(Event):
    case_id: str
    from_officer: str | None
    officer: str
    kendra: str
    reason: str


@event_type("CaseUnroutable")
class CaseUnroutable(Event):
    case_id: str
    why: str


@event_type("ReferralIssued")
class ReferralIssued(Event):
    case_id: str
    referral_id: str
    agency_code: str
    agency_kind: AgencyKind
    reason: str
    due_at: datetime


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


@event_type("ReferralCompleted")
class ReferralCompleted(Event):
    case_id: str
    referral_id: str
    by: str
