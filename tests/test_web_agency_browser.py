"""The agency desk in a real headless browser: a Kendra officer registers a domestic violence case at
Katra, routing refers it to Shahjahanpur's One Stop Centre, and the Centre's desk signs in (her home is
her referrals), sees it in the bell and on her page, accepts it, then completes it. Every screen fits a
375 px phone, passes axe-core with no serious or critical violation, and is kept as a screenshot at 375
and 1280 px in Hindi and English (``SHAKTI_TEST_ARTEFACTS``/agency, else the test's own folder)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from nats.aio.client import Client as NatsClient
from playwright.async_api import Browser, Page

from shakti.demo import PASSWORD
from shakti.users import user_record
from shared.roles import Role
from tests.browser import Site, artefacts, browser, district_site, grave
from tests.test_accessibility import signed_in
from tests.test_web_training_browser import fits
from tests.waiting import eventually

__all__ = ["browser"]  # the browser fixture, shared with the other browser tests
KATRA = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}


@pytest.fixture
async def site(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    officer = user_record("katra.officer", Role.KENDRA_OFFICER, service_number="DEMOKATRA1", **KATRA)
    desk = user_record("osc.desk", Role.AGENCY_DESK, district="SJP", agency="SJP-OSC")
    async with district_site(nats_url, tmp_path, officer, desk, password=PASSWORD) as served:
        yield served


async def registered_with_a_referral(site: Site) -> str:
    """A Katra officer's domestic violence case (routing refers such a case to the One Stop Centre)."""
    async with httpx.AsyncClient(base_url=site.url, timeout=30.0) as client:
        signed = await client.post(
            "/api/auth/token", json={"username": "katra.officer", "password": PASSWORD}
        )
        staff = {"Authorization": f"Bearer {signed.json()['token']}", "Idempotency-Key": "agency-1"}
        body = {
            "channel": "walk_in", "category": "domestic_violence", "description": "DEMO statement",
            "district": "SJP", "thana": "SJP-KATRA", "minor": False, "danger_now": False,
            "identity": {"name": "DEMO Agencytest Complainant", "phone": "9800011122"},
        }  # fmt: skip
        registered = await client.post("/api/intake/cases", json=body, headers=staff)
        assert registered.status_code == 201, registered.text
        return str(registered.json()["case_number"])


DOC_SCREENS = {"referrals-en-375", "complete-confirm-en-375", "referrals-hi-1280"}
"""The steps docs/platform.md shows (``make screens``: ``SHAKTI_DOC_SCREENS`` names the folder)."""


async def checked(page: Page, shots: Path, name: str, width: int) -> list[str]:
    """Screenshot the page, check that it fits a phone, and return axe's grave findings."""
    await page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
    if (docs := os.environ.get("SHAKTI_DOC_SCREENS")) and f"{name}-{width}" in DOC_SCREENS:
        await page.screenshot(path=str(Path(docs) / f"agency-{name}-{width}.png"))
    if width == 375:
        await fits(page)
    return [f"{name} {width}px: {p}" for p in grave((await Axe().run(page)).response["violations"])]


async def test_the_one_stop_centre_desk_accepts_then_completes_a_kendra_referral(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    shots, problems = artefacts(tmp_path, "agency"), []
    number = await registered_with_a_referral(site)
    desk = await signed_in(browser, site, "osc.desk", 375)
    assert desk.url.endswith("/agency")  # her home after sign-in
    card = desk.locator("#open-referrals article.referral", has_text=number)

    async def listed() -> bool:
        await desk.goto(f"{site.url}/agency")
        return await card.count() == 1

    await eventually(listed, timeout=30, what="her page lists the referral")
    text = await card.inner_text()
    assert (
        "Domestic violence" in text
        and "Katra" in text
        and "SJP-KATRA" not in text
        and "IST" in text
        and " left" in text
    )
    assert "DEMO Agencytest" not in await desk.content() and "9800011122" not in await desk.content()
    assert await desk.locator("header a.bell").count() == 1
    problems += await checked(desk, shots, "referrals-en", 375)

    await card.locator("button:has-text('Accept the referral')").click()
    await desk.wait_for_selector("text=Recorded.")
    assert await card.get_attribute("data-status") == "accepted"
    assert "Accepted by the agency" in await card.inner_text()
    problems += await checked(desk, shots, "accepted-en", 375)

    # Completing cannot be undone: without the box ticked the browser keeps the form; ticked, it goes.
    await card.locator("summary:has-text('Complete')").click()
    await card.locator("input[name=confirm]").last.check()
    problems += await checked(desk, shots, "complete-confirm-en", 375)
    await card.locator("button:has-text('Complete')").click()
    await desk.wait_for_selector("text=Recorded.")
    done = desk.locator("#answered-referrals li", has_text=number)
    assert await done.get_attribute("data-status") == "completed"
    assert await desk.locator("#open-referrals article.referral").count() == 0

    await desk.goto(f"{site.url}/lang/hi?next=/agency")
    assert "मेरी संस्था के संदर्भन" in await desk.content() and "पूर्ण" in await done.inner_text()
    problems += await checked(desk, shots, "referrals-hi", 375)
    await desk.goto(f"{site.url}/notifications")
    assert number in await desk.content()
    problems += await checked(desk, shots, "bell-hi", 375)
    await desk.context.close()

    wide = await signed_in(browser, site, "osc.desk", 1280)
    for lang in ("en", "hi"):
        await wide.goto(f"{site.url}/lang/{lang}?next=/agency")
        problems += await checked(wide, shots, f"referrals-{lang}", 1280)
    await wide.context.close()
    assert not problems, "\n".join(problems)
    assert {p.name for p in shots.glob("*.png")} >= {
        "referrals-en-375.png", "referrals-hi-375.png", "referrals-en-1280.png", "referrals-hi-1280.png",
    }  # fmt: skip
