"""Who is calling: a signed session token names a user; the user directory says who they are.

A token (JWT, EdDSA) carries only *who*: the user name (``sub``), the user's session version (``sv``),
when it was issued and until when it holds (``iat``, ``exp``), and its own id (``jti``). What the user
may do (role and jurisdiction) comes from the user directory (``shared.directory``), looked up on every
request, so a changed role, a disabled user or a sign-out takes effect within seconds. Only the process
that issues tokens holds the private key; every other process verifies with the public keys
(``shared.keys``), by the key id the token names, so the signing key can be rotated.

Every HTTP endpoint of every service declares the roles it admits with ``require(...)``; queries then
narrow themselves to the caller's jurisdiction with ``Principal.scope``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, HTTPException, Request
from pydantic import BaseModel

from shared.errors import CaseNotFound
from shared.roles import Role
from shared.tokens import AUDIENCE, ISSUER

if TYPE_CHECKING:
    from shared.eventstore import EventStore

COOKIE = "shakti_session"


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
    # Not a level of the police's tree: she answers for one agency, and for no place.
    Role.AGENCY_DESK: "agency",
}

# Roles that may read a complainant's identity (each read is recorded as an event).
IDENTITY_READERS = frozenset({Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO})
FIELD_STAFF = frozenset({Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO})
SUPERVISORS = frozenset({Role.SHO, Role.CO, Role.ADDL_SP, Role.SP})
EVERY_ROLE = frozenset(Role)
AGENCY_STAFF = frozenset({Role.AGENCY_DESK})
PLATFORM_STAFF = EVERY_ROLE - AGENCY_STAFF
"""Everyone who works inside the police's platform: what a route open to "anyone" admits. An agency's
desk is let in only where a route names her (deny by default)."""
NOWHERE: dict[str, str] = {"district": "-"}
"""A scope that matches no place (no district has the code '-'): what a user who answers for no place
is narrowed to, so that a query scoped by place gives her nothing rather than the whole state."""


class Principal(BaseModel):
    """A signed-in user: who, in which role, answering for which part of the state."""

    username: str
    role: Role
    service_number: str | None = None
    district: str | None = None
    circle: str | None = None
    thana: str | None = None
    agency: str | None = None
    """The agency's code (``AgencyDefined.code``) an agency desk answers for; None for everyone else."""

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
            case "state":
                return {}
            case _:
                return dict(NOWHERE)

    def covers(self, district: str | None, circle: str | None, thana: str | None) -> bool:
        """Is a thing at this place inside the caller's jurisdiction?"""
        where = {"district": district, "circle": circle, "thana": thana}
        return all(where[k] == v for k, v in self.scope().items())

    def reach_case(self, case_id: str, district: str | None, circle: str | None, thana: str | None) -> None:
        """Refuse a case at this place if it is outside the caller's jurisdiction, as if it did not exist
        (404, not 403: a 403 would tell that the case exists)."""
        if not self.covers(district, circle, thana):
            raise CaseNotFound(case_id)

    def reaches_agency(self, agency_code: str) -> bool:
        """Is a referral to this agency hers to answer? Only an agency desk's own agency."""
        return self.role is Role.AGENCY_DESK and self.agency is not None and self.agency == agency_code


CLAIMS = ("iss", "aud", "sub", "sv", "iat", "exp", "jti")


class SessionRefused(Exception):
    """A token that names no usable session; carries the bilingual reason shown with the 401."""

    def __init__(self, code: str, en: str, hi: str) -> None:
        super().__init__(en)
        self.code = code
        self.en = en
        self.hi = hi


BAD_TOKEN = ("bad_token", "Invalid sign-in token.", "अमान्य साइन-इन टोकन।")
EXPIRED = ("expired", "Your session has expired; sign in again.", "सत्र समाप्त; फिर से साइन इन करें।")
SESSION_ENDED = (
    "session_ended",
    "Your session has ended; sign in again.",
    "आपका सत्र समाप्त हो गया; फिर से साइन इन करें।",
)
NO_SUCH_USER = ("unknown_user", "This sign-in is not valid any more.", "यह साइन-इन अब मान्य नहीं है।")
USER_DISABLED = ("disabled", "This user is disabled.", "यह उपयोगकर्ता निष्क्रिय है।")


class SessionClaims(BaseModel):
    """What a verified token says: who, under which session version, and the token's own id."""

    username: str
    session_version: int
    issued_at: int
    expires_at: int
    token_id: str


class TokenVerifier:
    """Checks a token's signature against the configured public keys (by ``kid``) and its claims."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        self._keys = dict(keys)

    def verify(self, token: str) -> SessionClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise SessionRefused(*BAD_TOKEN) from None
        key = self._keys.get(str(header.get("kid", "")))
        # Only EdDSA, and only with a key we hold: 'none', an HMAC keyed with a public key or a key the
        # token brings along are all refused here, before any signature is looked at.
        if header.get("alg") != "EdDSA" or key is None:
            raise SessionRefused(*BAD_TOKEN)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": list(CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise SessionRefused(*EXPIRED) from None
        except jwt.PyJWTError:
            raise SessionRefused(*BAD_TOKEN) from None
        sub, sv, jti = claims["sub"], claims["sv"], claims["jti"]
        if not (isinstance(sub, str) and isinstance(sv, int) and isinstance(jti, str)) or isinstance(
            sv, bool
        ):
            raise SessionRefused(*BAD_TOKEN)
        return SessionClaims(
            username=sub,
            session_version=sv,
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            token_id=jti,
        )


class SessionDirectory(Protocol):
    """Who a verified token names, now: the user's role and jurisdiction, or a refusal (unknown or
    disabled user, or a session version that has since ended)."""

    async def principal(self, claims: SessionClaims) -> Principal: ...

    async def start(self, store: EventStore) -> None: ...

    async def stop(self) -> None: ...


class Sessions:
    """The one way every process turns a request's token into a principal."""

    def __init__(self, verifier: TokenVerifier, directory: SessionDirectory) -> None:
        self.verifier = verifier
        self.directory = directory

    async def principal(self, token: str) -> Principal:
        return await self.directory.principal(self.verifier.verify(token))


def bilingual_error(status: int, code: str, en: str, hi: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"code": code, "en": en, "hi": hi})


def request_token(request: Request) -> str | None:
    """The bearer token of an API call, else the web front's session cookie."""
    header = request.headers.get("authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None
    return token or request.cookies.get(COOKIE)


async def current_principal(request: Request) -> Principal:
    token = request_token(request)
    if not token:
        raise bilingual_error(401, "unauthenticated", "Please sign in.", "कृपया साइन इन करें।")
    sessions: Sessions = request.app.state.sessions
    try:
        return await sessions.principal(token)
    except SessionRefused as refused:
        raise bilingual_error(401, refused.code, refused.en, refused.hi) from None


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
