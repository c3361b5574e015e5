"""Who is calling: signed tokens carrying a role and a jurisdiction; deny by default.

Every HTTP endpoint of every service declares the roles it admits with ``require(...)``; queries
then narrow themselves to the caller's jurisdiction with ``Principal.scope``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from pydantic import BaseModel

TOKEN_MAX_AGE = 12 * 3600
COOKIE = "shakti_session"


class Role(StrEnum):
    KENDRA_OFFICER = "kendra_officer"
    KENDRA_INCHARGE = "kendra_incharge"
    SHO = "sho"
    CO = "co"
    ADDL_SP = "addl_sp"
    SP = "sp"
    STATE_CELL = "state_cell"
    OPERATOR = "operator"


# The level of the jurisdiction tree each role answers for.
ROLE_LEVEL: dict[Role, str] = {
    Role.KENDRA_OFFICER: "thana",
    Role.KENDRA_INCHARGE: "thana",
    Role.SHO: "thana",
    Role.CO: "circle",
    Role.ADDL_SP: "district",
    Role.SP: "district",
    Role.STATE_CELL: "state",
    Role.OPERATOR: "state",
}

# Roles that may read a complainant's identity (each read is recorded as an event).
IDENTITY_READERS = frozenset({Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO})
FIELD_STAFF = frozenset({Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO})
SUPERVISORS = frozenset({Role.SHO, Role.CO, Role.ADDL_SP, Role.SP})
EVERY_ROLE = frozenset(Role)


class Principal(BaseModel):
    """A signed-in user: who, in which role, answering for which part of the state."""

    username: str
    role: Role
    service_number: str | None = None
    district: str | None = None
    circle: str | None = None
    thana: str | None = None

    @property
    def level(self) -> str:
        return ROLE_LEVEL[self.role]

    @property
    def may_read_identity(self) -> bool:
        return self.role in IDENTITY_READERS

    def scope(self) -> dict[str, str]:
        """Column filters that keep a query inside the caller's jurisdiction (empty: the whole state)."""
        match self.level:
            case "thana":
                return {"thana": self.thana or "-"}
            case "circle":
                return {"circle": self.circle or "-"}
            case "district":
                return {"district": self.district or "-"}
            case _:
                return {}

    def covers(self, district: str | None, circle: str | None, thana: str | None) -> bool:
        """Is a thing at this place inside the caller's jurisdiction?"""
        where = {"district": district, "circle": circle, "thana": thana}
        return all(where[k] == v for k, v in self.scope().items())


class Tokens:
    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="shakti-token")

    def issue(self, principal: Principal) -> str:
        return self._serializer.dumps(principal.model_dump(mode="json"))

    def read(self, token: str, max_age: int = TOKEN_MAX_AGE) -> Principal:
        return Principal.model_validate(self._serializer.loads(token, max_age=max_age))


def bilingual_error(status: int, code: str, en: str, hi: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "en": en, "hi": hi})


def current_principal(request: Request) -> Principal:
    tokens: Tokens = request.app.state.tokens
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
    token = token or request.cookies.get(COOKIE)
    if not token:
        raise bilingual_error(401, "unauthenticated", "Please sign in.", "कृपया साइन इन करें।")
    try:
        return tokens.read(token)
    except SignatureExpired:
        raise bilingual_error(
            401, "expired", "Your session has expired; sign in again.", "सत्र समाप्त; फिर से साइन इन करें।"
        ) from None
    except (BadSignature, ValueError):
        raise bilingual_error(401, "bad_token", "Invalid sign-in token.", "अमान्य साइन-इन टोकन।") from None


def require(*roles: Role | frozenset[Role]) -> Callable[[Principal], Principal]:
    """A FastAPI dependency admitting only the given roles."""
    allowed: set[Role] = set()
    for r in roles:
        allowed |= {r} if isinstance(r, Role) else set(r)

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise bilingual_error(
                403, "forbidden", "Your role may not do this.", "आपकी भूमिका को यह अनुमति नहीं है।"
            )
        return principal

    return check
