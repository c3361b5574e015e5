"""Routing's aggregates: a district's jurisdiction, an officer on the roster, one case's routing.

Commands only decide: they check the rules against the aggregate's state and return events. The
choices that need the whole district (which thana, which officer, which agency) are made by the duty
board (``board.py``) and handed in as a ``Placement``, a ``Pick`` or ``Vacancy`` and ``ReferralOrder``s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.aggregate import Aggregate
from shared.contracts.routing import (
    AgencyDefined,
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CaseUnassigned,
    CaseUnroutable,
    CircleDefined,
    DistrictDefined,
    JurisdictionImported,
    KendraDefined,
    LocalityDefined,
    OfficerDutyChanged,
    OfficerEnrolled,
    OfficerPosted,
    ReferralAccepted,
    ReferralCompleted,
    ReferralIssued,
    ReferralRejected,
    ThanaDefined,
    UnitRetired,
)
from shared.contracts.vocabulary import RANK_LABELS, AgencyKind, DutyStatus
from shared.errors import DomainError
from shared.events import Event, derived_id

GENDERS = ("female", "male", "other")

# Why a supervisor moves a case by hand. A code with labels, never free text, because a typed
# reason could carry the complainant's identity into routing's events.
REASSIGN_REASONS: dict[str, tuple[str, str]] = {
    "workload_balance": ("कार्यभार संतुलन", "Balancing the workload"),
    "specialist_needed": ("विशेष दक्षता आवश्यक", "Needs an officer with other skills"),
    "complainant_request": ("शिकायतकर्ता का अनुरोध", "The complainant asked for another officer"),
    "conflict_of_interest": ("हितों का टकराव", "Conflict of interest"),
    "officer_unavailable": ("अधिकारी उपलब्ध नहीं", "The officer is not available"),
    "supervisor_decision": ("पर्यवेक्षक का निर्णय", "Supervisor's decision"),
}

TRANSFER_REASONS: dict[str, tuple[str, str]] = {
    "wrong_jurisdiction": ("गलत क्षेत्राधिकार", "Wrong jurisdiction"),
    "place_clarified": ("घटना स्थल स्पष्ट हुआ", "The place of the incident was clarified"),
    "complainant_moved": ("शिकायतकर्ता का निवास बदला", "The complainant now lives elsewhere"),
}

REJECTION_REASONS: dict[str, tuple[str, str]] = {
    "outside_mandate": ("एजेंसी के दायित्व से बाहर", "Outside the agency's mandate"),
    "no_capacity": ("क्षमता उपलब्ध नहीं", "No capacity"),
    "complainant_declined": ("शिकायतकर्ता ने मना किया", "The complainant declined"),
    "already_served": ("पहले से सेवा दी जा चुकी", "Already served"),
}


@dataclass(frozen=True)
class Wording:
    """A reason in English and Hindi: what an officer or supervisor reads about a decision."""

    en: str
    hi: str

    def __add__(self, other: Wording) -> Wording:
        if not self.en:
            return other
        if not other.en:
            return self
        return Wording(f"{self.en}; {other.en}", f"{self.hi}; {other.hi}")


NOTHING = Wording("", "")


@dataclass(frozen=True)
class Placement:
    """Where a case goes: a Kendra and the places above it, with why."""

    district: str
    circle: str
    thana: str
    kendra: str
    reason: Wording
    flagged: bool = False


@dataclass(frozen=True)
class Unroutable:
    why: Wording


@dataclass(frozen=True)
class Pick:
    """The officer chosen for a case, with why; flagged when only the in-charge was left."""

    officer: str
    reason: Wording
    flagged: bool = False


@dataclass(frozen=True)
class Vacancy:
    """Nobody at the Kendra can take the case."""

    why: Wording


@dataclass(frozen=True)
class ReferralOrder:
    agency_code: str
    agency_kind: AgencyKind
    reason: Wording
    due_at: datetime


# --- a district's jurisdiction ------------------------------------------------------------------

Definition = DistrictDefined | CircleDefined | ThanaDefined | LocalityDefined | KendraDefined | AgencyDefined

LEVELS: dict[type[Event], str] = {
    DistrictDefined: "district",
    CircleDefined: "circle",
    ThanaDefined: "thana",
    LocalityDefined: "locality",
    KendraDefined: "kendra",
    AgencyDefined: "agency",
}
# Retire the units that hang below others first, so the record never shows an orphan.
RETIRE_ORDER = ("agency", "locality", "kendra", "thana", "circle")


def unit_key(definition: Definition) -> tuple[str, str]:
    return LEVELS[type(definition)], definition.code


class DistrictJurisdiction(Aggregate):
    """The jurisdiction and agencies of one district, as last imported."""

    aggregate_type = "district"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.units: dict[tuple[str, str], Definition] = {}

    def apply(self, event: Event) -> None:
        match event:
            case (
                DistrictDefined()
                | CircleDefined()
                | ThanaDefined()
                | LocalityDefined()
                | KendraDefined()
                | AgencyDefined()
            ):
                self.units[unit_key(event)] = event
            case UnitRetired(level=level, code=code):
                self.units.pop((level, code), None)
            case _:
                pass

    def kendra(self, code: str) -> KendraDefined | None:
        unit = self.units.get(("kendra", code))
        return unit if isinstance(unit, KendraDefined) else None

    def import_file(
        self, definitions: Sequence[Definition], *, version: str, source: str, checksum: str
    ) -> list[Event]:
        """Record what differs from the file: new or changed units, retired units, then the import.

        An unchanged file records nothing."""
        wanted = {unit_key(d): d for d in definitions}
        if ("district", self.id) not in wanted:
            raise DomainError(
                "wrong_district",
                f"The file does not define district {self.id}.",
                f"फ़ाइल में जनपद {self.id} परिभाषित नहीं है।",
            )
        changed: list[Event] = [d for key, d in wanted.items() if self.units.get(key) != d]
        gone = [key for key in self.units if key not in wanted]
        gone.sort(key=lambda key: (RETIRE_ORDER.index(key[0]), key[1]))
        retired = [UnitRetired(level=level, code=code, district=self.id) for level, code in gone]
        if not changed and not retired:
            return []
        counts: dict[str, int] = {}
        for level, _ in wanted:
            counts[level] = counts.get(level, 0) + 1
        imported = JurisdictionImported(
            district=self.id, version=version, source=source, checksum=checksum, counts=counts
        )
        return [*changed, *retired, imported]


# --- an officer on the duty roster ----------------------------------------------------------------


class Officer(Aggregate):
    """One officer: who (service number, rank, gender), where posted, and on duty or not.

    A newly enrolled officer is on duty; leave and off-duty periods are recorded as changes."""

    aggregate_type = "officer"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.profile: OfficerEnrolled | None = None
        self.posting: OfficerPosted | None = None
        self.status = DutyStatus.ON_DUTY

    def apply(self, event: Event) -> None:
        match event:
            case OfficerEnrolled():
                self.profile = event
            case OfficerPosted():
                self.posting = event
            case OfficerDutyChanged(status=status):
                self.status = status
            case _:
                pass

    def enrol(self, name: str, rank: str, gender: str) -> list[Event]:
        if rank not in RANK_LABELS:
            raise DomainError("bad_rank", f"Unknown rank {rank!r}.", f"अज्ञात पद {rank!r}।")
        if gender not in GENDERS:
            raise DomainError("bad_gender", f"Unknown gender {gender!r}.", f"अज्ञात लिंग {gender!r}।")
        enrolled = OfficerEnrolled(service_number=self.id, name=name, rank=rank, gender=gender)
        return [] if enrolled == self.profile else [enrolled]

    def post(self, kendra: KendraDefined, *, incharge: bool) -> list[Event]:
        self._must_be_enrolled()
        posted = OfficerPosted(
            service_number=self.id,
            kendra=kendra.code,
            thana=kendra.thana,
            circle=kendra.circle,
            district=kendra.district,
            incharge=incharge,
        )
        return [] if posted == self.posting else [posted]

    def change_duty(self, status: DutyStatus) -> list[Event]:
        self._must_be_enrolled()
        return [] if status == self.status else [OfficerDutyChanged(service_number=self.id, status=status)]

    def enter_roster(
        self, name: str, rank: str, gender: str, kendra: KendraDefined, *, incharge: bool, status: DutyStatus
    ) -> list[Event]:
        """One row of a roster sheet: enrol (or update), post, set the duty status; only what differs."""
        officer = self.decision()
        officer.record(*officer.enrol(name, rank, gender))
        officer.record(*officer.post(kendra, incharge=incharge))
        officer.record(*officer.change_duty(status))
        return officer.recorded

    def _must_be_enrolled(self) -> None:
        if self.profile is None:
            raise DomainError(
                "not_enrolled",
                f"Officer {self.id} is not on the roster.",
                f"अधिकारी {self.id} रोस्टर में नहीं है।",
            )


# --- one case's routing -------------------------------------------------------------------------

OPEN_REFERRAL = ("issued", "accepted")


@dataclass
class ReferralState:
    kind: AgencyKind
    agency_code: str
    status: str


class CaseRouting(Aggregate):
    """Where one case sits (Kendra and officer) and its referrals: the record of every move."""

    aggregate_type = "case"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.place: CaseRouted | None = None
        self.district: str | None = None
        self.officer: str | None = None
        self.ever_assigned = False
        self.assignment_decided = False
        self.unroutable = False
        self.referrals: dict[str, ReferralState] = {}

    def apply(self, event: Event) -> None:
        match event:
            case CaseRouted():
                self.place = event
                self.district = event.district
                self.unroutable = False
            case CaseAssigned(officer=officer) | CaseReassigned(officer=officer):
                self.officer = officer
                self.ever_assigned = self.assignment_decided = True
            case CaseUnassigned():
                self.officer = None
                self.assignment_decided = True
            case CaseUnroutable(district=district):
                self.unroutable = True
                self.district = district or None
            case ReferralIssued():
                self.referrals[event.referral_id] = ReferralState(
                    event.agency_kind, event.agency_code, "issued"
                )
            case ReferralAccepted(referral_id=rid):
                self.referrals[rid].status = "accepted"
            case ReferralRejected(referral_id=rid):
                self.referrals[rid].status = "rejected"
            case ReferralCompleted(referral_id=rid):
                self.referrals[rid].status = "completed"
            case _:
                pass

    @property
    def kendra(self) -> str | None:
        return self.place.kendra if self.place else None

    def place_at(self, placement: Placement) -> list[Event]:
        """The first routing of a registered case; a case already routed or unroutable gets nothing."""
        if self.place is not None or self.unroutable:
            return []
        return [self._routed(placement, transfer_from=None)]

    def assign_first(self, choice: Pick | Vacancy) -> list[Event]:
        """The first assignment of a routed case: an officer, or on record that it waits for one.
        Once decided, later changes are reassignments: one assignment per case."""
        if self.place is None or self.assignment_decided:
            return []
        return self._assignment(choice, self.place.kendra, NOTHING, "", always=True)

    def mark_unroutable(self, why: Wording, district: str) -> list[Event]:
        if self.place is not None or self.unroutable:
            return []
        return [CaseUnroutable(case_id=self.id, why=why.en, why_hi=why.hi, district=district)]

    def reassign(
        self,
        choice: Pick | Vacancy,
        *,
        cause: Wording,
        trigger: str,
        expected_holder: str | None,
        release_on_vacancy: bool = True,
    ) -> list[Event]:
        """Move the case to ``choice`` within its Kendra, only while ``expected_holder`` (None: nobody)
        still holds it: a move decided on an older picture of the case is dropped, not applied twice."""
        if self.place is None:
            raise DomainError(
                "not_routed", "The case has not been routed yet.", "मामला अभी किसी केन्द्र को नहीं भेजा गया है।"
            )
        if self.officer != expected_holder:
            return []
        if isinstance(choice, Vacancy) and not release_on_vacancy:
            return []
        return self._assignment(choice, self.place.kendra, cause, trigger)

    def transfer(self, placement: Placement, choice: Pick | Vacancy, cause: Wording) -> list[Event]:
        """Send the case to another thana's Kendra of its district (wrong jurisdiction). Its record stays
        whole: the earlier routing and assignments remain, followed by these."""
        if self.district and placement.district != self.district:
            raise DomainError(
                "other_district",
                f"A case moves only within its district ({self.district}); {placement.thana} is in "
                f"{placement.district}.",
                f"मामला केवल अपने ज़िले ({self.district}) में स्थानांतरित होता है; {placement.thana} "
                f"{placement.district} में है।",
            )
        if self.kendra == placement.kendra:
            raise DomainError(
                "same_kendra",
                f"The case is already at {placement.kendra}.",
                f"मामला पहले से {placement.kendra} पर है।",
            )
        routed = self._routed(
            Placement(
                placement.district,
                placement.circle,
                placement.thana,
                placement.kendra,
                cause + placement.reason,
                placement.flagged,
            ),
            transfer_from=self.kendra,
        )
        return [routed, *self._assignment(choice, placement.kendra, cause, "transfer", always=True)]

    def issue_referral(self, order: ReferralOrder) -> list[Event]:
        """A referral to an agency, unless one of that kind is still open for this case."""
        kinds = [r.kind for r in self.referrals.values()]
        if any(r.kind == order.agency_kind and r.status in OPEN_REFERRAL for r in self.referrals.values()):
            return []
        # The n-th referral of a kind for a case has a stable id: a retried command finds it again.
        n = kinds.count(order.agency_kind)
        return [
            ReferralIssued(
                case_id=self.id,
                referral_id=derived_id(self.id, "referral", order.agency_kind, n).hex,
                agency_code=order.agency_code,
                agency_kind=order.agency_kind,
                reason=order.reason.en,
                reason_hi=order.reason.hi,
                due_at=order.due_at,
            )
        ]

    def accept_referral(self, referral_id: str, by: str) -> list[Event]:
        self._referral(referral_id, allowed=("issued",), action=("accept", "स्वीकार"))
        return [ReferralAccepted(case_id=self.id, referral_id=referral_id, by=by)]

    def reject_referral(self, referral_id: str, by: str, reason: str) -> list[Event]:
        if reason not in REJECTION_REASONS:
            raise DomainError("bad_reason", f"Unknown reason {reason!r}.", f"अज्ञात कारण {reason!r}।")
        self._referral(referral_id, allowed=("issued",), action=("reject", "अस्वीकार"))
        return [ReferralRejected(case_id=self.id, referral_id=referral_id, by=by, reason=reason)]

    def complete_referral(self, referral_id: str, by: str) -> list[Event]:
        self._referral(referral_id, allowed=OPEN_REFERRAL, action=("complete", "पूर्ण"))
        return [ReferralCompleted(case_id=self.id, referral_id=referral_id, by=by)]

    def _referral(self, referral_id: str, *, allowed: Sequence[str], action: tuple[str, str]) -> None:
        referral = self.referrals.get(referral_id)
        if referral is None:
            raise DomainError(
                "not_found", f"Referral {referral_id} not found.", f"संदर्भ {referral_id} नहीं मिला।"
            )
        if referral.status not in allowed:
            raise DomainError(
                "referral_state",
                f"A referral that is {referral.status} cannot be marked {action[0]}.",
                f"'{referral.status}' स्थिति वाले संदर्भ को {action[1]} नहीं किया जा सकता।",
            )

    def _routed(self, placement: Placement, transfer_from: str | None) -> CaseRouted:
        return CaseRouted(
            case_id=self.id,
            district=placement.district,
            circle=placement.circle,
            thana=placement.thana,
            kendra=placement.kendra,
            reason=placement.reason.en,
            reason_hi=placement.reason.hi,
            flagged=placement.flagged,
            transfer_from=transfer_from,
        )

    def _assignment(
        self, choice: Pick | Vacancy, kendra: str, cause: Wording, trigger: str, *, always: bool = False
    ) -> list[Event]:
        if isinstance(choice, Vacancy):
            if self.officer is None and not always:
                return []  # already waiting for an officer
            why = cause + choice.why
            return [
                CaseUnassigned(
                    case_id=self.id, kendra=kendra, from_officer=self.officer, why=why.en, why_hi=why.hi
                )
            ]
        if choice.officer == self.officer and not always:
            return []
        reason = cause + choice.reason
        if not self.ever_assigned:
            return [
                CaseAssigned(
                    case_id=self.id,
                    officer=choice.officer,
                    kendra=kendra,
                    reason=reason.en,
                    reason_hi=reason.hi,
                    flagged=choice.flagged,
                )
            ]
        return [
            CaseReassigned(
                case_id=self.id,
                from_officer=self.officer,
                officer=choice.officer,
                kendra=kendra,
                reason=reason.en,
                reason_hi=reason.hi,
                flagged=choice.flagged,
                trigger=trigger,
            )
        ]
