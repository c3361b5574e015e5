"""Issue 12, findings 5 and 8 (service numbers), issue 14 (`users add`): the user directory.

Sign-out, a new password, a changed role or jurisdiction and disabling a user each end that user's
sessions within seconds, in this process and in another one (a service running apart, as in a
deployment); a service number belongs to one user; `shakti users add` checks the place against the
imported jurisdiction and the service number against routing's roster. All over real HTTP.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from typer.testing import CliRunner

from shakti.cli import app as cli_app
from shared.aggregate import Repository
from shared.auth import Principal, SessionClaims, SessionRefused
from shared.contracts.users import ServiceNumberClaimed, UserAdded
from shared.directory import CLAIM_PENDING, ServiceNumberHolder, UserAccount, UserDirectory, account_id
from shared.errors import DomainError
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.http_guard import csrf_token
from shared.natsserver import free_port
from shared.roles import Role
from tests.security.served import KATRA, PASSWORD, Served, bearer, served_platform
from tests.sessions import keys_for_tests
from tests.waiting import eventually

NAGAR = {"district": "SJP", "circle": "SJP-NAGAR", "thana": "SJP-KOTWALI"}


@pytest.fixture
async def site(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async with served_platform(nats_url, tmp_path) as served:
        yield served


async def status(site: Served, token: str) -> int:
    return (await site.client.get("/api/auth/me", headers=bearer(token))).status_code


async def ended_within(site: Served, tokens: list[str], seconds: float) -> float:
    """Wait until every token gets a 401; how long it took (fails after ``seconds``)."""
    started = time.monotonic()

    async def all_refused() -> bool:
        return all([await status(site, t) == 401 for t in tokens])

    await eventually(all_refused, timeout=seconds, what="the old tokens are refused")
    return time.monotonic() - started


async def test_signing_out_ends_every_session_of_the_user(site: Served) -> None:
    added = await site.add_user("tilhar.co", "co", district="SJP", circle="SJP-TILHAR")
    assert added.status_code == 201, added.text
    first, second = await site.sign_in("tilhar.co"), await site.sign_in("tilhar.co")
    assert await status(site, first) == await status(site, second) == 200
    signed_out = await site.client.post("/api/auth/signout", headers=bearer(first))
    assert signed_out.status_code == 204
    assert await ended_within(site, [first, second], 2.0) < 2.0
    refused = await site.client.get("/api/training/compliance", headers=bearer(second))
    assert refused.status_code == 401 and refused.json()["detail"]["code"] == "session_ended"
    assert refused.json()["detail"]["hi"]
    assert await status(site, await site.sign_in("tilhar.co")) == 200  # signing in again works


async def test_the_web_fronts_sign_out_ends_the_session_cookie_everywhere(site: Served) -> None:
    await site.add_user("sjp.sp", "sp", district="SJP")
    async with httpx.AsyncClient(base_url=site.url, follow_redirects=False) as browser:
        form = re.search(r'name="csrf_token" value="([^"]+)"', (await browser.get("/signin")).text)
        assert form, "the sign-in form carries no csrf_token"
        signed_in = await browser.post(
            "/signin", data={"username": "sjp.sp", "password": PASSWORD, "csrf_token": form[1]}
        )
        assert signed_in.status_code == 303
        cookie = signed_in.cookies["shakti_session"]
        assert (await browser.get("/dashboard")).status_code == 200
        signed_out = await browser.post("/signout", data={"csrf_token": csrf_token(cookie)})
        assert signed_out.headers["location"] == "/signin"
    # The cookie's token itself no longer opens anything, in pages or the API.
    page = await site.client.get("/dashboard", cookies={"shakti_session": cookie})
    assert page.status_code == 303 and page.headers["location"].startswith("/signin")
    assert await status(site, cookie) == 401


async def test_a_new_password_ends_every_session(site: Served) -> None:
    await site.add_user("sjp.addlsp", "addl_sp", district="SJP")
    token = await site.sign_in("sjp.addlsp")
    changed = await site.client.post(
        "/api/users/sjp.addlsp/password", json={"password": "another long one"}, headers=site.operator
    )
    assert changed.status_code == 200, changed.text
    await ended_within(site, [token], 2.0)
    old = await site.client.post("/api/auth/token", json={"username": "sjp.addlsp", "password": PASSWORD})
    assert old.status_code == 401
    assert await status(site, await site.sign_in("sjp.addlsp", "another long one")) == 200


async def test_a_changed_role_or_jurisdiction_ends_every_session(site: Served) -> None:
    await site.add_user("moved.co", "co", district="SJP", circle="SJP-TILHAR")
    token = await site.sign_in("moved.co")
    moved = await site.client.post(
        "/api/users/moved.co/role", json={"role": "co", "district": "SJP", "circle": "SJP-NAGAR"},
        headers=site.operator,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    await ended_within(site, [token], 2.0)
    again = await site.sign_in("moved.co")
    me = (await site.client.get("/api/auth/me", headers=bearer(again))).json()
    assert me["circle"] == "SJP-NAGAR"
    promoted = await site.client.post(
        "/api/users/moved.co/role", json={"role": "sp", "district": "SJP"}, headers=site.operator
    )
    assert promoted.status_code == 200
    await ended_within(site, [again], 2.0)


async def test_disabling_a_user_ends_their_sessions_and_their_sign_in(site: Served) -> None:
    await site.add_user("gone.sho", "sho", **KATRA)
    token = await site.sign_in("gone.sho")
    disabled = await site.client.post("/api/users/gone.sho/disable", headers=site.operator)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    await ended_within(site, [token], 2.0)
    refused = await site.client.post("/api/auth/token", json={"username": "gone.sho", "password": PASSWORD})
    assert refused.status_code == 401
    enabled = await site.client.post("/api/users/gone.sho/enable", headers=site.operator)
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True
    assert await status(site, token) == 401  # sessions from before stay ended
    assert await status(site, await site.sign_in("gone.sho")) == 200


async def test_a_service_in_another_process_refuses_an_ended_session_within_seconds(
    site: Served, nats_url: str, tmp_path: Path
) -> None:
    """Services run apart from the web front and share no database with it: the directory reaches them
    through the USERS stream, and its events make them forget a user at once."""
    await site.add_user("nagar.co", "co", district="SJP", circle="SJP-NAGAR")
    token = await site.sign_in("nagar.co")
    verifier_keys = tmp_path / "intake-keys"
    verifier_keys.mkdir(mode=0o700)
    for name in ("signing.pub", "kek.key", "phone-index.key"):  # intake's, and no key that signs tokens
        (verifier_keys / name).write_bytes((keys_for_tests() / name).read_bytes())
        (verifier_keys / name).chmod(0o600)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SHAKTI_")},
        "SHAKTI_NATS_URL": nats_url, "SHAKTI_HTTP_PORT": str(port), "SHAKTI_KEYS_DIR": str(verifier_keys),
        "SHAKTI_DATA_DIR": str(tmp_path / "intake"),
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "shakti"), "serve", "intake", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as intake:

            async def answers() -> bool:
                try:
                    seen = await intake.get("/api/intake/counts", headers=bearer(token))
                except httpx.HTTPError:
                    return False
                return seen.status_code == 200

            await eventually(answers, timeout=60, what="the intake process answers the token")
            assert (await site.client.post("/api/auth/signout", headers=bearer(token))).status_code == 204
            started = time.monotonic()

            async def refused() -> bool:
                return (await intake.get("/api/intake/counts", headers=bearer(token))).status_code == 401

            await eventually(refused, timeout=5, what="the intake process refuses the ended session")
            assert time.monotonic() - started < 3.0
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)


async def test_two_users_never_share_a_service_number(site: Served) -> None:
    number = site.registrar["SJP-KATRA"]
    first = await site.add_user("katra.one", "kendra_officer", service_number=number, **KATRA)
    assert first.status_code == 201, first.text
    second = await site.add_user("katra.two", "kendra_officer", service_number=number, **KATRA)
    assert second.status_code == 409
    detail = second.json()["detail"]
    assert detail["code"] == "service_number_taken" and "katra.one" in detail["en"] and detail["hi"]
    assert (await site.client.get("/api/users/katra.two", headers=site.operator)).status_code == 404
    # Nor by changing an existing user's record.
    await site.add_user("katra.sho", "sho", **KATRA)
    taken = await site.client.post(
        "/api/users/katra.sho/role", json={"role": "sho", "service_number": number, **KATRA},
        headers=site.operator,
    )  # fmt: skip
    assert taken.status_code == 409
    # Two at the same moment with one free number: exactly one gets it.
    free = site.incharges["SJP-KATRA"]
    both = await asyncio.gather(
        site.add_user("katra.three", "kendra_incharge", service_number=free, **KATRA),
        site.add_user("katra.four", "kendra_incharge", service_number=free, **KATRA),
    )
    assert sorted(r.status_code for r in both) == [201, 409]
    # A number given up is free again.
    other = site.registrar["SJP-TILHAR"]
    tilhar = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-TILHAR"}
    moved = await site.client.post(
        "/api/users/katra.one/role", json={"role": "kendra_officer", "service_number": other, **tilhar},
        headers=site.operator,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert (
        await site.add_user("katra.two", "kendra_officer", service_number=number, **KATRA)
    ).status_code == 201


async def cli(site: Served, *args: str, stdin: str | None = None) -> tuple[int, str]:
    env = {
        "SHAKTI_HTTP_HOST": "127.0.0.1", "SHAKTI_HTTP_PORT": str(site.settings.http_port),
        "SHAKTI_KEYS_DIR": str(keys_for_tests()), "COLUMNS": "200",
    }  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, cli_app, list(args), input=stdin, env=env)
    return result.exit_code, " ".join(result.output.split())


async def test_users_add_checks_the_place_and_the_service_number_and_refuses_a_duplicate(
    site: Served,
) -> None:
    katra = site.registrar["SJP-KATRA"]
    kotwali = site.registrar["SJP-KOTWALI"]

    async def add(name: str, *options: str) -> tuple[int, str]:
        return await cli(site, "users", "add", name, *options, "--password-stdin", stdin=f"{PASSWORD}\n")

    place = ["--district", "SJP", "--circle", "SJP-TILHAR"]
    code, out = await add("x.one", "--role", "kendra_officer", *place, "--thana", "SJP-NOWHERE",
                          "--service-number", katra)  # fmt: skip
    assert code == 1 and "SJP-NOWHERE" in out and "SJP-KATRA" in out and "SJP-TILHAR" in out, out
    assert "आयातित क्षेत्राधिकार" in out
    code, out = await add("x.one", "--role", "sp", "--district", "XYZ")
    assert code == 1 and "No district XYZ" in out and "SJP" in out, out
    code, out = await add("x.one", "--role", "co", "--district", "SJP", "--circle", "SJP-ELSEWHERE")
    assert code == 1 and "SJP-NAGAR" in out and "SJP-POWAYAN" in out, out
    code, out = await add("x.one", "--role", "kendra_officer", *place, "--thana", "SJP-KATRA",
                          "--service-number", "XYZ9")  # fmt: skip
    assert code == 1 and "XYZ9" in out and "roster" in out and katra in out and "रोस्टर" in out, out
    code, out = await add("x.one", "--role", "kendra_officer", *place, "--thana", "SJP-KATRA",
                          "--service-number", kotwali)  # fmt: skip
    assert code == 1 and "posted at" in out and "SJP-KOTWALI" in out, out
    code, out = await cli(site, "users", "list")
    assert "x.one" not in out  # nothing stored by a refusal

    code, out = await add("katra.constable1", "--role", "kendra_officer", *place, "--thana", "SJP-KATRA",
                          "--service-number", katra)  # fmt: skip
    assert code == 0 and "katra.constable1 (kendra_officer) added" in out, out
    code, out = await add("katra.constable2", "--role", "kendra_officer", *place, "--thana", "SJP-KATRA",
                          "--service-number", katra)  # fmt: skip
    assert code == 1 and "katra.constable1" in out and "दो उपयोगकर्ता" in out, out
    code, out = await add("katra.constable1", "--role", "sho", *place, "--thana", "SJP-KATRA")
    assert code == 1 and "exists" in out, out
    token = await site.sign_in("katra.constable1")

    code, out = await cli(site, "users", "list")
    assert code == 0 and "katra.constable1" in out and katra in out and "SJP-KATRA" in out
    code, out = await cli(site, "users", "set-role", "katra.constable1", "--role", "sho", *place,
                          "--thana", "SJP-KATRA")  # fmt: skip
    assert code == 0 and "changed" in out, out
    await ended_within(site, [token], 2.0)
    code, out = await cli(site, "users", "disable", "katra.constable1")
    assert code == 0 and "disabled" in out
    code, out = await cli(site, "users", "list")
    assert "katra.constable1" in out and " no " in out
    code, out = await cli(site, "users", "enable", "katra.constable1")
    assert code == 0 and "enabled" in out
    code, out = await cli(site, "users", "set-password", "katra.constable1", "--password-stdin",
                          stdin="a brand new one\n")  # fmt: skip
    assert code == 0 and "new password" in out
    assert await status(site, await site.sign_in("katra.constable1", "a brand new one")) == 200
    code, out = await cli(site, "users", "disable", "shakti-cli")
    assert code == 1 and "operator console" in out


async def test_the_directory_forgets_a_user_the_moment_an_event_of_theirs_is_published(
    nats_client: NatsClient,
) -> None:
    """The cache would keep an answer for its whole life (here a minute); the USERS subscription ends
    that at once, so revocation does not wait for the cache."""
    users = EventStore(nats_client, "users")
    await users.ensure_stream()
    accounts = Repository(users, UserAccount)
    sp = Principal(username="cached.sp", role=Role.SP, district="SJP")
    await accounts.execute(
        account_id(sp.username), lambda a: a.add(sp), CommandMeta(command_id="c1", actor="t")
    )
    directory = UserDirectory(cache_seconds=60)
    await directory.start(EventStore(nats_client, "intake"))  # any part's connection reads it
    try:
        claims = SessionClaims(
            username="cached.sp", session_version=1, issued_at=0, expires_at=0, token_id="x"
        )
        assert (await directory.principal(claims)).district == "SJP"
        loads = 0
        load = users.load

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal loads
            loads += 1
            return await load(*args, **kwargs)

        directory._store.load = counted  # type: ignore[union-attr,method-assign]
        await directory.principal(claims)
        assert loads == 0  # answered from the cache
        await accounts.execute(
            account_id(sp.username),
            lambda a: a.end_sessions("signed_out"),
            CommandMeta(command_id="c2", actor="t"),
        )
        started = time.monotonic()

        async def refused() -> bool:
            try:
                await directory.principal(claims)
            except SessionRefused:
                return True
            return False

        await eventually(refused, timeout=5, what="the ended session is refused")
        assert time.monotonic() - started < 1.0 and loads >= 1
    finally:
        await directory.stop()


def test_user_names_become_subject_tokens_that_never_meet() -> None:
    names = [
        "demo.officer",
        "demo_officer",
        "demo__officer",
        "demo._officer",
        "demo_.officer",
        "a.b_c",
        "a_b.c",
    ]
    ids = [account_id(n) for n in names]
    assert len(set(ids)) == len(names)
    assert account_id("demo.officer") == "demo__officer"
    assert all("." not in i for i in ids)


def test_a_claim_stands_while_its_user_is_being_written_and_lapses_after() -> None:
    """Pure: of two users claiming one free number at once, the first's record is not yet written when
    the second decides; the claim still stands (CI saw both get 201 when it did not). A claim whose user
    was never written lapses after CLAIM_PENDING; one whose user moved on is free at once."""
    at = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    claim = ServiceNumberHolder.replay(
        "SJP1001",
        [envelope_of(ServiceNumberClaimed(service_number="SJP1001", username="katra.three"), at, 7)],
    )
    not_yet = UserAccount(account_id("katra.three"))  # its UserAdded is still on the way
    with pytest.raises(DomainError) as taken:
        claim.claim("katra.four", not_yet, at + timedelta(seconds=1))
    assert taken.value.code == "service_number_taken" and "katra.three" in taken.value.en and taken.value.hi
    assert claim.claim("katra.three", not_yet, at) == []  # the same user again: nothing new
    assert claim.claim("katra.four", not_yet, at + CLAIM_PENDING + timedelta(seconds=1))  # never added
    moved = UserAccount.replay(
        account_id("katra.three"),
        [envelope_of(UserAdded(username="katra.three", role="kendra_officer", service_number="SJP2002",
                               district="SJP", circle="SJP-KATRA", thana="SJP-KATRA"), at, 8)],
    )  # fmt: skip
    assert claim.claim("katra.four", moved, at + timedelta(seconds=1))  # holds another number now


def envelope_of(event: Any, at: datetime, sequence: int) -> Envelope:
    return Envelope.model_validate(
        {"event_id": uuid.uuid4(), "event_type": type(event).__name__, "schema_version": 1,
         "aggregate_type": "x", "aggregate_id": "x", "aggregate_version": 1, "occurred_at": at,
         "recorded_at": at, "correlation_id": uuid.uuid4(), "actor": "test", "command_id": "c",
         "payload": event.model_dump(mode="json"), "sequence": sequence}
    )  # fmt: skip
