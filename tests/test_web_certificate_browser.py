"""Issue 16's certificate walk in a real headless browser on a phone's screen (375 px wide): the
operator uploads an iGOT file with three bad lines and sees exactly those lines, nothing recorded; the
good file certifies the officers; an officer opens her certificate, a phone's camera reads its QR code,
and the address it carries says valid; a year on the platform's clock, the same address says lapsed.
Screenshots in Hindi and English go to ``SHAKTI_TEST_ARTEFACTS/training/``."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from playwright.async_api import Browser, FilePayload, Page

from shakti.web.times import IST
from shared.clock import ManualClock
from tests.browser import BLOCKED, PASSWORD, Site, artefacts, browser
from tests.qr import png_qr_text
from tests.test_web_training_browser import PHONE, fits, on_phone, training_site
from tests.waiting import eventually

__all__ = ["browser"]  # the browser fixture, shared with the other browser tests
CERTIFIED = ("DEMOKATRA1", "DEMOKATRA2")
"""Katra's first two officers: the iGOT file carries their whole course. DEMOKATRA1 signs in."""


@pytest.fixture
def clock() -> ManualClock:
    """The services' clock, starting now: moved forward a year, a certificate lapses."""
    return ManualClock(datetime.now(UTC))


@pytest.fixture
async def site(
    nats_client: NatsClient, nats_url: str, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[Site]:
    async with training_site(nats_url, tmp_path, clock) as served:
        yield served


async def igot_files(site: Site) -> tuple[bytes, bytes, set[tuple[str, str]]]:
    """The good iGOT file (every module certification requires, for each officer, finished last week)
    and the same file with three lines gone wrong: an unknown module, a date that is not a date and a
    score above 100, each on a line of its own; and those lines (line 1 is the header) with their column."""
    async with httpx.AsyncClient(base_url=site.url, timeout=30.0) as client:
        signed_in = await client.post(
            "/api/auth/token", json={"username": "sjp.operator", "password": PASSWORD}
        )
        operator = {"Authorization": f"Bearer {signed_in.json()['token']}"}
        certification = (await client.get("/api/training/curriculum", headers=operator)).json()[
            "certification"
        ]
    day = (datetime.now(UTC).astimezone(IST).date() - timedelta(days=7)).isoformat()
    good = [
        f"{officer},{module},{day},{'80' if module in certification['pass_marks'] else ''}"
        for officer in CERTIFIED
        for module in certification["required_modules"]
    ]
    bad = list(good)
    bad[1] = f"{CERTIFIED[0]},NO-SUCH-MODULE,{day},"
    bad[-2] = f"{CERTIFIED[1]},{bad[-2].split(',')[1]},not a date,"
    scored = len(good) - 1 - next(i for i, line in enumerate(reversed(good)) if line.endswith(",80"))
    bad[scored] = f"{CERTIFIED[1]},{good[scored].split(',')[1]},{day},180"
    # good[i] is on the file's line i + 2, after the header.
    wrong = {("3", "module_id"), (str(len(good)), "completed_at"), (str(scored + 2), "score")}
    assert len(wrong) == 3 and scored != len(good) - 2, wrong
    header = "service_number,module_id,completed_at,score"
    files = ("\n".join([header, *good]) + "\n").encode(), ("\n".join([header, *bad]) + "\n").encode()
    return *files, wrong


async def upload(page: Page, name: str, content: bytes) -> None:
    await page.set_input_files(
        "input[name=file]", files=[FilePayload(name=name, mimeType="text/csv", buffer=content)]
    )
    await page.click("form[action='/training/igot'] button[type=submit]")
    await page.wait_for_load_state()


async def problems(page: Page) -> list[tuple[str, str, str]]:
    rows = page.locator("tr.problem")
    return [
        (await rows.nth(i).locator("td").nth(0).inner_text(), await rows.nth(i).locator("td").nth(1).inner_text(),
         await rows.nth(i).locator("td").nth(2).inner_text())
        for i in range(await rows.count())
    ]  # fmt: skip


async def test_a_refused_igot_file_then_the_good_one_a_qr_code_that_verifies_and_a_lapse(
    site: Site, browser: Browser, clock: ManualClock, tmp_path: Path
) -> None:
    BLOCKED.clear()
    shots = artefacts(tmp_path, "training")
    good, bad, wrong = await igot_files(site)
    officer = await on_phone(browser, site, "katra.officer")
    await officer.goto(f"{site.url}/training/me")
    assert "Not certified" in await officer.locator("#certificate").inner_text()

    operator = await on_phone(browser, site, "sjp.operator")
    await operator.click("header >> text=iGOT completion import")
    await upload(operator, "igot-bad.csv", bad)
    shown = await problems(operator)
    assert {(line, column) for line, column, _ in shown} == wrong and len(shown) == 3, shown
    assert "nothing was imported" in await operator.content()
    await fits(operator)
    await operator.screenshot(path=str(shots / "igot-refused-en.png"), full_page=True)
    await operator.goto(f"{site.url}/lang/hi?next=/training/igot")
    await upload(operator, "igot-bad.csv", bad)
    shown = await problems(operator)
    assert {(line, column) for line, column, _ in shown} == wrong and len(shown) == 3, shown
    assert all(re.search(r"[\u0900-\u097F]", words) for _, _, words in shown), shown  # said in Hindi
    assert "कुछ भी आयात नहीं हुआ" in await operator.content()
    await fits(operator)
    await operator.screenshot(path=str(shots / "igot-refused-hi.png"), full_page=True)

    await operator.goto(f"{site.url}/lang/en?next=/training/igot")
    await upload(operator, "igot.csv", good)
    # Every line of the good file is new: neither refusal recorded anything, not even its good lines.
    lines = good.decode().count("\n") - 1
    assert await operator.locator("#recorded").inner_text() == f"{lines} completions recorded"
    await fits(operator)
    await operator.screenshot(path=str(shots / "igot-imported-en.png"), full_page=True)

    async def certified() -> bool:
        await officer.goto(f"{site.url}/training/me")
        return await officer.locator("#certificate p.ok").count() == 1

    await eventually(certified, timeout=30, what="her training record says certified")
    assert "Valid" in await officer.locator("#certificate p.ok").inner_text()
    await fits(officer)
    await officer.screenshot(path=str(shots / "record-certified-en.png"), full_page=True)
    await officer.goto(f"{site.url}/lang/hi?next=/training/me")
    assert "वैध" in await officer.locator("#certificate p.ok").inner_text()
    await fits(officer)
    await officer.screenshot(path=str(shots / "record-certified-hi.png"), full_page=True)

    # The certificate, on a phone of three device pixels to the CSS pixel (as most are): its QR code
    # is read from the browser's own picture of it, as another phone's camera would read it.
    certificate_id = (await officer.locator("#certificate a").first.inner_text()).split("·")[-1].strip()
    signed_in = await officer.context.storage_state()
    sharp = await browser.new_context(viewport=PHONE, device_scale_factor=3, storage_state=signed_in)
    printed = await sharp.new_page()
    await printed.goto(f"{site.url}/training/me")
    await printed.click("#certificate a")
    await printed.wait_for_selector("figure.qr svg")
    assert not re.search(
        r"sub_inspector|head_constable|\bconstable\b", await printed.content()
    )  # ranks in words
    await printed.screenshot(path=str(shots / "certificate.png"), full_page=True)
    address = png_qr_text(await printed.locator("figure.qr svg").screenshot())
    assert address == f"{site.url}/api/training/verify/{certificate_id}", address

    verifier = await browser.new_page(viewport=PHONE)  # whoever scans it: nobody signed in
    await verifier.goto(address)
    verdict = await verifier.inner_text(".verdict")
    assert "वैध" in verdict and "Valid" in verdict and "Lapsed" not in verdict, verdict
    await fits(verifier)
    await verifier.screenshot(path=str(shots / "verify-valid-hi-en.png"), full_page=True)

    # A year and a day on: the certificate has run out and the training service's review lapses it.
    clock.set(clock.now() + timedelta(days=366))

    async def lapsed() -> bool:
        await verifier.goto(address)
        verdict = await verifier.inner_text(".verdict")
        return "व्यपगत" in verdict and "Lapsed" in verdict

    await eventually(lapsed, timeout=30, what="the verification page says lapsed")
    verdict = await verifier.inner_text(".verdict")
    assert "The certificate expired" in verdict and "This certificate is not valid now" in verdict, verdict
    await fits(verifier)
    await verifier.screenshot(path=str(shots / "verify-lapsed-hi-en.png"), full_page=True)
    assert BLOCKED == []
    assert {p.name for p in shots.iterdir()} >= {  # the folder is shared with the other training walks
        "certificate.png", "igot-imported-en.png", "igot-refused-en.png", "igot-refused-hi.png",
        "record-certified-en.png", "record-certified-hi.png", "verify-lapsed-hi-en.png", "verify-valid-hi-en.png",
    }  # fmt: skip
