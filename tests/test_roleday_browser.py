"""Each role's working day, end to end in a real browser (Debian's chromium under Playwright), through the
pages' own links and buttons only (issue 15): the Kendra officer takes a complaint from registration to
closing and reopening; the Kendra in-charge and the SHO acknowledge an escalation, reassign the case and
erase the complainant's identity; the CO and the SP drill their dashboard down to a thana and download its
register as a CSV file.

Each step worth showing is photographed at 375 and 1280 px in Hindi and English
(``SHAKTI_TEST_ARTEFACTS/roleday/<role>/``, else the test's temporary folder) and checked on the way:
axe-core finds no serious or critical violation, and the phone's page never scrolls sideways. With
``SHAKTI_DOC_SCREENS`` set to a folder, the steps docs/platform.md shows are photographed there too
(``make screens``).

One platform serves the whole module (started once: the walks register cases of their own)."""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from nats.aio.client import Client as NatsClient
from playwright.async_api import Browser, FilePayload, Locator, Page, expect

from shakti.config import PlatformSettings
from shakti.demo import PASSWORD, DemoLoader
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.synthetic import synthetic_complaints
from shakti.users import UserStore
from shared.natsserver import free_port
from tests.browser import PHONE, Camera, Site, artefacts, chromium, clean_streams, sign_in
from tests.sessions import keys_for_tests
from tests.waiting import eventually

__all__ = ["NatsClient"]

pytestmark = pytest.mark.asyncio(loop_scope="module")

NAME, PHONE_NUMBER = "DEMO Roleday Complainant", "9876512345"
WALK_SECONDS = 90
THANAS = ["SJP-KATRA", "SJP-TILHAR", "SJP-JAITIPUR", "SJP-KOTWALI"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(nats_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """The demo's district, roster and users of every role, and a few complaints in two circles."""
    await clean_streams(nats_url)
    data = tmp_path_factory.mktemp("roleday")
    settings = PlatformSettings(data_dir=data, keys_dir=keys_for_tests(), http_port=free_port())
    users = UserStore(f"sqlite+aiosqlite:///{data / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url), users=users)
    async with running(settings, app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            loader = DemoLoader(app, client)
            kendras = await loader.jurisdiction()
            registrar, incharges = await loader.roster(kendras)
            await loader.people(kendras, registrar, incharges)
            for n, complaint in enumerate(synthetic_complaints(THANAS, 8)):
                await loader.complaint(n, complaint)
        yield Site(url)
    await clean_streams(nats_url)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


def camera(site: Site, tmp_path: Path, role: str) -> Camera:
    docs = os.environ.get("SHAKTI_DOC_SCREENS")
    if docs:
        Path(docs).mkdir(parents=True, exist_ok=True)
    return Camera(site, artefacts(tmp_path, f"roleday/{role}"), Path(docs) if docs else None)


async def signed_in(browser: Browser, site: Site, username: str) -> Page:
    return await sign_in(browser, site, username, PHONE, password=PASSWORD, height=740, for_axe=True)


async def until(page: Page, found: Callable[[], Awaitable[bool]], what: str) -> None:
    """Reload the page until it shows what the services will have done in a moment."""

    async def shown() -> bool:
        if await found():
            return True
        await page.reload()
        return False

    await eventually(shown, timeout=30, what=what)


async def step(page: Page, action: str, summary: str | None = None) -> None:
    """Unfold a step's form by its summary, if it has one, and submit it: the page says it is recorded."""
    form = page.locator(f"form[action$='/{action}']")
    if summary:
        await page.locator("details", has=form).locator("summary").click()
    confirm = form.locator("input[name=confirm]")
    if await confirm.count():
        await confirm.check()
    await form.locator("button[type=submit]").click()
    await page.wait_for_load_state()
    await expect(page.locator("p.ok[role=status]")).to_be_visible()


async def register(page: Page, site: Site, *, danger_now: bool = False) -> str:
    """A complaint registered in the form; the case page's address."""
    await page.goto(f"{site.url}/kendra/register")
    await page.select_option("select[name=category]", "domestic_violence")
    await page.select_option("select[name=channel]", "walk_in")
    if danger_now:
        await page.check("input[name=danger_now]")
    await page.fill("input[name=name]", NAME)
    await page.fill("input[name=phone]", PHONE_NUMBER)
    await page.fill("textarea[name=statement]", "DEMO: her husband beat her last night")
    await page.click("#register button[type=submit]")
    await page.wait_for_selector("text=Complaint registered")
    return page.url.removeprefix(site.url).split("?")[0]


def finished(camera: Camera, started: float) -> float:
    seconds = time.monotonic() - started
    assert not camera.problems, "\n".join(camera.problems)
    assert seconds <= WALK_SECONDS, f"the walk took {seconds:.0f} s"
    return seconds


async def test_the_kendra_officers_day_from_registration_to_reopening(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    started, shots = time.monotonic(), camera(site, tmp_path, "officer")
    officer = await signed_in(browser, site, "demo.officer")
    await shots.shoot(officer, "register", path="/kendra/register", doc="register-en-375")
    case = await register(officer, site)
    await shots.shoot(officer, "registered")
    await officer.click("p.ok a:has-text('Print the receipt')")
    await expect(officer.locator("body")).to_contain_text("1090")
    await shots.shoot(officer, "receipt", doc="receipt-hi-375")

    await officer.goto(f"{site.url}{case}")
    await step(officer, "first-contact")  # open until the first contact is made
    await step(officer, "action", "summary")
    await step(officer, "referral", "summary")
    await officer.locator("#note summary").click()
    await officer.fill("#note textarea[name=text]", "DEMO: she will come back with her brother tomorrow")
    await step(officer, "note")
    await officer.locator("#files summary").click()
    await officer.set_input_files(
        "#files input[type=file]",
        files=FilePayload(
            name="injury.png", mimeType="image/png", buffer=b"\x89PNG\r\n\x1a\n" + b"DEMO" * 64
        ),
    )
    await step(officer, "attachments")
    await expect(officer.locator("p.ok")).to_contain_text("The file is attached")
    timeline = officer.locator("ol.timeline")
    await until(
        officer,
        lambda: _all_in(timeline, ("First contact", "Note added")),
        "the timeline shows the first contact and the note",
    )
    await shots.shoot(
        officer,
        "at-work",
        path=case,
        opened=True,
        doc="at-work-en-1280",
        doc_from="section:has(form[action$='/action'])",
    )

    await step(officer, "resolve", "summary")
    await step(officer, "close", "summary")
    await until(
        officer, lambda: _shows(officer, "form[action$='/reopen']"), "the closed case offers reopening"
    )
    assert "Closed" in await officer.locator("#status").inner_text()
    # Every deadline stops when the case ends.
    await until(
        officer,
        lambda: _gone(officer, "#deadlines td:has-text('Running')"),
        "the closed case's deadlines stop",
    )
    await shots.shoot(
        officer, "closed", path=case, doc="closed-hi-375", doc_from="section:has(form[action$='/reopen'])"
    )
    await step(officer, "reopen")
    await until(
        officer, lambda: _shows(officer, "form[action$='/close']"), "the reopened case may be closed again"
    )
    print(f"officer's day: {finished(shots, started):.0f} s, {len(shots.taken)} screenshots")


async def _shows(page: Page, selector: str) -> bool:
    return await page.locator(selector).count() > 0


async def _all_in(where: Locator, words: tuple[str, ...]) -> bool:
    text = await where.inner_text()
    return all(w in text for w in words)


async def escalated_case(browser: Browser, site: Site) -> str:
    """A danger-now complaint, registered by the officer: it alerts the in-charge and the SHO at once."""
    officer = await signed_in(browser, site, "demo.officer")
    case = await register(officer, site, danger_now=True)
    await officer.context.close()
    return case


async def acknowledge(page: Page, site: Site, case: str, note: str) -> None:
    """From her dashboard's list of cases escalated to her, to the case, and its acknowledgement."""
    await until(
        page, lambda: _shows(page, f"a[href='{case}']"), "the dashboard lists the case escalated to her"
    )
    await page.locator(f"a[href='{case}']").first.click()
    await until(page, lambda: _shows(page, "#acknowledge"), "the case page asks her to acknowledge")
    await page.fill("#acknowledge textarea[name=note]", note)
    await page.click("#acknowledge button[type=submit]")
    await expect(page.locator("p.ok")).to_contain_text("You acknowledged the escalation")


async def reassign(page: Page, site: Site, case: str) -> str:
    """The case given to another officer on duty at the Kendra, chosen from the list; who it went to."""
    await until(
        page,
        lambda: _assigned_and_movable(page),
        "routing has assigned the case and the page offers to move it",
    )
    holder = (await page.locator("#assigned").inner_text()).strip()
    await page.click("#move summary:has-text('Reassign')")
    choices = await page.locator("#move select[name=officer] option").evaluate_all("o => o.map(e => e.value)")
    chosen = str(next(c for c in choices if c and c != holder))
    await page.select_option("#move select[name=officer]", chosen)
    await page.select_option("#move select[name=reason]", "workload_balance")
    await page.click("#move button:has-text('Reassign')")
    await expect(page.locator("p.ok")).to_contain_text("Reassignment recorded")
    await until(
        page,
        lambda: _text_is(page.locator("#assigned"), chosen),
        f"the case page shows {chosen} assigned",
    )
    return chosen


async def _assigned_and_movable(page: Page) -> bool:
    return await _shows(page, "#move") and (await page.locator("#assigned").inner_text()).startswith("DEMO")


async def _text_is(where: Locator, text: str) -> bool:
    return (await where.inner_text()).strip() == text


async def erase(page: Page) -> None:
    """The complainant's identity erased, its legal basis chosen and the box ticked to confirm."""
    erasing = page.locator("form[action$='/erase']")
    await page.locator("details", has=erasing).locator("summary").click()
    await erasing.locator("select[name=legal_basis]").select_option(index=1)
    before = page.url
    await erasing.locator("button[type=submit]").click()
    # Unconfirmed, the browser itself keeps the form (the box is required), and nothing is sent.
    await expect(erasing.locator("input[name=confirm]:invalid")).to_have_count(1)
    assert page.url == before
    await erasing.locator("input[name=confirm]").check()
    await erasing.locator("button[type=submit]").click()
    await expect(page.locator("p.ok")).to_contain_text("The identity is erased")


async def test_the_kendra_incharges_day_acknowledge_reassign_erase(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    started, shots = time.monotonic(), camera(site, tmp_path, "incharge")
    case = await escalated_case(browser, site)
    incharge = await signed_in(browser, site, "demo.incharge")
    assert incharge.url.endswith("/dashboard")
    await acknowledge(incharge, site, case, "DEMO: call her back within the hour")
    await shots.shoot(incharge, "acknowledged", doc="acknowledged-en-375")
    await reassign(incharge, site, case)
    await erase(incharge)
    await until(incharge, lambda: _gone(incharge, "form[action$='/erase']"), "the erasure applied")
    assert NAME not in await incharge.content()
    print(f"in-charge's day: {finished(shots, started):.0f} s, {len(shots.taken)} screenshots")


async def _gone(page: Page, selector: str) -> bool:
    return await page.locator(selector).count() == 0


async def test_the_shos_day_acknowledge_reassign_erase(site: Site, browser: Browser, tmp_path: Path) -> None:
    started, shots = time.monotonic(), camera(site, tmp_path, "sho")
    case = await escalated_case(browser, site)
    sho = await signed_in(browser, site, "demo.sho")
    await shots.shoot(sho, "dashboard", path="/dashboard", doc="dashboard-hi-375")
    await acknowledge(sho, site, case, "DEMO: send a woman constable to her house today")
    await reassign(sho, site, case)
    await shots.shoot(sho, "case-opened", path=case, opened=True, doc="case-opened-en-1280")
    await erase(sho)
    await until(sho, lambda: _gone(sho, "form[action$='/erase']"), "the erasure applied")
    await shots.shoot(sho, "erased", doc="erased-hi-375")
    assert NAME not in await sho.content() and PHONE_NUMBER not in await sho.content()
    print(f"SHO's day: {finished(shots, started):.0f} s, {len(shots.taken)} screenshots")


async def drill_down_and_export(page: Page, shots: Camera, places: list[tuple[str, str]], doc: str) -> Path:
    """From her dashboard down through each place's link (its name, level by level) to a thana, then the
    register of that thana downloaded as the browser downloads it; the file."""
    for name, asked in places:
        await page.locator(f"a[href='/dashboard?{asked}']", has_text=name).first.click()
        await page.wait_for_url(f"**/dashboard?{asked}")
        # The trail above the figures names where she is now.
        await expect(page.locator("main nav [aria-current=page]")).to_have_text(name)
    await shots.shoot(page, "thana", doc=doc)
    async with page.expect_download() as downloading:
        await page.click("#export")
    download = await downloading.value
    saved = shots.folder / download.suggested_filename
    await download.save_as(saved)
    return saved


def register_rows(saved: Path) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "मामला संख्या / Case number", rows[0]
    return rows[1:]


async def test_the_cos_day_drills_down_to_a_thana_and_downloads_its_register(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    started, shots = time.monotonic(), camera(site, tmp_path, "co")
    co = await signed_in(browser, site, "demo.co")
    assert co.url.endswith("/dashboard")
    await shots.shoot(co, "circle", doc="circle-en-375")
    saved = await drill_down_and_export(co, shots, [("Jaitipur", "thana=SJP-JAITIPUR")], doc="")
    rows = register_rows(saved)
    thana = [r[8] for r in rows]
    assert len(rows) == 3 and set(thana) == {"SJP-JAITIPUR"}, thana  # the module's complaints there
    assert NAME not in saved.read_text(encoding="utf-8-sig")
    print(f"CO's day: {finished(shots, started):.0f} s, {len(shots.taken)} screenshots")


async def test_the_sps_day_drills_down_district_circle_thana_and_downloads_its_register(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    started, shots = time.monotonic(), camera(site, tmp_path, "sp")
    sp = await signed_in(browser, site, "demo.sp")
    assert sp.url.endswith("/dashboard")
    await shots.shoot(
        sp, "district", doc="district-en-1280", doc_from="section:has(a[href^='/dashboard?circle='])"
    )
    whole = sp.locator("#export")
    await expect(whole).to_have_attribute("href", "/dashboard.csv")
    saved = await drill_down_and_export(
        sp, shots, [("Tilhar", "circle=SJP-TILHAR"), ("Tilhar", "thana=SJP-TILHAR")], doc="thana-hi-375"
    )
    rows = register_rows(saved)
    assert rows and {r[8] for r in rows} == {"SJP-TILHAR"}, rows
    print(f"SP's day: {finished(shots, started):.0f} s, {len(shots.taken)} screenshots")
