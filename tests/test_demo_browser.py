"""Issue 16's demo, as a newcomer meets it: ``shakti up --demo`` started as a process, the sign-in page's
list of demo users, and each of them signed in on a phone (375 px) finding work waiting on her home page,
in Hindi and English; then, within three minutes of the start, a breach and the escalation it caused on
a case's page (the demo policy breaches a P1 case without first contact after two minutes). One start
serves every check, and every wait polls. Screenshots go to ``SHAKTI_TEST_ARTEFACTS/demo/``."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, Page

from shakti.demo import PASSWORD, USERS
from shared.roles import Role
from tests.browser import BLOCKED, Site, artefacts, browser
from tests.test_terminal import SHAKTI, summary_shown, up_env
from tests.test_web_training_browser import PHONE, fits, on_phone
from tests.waiting import eventually

__all__ = ["browser"]  # the browser fixture, shared with the other browser tests
WITHIN = 180.0
"""Seconds from `shakti up --demo` to a breach and its escalation on a page (issue 16)."""
DEVANAGARI = re.compile(r"[\u0900-\u097F]")


@dataclass
class RunningDemo:
    site: Site
    started: float
    """``time.monotonic()`` when ``shakti up --demo`` was started."""
    ready: float
    """Seconds from the start to the summary (the platform up, the demo's data loaded)."""

    def left(self) -> float:
        return max(1.0, WITHIN - (time.monotonic() - self.started))


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[RunningDemo]:
    env = up_env(tmp_path)
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        SHAKTI, "up", "--demo", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        shown = ""
        async with asyncio.timeout(120):
            while not summary_shown(shown):
                line = await process.stdout.readline()
                assert line, f"shakti up --demo ended before its summary: {shown}"
                shown += line.decode()
        site = Site(f"http://127.0.0.1:{env['SHAKTI_HTTP_PORT']}")
        yield RunningDemo(site, started, time.monotonic() - started)
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C, as a person stops it
        await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0


async def figure(page: Page, selector: str) -> int:
    return int(re.sub(r"\D", "", await page.locator(selector).inner_text()) or 0)


async def officer_has_cases(page: Page) -> None:
    """Her queue: cases of her Kendra waiting for first contact, action, disposal (the demo's complaints
    start coming in as the platform starts)."""

    async def cases() -> bool:
        await page.reload()
        return await figure(page, "#total") > 0

    await eventually(cases, timeout=WITHIN, what="cases in demo.officer's queue")
    assert await page.locator("#queue a[href^='/cases/']").count() > 0


async def escalated_to_her(page: Page) -> None:
    """The in-charge and the SHO: a case escalated to them, which they acknowledge with a direction."""

    async def escalated() -> bool:
        await page.reload()
        return await figure(page, "#escalated-count") > 0

    await eventually(escalated, timeout=WITHIN, what=f"a case escalated to {page.url}")
    home = page.url
    await page.click("#escalated a")
    await page.wait_for_selector("#acknowledge form")
    await page.goto(home)


async def supervisor_has_figures(page: Page) -> None:
    """The CO, the Additional SP, the SP: the dashboard's figures, and cases close to breach to chase."""
    assert await figure(page, "#open-count") > 0
    assert await figure(page, "#near-count") > 0
    assert await page.locator("main a[href='/training/compliance']").count() == 1  # the training lists


async def state_has_figures(page: Page) -> None:
    """The state cell: the district's row with its officers, trained share and cases."""
    row = await page.locator("tbody tr").first.inner_text()
    assert "SJP" in row and re.search(r"\d+%", row), row


async def operator_has_messages(page: Page) -> None:
    """The operator: every service ready, and the outbox of messages the platform would have sent."""
    assert await page.locator("td:text-is('✘')").count() == 0
    assert await page.locator("td:text-is('✔')").count() >= 12
    home = page.url
    await page.click("header >> a[href='/notifications/outbox']")
    await page.wait_for_selector("article.notice")
    await fits(page)
    await page.goto(home)


async def agency_has_referrals(page: Page) -> None:
    """The One Stop Centre's desk: a Kendra's referral to accept (routing refers the demo's sexual assault
    and domestic violence cases there)."""

    async def referred() -> bool:
        await page.reload()
        return await page.locator("#open-referrals article.referral").count() > 0

    await eventually(referred, timeout=WITHIN, what="a referral at demo.agency's desk")
    assert await page.locator("#open-referrals article.referral form").count() > 0


WORK: dict[Role, Callable[[Page], Awaitable[None]]] = {
    Role.KENDRA_OFFICER: officer_has_cases,
    Role.KENDRA_INCHARGE: escalated_to_her,
    Role.SHO: escalated_to_her,
    Role.CO: supervisor_has_figures,
    Role.ADDL_SP: supervisor_has_figures,
    Role.SP: supervisor_has_figures,
    Role.STATE_CELL: state_has_figures,
    Role.OPERATOR: operator_has_messages,
    Role.AGENCY_DESK: agency_has_referrals,
}


async def in_hindi(page: Page) -> None:
    """The same page in Hindi, its headings in Hindi and still fitting the phone."""
    at = urlsplit(page.url)
    await page.goto(
        f"{at.scheme}://{at.netloc}/lang/hi?next={quote(at.path + (f'?{at.query}' if at.query else ''))}"
    )
    headings = await page.locator("main h1, main h2").all_inner_texts()
    english = [h for h in headings if not DEVANAGARI.search(h) and re.search(r"[A-Za-z]{4}", h)]
    assert headings and not english, (page.url, english)
    await fits(page)


async def test_every_demo_user_finds_work_and_a_breach_escalates_within_3_minutes(
    demo: RunningDemo, browser: Browser, tmp_path: Path
) -> None:
    BLOCKED.clear()
    shots = artefacts(tmp_path, "demo")
    url = demo.site.url
    context = await browser.new_context(viewport=PHONE)
    signin = await context.new_page()
    await signin.goto(f"{url}/lang/en?next=/signin")
    listed = await signin.locator(".demo-users td code").all_inner_texts()
    roles = {username: role for username, role, _ in USERS}
    assert sorted(listed) == sorted(roles), listed
    await fits(signin)
    await signin.screenshot(path=str(shots / "signin-en.png"), full_page=True)
    await signin.goto(f"{url}/lang/hi?next=/signin")
    assert "डेमो" in await signin.inner_text(".demo-users")
    await signin.screenshot(path=str(shots / "signin-hi.png"), full_page=True)

    for username in listed:
        page = await on_phone(browser, demo.site, username, PASSWORD)
        await WORK[roles[username]](page)
        await fits(page)
        await page.screenshot(path=str(shots / f"{username}-en.png"), full_page=True)
        await in_hindi(page)
        await page.screenshot(path=str(shots / f"{username}-hi.png"), full_page=True)
        await page.context.close()

    # The first rung of the ladder: the Kendra in-charge's dashboard counts a breach at her thana and a
    # case escalated to her; the case's page shows the deadline it breached and asks her to acknowledge.
    incharge = await on_phone(browser, demo.site, "demo.incharge", PASSWORD)

    async def breached_and_escalated() -> bool:
        await incharge.goto(f"{url}/dashboard")
        counts = await incharge.locator("#breaches td:nth-child(2)").all_inner_texts()
        return (
            any(int(c.split("/")[0]) > 0 for c in counts) and await figure(incharge, "#escalated-count") > 0
        )

    await eventually(breached_and_escalated, timeout=demo.left(), what="a breach and an escalation on a page")
    seen_after = time.monotonic() - demo.started
    # How close to the limit, for whoever reads CI's artefacts: the start-up time is the part that varies.
    (shots / "times.txt").write_text(
        f"summary after {demo.ready:.0f} s; breach and escalation seen after {seen_after:.0f} s (limit {WITHIN:.0f} s)\n"
    )
    assert seen_after <= WITHIN, seen_after
    await fits(incharge)
    await incharge.screenshot(path=str(shots / "breach-dashboard-en.png"), full_page=True)
    for case in [await a.get_attribute("href") for a in await incharge.locator("#escalated a").all()]:
        await incharge.goto(f"{url}{case}")
        if await incharge.locator("#deadlines .tag.breached").count():
            break
    else:
        raise AssertionError("no case escalated to the in-charge shows its breached deadline")
    assert await incharge.locator("#acknowledge form").count() == 1
    assert "Level" in await incharge.locator("main p.error").first.inner_text()
    await fits(incharge)
    await incharge.screenshot(path=str(shots / "breach-escalated-en.png"), full_page=True)
    await in_hindi(incharge)
    assert await incharge.locator("#deadlines .tag.breached").count() > 0
    await incharge.screenshot(path=str(shots / "breach-escalated-hi.png"), full_page=True)
    assert BLOCKED == []
