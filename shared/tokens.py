"""Signing session tokens: what the process signing users in and the ``shakti`` command need, kept apart
from the web framework so that the command's API calls do not wait for it. What a token carries, and how
it is checked, is told in ``shared.auth``."""

from __future__ import annotations

import time
import uuid

import jwt

from shared.keys import SigningKey

TOKEN_MAX_AGE = 12 * 3600
ISSUER = "mission-shakti"
AUDIENCE = "mission-shakti"


class TokenIssuer:
    """Signs session tokens (only in the process that signs users in)."""

    def __init__(self, key: SigningKey, *, lifetime: int = TOKEN_MAX_AGE) -> None:
        self._key = key
        self.lifetime = lifetime

    def issue(self, username: str, session_version: int, *, lifetime: int | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": username,
            "sv": session_version,
            "iat": now,
            "exp": now + (self.lifetime if lifetime is None else lifetime),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key.private, algorithm="EdDSA", headers={"kid": self._key.kid})
