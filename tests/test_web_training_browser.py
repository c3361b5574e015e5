"""Training pages in a real headless browser on a phone's screen (375 px wide): the SP schedules a
programme for two thanas through the form, the CO calls its roll on her phone, and the compliance lists
fit the screen. Screenshots of both languages go to ``SHAKTI_TEST_ARTEFACTS`` (else the test's own
temporary folder)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from playwright.async_api import Browser, Page, ViewportSize

from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.users import UserStore, user_record
from shakti.web.times import IST
from shared.clock import Clock
from shared.natsserver import free_port
from shared.roles import Role
from tests.browser import BLOCKED, PASSWORD, Site, artefacts, browser, sign_in
from tests.sessions import keys_for_tests
from tests.waiting import eventually

__all__ = ["browser"]  # the browser fixture, shared with the other browser tests
PHONE = ViewportSize(width=375, height=740)


@asynccontextmanager
async def training_site(nats_url: str, tmp_path: Path, clock: Clock | None = None) -> AsyncIterator[Site]:
    """The platform on the demo's district and roster (nobody trained yet), with an SP, a CO and a Katra
    officer who sign in; the services on ``clock`` when given (a test that moves time)."""
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url, clock=clock), users=users)
    async with running(settings, app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            loader = DemoLoader(app, client)
            kendras = await loader.jurisdiction()
            await loader.roster(kendras)

            async def training_knows_the_roster() -> bool:
                officers = await client.get("/api/training/officers", headers=loader.operator)
                return len(officers.json()) >= 3 * len(kendras)

            await eventually(training_knows_the_roster, timeout=30, what="training has the roster")
        await users.add(user_record("sjp.sp", Role.SP, district="SJP"), PASSWORD, actor="test")
        await users.add(
            user_record("tilhar.co", Role.CO, district="SJP", circle="SJP-TILHAR"), PASSWORD, actor="test"
        )
        katra = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}
        officer = user_record("katra.officer", Role.KENDRA_OFFICER, service_number="DEMOKATRA1", **katra)
        await users.add(officer, PASSWORD, actor="test")
        await users.add(user_record("sjp.operator", Role.OPERATOR), PASSWORD, actor="test")
        yield Site(url)


@pytest.fixture
async def site(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async with training_site(nats_url, tmp_path) as served:
        yield served


async def on_phone(browser: Browser, site: Site, username: str, password: str = PASSWORD) -> Page:
    return await sign_in(browser, site, username, PHONE["width"], height=PHONE["height"], password=password)


async def fits(page: Page) -> None:
    """Nothing wider than the phone: no sideways scrolling of the page itself."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (page.url, width)


async def test_the_sp_schedules_for_two_thanas_and_the_co_calls_the_roll_on_a_375px_phone(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    BLOCKED.clear()
    shots = artefacts(tmp_path, "training")
    sp = await on_phone(browser, site, "sjp.sp")
    await sp.click("header >> text=Training programmes")
    await sp.click("text=Schedule a programme")
    today = datetime.now(UTC).astimezone(IST).date().isoformat()
    for field, value in {
        "title_hi": "DEMO: एसओपी प्रशिक्षण", "title_en": "DEMO: SOP training", "date": today,
        "venue": "Reserve Police Lines", "ordered_by": "SP Shahjahanpur", "directed_by": "Additional SP",
        "organised_by": "CO Tilhar",
    }.items():  # fmt: skip
        await sp.fill(f"input[name={field}]", value)
    await sp.check("input[name=kendra][value=MSK-SJP-KATRA]")
    await sp.check("input[name=kendra][value=MSK-SJP-TILHAR]")
    await fits(sp)
    await sp.screenshot(path=str(shots / "schedule-en.png"), full_page=True)
    await sp.click("button:has-text('Schedule the programme')")
    await sp.wait_for_selector("text=The programme is scheduled")
    programme_url = sp.url.split("?")[0]
    assert "Invited: 6" in await sp.content()  # three officers at each of the two Kendras

    co = await on_phone(browser, site, "tilhar.co")
    await co.goto(programme_url)
    await co.click("text=Call the roll")
    await co.wait_for_selector("input[name=present]")
    await fits(co)
    await co.screenshot(path=str(shots / "roll-call-en.png"), full_page=True)
    boxes = co.locator("input[name=present]")
    assert await boxes.count() == 6
    # A thumb on a phone: every checkbox is at least 24 px square.
    box = await boxes.first.bounding_box()
    assert box is not None and box["width"] >= 24 and box["height"] >= 24
    await boxes.nth(0).check()
    await boxes.nth(1).check()
    await co.click("button:has-text('Save attendance')")
    await co.wait_for_selector("text=Attendance saved")

    async def two_present() -> bool:
        await co.goto(programme_url)
        return (await co.locator("#register td span.ok").count()) == 2

    await eventually(two_present, timeout=30, what="the register shows the two marked present")
    await co.goto(f"{site.url}/lang/hi?next={programme_url.removeprefix(site.url)}/roll-call")
    assert "उपस्थिति दर्ज करें" in await co.content()
    await fits(co)
    await co.screenshot(path=str(shots / "roll-call-hi.png"), full_page=True)

    await co.goto(f"{site.url}/training/compliance")
    assert "अप्रमाणित अधिकारी" in await co.content()
    await fits(co)
    await co.screenshot(path=str(shots / "compliance-hi.png"), full_page=True)
    await co.goto(f"{site.url}/lang/en?next=/training")
    assert "Training curriculum" in await co.content()
    await fits(co)
    await co.screenshot(path=str(shots / "curriculum-en.png"), full_page=True)
    assert BLOCKED == []
    assert {p.name for p in shots.iterdir()} >= {  # the folder is shared with the other training walks
        "compliance-hi.png", "curriculum-en.png", "roll-call-en.png", "roll-call-hi.png", "schedule-en.png",
    }  # fmt: skip


async def test_the_co_follows_the_cases_given_to_uncertified_officers_on_a_375px_phone(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    """Nobody is trained in this district yet: a case registered at Katra goes to an uncertified officer,
    and the CO follows the compliance page's figure to the list and on to the case, which says why."""
    BLOCKED.clear()
    shots = artefacts(tmp_path, "training-uncertified")
    async with httpx.AsyncClient(base_url=site.url, timeout=30.0) as client:
        signed_in = await client.post(
            "/api/auth/token", json={"username": "katra.officer", "password": PASSWORD}
        )
        desk = {"Authorization": f"Bearer {signed_in.json()['token']}", "Idempotency-Key": "phone-1"}
        body = {
            "channel": "walk_in", "category": "stalking", "description": "DEMO statement", "district": "SJP",
            "thana": "SJP-KATRA", "minor": False, "danger_now": False, "identity": {"name": "DEMO Name"},
        }  # fmt: skip
        registered = await client.post("/api/intake/cases", json=body, headers=desk)
        assert registered.status_code == 201, registered.text
    number = registered.json()["case_number"]

    co = await on_phone(browser, site, "tilhar.co")

    async def counted() -> bool:
        await co.goto(f"{site.url}/training/compliance")
        return await co.locator("#uncertified a:has-text('See the cases')").count() == 1 and (
            "(1)" in await co.locator("#uncertified h2").inner_text()
        )

    await eventually(counted, timeout=30, what="the compliance page counts the case")
    await fits(co)
    await co.screenshot(path=str(shots / "compliance-en.png"), full_page=True)
    await co.click("#uncertified a:has-text('See the cases')")
    await co.wait_for_selector(f"text={number}")
    await fits(co)
    await co.screenshot(path=str(shots / "uncertified-cases-en.png"), full_page=True)
    listed = co.url.removeprefix(site.url)
    await co.goto(f"{site.url}/lang/hi?next={quote(listed)}")
    assert "अप्रमाणित अधिकारियों को सौंपे गए मामले" in await co.content()
    await fits(co)
    await co.screenshot(path=str(shots / "uncertified-cases-hi.png"), full_page=True)
    await co.click(f"text={number}")
    await co.wait_for_selector("#why-officer")
    assert "इस अधिकारी को क्यों" in await co.locator("#why-officer").inner_text()
    await fits(co)
    await co.screenshot(path=str(shots / "case-why-hi.png"), full_page=True)
    assert BLOCKED == []
