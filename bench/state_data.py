"""The state's synthetic year, as data: the 75 districts of Uttar Pradesh with their circles, thanas,
Kendras and agencies (routing's jurisdiction sheets), a roster of three officers per Kendra, and a year of
complaints each with the life it will have (first contact, actions, referrals, disposal, reopening).

Pure and deterministic: the same scale and seed give the same sheets and complaints, nothing here talks to
a service. Every name made up here says SYNTHETIC (places) or DEMO (people, as shakti/synthetic.py marks
complainants); the real names are the districts' and, for Shahjahanpur, routing's sample file. Each share
below is a module constant with where it comes from, or "assumed" when no public figure was found.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shakti.history import Step
from shakti.synthetic import CATEGORY_WEIGHTS, CHANNEL_WEIGHTS, FAMILY, GIVEN, STATEMENTS
from shared.contracts.vocabulary import (
    ActionKind,
    AgencyKind,
    Category,
    CloseReason,
    ContactMode,
    Outcome,
    ReopenReason,
)

DATA = Path(__file__).resolve().parent / "data"
DISTRICTS_FILE = DATA / "up-districts.csv"
SAMPLE_DISTRICT = "SJP"
SAMPLE_JURISDICTION = (
    Path(__file__).resolve().parent.parent / "services" / "routing" / "data" / "shahjahanpur.csv"
)

STATE_KENDRAS = 1_647
"""Mission Shakti Kendras, one per police station, at Mission Shakti 5.0 (September 2025): public reporting,
/work/shared/data/README.md."""
OFFICERS_PER_KENDRA = 3
"""An in-charge sub-inspector and two constables: shakti/demo.py's roster, assumed for every Kendra."""
YEAR_COMPLAINTS = 1_500_000
"""Assumed (issue 19's working figure): the 1090 line alone reported 409,434 complaints in 2023
(/work/shared/data/README.md), about a quarter of this; walk-ins, 181, 112 and online make up the rest."""
YEAR = 2025
YEAR_START = datetime(YEAR, 1, 1, tzinfo=UTC) - timedelta(hours=5, minutes=30)
"""Midnight of 1 January in IST, where the year of a Kendra's register begins."""

MONTH_WEIGHTS = (80, 78, 85, 90, 100, 104, 102, 96, 92, 90, 88, 84)
"""Assumed: more complaints in the summer months than in winter, about ±15 %; no public monthly series
of Kendra complaints was found."""
HOUR_WEIGHTS_IST = (1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 10, 9, 9, 8, 8, 7, 6, 5, 4, 3, 2, 1)
"""Assumed: complaints come mostly between 08:00 and 20:00 IST (walk-ins in the Kendra's hours)."""
MINOR_SHARE = 0.08
"""Assumed, as shakti/synthetic.py: she is a minor in 8 % of complaints (every offence against a minor)."""
DANGER_NOW_SHARE = 0.05
"""Assumed, as shakti/synthetic.py: 5 % in danger now, besides every sexual assault and acid attack."""
REFERRAL_SHARE = 0.15
"""Assumed: 15 % of cases are referred to an agency (One Stop Centre, legal aid, CWC, shelter, hospital)."""
REFERRAL_ACCEPTED_SHARE = 0.85
"""Assumed: the agency takes up 85 % of referrals; the rest are declined."""
FIR_SHARE = 0.12
"""Assumed: an FIR is registered in 12 % of cases (most are settled by counselling)."""
CONTACT_LATE_SHARE = 0.08
"""Assumed: first contact comes after the policy's limit in 8 % of cases: their clocks breach and climb."""
NEVER_CONTACTED_SHARE = 0.02
"""Assumed: 2 % of cases are never taken up in the year: the ladder climbs to the state cell."""
DISPOSAL_SHARE = 0.85
"""Assumed: 85 % of cases registered in the year are disposed of (resolved and closed) within it."""
REOPEN_SHARE = 0.03
"""Assumed: 3 % of closed cases are reopened (she came back, a new incident, a review)."""

AGENCIES = (
    (AgencyKind.ONE_STOP_CENTRE, "OSC", "वन स्टॉप सेंटर (सखी)", "One Stop Centre (Sakhi)"),
    (AgencyKind.LEGAL_SERVICES, "DLSA", "जिला विधिक सेवा प्राधिकरण", "District Legal Services Authority"),
    (AgencyKind.CHILD_WELFARE_COMMITTEE, "CWC", "बाल कल्याण समिति", "Child Welfare Committee"),
    (AgencyKind.SHELTER_HOME, "SHELTER", "आश्रय गृह", "Shelter home"),
    (AgencyKind.HOSPITAL, "DISTRICT-HOSPITAL", "जिला अस्पताल", "District Hospital"),
)
SYNTHETIC = "SYNTHETIC (bench.state): not an official unit"


@dataclass(frozen=True)
class District:
    code: str
    name_en: str
    name_hi: str
    thanas: int
    circles: int
    basis: str


def read_districts(path: Path = DISTRICTS_FILE) -> list[District]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    return [
        District(
            row["code"], row["name_en"], row["name_hi"], int(row["thanas"]), int(row["circles"]), row["basis"]
        )
        for row in csv.DictReader(lines)
    ]


def thana_codes(district: District) -> list[str]:
    """The thanas' codes: Shahjahanpur's from routing's sample file, the others numbered (``AGR-T01``)."""
    if district.code == SAMPLE_DISTRICT:
        rows = csv.reader(line for line in _sample_lines() if line.startswith("thana,"))
        return [row[1] for row in rows]
    return [f"{district.code}-T{n:02d}" for n in range(1, district.thanas + 1)]


def _sample_lines() -> list[str]:
    return SAMPLE_JURISDICTION.read_text(encoding="utf-8").splitlines()


def jurisdiction_sheet(district: District) -> str:
    """Routing's jurisdiction file for one district: Shahjahanpur's own sample, a synthetic one otherwise
    (circles, thanas spread over them in turn, a Kendra per thana, the five agencies of every district)."""
    if district.code == SAMPLE_DISTRICT:
        return SAMPLE_JURISDICTION.read_text(encoding="utf-8")
    c, en, hi = district.code, district.name_en, district.name_hi
    lines = [
        f"# SYNTHETIC jurisdiction of {en} for bench.state: the district's name is real, every circle,",
        "# thana, Kendra and agency below is made up (numbered), as are their links.",
        "kind,code,parent,name_hi,name_en,pincodes,localities,agency_kind,control,basis",
        f"district,{c},UP,{hi},{en},,,,,real district of Uttar Pradesh",
    ]
    for n in range(1, district.circles + 1):
        lines.append(
            f'circle,{c}-C{n:02d},{c},"कृत्रिम सर्किल {n}, {hi}","Synthetic circle {n}, {en}",,,,,{SYNTHETIC}'
        )
    thanas = thana_codes(district)
    for n, thana in enumerate(thanas, start=1):
        circle = f"{c}-C{(n - 1) % district.circles + 1:02d}"
        lines.append(
            f'thana,{thana},{circle},"कृत्रिम थाना {n}, {hi}","Synthetic thana {n}, {en}",,,,,{SYNTHETIC}'
        )
    for n, thana in enumerate(thanas, start=1):
        control = "yes" if n == 1 else ""
        lines.append(
            f'kendra,MSK-{thana},{thana},"मिशन शक्ति केन्द्र, कृत्रिम थाना {n}",'
            f'"Mission Shakti Kendra, synthetic thana {n}",,,,{control},{SYNTHETIC}'
        )
    for kind, suffix, agency_hi, agency_en in AGENCIES:
        lines.append(
            f'agency,{c}-{suffix},{c},"{agency_hi}, {hi}","{agency_en}, {en}",,,{kind.value},,{SYNTHETIC}'
        )
    return "\n".join(lines) + "\n"


def service_number(thana: str, n: int) -> str:
    """``AGR-T07`` -> ``SYNAGRT071``: unique in the state, at most 20 capitals and digits."""
    return f"SYN{thana.replace('-', '')[:16]}{n}"


def roster_sheet(district: District) -> str:
    """Three DEMO officers per Kendra of the district: an in-charge sub-inspector and two constables."""
    lines = [
        "# DEMO roster for bench.state: made-up officers",
        "service_number,name,rank,gender,kendra,incharge",
    ]
    for thana in thana_codes(district):
        for n, (rank, incharge) in enumerate(
            (("sub_inspector", "yes"), ("constable", ""), ("constable", ""))
        ):
            name = f"DEMO {rank.replace('_', ' ').title()} {n} {thana}"
            lines.append(f"{service_number(thana, n)},{name},{rank},female,MSK-{thana},{incharge}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Complaint:
    n: int
    district: str
    thana: str
    at: datetime
    category: Category
    channel: str
    minor: bool
    danger_now: bool
    steps: tuple[Step, ...] = field(default=())

    def registration(self) -> dict[str, Any]:
        """The body of ``POST /api/intake/cases``: a made-up DEMO complainant, never a real person."""
        rng = random.Random(self.n)
        return {
            "channel": self.channel, "category": self.category.value,
            "description": STATEMENTS[self.category], "district": self.district, "thana": self.thana,
            "minor": self.minor, "danger_now": self.danger_now,
            "identity": {
                "name": f"DEMO {rng.choice(GIVEN)} {rng.choice(FAMILY)}",
                # 555 numbers are not issued in India's mobile plan: a made-up number cannot ring anyone.
                "phone": f"+9155500{self.n % 100_000:05d}",
                "address": f"DEMO house {rng.randint(1, 400)}, ward {rng.randint(1, 30)}",
            },
        }  # fmt: skip


def complaint_count(scale: float, kendras: int = STATE_KENDRAS) -> int:
    """Complaints in a year at ``scale`` for that many Kendras: a part of the state gets its share."""
    return max(1, round(scale * YEAR_COMPLAINTS * kendras / STATE_KENDRAS))


def _moments(rng: random.Random, count: int) -> list[datetime]:
    """``count`` registration times in the year, by month and hour of the day (IST), in order."""
    days_in_month = [
        (datetime(YEAR + (m == 12), m % 12 + 1, 1) - datetime(YEAR, m, 1)).days for m in range(1, 13)
    ]
    month_starts = [sum(days_in_month[:m]) for m in range(12)]
    months = rng.choices(range(12), MONTH_WEIGHTS, k=count)
    hours = rng.choices(range(24), HOUR_WEIGHTS_IST, k=count)
    out = [
        YEAR_START
        + timedelta(
            days=month_starts[m] + rng.randrange(days_in_month[m]), hours=h, seconds=rng.randrange(3600)
        )
        for m, h in zip(months, hours, strict=True)
    ]
    return sorted(out)


def _life(rng: random.Random, category: Category, minor: bool, danger_now: bool) -> tuple[Step, ...]:
    """What the Kendra does with the case, in order; ``after`` grows along the list."""
    urgent = danger_now or category in (
        Category.SEXUAL_ASSAULT, Category.OFFENCE_AGAINST_MINOR, Category.ACID_ATTACK, Category.MISSING_OR_KIDNAPPING,
    )  # fmt: skip
    if rng.random() < NEVER_CONTACTED_SHARE:
        return ()
    late = rng.random() < CONTACT_LATE_SHARE
    # Within the limits of services/escalation/policy.yaml (1 h urgent, 24 h for most), or well past them.
    limit = timedelta(hours=1 if urgent else 20)
    contact = limit * (rng.uniform(1.5, 4) if late else rng.uniform(0.1, 0.9))
    steps = [Step(contact, "first-contact", {"mode": rng.choice(list(ContactMode)).value})]
    t = contact
    fir = rng.random() < FIR_SHARE or category in (Category.SEXUAL_ASSAULT, Category.ACID_ATTACK)
    t += timedelta(hours=rng.uniform(2, 20) if urgent else rng.uniform(12, 120))
    if fir:
        steps.append(
            Step(
                t,
                "actions",
                {"kind": ActionKind.FIR_REGISTERED.value, "fir_number": f"FIR-{rng.randint(1, 999)}/{YEAR}"},
            )
        )
    elif category is Category.SEXUAL_ASSAULT:
        steps.append(Step(t, "actions", {"kind": ActionKind.MEDICAL_EXAM.value}))
    else:
        steps.append(Step(t, "actions", {"kind": ActionKind.COUNSELLING.value}))
    referred = rng.random() < REFERRAL_SHARE or minor
    if referred:
        kind = AgencyKind.CHILD_WELFARE_COMMITTEE if minor else rng.choice(
            [AgencyKind.ONE_STOP_CENTRE, AgencyKind.LEGAL_SERVICES, AgencyKind.SHELTER_HOME, AgencyKind.HOSPITAL]
        )  # fmt: skip
        t += timedelta(hours=rng.uniform(1, 24))
        steps.append(Step(t, "referrals", {"agency_kind": kind.value}))
        t += timedelta(hours=rng.uniform(2, 30))
        if rng.random() < REFERRAL_ACCEPTED_SHARE:
            steps.append(Step(t, "referral-accept"))
        else:
            steps.append(Step(t, "referral-reject", {"reason": "no_capacity"}))
    if rng.random() >= DISPOSAL_SHARE:
        return tuple(steps)
    t += timedelta(days=rng.uniform(2, 25))
    outcome = (
        Outcome.LEGAL_ACTION_ON_FIR if fir else Outcome.HELP_THROUGH_REFERRAL if referred
        else rng.choice([Outcome.COUNSELLED_RECONCILED, Outcome.COUNSELLED_RECONCILED, Outcome.NOT_SUBSTANTIATED])
    )  # fmt: skip
    steps.append(Step(t, "resolve", {"outcome": outcome.value, "feedback_rating": rng.randint(2, 5)}))
    t += timedelta(hours=rng.uniform(1, 48))
    steps.append(Step(t, "close", {"reason": CloseReason.DISPOSED.value}))
    if rng.random() < REOPEN_SHARE:
        t += timedelta(days=rng.uniform(3, 40))
        reason = rng.choice(
            [ReopenReason.COMPLAINANT_RETURNED, ReopenReason.NEW_INCIDENT, ReopenReason.DISPOSAL_REVIEW]
        )
        steps.append(Step(t, "reopen", {"reason": reason.value}))
        t += timedelta(days=rng.uniform(1, 10))
        steps.append(Step(t, "resolve", {"outcome": Outcome.COUNSELLED_RECONCILED.value}))
        t += timedelta(hours=rng.uniform(1, 24))
        steps.append(Step(t, "close", {"reason": CloseReason.DISPOSED.value}))
    return tuple(steps)


def complaints(districts: list[District], scale: float, seed: int = 19) -> list[Complaint]:
    """A year of the districts' complaints at ``scale`` (1.0 = ``YEAR_COMPLAINTS`` for the whole state, a
    part of it its share by Kendras), in order of registration: a thana chosen evenly among all of theirs
    (so districts weigh by their thanas), each case with its life."""
    rng = random.Random(seed)
    thanas = [(d.code, t) for d in districts for t in thana_codes(d)]
    count = complaint_count(scale, len(thanas))
    categories, category_weights = zip(*CATEGORY_WEIGHTS.items(), strict=True)
    channels, channel_weights = zip(*CHANNEL_WEIGHTS.items(), strict=True)
    out = []
    for n, at in enumerate(_moments(rng, count)):
        district, thana = rng.choice(thanas)
        category = rng.choices(categories, category_weights)[0]
        minor = category is Category.OFFENCE_AGAINST_MINOR or rng.random() < MINOR_SHARE
        danger_now = (
            category in (Category.ACID_ATTACK, Category.SEXUAL_ASSAULT) or rng.random() < DANGER_NOW_SHARE
        )
        channel = rng.choices(channels, channel_weights)[0].value
        life = _life(rng, category, minor, danger_now)
        out.append(Complaint(n, district, thana, at, category, channel, minor, danger_now, life))
    return out
