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
import random
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from shakti.launcher import Mode
from shakti.synthetic import SyntheticComplaint, synthetic_complaints
from shakti.users import UserStore
from shared.auth import Principal, Role, Tokens

log = logging.getLogger(__name__)

JURISDICTION_FILE = (
    Path(__file__).resolve().parent.parent / "services" / "routing" / "data" / "shahjahanpur.csv"
)
DISTRICT = "SJP"
PASSWORD = "shakti-demo-2026"
OPENING_CASES = 60
STREAM_EVERY_SECONDS = 20.0
HOME_THANA, HOME_CIRCLE = "SJP-KATRA", "SJP-TILHAR"

USERS: list[tuple[str, Role, dict[str, str]]] = [
    (
        "demo.officer",
        Role.KENDRA_OFFICER,
        {"thana": HOME_THANA, "circle": HOME_CIRCLE, "service_number": "DEMO0101"},
    ),
    (
        "demo.incharge",
        Role.KENDRA_INCHARGE,
        {"thana": HOME_THANA, "circle": HOME_CIRCLE, "service_number": "DEMO0100"},
    ),
    ("demo.sho", Role.SHO, {"thana": HOME_THANA, "circle": HOME_CIRCLE}),
    ("demo.co", Role.CO, {"circle": HOME_CIRCLE}),
    ("demo.addlsp", Role.ADDL_SP, {}),
    ("demo.sp", Role.SP, {}),
    ("demo.state", Role.STATE_CELL, {}),
    ("demo.operator", Role.OPERATOR, {}),
]


def roster_sheet(kendras: list[dict[str, Any]]) -> tuple[str, dict[str, str]]:
    """Three officers per Kendra (an in-charge sub-inspector, two constables); returns the CSV and
    the first constable of each thana (who registers that thana's demo complaints)."""
    lines = ["# DEMO roster: made-up officers", "service_number,name,rank,gender,kendra,incharge"]
    registrar: dict[str, str] = {}
    for i, kendra in enumerate(sorted(kendras, key=lambda k: k["code"]), start=1):
        place = kendra["name_en"].split(",")[-1].strip()
        for n, (rank, incharge) in enumerate(
            (("sub_inspector", "yes"), ("constable", ""), ("constable", ""))
        ):
            number = f"DEMO{i:02d}{n:02d}"
            name = f"DEMO {rank.replace('_', ' ').title()} {n} {place}"
            lines.append(f"{number},{name},{rank},female,{kendra['code']},{incharge}")
            if n == 1:
                registrar[kendra["thana"]] = number
    return "\n".join(lines) + "\n", registrar


class DemoLoader:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.tokens: Tokens = app.state.tokens
        self.users: UserStore = app.state.users
        self.client = client
        self.operator = self.header(Principal(username="demo-loader", role=Role.OPERATOR))

    def header(self, principal: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.issue(principal)}"}

    async def call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        response = await self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 400:
            raise RuntimeError(f"demo: {method} {path} answered {response.status_code}")
        return response.json()

    async def jurisdiction(self) -> list[dict[str, Any]]:
        sheet = JURISDICTION_FILE.read_bytes()
        await self.call(
            "POST", "/api/routing/jurisdiction/import", self.operator,
            files={"file": (JURISDICTION_FILE.name, sheet, "text/csv")},
        )  # fmt: skip
        in_file = sum(1 for line in sheet.decode().splitlines() if line.startswith("kendra,"))
        # Intake learns the places from routing's events: wait until it has all of them (a part of
        # them is already there while intake's projection is half way through the import).
        for _ in range(600):
            places = await self.call(
                "GET", "/api/intake/places", self.operator, params={"district": DISTRICT}
            )
            kendras = [p for p in places["places"] if p["kind"] == "kendra"]
            if len(kendras) >= in_file:
                return kendras
            await asyncio.sleep(0.1)
        raise RuntimeError("demo: intake never learned the jurisdiction")

    async def roster(self, kendras: list[dict[str, Any]]) -> dict[str, str]:
        sheet, registrar = roster_sheet(kendras)
        await self.call(
            "POST",
            "/api/routing/roster/import",
            self.operator,
            files={"file": ("demo-roster.csv", sheet, "text/csv")},
        )
        return registrar

    async def people(self) -> None:
        for username, role, where in USERS:
            level = {k: v for k, v in where.items() if k != "service_number"}
            await self.users.add(
                username, PASSWORD, role, service_number=where.get("service_number"),
                district=DISTRICT, demo=True, replace=True, **level,
            )  # fmt: skip

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

    async def complaint(
        self, n: int, c: SyntheticComplaint, kendras: list[dict[str, Any]], registrar: dict[str, str]
    ) -> None:
        kendra = next(k for k in kendras if k["thana"] == c.thana)
        officer = registrar.get(c.thana)
        staff = self.header(
            Principal(
                username=f"demo-{officer or 'desk'}", role=Role.KENDRA_OFFICER, service_number=officer,
                district=DISTRICT, circle=kendra["circle"], thana=c.thana,
            )
        )  # fmt: skip
        body = {
            "channel": c.channel.value, "category": c.category.value, "description": c.statement,
            "district": DISTRICT, "thana": c.thana, "minor": c.minor, "danger_now": c.danger_now,
            "identity": {"name": c.name, "phone": c.phone.replace(" ", ""), "address": c.address},
        }  # fmt: skip
        registered = await self.client.post(
            "/api/intake/cases", json=body, headers={**staff, "Idempotency-Key": f"demo-case-{n}"}
        )
        if registered.status_code != 201:
            log.warning("demo complaint %d refused (%d)", n, registered.status_code)
            return
        case_id = registered.json()["case_id"]
        # Some cases move on, so that every screen has something in every state.
        if n % 3 == 0:
            await self.client.post(
                f"/api/intake/cases/{case_id}/first-contact", json={"mode": "phone"},
                headers={**staff, "Idempotency-Key": f"demo-contact-{n}"},
            )  # fmt: skip
        if n % 6 == 0:
            await self.client.post(
                f"/api/intake/cases/{case_id}/resolve",
                json={"outcome": "counselled_reconciled", "feedback_rating": 4},
                headers={**staff, "Idempotency-Key": f"demo-resolve-{n}"},
            )


class Demo:
    """The demo as a way of running the platform: its data is loaded before the start-up summary (which
    shows the demo users and their password), its complaints keep coming after it."""

    def __init__(self) -> None:
        self.kendras: list[dict[str, Any]] = []
        self.registrar: dict[str, str] = {}

    def mode(self) -> Mode:
        users = ", ".join(username for username, _, _ in USERS)  # each name says its role
        return Mode(
            name="DEMO",
            load=self.load,
            summary=[("Demo users", users, "डेमो उपयोगकर्ता"), ("Password", PASSWORD, "पासवर्ड")],
            keep_going=self.keep_going,
        )

    async def load(self, app: FastAPI, url: str) -> None:
        """The users, the district, its roster and a training programme (raises when they cannot be)."""
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            loader = DemoLoader(app, client)
            await loader.people()
            self.kendras = await loader.jurisdiction()
            self.registrar = await loader.roster(self.kendras)
            await loader.programme(self.kendras)

    async def keep_going(self, app: FastAPI, url: str) -> None:
        """Opening cases at once, then a complaint every few seconds until the platform stops."""
        # The demo users work at Katra: give their Kendra a good share of the cases.
        thanas = sorted(k["thana"] for k in self.kendras) + [HOME_THANA] * 6
        complaints = synthetic_complaints(thanas, 10_000)
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            loader = DemoLoader(app, client)
            for n, complaint in enumerate(complaints):
                try:
                    await loader.complaint(n, complaint, self.kendras, self.registrar)
                except httpx.HTTPError as error:
                    log.warning("demo complaint %d not sent: %s", n, type(error).__name__)
                if n >= OPENING_CASES:
                    await asyncio.sleep(STREAM_EVERY_SECONDS)
