"""The demo shows itself (issue 16): in demo mode the sign-in page lists the demo users and their
password, marked DEMO, and ``/demo`` is a guided tour of what to try as each role; outside demo mode
neither exists, so no real platform ever shows a password on a page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from shakti.config import PlatformSettings
from shakti.demo import PASSWORD, USERS
from shakti.platform import build_platform
from shakti.users import UserStore
from tests.sessions import keys_for_tests


async def web_front(tmp_path: Path, nats_url: str, *, demo: bool) -> AsyncIterator[httpx.AsyncClient]:
    store = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), demo=demo)
    app = build_platform(settings, [], users=store, nats_url=nats_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://shakti") as client:
            yield client


@pytest.fixture
async def demo(tmp_path: Path, nats_client: object, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in web_front(tmp_path, nats_url, demo=True):
        yield client


@pytest.fixture
async def real(tmp_path: Path, nats_client: object, nats_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in web_front(tmp_path, nats_url, demo=False):
        yield client


@pytest.mark.parametrize("lang", ["hi", "en"])
async def test_the_demo_sign_in_page_lists_every_demo_user_and_the_password(
    demo: httpx.AsyncClient, lang: str
) -> None:
    page = await demo.get("/signin", headers={"Cookie": f"shakti_lang={lang}"})
    assert page.status_code == 200
    assert all(username in page.text for username, _, _ in USERS)
    assert PASSWORD in page.text and 'href="/demo"' in page.text
    assert ("डेमो" if lang == "hi" else "DEMO") in page.text


@pytest.mark.parametrize("lang", ["hi", "en"])
async def test_the_tour_says_what_to_try_as_each_role(demo: httpx.AsyncClient, lang: str) -> None:
    page = await demo.get("/demo", headers={"Cookie": f"shakti_lang={lang}"})
    assert page.status_code == 200, page.text
    steps = {
        "hi": ("शिकायत दर्ज करें", "ऊपर भेजे गए मामले", "प्रशिक्षण कार्यक्रम", "सभी जनपद"),
        "en": ("Register a complaint", "escalated", "training programme", "All districts"),
    }[lang]
    assert all(step in page.text for step in steps), page.text
    for username, _, _ in USERS:
        assert f'id="tour-{username}"' in page.text, username


async def test_outside_demo_mode_there_is_no_tour_and_no_password_on_a_page(real: httpx.AsyncClient) -> None:
    assert (await real.get("/demo")).status_code == 404
    signin = await real.get("/signin")
    assert PASSWORD not in signin.text and "demo.officer" not in signin.text
