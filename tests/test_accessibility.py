"""Every page each role works from passes axe-core (``axe-playwright-python``, the rules of WCAG 2.x A
and AA that a machine can check) with no serious or critical violation, in Hindi and English on a
375 px phone and in English on a 1280 px screen; a screenshot of each, in both languages at both
widths, is kept as a test artefact (``SHAKTI_TEST_ARTEFACTS``, else the test's temporary folder).

axe found, when this test was written: the notifications list's "Acknowledge" button drawn white on
the pale card (the header's button style reached it), and scrolling tables no keyboard could reach."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.async_playwright import Axe
from nats.aio.client import Client as NatsClient
from playwright.async_api import Browser, Page

from shakti.config import PlatformSettings
from shakti.demo import PASSWORD, DemoLoader
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.synthetic import synthetic_complaints
from shakti.users import UserStore
from shared.natsserver import free_port
from tests.browser import WIDTHS, Site, artefacts, browser, grave, sign_in
from tests.sessions import keys_for_tests
from tests.waiting import eventually

__all__ = ["browser"]

PAGES: dict[str, tuple[str, ...]] = {
    "demo.officer": (
        "/kendra/queue", "/kendra/register", "{case}", "{case}/as-of", "{case}/receipt", "/notifications",
        "/notifications/preferences", "/training", "/training/me", "/no-such-page",
    ),
    "demo.sho": ("/dashboard", "{case}"),
    "demo.co": ("/dashboard", "/training/programmes/new", "/training/igot"),
    "demo.sp": ("/dashboard", "/training/compliance", "/training/programmes"),
    "demo.state": ("/state",),
    "demo.operator": ("/operations", "/notifications/outbox"),
}  # fmt: skip
"""Each demo role's pages; ``{case}`` is a case of Katra's Kendra."""


@pytest.fixture
async def site(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    """The demo's district, roster, users and training programme, and a few of its complaints."""
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url), users=users)
    async with running(settings, app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30.0) as client:
            loader = DemoLoader(app, client)
            kendras = await loader.jurisdiction()
            registrar, incharges = await loader.roster(kendras)
            await loader.people(kendras, registrar, incharges)
            await loader.programme(kendras)
            for n, complaint in enumerate(synthetic_complaints(["SJP-KATRA"], 4)):
                await loader.complaint(n, complaint)
        yield Site(url)


async def signed_in(browser: Browser, site: Site, username: str, width: int) -> Page:
    return await sign_in(browser, site, username, width, password=PASSWORD, height=900, for_axe=True)


async def a_katra_case(page: Page, site: Site) -> str:
    """The address of a case in the officer's queue, once routing has placed one there."""
    found: list[str] = []

    async def listed() -> bool:
        await page.goto(f"{site.url}/kendra/queue?status=all")
        links = await page.eval_on_selector_all("a[href^='/cases/']", "es => es.map(e => e.pathname)")
        found[:] = links
        return bool(links)

    await eventually(listed, timeout=30, what="a case in Katra's queue")
    return found[0]


async def test_every_page_of_every_role_passes_axe_in_both_languages(
    site: Site, browser: Browser, tmp_path: Path
) -> None:
    axe, shots, problems = Axe(), artefacts(tmp_path, "accessibility"), []
    case = ""
    for username, paths in PAGES.items():
        for width in WIDTHS:
            page = await signed_in(browser, site, username, width)
            if "{case}" in "".join(paths) and not case:
                case = await a_katra_case(page, site)
            for lang in ("en", "hi"):
                for path in (p.format(case=case) for p in paths):
                    await page.goto(f"{site.url}/lang/{lang}?next={path}")
                    name = f"{username}{path.replace('/', '_')}-{lang}-{width}.png"
                    await page.screenshot(path=str(shots / name), full_page=True)
                    if lang == "hi" and width != min(WIDTHS):
                        continue  # the Hindi page's rules are checked on the phone, its layout is the same
                    found = grave((await axe.run(page)).response["violations"])
                    problems += [f"{username} {path} {lang} {width}px: {p}" for p in found]
            await page.context.close()
    assert not problems, "\n".join(problems)
    assert len(list(shots.glob("*.png"))) == 2 * len(WIDTHS) * sum(len(p) for p in PAGES.values())
