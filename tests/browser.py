"""What the browser tests share: Debian's chromium under Playwright, signing in through the form, and a
camera that photographs a page at 375 and 1280 px in Hindi and English, checks that the phone's page
never scrolls sideways, and runs axe-core (``axe-playwright-python``) on it.

Screenshots go to ``SHAKTI_TEST_ARTEFACTS`` (else the test's temporary folder), a folder per test."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import nats
import pytest
from axe_playwright_python.async_playwright import Axe
from nats.js.errors import NotFoundError
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.users import UserStore
from shared.auth import Principal
from shared.natsserver import free_port
from tests.sessions import keys_for_tests

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_INSTALLED = Path(CHROMIUM).exists()
PASSWORD = "browser-test-pass"
PHONE, SCREEN = 375, 1280
WIDTHS = (PHONE, SCREEN)
LANGUAGES = ("en", "hi")
GRAVE = ("serious", "critical")
NO_SIDEWAYS = "document.documentElement.scrollWidth <= window.innerWidth"
OPEN_EVERY_STEP = "document.querySelectorAll('details').forEach(d => { d.open = true; })"

BLOCKED: list[str] = []
"""What the browser refused under the pages' content security policy (it says so on its console)."""


@dataclass
class Site:
    url: str


@contextlib.asynccontextmanager
async def district_site(
    nats_url: str, tmp_path: Path, *people: Principal, password: str = PASSWORD
) -> AsyncIterator[Site]:
    """The platform served with Shahjahanpur's jurisdiction and the demo roster, and these users (each
    with ``password``)."""
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url), users=users)
    async with running(settings, app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            loader = DemoLoader(app, client)
            await loader.roster(await loader.jurisdiction())
        for person in people:
            await users.add(person, password, actor="test")
        yield Site(url)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's chromium, headless; Playwright never downloads a browser of its own."""
    if not CHROMIUM_INSTALLED:
        pytest.fail("chromium is not installed: run `make browser` (Debian package chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def clean_streams(nats_url: str) -> None:
    """Every stream of the test server deleted, as the ``nats_client`` fixture does for one test: a
    module's platform starts from no event at all."""
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for info in await js.streams_info():
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(str(info.config.name))
    finally:
        await nc.drain()


def note_blocked(page: Page) -> None:
    page.on(
        "console",
        lambda message: BLOCKED.append(message.text) if "Content Security Policy" in message.text else None,
    )


async def sign_in(
    browser: Browser,
    site: Site,
    username: str,
    width: int = 390,
    *,
    password: str = PASSWORD,
    height: int = 844,
    for_axe: bool = False,
) -> Page:
    """A new browser of her own, signed in through the form (in English) at this screen's width.

    ``for_axe``: the test injects axe-core, which the pages' own policy (no script but the site's) would
    refuse, so that browser ignores the policy and notes nothing blocked."""
    context = await browser.new_context(viewport=ViewportSize(width=width, height=height), bypass_csp=for_axe)
    page = await context.new_page()
    page.set_default_timeout(15_000)
    if not for_axe:
        note_blocked(page)
    await page.goto(f"{site.url}/lang/en?next=/signin")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: "/signin" not in url)
    return page


def artefacts(tmp_path: Path, name: str) -> Path:
    folder = Path(os.environ.get("SHAKTI_TEST_ARTEFACTS") or tmp_path) / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def grave(violations: list[dict[str, Any]]) -> list[str]:
    """axe's serious and critical violations, one line each."""
    return [
        f"{v['id']} ({v['impact']}): {v['nodes'][0]['target']} {v['help']}"
        for v in violations
        if v["impact"] in GRAVE
    ]


@dataclass
class Camera:
    """Photographs a step of a walk in both languages at both widths and checks it on the way: axe on the
    phone in both languages and on the wide screen in English (the Hindi page's layout is the same), and
    no sideways scrolling on the phone. What it finds is kept, so that one walk reports every problem."""

    site: Site
    folder: Path
    docs: Path | None = None
    """Where the documentation's screenshots go (``SHAKTI_DOC_SCREENS``): the screen as a person sees it,
    not the whole page, of the steps a test names for the docs."""
    problems: list[str] = field(default_factory=list)
    taken: list[str] = field(default_factory=list)
    axe: Axe = field(default_factory=Axe)

    async def shoot(
        self,
        page: Page,
        name: str,
        *,
        path: str | None = None,
        opened: bool = False,
        doc: str = "",
        doc_from: str = "",
    ) -> None:
        """The page at ``path`` (else the one shown now); ``opened``: every step's form unfolded first.
        ``doc``: also photograph it for the documentation as ``doc`` (``<name>-<lang>-<width>``), the
        screen scrolled to the element ``doc_from`` if given."""
        where = path or page.url.removeprefix(self.site.url)
        for width in WIDTHS:
            await page.set_viewport_size(ViewportSize(width=width, height=800 if width == SCREEN else 740))
            for lang in LANGUAGES:
                await page.goto(f"{self.site.url}/lang/{lang}?next={quote(where)}")
                if opened:
                    await page.evaluate(OPEN_EVERY_STEP)
                shot = f"{name}-{lang}-{width}"
                await page.screenshot(path=str(self.folder / f"{shot}.png"), full_page=True)
                self.taken.append(shot)
                if self.docs is not None and doc and doc == shot:
                    if doc_from:
                        await page.locator(doc_from).first.evaluate("e => e.scrollIntoView()")
                    await page.screenshot(path=str(self.docs / f"{self.folder.name}-{name}.png"))
                if width == PHONE and not await page.evaluate(NO_SIDEWAYS):
                    wide = await page.evaluate("document.documentElement.scrollWidth")
                    self.problems.append(f"{shot}: {wide} px wide on a {PHONE} px phone")
                if lang == "hi" and width != PHONE:
                    continue
                found = grave((await self.axe.run(page)).response["violations"])
                self.problems += [f"{shot} axe: {p}" for p in found]
        await page.set_viewport_size(ViewportSize(width=PHONE, height=740))
        await page.goto(f"{self.site.url}/lang/en?next={quote(where)}")
