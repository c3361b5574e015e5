"""The duty board: what routing decisions need, folded from events and held in memory.

Jurisdiction and agencies, the roster and who is in charge of each Kendra (ROUTING), where each case
sits and who holds it (ROUTING), whether it is still open (INTAKE), officers' certifications
(TRAINING). ``apply`` folds one envelope; the questions (which thana, which officer, which agency)
are answered from the state alone, with no I/O and no randomness: ties go to the lower service
number, so the same state always gives the same answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.routing.domain import (
    Pick,
    Placement,
    ReferralOrder,
    Unroutable,
    Vacancy,
    Wording,
)
from shared.contracts.intake import (
    CaseClosed,
    CaseMarkedDuplicate,
    CaseRegistered,
    CaseReopened,
    CaseResolved,
    CaseWithdrawn,
)
from shared.contracts.routing import (
    AgencyDefined,
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CaseUnassigned,
    CaseUnroutable,
    DistrictDefined,
    KendraDefined,
    LocalityDefined,
    OfficerDutyChanged,
    OfficerEnrolled,
    OfficerPosted,
    ThanaDefined,
    UnitRetired,
)
from shared.contracts.training import CertificationLapsed, OfficerCertified
from shared.contracts.vocabulary import (
    AGENCY_LABELS,
    CATEGORY_LABELS,
    DUTY_LABELS,
    SEXUAL_OFFENCES,
    AgencyKind,
    Category,
    DutyStatus,
    label,
)
from shared.events import Envelope

ROSTER_EVENTS = (OfficerEnrolled, OfficerPosted, OfficerDutyChanged)
CLOSING_EVENTS = (CaseResolved, CaseClosed, CaseWithdrawn, CaseMarkedDuplicate)
RELEVANT = frozenset(
    cls.event_type
    for cls in (
        DistrictDefined,
        ThanaDefined,
        LocalityDefined,
        KendraDefined,
        AgencyDefined,
        UnitRetired,
        *ROSTER_EVENTS,
        CaseRouted,
        CaseAssigned,
        CaseReassigned,
        CaseUnassigned,
        CaseUnroutable,
        CaseRegistered,
        *CLOSING_EVENTS,
        CaseReopened,
        OfficerCertified,
        CertificationLapsed,
    )
)

# Referrals every case of a kind gets, whatever the officer decides later.
OSC_CATEGORIES = frozenset({Category.SEXUAL_ASSAULT, Category.DOMESTIC_VIOLENCE})


def category_words(category: str | None) -> Wording:
    if category is None:
        return Wording("an unknown category", "अज्ञात श्रेणी")
    return Wording(label(CATEGORY_LABELS, category, "en").lower(), label(CATEGORY_LABELS, category, "hi"))


def agency_words(kind: AgencyKind) -> Wording:
    hi, en = AGENCY_LABELS[kind]
    return Wording(en, hi)


@dataclass
class Thana:
    code: str
    district: str
    circle: str
    pincodes: frozenset[str]
    active: bool = True


@dataclass
class Locality:
    code: str
    thana: str
    district: str
    active: bool = True


@dataclass
class Kendra:
    code: str
    thana: str
    circle: str
    district: str
    control: bool
    active: bool = True


@dataclass
class Agency:
    code: str
    kind: AgencyKind
    district: str
    active: bool = True


@dataclass
class OnRoster:
    service_number: str
    gender: str = "other"
    kendra: str | None = None
    status: DutyStatus = DutyStatus.ON_DUTY


@dataclass
class CaseFile:
    case_id: str
    category: str | None = None
    minor: bool = False
    kendra: str | None = None
    officer: str | None = None
    closed: bool = False
    routed_at: int = 0
    """ROUTING sequence of the latest routing: the order waiting cases are served in."""


@dataclass(frozen=True)
class Certificate:
    endorsements: frozenset[str]
    valid_until: datetime


@dataclass
class DutyBoard:
    districts: set[str] = field(default_factory=set)
    control: dict[str, str] = field(default_factory=dict)
    thanas: dict[str, Thana] = field(default_factory=dict)
    localities: dict[str, Locality] = field(default_factory=dict)
    kendras: dict[str, Kendra] = field(default_factory=dict)
    kendra_of_thana: dict[str, str] = field(default_factory=dict)
    agencies: dict[str, Agency] = field(default_factory=dict)
    officers: dict[str, OnRoster] = field(default_factory=dict)
    posted: dict[str, set[str]] = field(default_factory=dict)
    incharge: dict[str, str] = field(default_factory=dict)
    certificates: dict[str, dict[str, Certificate]] = field(default_factory=dict)
    cases: dict[str, CaseFile] = field(default_factory=dict)
    workload: dict[str, int] = field(default_factory=dict)
    held: dict[str, set[str]] = field(default_factory=dict)
    waiting: dict[str, set[str]] = field(default_factory=dict)
    roster_seq: int = 0
    """ROUTING sequence of the last roster change seen: a decision made before it may be stale."""

    @staticmethod
    def wants(event_type: str) -> bool:
        return event_type in RELEVANT

    # --- folding events -----------------------------------------------------------------------

    def apply(self, envelope: Envelope) -> None:
        event = envelope.event()
        match event:
            case DistrictDefined(code=code):
                self.districts.add(code)
            case ThanaDefined():
                self.thanas[event.code] = Thana(
                    event.code, event.district, event.circle, frozenset(event.pincodes)
                )
            case LocalityDefined():
                self.localities[event.code] = Locality(event.code, event.thana, event.district)
            case KendraDefined():
                self.kendras[event.code] = Kendra(
                    event.code, event.thana, event.circle, event.district, event.control
                )
                self.kendra_of_thana[event.thana] = event.code
                if event.control:
                    self.control[event.district] = event.code
                elif self.control.get(event.district) == event.code:
                    del self.control[event.district]
            case AgencyDefined():
                self.agencies[event.code] = Agency(event.code, event.kind, event.district)
            case UnitRetired():
                self._retire(event.level, event.code, event.district)
            case OfficerEnrolled() | OfficerPosted() | OfficerDutyChanged():
                self._roster(event)
                self.roster_seq = envelope.sequence
            case CaseRouted(case_id=case_id, kendra=kendra):
                with self._changing(case_id) as file:
                    file.kendra, file.routed_at = kendra, envelope.sequence
            case (
                CaseAssigned(case_id=case_id, officer=officer)
                | CaseReassigned(case_id=case_id, officer=officer)
            ):
                with self._changing(case_id) as file:
                    file.officer = officer
            case CaseUnassigned(case_id=case_id):
                with self._changing(case_id) as file:
                    file.officer = None
            case CaseUnroutable(case_id=case_id):
                self._file(case_id)
            case CaseRegistered(category=category, minor=minor):
                file = self._file(envelope.aggregate_id)
                file.category, file.minor = category, minor
            case CaseResolved() | CaseClosed() | CaseWithdrawn() | CaseMarkedDuplicate():
                with self._changing(envelope.aggregate_id) as file:
                    file.closed = True
            case CaseReopened():
                with self._changing(envelope.aggregate_id) as file:
                    file.closed = False
            case OfficerCertified():
                self.certificates.setdefault(event.service_number, {})[event.certificate_id] = Certificate(
                    frozenset(event.endorsements), event.valid_until
                )
            case CertificationLapsed(service_number=sn, certificate_id=cid):
                self.certificates.get(sn, {}).pop(cid, None)
            case _:
                pass

    def _retire(self, level: str, code: str, district: str) -> None:
        match level:
            case "thana" if code in self.thanas:
                self.thanas[code].active = False
            case "locality" if code in self.localities:
                self.localities[code].active = False
            case "kendra" if code in self.kendras:
                self.kendras[code].active = False
                if self.control.get(district) == code:
                    del self.control[district]
            case "agency" if code in self.agencies:
                self.agencies[code].active = False
            case _:
                pass

    def _roster(self, event: OfficerEnrolled | OfficerPosted | OfficerDutyChanged) -> None:
        officer = self.officers.setdefault(event.service_number, OnRoster(event.service_number))
        match event:
            case OfficerEnrolled(gender=gender):
                officer.gender = gender
            case OfficerDutyChanged(status=status):
                officer.status = status
            case OfficerPosted(kendra=kendra, incharge=incharge):
                if officer.kendra is not None:
                    self.posted.get(officer.kendra, set()).discard(officer.service_number)
                officer.kendra = kendra
                self.posted.setdefault(kendra, set()).add(officer.service_number)
                for place, chief in list(self.incharge.items()):
                    if chief == officer.service_number:
                        del self.incharge[place]
                if incharge:  # the latest in-charge posted to a Kendra is its in-charge
                    self.incharge[kendra] = officer.service_number

    def _file(self, case_id: str) -> CaseFile:
        file = self.cases.get(case_id)
        if file is None:
            file = self.cases[case_id] = CaseFile(case_id)
        return file

    @contextmanager
    def _changing(self, case_id: str) -> Iterator[CaseFile]:
        """Change where a case sits, keeping the workload, holding and waiting indexes in step."""
        file = self._file(case_id)
        holder, waits_at = self._standing(file)
        yield file
        new_holder, new_waits_at = self._standing(file)
        if holder != new_holder:
            if holder is not None:
                self.workload[holder] -= 1
                self.held[holder].discard(case_id)
            if new_holder is not None:
                self.workload[new_holder] = self.workload.get(new_holder, 0) + 1
                self.held.setdefault(new_holder, set()).add(case_id)
        if waits_at != new_waits_at:
            if waits_at is not None:
                self.waiting[waits_at].discard(case_id)
            if new_waits_at is not None:
                self.waiting.setdefault(new_waits_at, set()).add(case_id)

    @staticmethod
    def _standing(file: CaseFile) -> tuple[str | None, str | None]:
        """(who holds it, where it waits for an officer) while open."""
        if file.closed:
            return None, None
        if file.officer is not None:
            return file.officer, None
        return None, file.kendra

    # --- questions ----------------------------------------------------------------------------

    def open_cases_of(self, service_number: str) -> list[str]:
        return sorted(self.held.get(service_number, ()))

    def waiting_at(self, kendra: str) -> list[str]:
        return sorted(self.waiting.get(kendra, ()), key=lambda case_id: self.cases[case_id].routed_at)

    def may_hold(self, service_number: str, kendra: str) -> bool:
        """Can this officer keep a case at this Kendra: posted there and on duty, or its in-charge."""
        officer = self.officers.get(service_number)
        if officer is None or officer.kendra != kendra:
            return False
        return officer.status == DutyStatus.ON_DUTY or self.incharge.get(kendra) == service_number

    def certified(self, service_number: str, category: str, at: datetime) -> bool:
        return any(
            category in cert.endorsements and cert.valid_until > at
            for cert in self.certificates.get(service_number, {}).values()
        )

    def resolve_place(
        self, district: str, thana: str | None, pincode: str | None, locality: str | None
    ) -> Placement | Unroutable:
        """The thana of a new case: as given, else by PIN code (and the locality code where a PIN code
        is shared), else by the locality code alone; when nothing decides, the district's control
        Kendra, flagged. ``locality`` is a locality's code from the jurisdiction, never free text."""
        if district not in self.districts:
            return Unroutable(
                Wording(
                    f"district {district} has no jurisdiction on record",
                    f"जनपद {district} का क्षेत्राधिकार अभिलेख में नहीं है",
                )
            )
        notes = Wording("", "")
        if thana:
            placed = self.placement(
                thana, Wording(f"thana {thana} was given at registration", f"पंजीकरण में थाना {thana} दिया गया")
            )
            if placed is not None and placed.district == district:
                return placed
            notes += Wording(
                f"thana code {thana} is not a thana of district {district}",
                f"थाना कोड {thana} जनपद {district} का थाना नहीं है",
            )
        pool = [
            t
            for t in sorted(self.thanas.values(), key=lambda t: t.code)
            if t.district == district and self._kendra_of(t) is not None
        ]
        if pincode:
            by_pin = [t for t in pool if pincode in t.pincodes]
            if len(by_pin) == 1:
                return self._place(
                    by_pin[0],
                    notes
                    + Wording(
                        f"PIN code {pincode} belongs to thana {by_pin[0].code} alone",
                        f"पिन कोड {pincode} केवल थाना {by_pin[0].code} का है",
                    ),
                )
            if by_pin:
                pool = by_pin
                codes = ", ".join(t.code for t in by_pin)
                notes += Wording(
                    f"PIN code {pincode} is shared by thanas {codes}",
                    f"पिन कोड {pincode} थानों {codes} में साझा है",
                )
            else:
                notes += Wording(
                    f"PIN code {pincode} is not on district {district}'s list",
                    f"पिन कोड {pincode} जनपद {district} की सूची में नहीं है",
                )
        if locality:
            known = self.localities.get(locality)
            matched = [
                t
                for t in pool
                if known is not None and known.active and known.district == district and t.code == known.thana
            ]
            if matched:
                return self._place(
                    matched[0],
                    notes
                    + Wording(
                        f"locality {locality} is listed for thana {matched[0].code}",
                        f"स्थान {locality} थाना {matched[0].code} की सूची में है",
                    ),
                )
            notes += Wording(
                f"locality {locality} is not a locality of the thanas left",
                f"स्थान {locality} बचे हुए थानों का स्थान नहीं है",
            )
        elif not thana and not pincode:
            notes += Wording(
                "no thana, PIN code or locality was given", "कोई थाना, पिन कोड या स्थान नहीं दिया गया"
            )
        return self._to_control(district, notes)

    def _to_control(self, district: str, notes: Wording) -> Placement | Unroutable:
        """The district's control Kendra decides where a case goes that nothing else placed (flagged)."""
        control = self.control.get(district)
        if control is None or not self.kendras[control].active:
            return Unroutable(
                notes
                + Wording(
                    f"district {district} has no control Kendra", f"जनपद {district} का कोई नियंत्रण केन्द्र नहीं है"
                )
            )
        kendra = self.kendras[control]
        return Placement(
            kendra.district,
            kendra.circle,
            kendra.thana,
            kendra.code,
            notes
            + Wording(
                f"sent to the district's control Kendra {control} to decide",
                f"निर्णय हेतु जनपद के नियंत्रण केन्द्र {control} को भेजा गया",
            ),
            flagged=True,
        )

    def placement(self, thana_code: str, reason: Wording) -> Placement | None:
        """The Kendra of an active thana (None when the thana or its Kendra is unknown or retired)."""
        thana = self.thanas.get(thana_code)
        if thana is None or self._kendra_of(thana) is None:
            return None
        return self._place(thana, reason)

    def _kendra_of(self, thana: Thana) -> str | None:
        code = self.kendra_of_thana.get(thana.code)
        if not thana.active or code is None or not self.kendras[code].active:
            return None
        return code

    def _place(self, thana: Thana, reason: Wording) -> Placement:
        """The placement at a thana known to have an active Kendra."""
        return Placement(thana.district, thana.circle, thana.code, self.kendra_of_thana[thana.code], reason)

    def pick(
        self, kendra: str, category: str | None, at: datetime, exclude: Collection[str] = ()
    ) -> Pick | Vacancy:
        """The officer for a case at ``kendra``: on duty there; a woman for a sexual offence (or when
        the category is unknown); certified for the category when one is; the fewest open cases.
        The in-charge supervises the others: only when nobody qualifies does the in-charge take the
        case, flagged."""
        topic = category_words(category)
        chief = self.incharge.get(kendra)
        on_duty = [
            self.officers[sn]
            for sn in sorted(self.posted.get(kendra, ()))
            if sn not in exclude and sn != chief and self.officers[sn].status == DutyStatus.ON_DUTY
        ]
        why = Wording(
            f"{len(on_duty)} on duty at {kendra} besides the in-charge",
            f"{kendra} पर प्रभारी के अतिरिक्त {len(on_duty)} ड्यूटी पर",
        )
        eligible = on_duty
        needs_woman = category is None or category in SEXUAL_OFFENCES
        if needs_woman:
            eligible = [o for o in on_duty if o.gender == "female"]
            why += Wording(
                f"a woman officer, as {topic.en} is a sexual offence ({len(eligible)} on duty)",
                f"महिला अधिकारी, क्योंकि {topic.hi} यौन अपराध है ({len(eligible)} ड्यूटी पर)",
            )
        if eligible:
            certified = [o for o in eligible if category and self.certified(o.service_number, category, at)]
            if certified:
                why += Wording(
                    f"certified for {topic.en} ({len(certified)} certified)",
                    f"{topic.hi} हेतु प्रमाणित ({len(certified)} प्रमाणित)",
                )
            else:
                why += Wording(
                    f"none of them is certified for {topic.en}", f"उनमें से कोई {topic.hi} हेतु प्रमाणित नहीं"
                )
            chosen = min(
                certified or eligible,
                key=lambda o: (self.workload.get(o.service_number, 0), o.service_number),
            )
            load = self.workload.get(chosen.service_number, 0)
            return Pick(
                chosen.service_number,
                why + Wording(f"fewest open cases ({load})", f"सबसे कम खुले मामले ({load})"),
            )
        lack = (
            Wording(f"no woman officer on duty at {kendra}", f"{kendra} पर कोई महिला अधिकारी ड्यूटी पर नहीं")
            if needs_woman
            else Wording(f"no officer on duty at {kendra}", f"{kendra} पर कोई अधिकारी ड्यूटी पर नहीं")
        )
        if chief is None or chief in exclude:
            return Vacancy(
                lack + Wording("no other in-charge is posted there", "वहाँ कोई अन्य प्रभारी तैनात नहीं")
            )
        status = self.officers[chief].status
        takes = Wording("the Kendra in-charge takes it", "केन्द्र प्रभारी को सौंपा गया")
        if status != DutyStatus.ON_DUTY:
            hi, en = DUTY_LABELS[status]
            takes += Wording(f"the in-charge is {en.lower()}", f"प्रभारी {hi} हैं")
        return Pick(chief, lack + takes, flagged=True)

    def agency_for(self, district: str, kind: AgencyKind, code: str | None = None) -> str | None:
        """The agency a referral goes to: the one named, if it serves the district, else the
        district's first of that kind."""
        named = self.agencies.get(code) if code else None
        if named is not None and named.active and named.district == district and named.kind == kind:
            return named.code
        for agency in sorted(self.agencies.values(), key=lambda a: a.code):
            if agency.active and agency.district == district and agency.kind == kind:
                return agency.code
        return None

    def referrals_for(
        self, district: str, category: str, minor: bool, at: datetime, due_in: dict[AgencyKind, timedelta]
    ) -> tuple[list[ReferralOrder], Wording]:
        """The referrals a new case gets by rule, and a note on any that no agency can take."""
        rules: list[tuple[AgencyKind, Wording]] = []
        if minor or category == Category.OFFENCE_AGAINST_MINOR:
            rules.append(
                (
                    AgencyKind.CHILD_WELFARE_COMMITTEE,
                    Wording(
                        "the complainant is a minor: the Child Welfare Committee must be informed",
                        "पीड़िता नाबालिग है: बाल कल्याण समिति को सूचित करना आवश्यक है",
                    ),
                )
            )
        if category in OSC_CATEGORIES:
            topic = category_words(category)
            rules.append(
                (
                    AgencyKind.ONE_STOP_CENTRE,
                    Wording(
                        f"{topic.en} cases go to the One Stop Centre for medical, legal and counselling help",
                        f"{topic.hi} के मामले चिकित्सा, विधिक व परामर्श सहायता हेतु वन स्टॉप सेंटर को",
                    ),
                )
            )
        orders: list[ReferralOrder] = []
        missing = Wording("", "")
        for kind, reason in rules:
            code = self.agency_for(district, kind)
            if code is None:
                name = agency_words(kind)
                missing += Wording(
                    f"no {name.en} is defined for district {district}: referral not issued",
                    f"जनपद {district} हेतु कोई {name.hi} परिभाषित नहीं: संदर्भ जारी नहीं",
                )
                continue
            orders.append(ReferralOrder(code, kind, reason, at + due_in[kind]))
        return orders, missing
