"""The whole platform in a real headless browser (Debian's chromium driven by Playwright): a Kendra
officer registers a complaint through the form, sees it assigned, and the SP finds it on the
dashboard, without the complainant's identity; every form carries its CSRF token and the browser
blocks nothing under the pages' content security policy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from playwright.async_api import Browser, Page, expect

from shakti.config import PlatformSettings
from shakti.demo import DemoLoader, service_number
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.users import UserStore, user_record
from shared.auth import Principal
from shared.natsserver import free_port
from shared.roles import Role
from tests.browser import BLOCKED, NO_SIDEWAYS, PASSWORD, Site, browser, district_site, sign_in
from tests.sessions import bearer, enrol, keys_for_tests
from tests.waiting import eventually

NAME = "DEMO Browsertest Complainant"
__all__ = ["browser"]  # the browser fixture, shared by the browser tests (tests/browser.py)


@pytest.fixture
async def site(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    officer = user_record(
        "katra.officer", Role.KENDRA_OFFICER, service_number=service_number("MSK-SJP-KATRA", 1),
        district="SJP", circle="SJP-TILHAR", thana="SJP-KATRA",
    )  # fmt: skip
    sp = user_record("sjp.sp", Role.SP, district="SJP")
    async with district_site(nats_url, tmp_path, officer, sp) as served:
        yield served


async def test_a_complaint_registered_in_the_form_is_assigned_and_reaches_the_sp(
    site: Site, browser: Browser
) -> None:
    BLOCKED.clear()
    officer = await sign_in(browser, site, "katra.officer")
    assert officer.url.endswith("/kendra/queue")
    # The style sheet is applied under the content security policy (the header has the brand colour).
    header = await officer.eval_on_selector("header", "e => getComputedStyle(e).backgroundColor")
    assert header == "rgb(122, 31, 92)", header
    await officer.click("text=Register a complaint")
    await officer.select_option("select[name=category]", "domestic_violence")
    await officer.select_option("select[name=channel]", "helpline_181")
    await officer.check("input[name=danger_now]")
    await officer.fill("input[name=name]", NAME)
    await officer.fill("input[name=phone]", "9876501234")
    await officer.fill("textarea[name=statement]", "DEMO: husband threatens her tonight")
    await officer.click("#register button[type=submit]")

    await officer.wait_for_selector("text=Complaint registered")
    case_number = (await officer.locator("h1").inner_text()).split()[-1]
    assert case_number.startswith("SJP-2026-") or case_number.startswith("SJP-")
    case_url = officer.url.split("?")[0]
    # Routing assigns it to an officer on duty at Katra's Kendra; the page shows who.
    for _ in range(100):
        assigned = (await officer.locator("#assigned").inner_text()).strip()
        if assigned.startswith("DEMO"):
            break
        await officer.wait_for_timeout(200)
        await officer.goto(case_url)
    assert assigned.startswith("DEMO"), assigned
    assert "Mission Shakti Kendra, Katra" in await officer.locator("#place").inner_text()

    await officer.goto(f"{site.url}/kendra/queue")
    assert case_number in await officer.content()

    sp = await sign_in(browser, site, "sjp.sp")
    assert sp.url.endswith("/dashboard")
    assert case_number in await sp.content()
    await sp.click(f"text={case_number}")
    await sp.wait_for_selector("#assigned")
    page = await sp.content()
    assert assigned in page and case_number in page
    # The SP may read the case, never the complainant's identity.
    assert NAME not in page and "9876501234" not in page
    assert await sp.locator("text=Show identity").count() == 0

    # The officer of the Kendra may, and the page shows it after she gives a purpose.
    await officer.goto(case_url)
    await officer.click("button:has-text('Show identity')")
    assert NAME in await officer.content()
    # Every page and form above worked with nothing blocked by the content security policy.
    assert BLOCKED == [], BLOCKED


@dataclass
class BellSite:
    url: str
    officer_api: dict[str, str]


@pytest.fixture
async def bell_site(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[BellSite]:
    """The platform with Katra's Kendra in-charge able to sign in, and an officer's API token."""
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url), users=users)
    async with running(settings, app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            loader = DemoLoader(app, client)
            registrar, incharges = await loader.roster(await loader.jurisdiction())
        katra = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}
        incharge = user_record(
            "katra.incharge", Role.KENDRA_INCHARGE, service_number=incharges["SJP-KATRA"], **katra
        )
        await users.add(incharge, PASSWORD, actor="test")
        await seen_own_training(url, bearer(await enrol(app, incharge)))
        officer = Principal(
            username="katra.registrar",
            role=Role.KENDRA_OFFICER,
            service_number=registrar["SJP-KATRA"],
            **katra,
        )
        yield BellSite(url, bearer(await enrol(app, officer)))


async def seen_own_training(url: str, headers: dict[str, str]) -> None:
    """The roster posted her, so her own training was assigned and told: she has acknowledged that
    notice already, and her bell starts empty."""
    async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:

        async def told() -> list[str]:
            mine = (await client.get("/api/notifications/mine", headers=headers)).json()["notifications"]
            return [n["notification_id"] for n in mine if n["rule"]["code"] == "training_due"]

        async def told_any() -> bool:
            return bool(await told())

        await eventually(told_any, 20, "her own training notice")
        for notice in await told():
            acknowledged = await client.post(f"/api/notifications/{notice}/acknowledge", headers=headers)
            assert acknowledged.status_code == 200, acknowledged.text


async def test_the_bell_count_rises_live_and_falls_on_acknowledgement(
    bell_site: BellSite, browser: Browser
) -> None:
    """A danger-now complaint registered elsewhere rings the in-charge's bell on the page she has open,
    without a reload (Server-Sent Events under the content security policy); she acknowledges it from
    the list and the count is gone."""
    BLOCKED.clear()
    incharge = await sign_in(browser, Site(bell_site.url), "katra.incharge")
    assert incharge.url.endswith("/dashboard")
    assert await incharge.locator("#bell-count").is_hidden()
    body = {
        "channel": "emergency_112", "category": "sexual_assault", "description": "DEMO statement",
        "district": "SJP", "thana": "SJP-KATRA", "minor": False, "danger_now": True,
        "identity": {"name": NAME, "phone": "9876509876"},
    }  # fmt: skip
    async with httpx.AsyncClient(base_url=bell_site.url, timeout=30.0) as client:
        registered = await client.post(
            "/api/intake/cases", json=body, headers={**bell_site.officer_api, "Idempotency-Key": "bell-e2e"}
        )
    assert registered.status_code == 201, registered.text
    case_number = registered.json()["case_number"]
    # The same page, never reloaded: the count arrives.
    bell = incharge.locator("#bell-count")
    await expect(bell).to_have_text("1", timeout=15_000)
    await expect(bell).to_be_visible()
    await incharge.click("a.bell")
    assert case_number in await incharge.content() and NAME not in await incharge.content()
    await incharge.click("button:has-text('Acknowledge')")
    await incharge.wait_for_selector("text=Acknowledged")
    await expect(bell).to_be_hidden(timeout=15_000)
    assert BLOCKED == [], BLOCKED


async def register_in_the_form(page: Page, site: Site, category: str, *, danger_now: bool = False) -> str:
    """A complaint registered through the form; its case number."""
    await page.goto(f"{site.url}/kendra/register")
    await page.select_option("select[name=category]", category)
    await page.select_option("select[name=channel]", "walk_in")
    if danger_now:
        await page.check("input[name=danger_now]")
    await page.fill("input[name=name]", NAME)
    await page.fill("input[name=phone]", "9876501235")
    await page.fill("textarea[name=statement]", "DEMO statement for the queue")
    await page.click("#register button[type=submit]")
    await page.wait_for_selector("text=Complaint registered")
    return (await page.locator("h1").inner_text()).split()[-1]


ONE_LINE = "a => a.getClientRects().length === 1"


async def test_the_queue_on_a_375_px_phone_never_scrolls_sideways_and_filters_in_the_form(
    site: Site, browser: Browser
) -> None:
    """On a 375 px phone each case is a card: the page is no wider than the screen and a case number
    stays on one line, in English and in Hindi; the filter form narrows the list."""
    BLOCKED.clear()
    officer = await sign_in(browser, site, "katra.officer", width=375)
    danger = await register_in_the_form(officer, site, "domestic_violence", danger_now=True)
    stalking = await register_in_the_form(officer, site, "stalking")
    for lang in ("en", "hi"):
        await officer.goto(f"{site.url}/lang/{lang}?next=/kendra/queue")
        await officer.wait_for_selector(f"#queue a:has-text('{stalking}')")
        assert await officer.evaluate("window.innerWidth") == 375
        assert await officer.evaluate(NO_SIDEWAYS), (
            lang,
            await officer.evaluate("document.documentElement.scrollWidth"),
        )
        for number in (danger, stalking):
            link = officer.locator(f"#queue a:has-text('{number}')")
            assert await link.evaluate(ONE_LINE), (lang, number)
        # Each card names its lines: the table's headings are there for screen readers only.
        assert await officer.locator("#queue thead").evaluate("e => e.getBoundingClientRect().height") <= 1
    await officer.goto(f"{site.url}/lang/en?next=/kendra/queue")
    await officer.select_option("select[name=category]", "stalking")
    await officer.click("#filters button[type=submit]")
    await officer.wait_for_url("**/kendra/queue?*category=stalking*")
    listed = await officer.locator("#queue td.number a").all_inner_texts()
    assert listed == [stalking], listed
    await officer.fill("input[name=number]", danger.lower())
    await officer.select_option("select[name=category]", "")
    await officer.click("#filters button[type=submit]")
    await officer.wait_for_url("**number=*")
    assert await officer.locator("#queue td.number a").all_inner_texts() == [danger]
    assert await officer.evaluate(NO_SIDEWAYS)
    assert BLOCKED == [], BLOCKED


async def test_the_sp_reassigns_a_case_from_its_page_on_a_375_px_phone(site: Site, browser: Browser) -> None:
    """The case page with every step of a supervisor opened fits a 375 px phone in both languages, and
    the SP reassigns the case to another officer chosen from the Kendra's on-duty list."""
    BLOCKED.clear()
    officer = await sign_in(browser, site, "katra.officer", width=375)
    number = await register_in_the_form(officer, site, "stalking")
    case_url = officer.url.split("?")[0]
    sp = await sign_in(browser, site, "sjp.sp", width=375)
    for _ in range(100):  # routing assigns the case: the SP's page then offers its move
        await sp.goto(f"{site.url}/lang/en?next={case_url.removeprefix(site.url)}")
        if await sp.locator("#move").count() and (await sp.locator("#assigned").inner_text()).startswith(
            "DEMO"
        ):
            break
        await sp.wait_for_timeout(200)
    holder = (await sp.locator("#assigned").inner_text()).strip()
    for lang in ("en", "hi"):
        await sp.goto(f"{site.url}/lang/{lang}?next={case_url.removeprefix(site.url)}")
        await sp.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
        assert await sp.evaluate(NO_SIDEWAYS), (
            lang,
            await sp.evaluate("document.documentElement.scrollWidth"),
        )
    await sp.goto(f"{site.url}/lang/en?next={case_url.removeprefix(site.url)}")
    await sp.click("#move summary:has-text('Reassign')")
    choices = await sp.locator("#move select[name=officer] option").evaluate_all("o => o.map(e => e.value)")
    chosen = next(c for c in choices if c and c != holder)
    await sp.select_option("#move select[name=officer]", chosen)
    await sp.select_option("#move select[name=reason]", "workload_balance")
    await sp.click("#move button:has-text('Reassign')")
    await expect(sp.locator("text=Reassignment recorded")).to_be_visible()
    for _ in range(100):
        if (await sp.locator("#assigned").inner_text()).strip() == chosen:
            break
        await sp.wait_for_timeout(200)
        await sp.goto(case_url)
    assert (await sp.locator("#assigned").inner_text()).strip() == chosen, number
    assert BLOCKED == [], BLOCKED


async def earlier_cases_shown(officer: Page, site: Site, lang: str, numbers: set[str]) -> bool:
    """The standalone page's search, in one language, shows these case numbers (among others)."""
    await officer.goto(f"{site.url}/lang/{lang}?next=/kendra/earlier-cases")
    await officer.fill("input[name=phone]", "098765 01235")
    await officer.click("#earlier-search button[type=submit]")
    await officer.wait_for_selector("#earlier-found")
    return numbers <= set(await officer.locator("#earlier-found td.number a").all_inner_texts())


async def test_the_complainants_earlier_cases_by_her_phone_on_a_375_px_phone(
    site: Site, browser: Browser
) -> None:
    """From the case page an officer on a 375 px phone finds the complainant's other cases by her number,
    written another way; the answer fits the screen in both languages and never shows the number."""
    BLOCKED.clear()
    officer = await sign_in(browser, site, "katra.officer", width=375)
    first = await register_in_the_form(officer, site, "stalking")
    second = await register_in_the_form(officer, site, "domestic_violence")
    await officer.goto(f"{site.url}/kendra/queue")
    await officer.click(f"#queue a:has-text('{second}')")
    await officer.fill("#earlier-cases input[name=phone]", "+91 98765-01235")
    await officer.click("#earlier-cases button[type=submit]")
    await officer.wait_for_selector("#earlier-found")
    for lang in ("en", "hi"):
        await eventually(
            lambda lang=lang: earlier_cases_shown(officer, site, lang, {first, second}),  # type: ignore[misc]
            what=f"both cases found by her number ({lang})",
        )
        assert await officer.evaluate(NO_SIDEWAYS), (
            lang,
            await officer.evaluate("document.body.scrollWidth"),
        )
        for number in (first, second):
            assert await officer.locator(f"#earlier-found a:has-text('{number}')").evaluate(ONE_LINE)
        assert "01235" not in await officer.content()  # her number, as typed, is not shown again
    assert BLOCKED == [], BLOCKED
