"""Signing in and out: a user name and password exchanged for a signed token (JSON for API callers; the
web front sets the same token as the session cookie), and signing out, which ends every session of the
user (their session version moves on, so every token issued before stops working everywhere)."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from pydantic import BaseModel, Field

from shakti.users import SignInRefused, TooManyAttempts, UserStore
from shared.auth import EVERY_ROLE, Principal, bilingual_error, require
from shared.directory import UserAccount
from shared.roles import Role
from shared.tokens import TokenIssuer

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SignedIn = Annotated[Principal, Depends(require(EVERY_ROLE))]


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Token(BaseModel):
    token: str
    username: str
    role: Role
    district: str | None
    circle: str | None
    thana: str | None


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def client_address(request: Request, trusted_proxies: Sequence[Network] = ()) -> str:
    """The caller's address. ``X-Forwarded-For`` is believed only when the peer is a trusted proxy, and
    then read from the right: the first hop that is not itself a trusted proxy is the client (what a
    client writes into the header itself stays on the left, unread)."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")

    def trusted(address: str) -> bool:
        parsed = _address(address)
        return parsed is not None and any(parsed in network for network in trusted_proxies)

    if not forwarded or not trusted(peer):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _address(hop) is None:
            return peer  # a garbled header from a proxy we trust: rather the proxy than a made-up name
        if not trusted(hop):
            return hop
    return hops[0] if hops else peer


async def check_credentials(request: Request, users: UserStore, username: str, password: str) -> UserAccount:
    """The user, or a bilingual 401/429 (the attempt is recorded either way)."""
    proxies: Sequence[Network] = getattr(request.app.state, "trusted_proxies", ())
    try:
        return await users.sign_in(username, password, client_address(request, proxies))
    except TooManyAttempts as refused:
        log.warning("sign-in throttled for a user name and address after repeated failures")
        error = bilingual_error(429, refused.code, refused.en, refused.hi)
        error.headers = {"Retry-After": str(refused.retry_after)}
        raise error from None
    except SignInRefused as refused:
        log.info("sign-in failed")
        raise bilingual_error(401, refused.code, refused.en, refused.hi) from None


def issue(request: Request, account: UserAccount) -> str:
    issuer: TokenIssuer = request.app.state.issuer
    return issuer.issue(account.username, account.session_version)


async def sign_out(users: UserStore, principal: Principal) -> None:
    await users.end_sessions(principal.username, "signed_out", actor=principal.username)


def mount_signin(app: FastAPI, users: UserStore) -> None:
    @app.post(
        "/api/auth/token",
        tags=["sign-in"],
        responses={401: {"description": "wrong user name or password"}, 429: {"description": "wait"}},
    )
    async def token(request: Request, credentials: Credentials) -> Token:
        """Exchange a user name and password for a signed token (send it as ``Authorization: Bearer``).

        The token names the user only: role and jurisdiction are looked up on every request."""
        account = await check_credentials(request, users, credentials.username, credentials.password)
        principal = account.principal()
        return Token(
            token=issue(request, account),
            username=principal.username,
            role=principal.role,
            district=principal.district,
            circle=principal.circle,
            thana=principal.thana,
        )

    @app.get("/api/auth/me", tags=["sign-in"])
    async def me(principal: SignedIn) -> Principal:
        """Who the platform takes the caller for now: role and jurisdiction from the user directory."""
        return principal

    @app.post("/api/auth/signout", tags=["sign-in"], status_code=204)
    async def signout(principal: SignedIn) -> Response:
        """End every session of the calling user: this token and every other one issued to them."""
        await sign_out(users, principal)
        return Response(status_code=204)
