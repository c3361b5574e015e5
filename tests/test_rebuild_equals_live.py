"""A rebuilt read model answers exactly as the live one did.

The whole platform runs in this process on a frozen clock (moved only by the test). A district is loaded
as the demo loads it (jurisdiction, roster, users, a training programme), then cases go through what a
Kendra does with them: registration, first contact, actions, referrals answered by agencies, waiting for
the complainant, disposal, closing, reopening, duplicates, withdrawal, transfer and reassignment, identity
readings and erasure; the clock runs on so that deadlines warn, breach and climb the ladder, and an
escalation is acknowledged. Every read endpoint of the four services is then asked, as the supervisors
and the operator see it; every read model is rebuilt from the streams; and every answer must be the same.

A live projection applies its streams interleaved as events arrive, a rebuild one stream after another:
a column that depends on that order, or on when it was projected, shows up here as a difference.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from shakti.basics import SERVICES
from shakti.config import PlatformSettings
from shakti.demo import DISTRICT, DemoLoader, desk_user
from shakti.platform import build_platform, runners
from shakti.synthetic import synthetic_complaints
from shakti.users import UserStore
from shared.clock import ManualClock
from shared.runtime import ServiceRunner
from tests.sessions import keys_for_tests
from tests.waiting import eventually

KATRA, KOTWALI, TILHAR = "SJP-KATRA", "SJP-KOTWALI", "SJP-TILHAR"
# Every ladder seat of Katra's cases, and the figures' readers (the demo's users).
READERS = ("demo.incharge", "demo.sho", "demo.co", "demo.addlsp", "demo.sp")
Answers = dict[str, Any]


@dataclass
class Platform:
    app: FastAPI
    client: httpx.AsyncClient
    loader: DemoLoader
    clock: ManualClock

    async def as_user(self, username: str) -> dict[str, str]:
        return await self.loader.header(username)

    async def post(self, path: str, who: dict[str, str], key: str, body: Any = None) -> Any:
        answer = await self.client.post(path, json=body, headers={**who, "Idempotency-Key": key})
        assert answer.status_code < 300, (path, answer.status_code, answer.text)
        return answer.json()

    async def get(self, path: str, who: dict[str, str], **params: Any) -> Any:
        answer = await self.client.get(path, headers=who, params=params)
        assert answer.status_code == 200, (path, answer.status_code, answer.text)
        if answer.headers.get("content-type", "").startswith("application/json"):
            return answer.json()
        return answer.text

    def runners(self) -> dict[str, ServiceRunner]:
        found: dict[str, ServiceRunner] = self.app.state.runners
        return found

    async def settled(self) -> None:
        """Every projection caught up and every reaction made, three looks in a row (a reaction or a
        timer's check may add events just after a look)."""
        quiet = 0

        async def still() -> bool:
            nonlocal quiet
            busy = False
            for runner in self.runners().values():
                report = await runner.readiness()
                lags = report.get("lag", {}).values()
                busy |= any(n for per in lags for n in per.values())
                busy |= any(n for n in report.get("reactions", {}).values())
            quiet = 0 if busy else quiet + 1
            if quiet < 3:
                await asyncio.sleep(0.15)
            return quiet >= 3

        await eventually(still, timeout=60, what="the platform settles")

    async def run_clock(self, hours: float, steps: int) -> None:
        """Let time pass in steps, the deadline worker acting at each."""
        for _ in range(steps):
            self.clock.advance(timedelta(hours=hours / steps))
            await self.settled()


@pytest.fixture
async def platform(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    clock = ManualClock(datetime(2026, 1, 10, 4, 0, tzinfo=UTC))  # 09:30 IST, the programme's day
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url, clock=clock), users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=30.0) as client:
            loader = DemoLoader(app, client)
            kendras = await loader.jurisdiction()
            registrar, incharges = await loader.roster(kendras)
            # The demo's users of every role at Katra, and the desk officers of the thanas used here.
            desks = [k for k in kendras if k["thana"] in (KATRA, KOTWALI, TILHAR)]
            await loader.people(desks, registrar, incharges)

            async def training_knows_the_roster() -> bool:
                officers = await client.get("/api/training/officers", headers=loader.operator)
                return len(officers.json()) >= 3 * len(kendras)

            await eventually(training_knows_the_roster, timeout=30, what="training has the roster")
            await loader.programme(kendras)
            yield Platform(app, client, loader, clock)


async def district_at_work(p: Platform) -> None:
    """Cases through every step a Kendra and its supervisors take, with time passing in between."""
    complaints = synthetic_complaints([KATRA], 12)
    desk = {thana: await p.as_user(desk_user(thana)) for thana in (KATRA, KOTWALI, TILHAR)}
    sp, incharge = await p.as_user("demo.sp"), await p.as_user("demo.incharge")
    ids: list[str] = []

    async def register(n: int, thana: str, *, danger_now: bool = False) -> str:
        c = complaints[n]
        body = {
            "channel": c.channel.value, "category": c.category.value, "description": c.statement,
            "district": DISTRICT, "thana": thana, "minor": c.minor, "danger_now": danger_now,
            "identity": {"name": c.name, "phone": c.phone.replace(" ", ""), "address": c.address},
        }  # fmt: skip
        case_id: str = (await p.post("/api/intake/cases", desk[thana], f"case-{n}", body))["case_id"]
        ids.append(case_id)
        p.clock.advance(timedelta(minutes=7))
        return case_id

    async def on_case(case_id: str, command: str, body: Any = None, who: str = KATRA) -> None:
        await p.post(f"/api/intake/cases/{case_id}/{command}", desk[who], f"{command}-{case_id}", body)
        p.clock.advance(timedelta(minutes=11))

    async def referral_of(case_id: str) -> str:
        async def issued() -> bool:
            record = await p.get(f"/api/routing/cases/{case_id}", sp)
            return bool(record["referrals"])

        await eventually(issued, timeout=30, what="routing issued the referral")
        referral: str = (await p.get(f"/api/routing/cases/{case_id}", sp))["referrals"][0]["referral_id"]
        return referral

    helped, waiting, left, reopened, duplicate, withdrawn, moved, far, danger, erased = [
        await register(n, thana, danger_now=n == 8)
        for n, thana in enumerate([KATRA] * 7 + [TILHAR, KATRA, KATRA])
    ]
    await p.settled()

    # Helped from start to end: contact, counselling, a referral the One Stop Centre takes up, a note,
    # her identity read by the SHO, disposal with feedback, closing.
    await on_case(helped, "first-contact", {"mode": "phone"})
    await on_case(helped, "actions", {"kind": "counselling"})
    await on_case(helped, "referrals", {"agency_kind": "one_stop_centre"})
    referral = await referral_of(helped)
    await p.post(f"/api/routing/cases/{helped}/referrals/{referral}/accept", desk[KATRA], "accept")
    await p.post(f"/api/routing/cases/{helped}/referrals/{referral}/complete", desk[KATRA], "complete")
    await on_case(helped, "notes", {"text": "DEMO note about her"})
    sho = await p.as_user("demo.sho")
    await p.get(f"/api/intake/cases/{helped}/identity", sho, purpose="supervisory_review")
    await on_case(helped, "resolve", {"outcome": "counselled_reconciled", "feedback_rating": 4})
    await on_case(helped, "close", {"reason": "disposed"})

    # Waiting for her, then an FIR, and a referral the legal services decline.
    await on_case(waiting, "awaiting-complainant", {"reason": "other"})
    await p.run_clock(hours=2, steps=1)
    await on_case(waiting, "complainant-responded")
    await on_case(waiting, "actions", {"kind": "fir_registered", "fir_number": "FIR-12/2026"})
    await on_case(waiting, "referrals", {"agency_kind": "legal_services"})
    declined = await referral_of(waiting)
    await p.post(
        f"/api/routing/cases/{waiting}/referrals/{declined}/reject", desk[KATRA], "reject",
        {"reason": "no_capacity"},
    )  # fmt: skip

    # Disposed of, closed and reopened; another complaint about the same matter marked a duplicate.
    await on_case(reopened, "first-contact", {"mode": "at_kendra"})
    await on_case(reopened, "resolve", {"outcome": "counselled_reconciled"})
    await p.post(f"/api/intake/cases/{reopened}/close", desk[KATRA], "close-first", {"reason": "disposed"})
    await on_case(reopened, "reopen", {"reason": "complainant_returned"})
    await on_case(duplicate, "duplicate", {"duplicate_of": reopened})
    await on_case(withdrawn, "withdraw", {"reason": "other"})
    await on_case(erased, "first-contact", {"mode": "phone"})
    await p.post(
        f"/api/intake/cases/{erased}/erase-identity", incharge, "erase", {"legal_basis": "court_order"}
    )
    await on_case(far, "first-contact", {"mode": "phone"}, who=TILHAR)

    # A supervisor moves one case to another thana and has another given to someone else.
    await p.post(
        f"/api/routing/cases/{moved}/transfer",
        sp,
        "transfer",
        {"thana": KOTWALI, "reason": "wrong_jurisdiction"},
    )
    await p.settled()
    await p.post(f"/api/routing/cases/{waiting}/reassign", sp, "reassign", {"reason": "workload_balance"})

    # Time runs on: the untouched cases warn, breach and climb; Katra's in-charge takes one up.
    await p.run_clock(hours=6, steps=3)
    await p.post(f"/api/escalation/cases/{left}/acknowledge", incharge, "ack")
    await p.run_clock(hours=30, steps=2)
    await on_case(danger, "first-contact", {"mode": "phone"})
    # The last word on two cases is one escalation does not answer: a note, and a reading of her identity.
    await on_case(left, "notes", {"text": "DEMO note: she will come on Monday"})
    await p.get(f"/api/intake/cases/{waiting}/identity", sho, purpose="contact_complainant")
    await p.settled()


async def everything_read(p: Platform) -> Answers:
    """Every read endpoint's answer, as the supervisors, the state cell and the operator see them."""
    sp, state, operator = await p.as_user("demo.sp"), await p.as_user("demo.state"), p.loader.operator
    seen: Answers = {}

    async def ask(path: str, who: dict[str, str], label: str = "", **params: Any) -> Any:
        key = f"{label}{path}" + "".join(f" {k}={v}" for k, v in sorted(params.items()))
        seen[key] = answer = await p.get(path, who, **params)
        return answer

    register = await ask("/api/intake/cases", sp, size=200)
    case_ids = sorted(c["case_id"] for c in register["cases"])
    for case in register["cases"]:
        await ask(f"/api/intake/cases/by-number/{case['case_number']}", sp)
    for case_id in case_ids:
        for tail in ("", "/timeline", "/receipt"):
            await ask(f"/api/intake/cases/{case_id}{tail}", sp)
        await ask(f"/api/routing/cases/{case_id}", sp)
        await ask(f"/api/escalation/cases/{case_id}", sp)
    for who, label in ((sp, "sp "), (state, "state ")):
        await ask("/api/intake/counts", who, label)
    await ask("/api/intake/places", sp, district=DISTRICT)

    await ask(f"/api/routing/jurisdiction/{DISTRICT}", sp)
    roster = await ask("/api/routing/roster", sp)
    await ask("/api/routing/workloads", sp)
    for kendra in sorted({o["kendra"] for o in roster if o["kendra"]}):
        await ask(f"/api/routing/kendras/{kendra}/queue", sp)
    for who, label in ((sp, "sp "), (operator, "operator ")):
        await ask("/api/routing/attention", who, label)
        await ask("/api/routing/referrals/outstanding", who, label)

    for username in READERS:
        await ask(
            "/api/escalation/escalated-to-me", await p.as_user(username), f"{username} ", include_done=True
        )
    for who, label in ((sp, "sp "), (state, "state ")):
        await ask("/api/escalation/escalations/summary", who, label)
        for by in ("thana", "circle", "district"):
            await ask("/api/escalation/breach-rates", who, label, by=by)
        await ask("/api/escalation/step-times", who, label)
        await ask("/api/escalation/step-times", who, label, by="thana")
    await ask("/api/escalation/close-to-breach", sp, within_hours=24 * 90)

    officers = await ask("/api/training/officers", sp)
    for officer in officers:
        record = await ask(f"/api/training/officers/{officer['service_number']}", sp)
        for certificate in record["certificates"]:
            await ask(f"/api/training/certificates/{certificate['certificate_id']}", sp)
            await ask(f"/api/training/verify/{certificate['certificate_id']}", {})
    for who, label in ((sp, "sp "), (state, "state ")):
        await ask("/api/training/compliance", who, label)
    for programme in await ask("/api/training/programmes", sp):
        await ask(f"/api/training/programmes/{programme['programme_id']}", sp)
    return seen


def differences(before: Any, after: Any, where: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        return [
            found
            for key in sorted(before.keys() | after.keys())
            for found in differences(
                before.get(key, "<absent>"), after.get(key, "<absent>"), f"{where}.{key}"
            )
        ]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            found
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for found in differences(b, a, f"{where}[{i}]")
        ]
    return [] if before == after else [f"{where}: live {before!r}, rebuilt {after!r}"]


async def rebuild_everything(p: Platform) -> None:
    operator = p.loader.operator
    for service in SERVICES:
        await p.post(f"/api/ops/rebuild/{service}", operator, f"rebuild-{service}")

    def finished(service: str) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            state = await p.get(f"/api/ops/rebuild/{service}", operator)
            assert not state["error"], state
            return bool(state["finished"])

        return check

    for service in SERVICES:
        await eventually(finished(service), timeout=60, what=f"the rebuild of {service}")
    await p.settled()


async def test_every_read_model_rebuilt_answers_as_the_live_one(platform: Platform) -> None:
    await district_at_work(platform)
    live = await everything_read(platform)
    # The load reached every part of every read model the endpoints show.
    assert len(live) > 150
    cases = live["/api/intake/cases size=200"]["cases"]
    assert {c["status"] for c in cases} >= {"closed", "withdrawn", "duplicate", "in_progress", "registered"}
    assert any(c["escalation_level"] for c in cases) and any(c["overdue"] for c in cases)
    assert any(p["referrals"] for p in live["operator /api/routing/referrals/outstanding"]) or any(
        live[k]["referrals"] for k in live if k.startswith("/api/routing/cases/")
    )
    assert any(k.startswith("/api/training/certificates/") for k in live)

    await rebuild_everything(platform)
    rebuilt = await everything_read(platform)

    found = differences(live, rebuilt)
    assert not found, f"{len(found)} differences after a rebuild:\n" + "\n".join(found[:40])
