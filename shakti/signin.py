"""Signing in: a user name and password exchanged for a signed token (JSON for API callers; the web
front sets the same token as the session cookie)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from pydantic import BaseModel, Field

from shakti.users import SignInRefused, TooManyAttempts, User, UserStore
from shared.auth import Role, Tokens, bilingual_error

log = logging.getLogger(__name__)


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


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def check_credentials(request: Request, users: UserStore, username: str, password: str) -> User:
    """The user, or a bilingual 401/429 (the attempt is recorded either way)."""
    try:
        return await users.sign_in(username, password, client_address(request))
    except TooManyAttempts as refused:
        log.warning("sign-in locked for a user name after repeated failures")
        error = bilingual_error(429, refused.code, refused.en, refused.hi)
        error.headers = {"Retry-After": str(refused.retry_after)}
        raise error from None
    except SignInRefused as refused:
        log.info("sign-in failed")
        raise bilingual_error(401, refused.code, refused.en, refused.hi) from None


def mount_signin(app: FastAPI, users: UserStore) -> None:
    tokens: Tokens = app.state.tokens

    @app.post(
        "/api/auth/token",
        tags=["sign-in"],
        responses={401: {"description": "wrong user name or password"}, 429: {"description": "locked"}},
    )
    async def token(request: Request, credentials: Credentials) -> Token:
        """Exchange a user name and password for a signed token (send it as ``Authorization: Bearer``)."""
        user = await check_credentials(request, users, credentials.username, credentials.password)
        return Token(
            token=tokens.issue(user.principal()),
            username=user.username,
            role=user.role,
            district=user.district,
            circle=user.circle,
            thana=user.thana,
        )
