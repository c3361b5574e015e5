"""The state's synthetic year, as data: the 75 districts of Uttar Pradesh with their circles, thanas,
Kendras and agencies (routing's jurisdiction sheets), a roster of three officers per Kendra, a year of
complaints each with the life it will have (first contact, actions, referrals, disposal, reopening), and
the year of the roster and of training (``year_happenings``: leave and postings, a programme a month in
every district, a quarterly iGOT export).

Pure and deterministic: the same scale and seed give the same sheets and complaints, nothing here talks to
a service. Every name made up here says SYNTHETIC (places) or DEMO (people, as shakti/synthetic.py marks
complainants); the real names are the districts' and, for Shahjahanpur, routing's sample file. Each share
below is a module constant with where it comes from, or "assumed" when no public figure was found.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from services.training.curriculum import load_policy
from services.training.domain import IST
from shakti.history import Happening, Step
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
YEAR_END = datetime(YEAR + 1, 1, 1, tzinfo=UTC) - timedelta(hours=5, minutes=30)
"""Midnight of the next 1 January in IST: the year's complaints are registered before it."""

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

PROGRAMME_KENDRA_SHARE = 1 / 3
"""Assumed: each district's monthly programme invites a third of its Kendras in turn, so every Kendra's
staff are called to one a quarter (the demo's article: a district's SP orders one; no public calendar of
Mission Shakti trainings was found)."""
PROGRAMME_PRESENT_SHARE = 0.8
"""Assumed: four in five of the officers invited attend (the rest on duty, on leave or excused)."""
ASSESSMENT_SCORES = (45, 98)
"""Assumed: scores spread evenly over this range, so about one in four present fail the pass mark of 60
(services/training/data/certification.yaml) and must sit the assessment again."""
SPECIALIST_EVERY = 3
"""Assumed: every third programme of a district adds a specialist module (POCSO, sexual offences in
turn), earning the endorsements for those categories."""
IGOT_ACTIVE_SHARE = 0.6
"""Assumed: an officer watches iGOT videos in a quarter with this chance (self-paced, on the portal)."""
IGOT_VIDEOS_PER_QUARTER = (4, 10)
"""Assumed: an officer who watches does this many of the videos she still lacks in the quarter; the 21 take
a diligent officer about three quarters."""
LEAVE_SHARE_PER_MONTH = 0.03
"""Assumed: an officer starts a spell of leave in a month with this chance (about one spell in three years
of earned and casual leave taken in blocks; single days are off duty, not recorded here)."""
LEAVE_DAYS = (3, 15)
"""Assumed: a spell of leave lasts this many days."""
POSTING_SHARE = 0.05
"""Assumed: one constable in twenty (at least one a district) is posted to another Kendra of her district
in the year."""

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


OPERATOR = "operator"
"""Who keeps the roster and imports iGOT's export in the synthetic year: the operator console."""


def sp_of(district: str) -> str:
    """Who orders a district's programmes and marks their attendance: its SP."""
    return f"sp:{district}"


def _ist(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), IST).astimezone(UTC)


def _officers(district: District) -> list[tuple[str, str, int]]:
    """(service number, thana, place in the Kendra: 0 the in-charge, 1 the desk constable, 2 the other)."""
    return [(service_number(t, n), t, n) for t in thana_codes(district) for n in range(OFFICERS_PER_KENDRA)]


def duty_happenings(district: District, rng: random.Random) -> list[Happening]:
    """The roster's year in one district: spells of leave (the in-charge and the second constable; the desk
    constable, the bench's registering user, stays), each back on duty after it, and a few constables
    posted to another Kendra of the district, each at 09:00 IST of its day."""
    out: list[Happening] = []
    days = (date(YEAR, 12, 31) - date(YEAR, 1, 1)).days + 1
    thanas = thana_codes(district)
    for sn, _, place in _officers(district):
        if place == 1:
            continue
        free_from = 0
        for month in range(1, 13):
            if rng.random() >= LEAVE_SHARE_PER_MONTH:
                continue
            first = (date(YEAR, month, 1) - date(YEAR, 1, 1)).days + rng.randrange(28)
            spell = rng.randint(*LEAVE_DAYS)
            if first < free_from or first + spell >= days:
                continue
            free_from = first + spell + 1
            for offset, status in ((first, "on_leave"), (first + spell, "on_duty")):
                day = date(YEAR, 1, 1) + timedelta(days=offset)
                out.append(
                    Happening(
                        _ist(day, 9), f"duty-{sn}-{day:%m%d}", "leave" if status == "on_leave" else "back on duty",
                        OPERATOR, f"/api/routing/officers/{sn}/duty", {"status": status},
                    )
                )  # fmt: skip
    constables = [(sn, thana) for sn, thana, place in _officers(district) if place == 2]
    moved = rng.sample(constables, max(1, round(POSTING_SHARE * len(constables)))) if len(thanas) > 1 else []
    for sn, thana in moved:
        to = rng.choice([t for t in thanas if t != thana])
        day = date(YEAR, 1, 1) + timedelta(days=rng.randrange(days))
        out.append(
            Happening(
                _ist(day, 9, 30), f"posting-{sn}-{day:%m%d}", "posting", OPERATOR,
                f"/api/routing/officers/{sn}/posting", {"kendra": f"MSK-{to}", "incharge": False},
            )
        )  # fmt: skip
    return out


def programme_happenings(district: District, rng: random.Random) -> list[Happening]:
    """A programme a month, ordered by the SP on the 1st (11:00 IST), held between the 8th and the 25th:
    a third of the Kendras invited in turn, attendance marked at 17:00 IST and the programme completed at
    17:30 IST (training then counts the modules of those present, and certifies whom they complete)."""
    policy = load_policy()
    assessment = next(iter(policy.rules.certification.pass_marks))
    core = [m.id for m in policy.curriculum.modules if m.kind == "sop"] + [assessment]
    specialists = [m.id for m in policy.curriculum.modules if m.kind == "specialist"]
    thanas = thana_codes(district)
    per = max(1, round(len(thanas) * PROGRAMME_KENDRA_SHARE))
    officers = _officers(district)
    out: list[Happening] = []
    for month in range(1, 13):
        held = date(YEAR, month, rng.randint(8, 25))
        invited = [thanas[(i + (month - 1) * per) % len(thanas)] for i in range(per)]
        modules = list(core)
        if month % SPECIALIST_EVERY == 0 and specialists:
            modules.append(specialists[(month // SPECIALIST_EVERY - 1) % len(specialists)])
        programme = f"SYN-{district.code}-{YEAR}-{month:02d}"
        plan = {
            "programme_id": programme,
            "title_hi": f"DEMO: मिशन शक्ति केन्द्र कर्मियों का मासिक प्रशिक्षण, {district.name_hi}",
            "title_en": f"DEMO: monthly training of the Mission Shakti Kendra staff, {district.name_en}",
            "ordered_by": f"Superintendent of Police, {district.name_en}",
            "directed_by": "Additional SP", "organised_by": "Office of the Circle Officer",
            "venue": f"SYNTHETIC: Reserve Police Lines, {district.name_en}", "date": held.isoformat(),
            "district": district.code, "modules": modules, "invited_kendras": [f"MSK-{t}" for t in invited],
        }  # fmt: skip
        marks = []
        for sn, thana, _ in officers:
            if thana in invited:
                present = rng.random() < PROGRAMME_PRESENT_SHARE
                score = float(rng.randint(*ASSESSMENT_SCORES)) if present else None
                marks.append({"service_number": sn, "present": present, "score": score})
        path = f"/api/training/programmes/{programme}"
        who = sp_of(district.code)
        out += [
            Happening(_ist(date(YEAR, month, 1), 11), f"{programme}-plan", "programme", who,
                      "/api/training/programmes", plan),
            Happening(_ist(held, 17), f"{programme}-attendance", "attendance", who, f"{path}/attendance",
                      {"marks": marks}),
            Happening(_ist(held, 17, 30), f"{programme}-complete", "programme complete", who, f"{path}/complete"),
        ]  # fmt: skip
    return out


IGOT_IMPORT_DAYS = (date(YEAR, 3, 28), date(YEAR, 6, 28), date(YEAR, 9, 28), date(YEAR, 12, 28))
"""Assumed: the iGOT portal's export of a quarter is imported near its end (12:00 IST), each completion
dated on a day of the quarter before it."""


def igot_happenings(districts: list[District], rng: random.Random) -> list[Happening]:
    """A quarter's iGOT completions of every officer of the districts, as one export imported by the
    operator: each officer in ``IGOT_ACTIVE_SHARE`` watches some of the videos she still lacks."""
    videos = [m.id for m in load_policy().curriculum.modules if m.kind == "igot_video"]
    watched: dict[str, int] = {}
    out: list[Happening] = []
    start = date(YEAR, 1, 1)
    for q, imported in enumerate(IGOT_IMPORT_DAYS, start=1):
        lines = ["service_number,module_id,completed_at,score"]
        for district in districts:
            for sn, _, _ in _officers(district):
                done = watched.get(sn, 0)
                if done >= len(videos) or rng.random() >= IGOT_ACTIVE_SHARE:
                    continue
                more = min(len(videos) - done, rng.randint(*IGOT_VIDEOS_PER_QUARTER))
                for video in videos[done : done + more]:
                    day = start + timedelta(days=rng.randrange((imported - start).days))
                    lines.append(f"{sn},{video},{day.isoformat()},")
                watched[sn] = done + more
        if len(lines) > 1:
            out.append(
                Happening(
                    _ist(imported, 12), f"igot-{YEAR}-q{q}", "igot import", OPERATOR, "/api/training/imports/igot",
                    upload=(f"DEMO-igot-{YEAR}-q{q}.csv", "\n".join(lines) + "\n"),
                )
            )  # fmt: skip
        start = imported
    return out


def year_happenings(districts: list[District], seed: int = 19) -> list[Happening]:
    """The year of the roster and of training in the districts, in order of time: every district's leave,
    postings and monthly programmes, and the quarterly iGOT imports. A whole year at any ``--scale``: the
    roster is the districts' whole roster, whatever share of the year's complaints is loaded."""
    rng = random.Random(f"{seed}-happenings")
    out = igot_happenings(districts, rng)
    for district in districts:
        out += duty_happenings(district, rng)
        out += programme_happenings(district, rng)
    return sorted(out, key=lambda h: (h.at, h.key))
