"""Issue 12, finding 9: 5 wrong passwords from anyone locked the real user out; 20 from one address
locked every user behind it (a gateway); argon2 ran inside a global lock, so sign-ins queued.

Now failures slow down only the (user name, address) pair they come from, each try waiting twice as
long as the one before (capped); a forwarded address is believed only from a configured proxy; and
password hashing runs outside any lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from starlette.requests import Request

from shakti.config import PlatformSettings
from shakti.platform import build_platform
from shakti.signin import client_address
from shakti.users import Throttle, UserStore, user_record
from shared.clock import ManualClock
from shared.roles import Role
from tests.sessions import keys_for_tests

PASSWORD = "the right one"
REAL_USER, ATTACKER, GATEWAY = "10.1.2.3", "198.51.100.66", "10.0.0.2"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def platform(
    tmp_path: Path, clock: ManualClock, nats_client: NatsClient, nats_url: str
) -> AsyncIterator[FastAPI]:
    store = UserStore(
        f"sqlite+aiosqlite:///{tmp_path / 'web.db'}",
        clock=clock,
        throttle=Throttle(free_failures=3, longest_wait=timedelta(minutes=15), window=timedelta(days=1)),
    )
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), trusted_proxies=GATEWAY)
    app = build_platform(settings, [], users=store, nats_url=nats_url)
    async with app.router.lifespan_context(app):
        await store.add(user_record("sp.sjp", Role.SP, district="SJP"), PASSWORD, actor="test")
        yield app


def from_address(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://shakti")


async def sign_in(
    app: FastAPI, address: str, username: str, password: str, forwarded: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    async with from_address(app, address) as client:
        return await client.post(
            "/api/auth/token", json={"username": username, "password": password}, headers=headers
        )


async def fail_until(app: FastAPI, clock: ManualClock, failures: int, address: str, username: str) -> None:
    """``failures`` wrong passwords that are really checked, waiting whenever told to."""
    checked = 0
    while checked < failures:
        answer = await sign_in(app, address, username, "a wrong guess")
        if answer.status_code == 429:
            clock.advance(timedelta(seconds=int(answer.headers["retry-after"])))
            continue
        assert answer.status_code == 401
        checked += 1


async def test_an_attackers_wrong_passwords_never_lock_the_real_user_out(
    platform: FastAPI, clock: ManualClock
) -> None:
    await fail_until(platform, clock, 20, ATTACKER, "sp.sjp")
    assert (await sign_in(platform, ATTACKER, "sp.sjp", "another guess")).status_code == 429
    # Right away, from the real user's own address: no lock to lift, no wait.
    assert (await sign_in(platform, REAL_USER, "sp.sjp", PASSWORD)).status_code == 200
    store: UserStore = platform.state.users
    attempts = await store.attempts_of("sp.sjp")
    assert [o for _, c, o in attempts if c == ATTACKER].count("failed") == 20
    assert [(c, o) for _, c, o in attempts if c == REAL_USER] == [(REAL_USER, "ok")]


async def test_one_address_behind_which_many_sit_is_never_locked_as_a_whole(
    platform: FastAPI, clock: ManualClock
) -> None:
    # 25 failures from one address (a gateway, an office's NAT) for made-up and mistyped names ...
    for n in range(25):
        assert (await sign_in(platform, GATEWAY, f"someone{n % 5}", "wrong")).status_code in (401, 429)
    # ... and everyone else behind it still signs in.
    assert (await sign_in(platform, GATEWAY, "sp.sjp", PASSWORD)).status_code == 200


async def test_failures_from_one_pair_wait_longer_and_longer_up_to_a_cap(
    platform: FastAPI, clock: ManualClock
) -> None:
    for _ in range(3):  # a few mistakes cost nothing
        assert (await sign_in(platform, ATTACKER, "sp.sjp", "wrong")).status_code == 401
    waits = []
    for _ in range(13):
        told = await sign_in(platform, ATTACKER, "sp.sjp", "wrong")
        assert told.status_code == 429 and told.json()["detail"]["hi"]
        waits.append(int(told.headers["retry-after"]))
        clock.advance(timedelta(seconds=waits[-1]))
        assert (await sign_in(platform, ATTACKER, "sp.sjp", "wrong")).status_code == 401
    assert waits[:10] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert waits[10:] == [900, 900, 900]  # capped at the longest wait, never a lock
    # The right password after the wait, and the slate is clean.
    told = await sign_in(platform, ATTACKER, "sp.sjp", PASSWORD)
    clock.advance(timedelta(seconds=int(told.headers["retry-after"])))
    assert (await sign_in(platform, ATTACKER, "sp.sjp", PASSWORD)).status_code == 200
    assert (await sign_in(platform, ATTACKER, "sp.sjp", "one typo")).status_code == 401
    assert (await sign_in(platform, ATTACKER, "sp.sjp", PASSWORD)).status_code == 200


async def test_a_forwarded_address_is_believed_only_from_a_trusted_proxy(
    platform: FastAPI, clock: ManualClock
) -> None:
    store: UserStore = platform.state.users
    # Through the gateway, the attacker is known by the address the gateway saw ...
    for _ in range(3):
        await sign_in(platform, GATEWAY, "sp.sjp", "wrong", forwarded="203.0.113.9")
    assert (await sign_in(platform, GATEWAY, "sp.sjp", "wrong", forwarded="203.0.113.9")).status_code == 429
    # ... so the real user through the same gateway is not slowed down,
    assert (await sign_in(platform, GATEWAY, "sp.sjp", PASSWORD, forwarded="192.0.2.7")).status_code == 200
    # and an address the attacker writes into the header himself is not believed: neither from
    # anywhere else, nor in front of what the gateway appends.
    await sign_in(platform, ATTACKER, "sp.sjp", "wrong", forwarded="192.0.2.7")
    told = await sign_in(platform, GATEWAY, "sp.sjp", "wrong", forwarded="192.0.2.7, 203.0.113.9")
    assert told.status_code == 429
    clients = [c for _, c, _ in await store.attempts_of("sp.sjp")]
    assert clients == ["203.0.113.9"] * 4 + ["192.0.2.7", ATTACKER, "203.0.113.9"]


@pytest.mark.parametrize(
    ("peer", "forwarded", "seen"),
    [
        ("10.0.0.2", "203.0.113.9", "203.0.113.9"),
        ("10.0.0.2", "192.0.2.7, 203.0.113.9", "203.0.113.9"),
        ("10.0.0.2", "203.0.113.9, 10.0.0.3", "203.0.113.9"),  # a second trusted hop is skipped
        ("198.51.100.66", "192.0.2.7", "198.51.100.66"),  # not a trusted proxy: header ignored
        ("10.0.0.2", "not-an-address", "10.0.0.2"),
        ("10.0.0.2", None, "10.0.0.2"),
    ],
)
def test_the_client_address_read_from_the_right(peer: str, forwarded: str | None, seen: str) -> None:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    request = Request({"type": "http", "client": (peer, 1), "headers": headers})
    trusted = PlatformSettings(trusted_proxies="10.0.0.0/30").trusted_proxies
    assert client_address(request, trusted) == seen


@pytest.fixture
def eight_users() -> Iterator[list[str]]:
    yield [f"officer{n}" for n in range(8)]


async def test_eight_sign_ins_at_once_hash_side_by_side(platform: FastAPI, eight_users: list[str]) -> None:
    """Password hashing runs outside any lock: eight sign-ins at once have more than one hash in progress
    at a time. (How long they take is a figure for a benchmark, not a test: on a shared machine a timed
    assertion fails for reasons of its own.)"""
    store: UserStore = platform.state.users
    for name in eight_users:
        await store.add(user_record(name, Role.SP, district="SJP"), PASSWORD, actor="test")
    checking, most = 0, 0
    verify = store._verify

    def counted(stored: str, password: str) -> bool:
        nonlocal checking, most
        checking += 1  # the worker threads run these; a lock around hashing would keep it at one
        most = max(most, checking)
        try:
            return verify(stored, password)
        finally:
            checking -= 1

    store._verify = counted  # type: ignore[method-assign]

    async def one(name: str) -> None:
        assert (await sign_in(platform, REAL_USER, name, PASSWORD)).status_code == 200

    await asyncio.gather(*(one(n) for n in eight_users))
    assert most >= 2, "the hashes ran one after another"
