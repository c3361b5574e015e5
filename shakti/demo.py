"""The demo: a sample district (Shahjahanpur's jurisdiction from routing's data file), a roster, the
curriculum (training publishes it on start), a training programme like the one of 10 January 2026,
demo users for every role, then a steady stream of synthetic complaints.

Everything goes in through the services' own HTTP API, as a real district's data would. Officers,
users and complainants are all marked DEMO, and the web front shows a DEMO banner on every page.
Loading again (a restart with ``--demo``) adds nothing twice: every request carries a stable key.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.escalation.policy import DEMO_POLICY
from services.intake.priority import load_priority_table
from shakti.basics import CONSOLE, CONSOLE_SESSION_VERSION
from shakti.history import HistoryLoader, Step
from shakti.launcher import Mode
from shakti.synthetic import SyntheticComplaint, synthetic_complaints
from shakti.users import ServicesReference, UserStore, user_record
from shared.clock import IST, HistoricalClock
from shared.contracts.vocabulary import ActionKind, AgencyKind, CloseReason, ContactMode, Outcome, Priority
from shared.roles import Role
from shared.tokens import TokenIssuer

log = logging.getLogger(__name__)

JURISDICTION_FILE = (
    Path(__file__).resolve().parent.parent / "services" / "routing" / "data" / "shahjahanpur.csv"
)
DISTRICT = "SJP"
PASSWORD = "shakti-demo-2026"
OPENING_CASES = 60
HISTORY_DAYS = 90
HISTORY_PER_DAY = 2
"""About 180 complaints over the last 90 days (``SHAKTI_DEMO_HISTORY_DAYS``), so that trends and rates
mean something."""
HISTORY_WINDOW = timedelta(seconds=20)
"""What the history sends at one moment of its clock: a case's steps are a minute or so apart."""
STREAM_EVERY_SECONDS = 20.0
CONTACTED_EVERY, RESOLVED_EVERY = 3, 6
"""Of the demo's complaints, every third has its first contact made at once and every sixth is resolved."""
HOME_THANA, HOME_CIRCLE = "SJP-KATRA", "SJP-TILHAR"
HOME_AGENCY = "SJP-OSC"
"""The One Stop Centre: routing refers the demo's sexual assault and domestic violence cases there."""

USERS: list[tuple[str, Role, dict[str, str]]] = [
    ("demo.officer", Role.KENDRA_OFFICER, {"thana": HOME_THANA, "circle": HOME_CIRCLE}),
    ("demo.incharge", Role.KENDRA_INCHARGE, {"thana": HOME_THANA, "circle": HOME_CIRCLE}),
    ("demo.sho", Role.SHO, {"thana": HOME_THANA, "circle": HOME_CIRCLE}),
    ("demo.co", Role.CO, {"circle": HOME_CIRCLE}),
    ("demo.addlsp", Role.ADDL_SP, {}),
    ("demo.sp", Role.SP, {}),
    ("demo.state", Role.STATE_CELL, {}),
    ("demo.operator", Role.OPERATOR, {}),
    ("demo.agency", Role.AGENCY_DESK, {"agency": HOME_AGENCY}),
]


def service_number(kendra: str, n: int) -> str:
    """A demo officer's number from her Kendra's own code (``MSK-SJP-KATRA`` -> ``DEMOKATRA1``): the same
    whichever other Kendras are listed, so a number is never rostered at one Kendra in a run and at
    another in the next (numbered by place in the list, a shorter list moved demo.officer's number)."""
    place = re.sub(r"[^A-Z0-9]", "", kendra.upper().removeprefix(f"MSK-{DISTRICT}-"))
    return f"DEMO{place[:14]}{n}"


def roster_sheet(kendras: list[dict[str, Any]]) -> tuple[str, dict[str, str], dict[str, str]]:
    """Three officers per Kendra (an in-charge sub-inspector, two constables); returns the CSV, the
    first constable of each thana (who registers that thana's demo complaints) and each in-charge."""
    lines = ["# DEMO roster: made-up officers", "service_number,name,rank,gender,kendra,incharge"]
    registrar: dict[str, str] = {}
    incharges: dict[str, str] = {}
    numbers: set[str] = set()
    for kendra in sorted(kendras, key=lambda k: k["code"]):
        place = kendra["name_en"].split(",")[-1].strip()
        for n, (rank, incharge) in enumerate(
            (("sub_inspector", "yes"), ("constable", ""), ("constable", ""))
        ):
            number = service_number(kendra["code"], n)
            if number in numbers:
                raise ValueError(f"demo: two Kendras give the service number {number}")
            numbers.add(number)
            name = f"DEMO {rank.replace('_', ' ').title()} {n} {place}"
            lines.append(f"{number},{name},{rank},female,{kendra['code']},{incharge}")
            if n == 1:
                registrar[kendra["thana"]] = number
            if incharge:
                incharges[kendra["thana"]] = number
    return "\n".join(lines) + "\n", registrar, incharges


def desk_user(thana: str) -> str:
    """The demo user who registers a thana's synthetic complaints (Katra's is demo.officer)."""
    return "demo.officer" if thana == HOME_THANA else f"demo.{thana.lower()}"


class DemoLoader:
    """Loads the demo through the HTTP API as the operator console, then as each thana's demo officer."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.issuer: TokenIssuer = app.state.issuer
        self.users: UserStore = app.state.users
        self.client = client
        self.operator = self.bearer(self.issuer.issue(CONSOLE, CONSOLE_SESSION_VERSION))

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def header(self, username: str) -> dict[str, str]:
        """A fresh token of a demo user (their sessions may have ended since: a sign-out in a browser)."""
        account = await self.users.get(username)
        return self.bearer(self.issuer.issue(account.username, account.session_version))

    async def call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"demo: {method} {path} answered {response.status_code}")
        return response.json()

    async def found(self, path: str, params: dict[str, str]) -> Any:
        """A GET as the operator console: the answer, or None when there is nothing there (yet)."""
        response = await self.client.get(path, headers=self.operator, params=params)
        if response.status_code in (404, 503):
            return None  # not there, or not yet: the read model is still applying what was stored
        if response.status_code >= 400:
            raise RuntimeError(f"demo: GET {path} answered {response.status_code}")
        return response.json()

    async def jurisdiction(self) -> list[dict[str, Any]]:
        with JURISDICTION_FILE.open("rb") as content:
            await self.call(
                "POST", "/api/routing/jurisdiction/import", self.operator,
                files={"file": (JURISDICTION_FILE.name, content.read(), "text/csv")},
            )  # fmt: skip
        # Intake learns the places from routing's events: wait until it has every Kendra, and routing's
        # read model every circle and thana (users are checked against it).
        units = [line.split(",", 1)[0] for line in JURISDICTION_FILE.read_text(encoding="utf-8").splitlines()]
        for _ in range(600):
            places = await self.call(
                "GET", "/api/intake/places", self.operator, params={"district": DISTRICT}
            )
            kendras = [p for p in places["places"] if p["kind"] == "kendra"]
            tree = await self.found(f"/api/routing/jurisdiction/{DISTRICT}", {}) or {}
            if (len(kendras), len(tree.get("circles", [])), len(tree.get("thanas", []))) == (
                units.count("kendra"),
                units.count("circle"),
                units.count("thana"),
            ):
                return kendras
            await asyncio.sleep(0.1)
        raise RuntimeError("demo: intake never learned the jurisdiction")

    async def roster(self, kendras: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
        sheet, registrar, incharges = roster_sheet(kendras)
        await self.call(
            "POST",
            "/api/routing/roster/import",
            self.operator,
            files={"file": ("demo-roster.csv", sheet, "text/csv")},
        )
        # Users are checked against routing's roster: wait until its read model has every officer.
        for _ in range(600):
            listed = await self.call("GET", "/api/routing/roster", self.operator)
            if len([o for o in listed if o["service_number"].startswith("DEMO")]) >= 3 * len(kendras):
                return registrar, incharges
            await asyncio.sleep(0.1)
        raise RuntimeError("demo: routing never listed the roster")

    async def people(
        self, kendras: list[dict[str, Any]], registrar: dict[str, str], incharges: dict[str, str]
    ) -> None:
        """The demo users of every role at Katra, and one officer per other thana (each checked against
        the jurisdiction and the roster like any user; a restart leaves an unchanged user alone)."""
        wanted = [
            (name, role, {**where, "service_number": registrar[HOME_THANA]})
            if role is Role.KENDRA_OFFICER
            else (name, role, {**where, "service_number": incharges[HOME_THANA]})
            if role is Role.KENDRA_INCHARGE
            else (name, role, where)
            for name, role, where in USERS
        ]
        wanted += [
            (desk_user(k["thana"]), Role.KENDRA_OFFICER,
             {"circle": k["circle"], "thana": k["thana"], "service_number": registrar[k["thana"]]})
            for k in kendras
            if k["thana"] != HOME_THANA
        ]  # fmt: skip

        reference = ServicesReference(self.found)
        for username, role, where in wanted:
            record = user_record(username, role, district=DISTRICT, **where)
            current = await self.users.get(username)
            if current.exists and current.enabled and current.principal() == record:
                continue
            await self.users.add(
                record, PASSWORD, actor=CONSOLE, demo=True, replace=True, reference=reference
            )

    async def programme(self, kendras: list[dict[str, Any]]) -> None:
        curriculum = await self.call("GET", "/api/training/curriculum", self.operator)
        modules = [m["module_id"] for m in curriculum["modules"]] or curriculum["certification"][
            "required_modules"
        ]
        programme_id = "DEMO-SJP-2026-01-10"
        existing = await self.client.get(f"/api/training/programmes/{programme_id}", headers=self.operator)
        if existing.status_code == 200:
            return
        await self.call(
            "POST", "/api/training/programmes", self.operator,
            json={
                "programme_id": programme_id,
                "title_hi": "DEMO: मिशन शक्ति केन्द्र कर्मियों का प्रशिक्षण कार्यक्रम",
                "title_en": "DEMO: training programme for the staff of the Mission Shakti Kendras",
                "ordered_by": "Superintendent of Police, Shahjahanpur",
                "directed_by": "Additional SP (Rural)",
                "organised_by": "Office of the Circle Officer",
                "venue": "Reserve Police Lines auditorium",
                "date": date(2026, 1, 10).isoformat(),
                "district": DISTRICT,
                "modules": modules,
                "invited_kendras": [k["code"] for k in kendras],
            },
        )  # fmt: skip
        officers = await self.call("GET", "/api/training/officers", self.operator)
        rng = random.Random(10)
        marks = []
        for officer in officers:
            if officer["service_number"].startswith("DEMO"):
                present = rng.random() < 0.7
                score = float(rng.randint(60, 98)) if present else None
                marks.append(
                    {"service_number": officer["service_number"], "present": present, "score": score}
                )
        if marks:
            # The programme's date must have come for attendance; a demo run before it shows it scheduled.
            await self.call(
                "POST",
                f"/api/training/programmes/{programme_id}/attendance",
                self.operator,
                json={"marks": marks},
            )
            await self.call("POST", f"/api/training/programmes/{programme_id}/complete", self.operator)

    async def complaint(self, n: int, c: SyntheticComplaint) -> None:
        staff = await self.header(desk_user(c.thana))
        registered = await self.client.post(
            "/api/intake/cases",
            json=registration(c),
            headers={**staff, "Idempotency-Key": f"demo-case-{n}"},
        )
        if registered.status_code != 201:
            log.warning("demo complaint %d refused (%d)", n, registered.status_code)
            return
        case_id = registered.json()["case_id"]
        # Some cases move on, so that every screen has something in every state.
        if n % CONTACTED_EVERY == 0:
            await self.client.post(
                f"/api/intake/cases/{case_id}/first-contact", json={"mode": "phone"},
                headers={**staff, "Idempotency-Key": f"demo-contact-{n}"},
            )  # fmt: skip
        if n % RESOLVED_EVERY == 0:
            await self.client.post(
                f"/api/intake/cases/{case_id}/resolve",
                json={"outcome": "counselled_reconciled", "feedback_rating": 4},
                headers={**staff, "Idempotency-Key": f"demo-resolve-{n}"},
            )


def opening_order(complaints: list[SyntheticComplaint]) -> list[int]:
    """The opening complaints' numbers in the order they are sent: first the critical (P1) ones of the
    demo users' own thana that nobody contacts at once, so that a breach and its escalation reach the
    in-charge two minutes after the first complaint rather than after the whole opening batch."""
    table = load_priority_table()

    def breaches_first(n: int) -> bool:
        c = complaints[n]
        critical = table.priority(c.category, minor=c.minor, danger_now=c.danger_now) is Priority.P1
        return c.thana == HOME_THANA and critical and n % CONTACTED_EVERY != 0

    return sorted(range(min(OPENING_CASES, len(complaints))), key=lambda n: not breaches_first(n))


def registration(c: SyntheticComplaint) -> dict[str, Any]:
    """The body of ``POST /api/intake/cases`` for a made-up complaint."""
    return {
        "channel": c.channel.value, "category": c.category.value, "description": c.statement,
        "district": DISTRICT, "thana": c.thana, "minor": c.minor, "danger_now": c.danger_now,
        "identity": {"name": c.name, "phone": c.phone.replace(" ", ""), "address": c.address},
    }  # fmt: skip


@dataclass(frozen=True)
class PastCase:
    """A complaint of the demo's history: registered ``at`` a past moment, with the life it had."""

    n: int
    at: datetime
    complaint: SyntheticComplaint
    steps: tuple[Step, ...]
    district: str = DISTRICT

    @property
    def thana(self) -> str:
        return self.complaint.thana

    def registration(self) -> dict[str, Any]:
        return registration(self.complaint)


def past_life(rng: random.Random, c: SyntheticComplaint) -> tuple[Step, ...]:
    """A case lived under the demo policy's limits (minutes): first contact within a minute or two (late
    for about one in twelve, never for one in fifty), an action, for some a referral the agency takes up,
    then disposal within a quarter of an hour; about one in ten is still being worked."""
    if rng.random() < 0.02:
        return ()
    late = rng.random() < 0.08
    t = timedelta(minutes=rng.uniform(8, 15) if late else rng.uniform(0.3, 1.5))
    steps = [Step(t, "first-contact", {"mode": rng.choice(list(ContactMode)).value})]
    t += timedelta(minutes=rng.uniform(0.5, 2))
    steps.append(Step(t, "actions", {"kind": ActionKind.COUNSELLING.value}))
    if c.minor or rng.random() < 0.15:
        kind = AgencyKind.CHILD_WELFARE_COMMITTEE if c.minor else AgencyKind.ONE_STOP_CENTRE
        t += timedelta(minutes=rng.uniform(0.5, 1))
        steps.append(Step(t, "referrals", {"agency_kind": kind.value}))
        t += timedelta(minutes=rng.uniform(0.5, 1.5))
        steps.append(Step(t, "referral-accept"))
    if rng.random() < 0.1:
        return tuple(steps)
    t += timedelta(minutes=rng.uniform(1, 4))
    outcome = rng.choice(
        [Outcome.COUNSELLED_RECONCILED, Outcome.COUNSELLED_RECONCILED, Outcome.NOT_SUBSTANTIATED]
    )
    steps.append(Step(t, "resolve", {"outcome": outcome.value, "feedback_rating": rng.randint(2, 5)}))
    t += timedelta(minutes=rng.uniform(0.5, 2))
    steps.append(Step(t, "close", {"reason": CloseReason.DISPOSED.value}))
    return tuple(steps)


def past_cases(thanas: list[str], now: datetime, days: int, per_day: int) -> list[PastCase]:
    """``per_day`` complaints on each of the ``days`` before ``now``, in the Kendras' hours (09:00 to
    19:00 IST), in order of registration."""
    rng = random.Random(90)
    made = synthetic_complaints(thanas, days * per_day, seed=90)
    day = now.astimezone(IST).date() - timedelta(days=days)
    first_day = datetime(day.year, day.month, day.day, 9, tzinfo=IST)
    moments = sorted(
        first_day + timedelta(days=n // per_day, minutes=rng.uniform(0, 600)) for n in range(len(made))
    )
    return [
        PastCase(n, at, c, past_life(rng, c))
        for n, (at, c) in enumerate(zip(moments, made, strict=True))
        if at < now - timedelta(hours=1)
    ]


def use_demo_escalation_policy() -> Path:
    """The escalation policy the demo runs: limits in minutes, so that warnings, breaches and the ladder
    show while one watches; an operator's own SHAKTI_ESCALATION_POLICY is kept."""
    chosen = os.environ.setdefault("SHAKTI_ESCALATION_POLICY", str(DEMO_POLICY))
    return Path(chosen)


class Demo:
    """The demo as a way of running the platform: its data is loaded before the start-up summary (which
    shows the demo users and their password), its complaints keep coming after it."""

    def __init__(self, history_days: int = HISTORY_DAYS) -> None:
        self.kendras: list[dict[str, Any]] = []
        self.history_days = history_days
        # A fresh demo starts in the past: its district, people and history are recorded at their
        # moments, then the clock runs on real time (``load``).
        self.clock = HistoricalClock(datetime.now(UTC) - timedelta(days=history_days + 1))

    def mode(self) -> Mode:
        users = ", ".join(username for username, _, _ in USERS)  # each name says its role
        return Mode(
            name="DEMO",
            load=self.load,
            summary=[
                ("Demo users", users, "डेमो उपयोगकर्ता"),
                ("Password", PASSWORD, "पासवर्ड"),
                # Short: a wider label column would wrap the keys' path at 100 columns.
                ("Tour", "/demo", "भ्रमण"),
                # Short label and the file's name only: the summary must not wrap a path at 100 columns.
                ("Deadlines", f"{use_demo_escalation_policy().name} (minutes)", "समय-सीमाएँ"),
            ],
            keep_going=self.keep_going,
            clock=self.clock,
        )

    async def load(self, app: FastAPI, url: str) -> None:
        """The users, the district, its roster, a training programme and, on the first start, the
        history of the last ``history_days`` (raises when they cannot be loaded)."""
        try:
            async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
                loader = DemoLoader(app, client)
                fresh = await loader.found(f"/api/routing/jurisdiction/{DISTRICT}", {}) is None
                if not fresh:
                    self.clock.release()  # a restart: its history is in the streams already
                self.kendras = await loader.jurisdiction()
                registrar, incharges = await loader.roster(self.kendras)
                await loader.people(self.kendras, registrar, incharges)
                await loader.programme(self.kendras)
                if fresh and self.history_days:
                    await self.history(loader, client)
        finally:
            self.clock.release()

    async def history(self, loader: DemoLoader, client: httpx.AsyncClient) -> None:
        """The last days' complaints, each lived through the API at its own moment."""
        thanas = sorted(k["thana"] for k in self.kendras) + [HOME_THANA] * 6
        past = past_cases(thanas, datetime.now(UTC), self.history_days, HISTORY_PER_DAY)
        desks: dict[str, dict[str, str]] = {}

        async def desk(thana: str) -> dict[str, str]:
            if thana not in desks:
                desks[thana] = await loader.header(desk_user(thana))
            return desks[thana]

        def progress(done: int, total: int) -> None:
            log.info("demo history: %d steps of %d complaints recorded", done, total)

        history = HistoryLoader(client, self.clock, desk, key_prefix="demo-past")
        started = time.monotonic()
        steps = await history.live(past, progress, window=HISTORY_WINDOW, every=250)
        log.info(
            "demo history: %d complaints of %d days, %d steps, in %.0f s%s",
            len(history.cases), self.history_days, steps, time.monotonic() - started,
            f"; refused: {history.refused}" if history.refused else "",
        )  # fmt: skip

    async def keep_going(self, app: FastAPI, url: str) -> None:
        """Opening cases at once, then a complaint every few seconds until the platform stops."""
        # The demo users work at Katra: give their Kendra a good share of the cases.
        thanas = sorted(k["thana"] for k in self.kendras) + [HOME_THANA] * 6
        complaints = synthetic_complaints(thanas, 10_000)
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            loader = DemoLoader(app, client)
            for n in [*opening_order(complaints), *range(OPENING_CASES, len(complaints))]:
                try:
                    await loader.complaint(n, complaints[n])
                except httpx.HTTPError as error:
                    log.warning("demo complaint %d not sent: %s", n, type(error).__name__)
                if n >= OPENING_CASES:
                    await asyncio.sleep(STREAM_EVERY_SECONDS)
