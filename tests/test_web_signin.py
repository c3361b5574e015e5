"""Sign-in: argon2-hashed passwords, the session cookie, the JSON token, throttled and recorded
failures, and the checks on user records. No service runs here, only the users part (the directory)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from shakti.config import PlatformSettings
from shakti.platform import build_platform
from shakti.users import Throttle, UserError, UserStore, user_record
from shared.auth import COOKIE, Principal
from shared.clock import ManualClock
from shared.roles import Role
from tests.sessions import keys_for_tests


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def platform(
    tmp_path: Path, clock: ManualClock, nats_client: object, nats_url: str
) -> AsyncIterator[FastAPI]:
    store = UserStore(
        f"sqlite+aiosqlite:///{tmp_path / 'web.db'}", clock=clock, throttle=Throttle(free_failures=3)
    )
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests())
    app = build_platform(settings, [], users=store, nats_url=nats_url)
    async with app.router.lifespan_context(app):
        officer = user_record(
            "katra.officer", Role.KENDRA_OFFICER,
            service_number="PNO152301", district="SJP", circle="SJP-TILHAR", thana="SJP-KATRA",
        )  # fmt: skip
        await store.add(officer, "correct horse", actor="test")
        await store.add(user_record("sp.sjp", Role.SP, district="SJP"), "battery staple", actor="test")
        yield app


@pytest.fixture
def users(platform: FastAPI) -> UserStore:
    store: UserStore = platform.state.users
    return store


@pytest.fixture
async def client(platform: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=platform, client=("10.1.2.3", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://shakti") as c:
        yield c


async def signed_in_as(client: httpx.AsyncClient, token: str) -> Principal:
    """Who the platform takes a token's bearer for (the token itself says only the user's name)."""
    response = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return Principal.model_validate(response.json())


async def form_post(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    """Posts the sign-in form as a browser does: with the token of the page it was filled in on."""
    page = await client.get("/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, "the sign-in form carries a CSRF token"
    return await client.post("/signin", data={**fields, "csrf_token": token.group(1)})


async def test_passwords_are_stored_as_argon2_hashes(users: UserStore) -> None:
    from sqlalchemy import select

    from shakti.users import credentials

    async with users.sessions() as session:
        stored = await session.scalar(
            select(credentials.c.password_hash).where(credentials.c.username == "katra.officer")
        )
    assert stored is not None and stored.startswith("$argon2id$")
    assert "correct horse" not in stored


async def test_form_sign_in_sets_a_session_cookie_for_the_users_role_and_jurisdiction(
    client: httpx.AsyncClient,
) -> None:
    response = await form_post(client, username="katra.officer", password="correct horse")
    assert response.status_code == 303
    assert response.headers["location"] == "/kendra/queue"
    principal = await signed_in_as(client, response.cookies[COOKIE])
    assert (principal.role, principal.thana, principal.service_number) == (
        Role.KENDRA_OFFICER, "SJP-KATRA", "PNO152301",
    )  # fmt: skip
    assert "httponly" in response.headers["set-cookie"].lower()


async def test_sign_in_never_redirects_off_the_site(client: httpx.AsyncClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        response = await form_post(client, username="sp.sjp", password="battery staple", next=target)
        assert response.headers["location"] == "/dashboard", target


async def test_wrong_password_is_refused_in_both_languages_and_recorded(
    client: httpx.AsyncClient, users: UserStore
) -> None:
    page = await form_post(client, username="sp.sjp", password="wrong wrong")
    assert page.status_code == 401
    assert "गलत उपयोगकर्ता नाम या पासवर्ड" in page.text
    assert COOKIE not in page.cookies
    client.cookies.set("shakti_lang", "en")
    page = await form_post(client, username="sp.sjp", password="wrong again")
    assert "Wrong user name or password." in page.text
    assert [(client_, outcome) for _, client_, outcome in await users.attempts_of("sp.sjp")] == [
        ("10.1.2.3", "failed"), ("10.1.2.3", "failed"),
    ]  # fmt: skip


async def test_repeated_failures_make_the_next_try_of_that_user_wait(
    client: httpx.AsyncClient, users: UserStore, clock: ManualClock
) -> None:
    for _ in range(3):
        bad = await client.post("/api/auth/token", json={"username": "sp.sjp", "password": "guess guess"})
        assert bad.status_code == 401
    waits = await client.post("/api/auth/token", json={"username": "sp.sjp", "password": "battery staple"})
    assert waits.status_code == 429
    assert int(waits.headers["retry-after"]) > 0
    assert waits.json()["detail"]["hi"]
    # Another user does not wait for someone else's failures.
    other = await client.post(
        "/api/auth/token", json={"username": "katra.officer", "password": "correct horse"}
    )
    assert other.status_code == 200
    clock.advance(timedelta(seconds=int(waits.headers["retry-after"])))
    again = await client.post("/api/auth/token", json={"username": "sp.sjp", "password": "battery staple"})
    assert again.status_code == 200
    outcomes = [outcome for _, _, outcome in await users.attempts_of("sp.sjp")]
    assert outcomes == ["failed", "failed", "failed", "throttled", "ok"]


async def test_json_token_carries_role_and_jurisdiction_and_opens_the_api(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/token", json={"username": "sp.sjp", "password": "battery staple"})
    body = response.json()
    assert (body["role"], body["district"], body["thana"]) == ("sp", "SJP", None)
    principal = await signed_in_as(client, body["token"])
    assert principal.scope() == {"district": "SJP"}
    # An SP is not an operator: the operator API refuses the token; no token at all is a 401.
    refused = await client.get("/api/ops/status", headers={"Authorization": f"Bearer {body['token']}"})
    assert refused.status_code == 403
    assert (await client.get("/api/ops/status")).status_code == 401


async def test_pages_send_a_stranger_to_sign_in(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert (response.status_code, response.headers["location"]) == (303, "/signin")
    page = await client.get("/signin")
    assert page.status_code == 200 and "<form" in page.text and 'name="password"' in page.text


async def test_language_switch_sets_a_cookie_and_the_page_follows_it(client: httpx.AsyncClient) -> None:
    hindi = await client.get("/signin")
    assert "उपयोगकर्ता नाम" in hindi.text
    switched = await client.get("/lang/en", params={"next": "/signin"})
    assert switched.headers["location"] == "/signin"
    english = await client.get("/signin")
    assert "User name" in english.text and "उपयोगकर्ता नाम" not in english.text


@pytest.mark.parametrize(
    ("role", "where", "problem"),
    [
        (
            Role.KENDRA_OFFICER,
            {"district": "SJP", "circle": "SJP-TILHAR", "service_number": "PNO1"},
            "jurisdiction",
        ),
        (Role.CO, {"district": "SJP"}, "jurisdiction"),
        (Role.SP, {"district": "sjp lower"}, "jurisdiction"),
        (Role.KENDRA_OFFICER, {"district": "SJP", "circle": "SJP-T", "thana": "SJP-KATRA"}, "service_number"),
    ],
)
async def test_a_user_needs_the_jurisdiction_of_their_role(
    users: UserStore, role: Role, where: dict[str, str], problem: str
) -> None:
    with pytest.raises(UserError) as refused:
        user_record("new.user", role, **where)
    assert refused.value.code == problem and refused.value.hi


async def test_a_state_user_gets_no_narrower_jurisdiction(users: UserStore) -> None:
    record = user_record("state.cell", Role.STATE_CELL, district="SJP", thana="SJP-KATRA")
    user = await users.add(record, "long enough", actor="test")
    assert user.principal().scope() == {}
    assert (user.district, user.thana) == (None, None)
