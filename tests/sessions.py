"""Signed-in callers for tests: real EdDSA tokens under a test key set, and two ways to say who a token
names.

- A service's own tests (one service, no web front) resolve tokens through ``FixedDirectory``: each
  principal a test signs for is held as it is, so the service's rules are tested with any principal.
  ``build_app(..., directory=sessions.directory)``.
- Tests of the whole platform resolve tokens through the real user directory (stream ``USERS``): ``enrol``
  writes the principal there as it is (no checks, so a test may build the odd cases it needs) and signs a
  token for it.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from shakti.users import UserStore
from shared.aggregate import Repository
from shared.auth import NO_SUCH_USER, Principal, SessionClaims, SessionRefused
from shared.directory import UserAccount, account_id
from shared.eventstore import CommandMeta, EventStore
from shared.keys import init_keys, load_signing_key
from shared.tokens import TokenIssuer


class _KeyFolder:
    def __init__(self, folder: Path) -> None:
        self.keys_dir = folder
        self.signing_key_file: Path | None = None
        self.signing_public_key_file: Path | None = None
        self.certificate_key_file: Path | None = None
        self.kek_file: Path | None = None
        self.phone_index_key_file: Path | None = None


@functools.cache
def keys_for_tests() -> Path:
    """One folder of test keys for the whole run (written by ``shakti keys init``'s own code)."""
    folder = Path(tempfile.mkdtemp(prefix="shakti-test-keys-")) / "keys"
    init_keys(_KeyFolder(folder))
    return folder


@functools.cache
def issuer_for_tests() -> TokenIssuer:
    return TokenIssuer(load_signing_key(_KeyFolder(keys_for_tests())))


class FixedDirectory:
    """A ``SessionDirectory`` holding each principal a test signed for, by user name and version: the
    same user name signed for with another place gets a version of its own, as a changed user would."""

    def __init__(self) -> None:
        self._principals: dict[tuple[str, int], Principal] = {}
        self._versions: dict[str, list[Principal]] = {}

    def version_of(self, principal: Principal) -> int:
        known = self._versions.setdefault(principal.username, [])
        if principal not in known:
            known.append(principal)
            self._principals[(principal.username, len(known))] = principal
        return known.index(principal) + 1

    async def principal(self, claims: SessionClaims) -> Principal:
        found = self._principals.get((claims.username, claims.session_version))
        if found is None:
            raise SessionRefused(*NO_SUCH_USER)
        return found

    async def start(self, store: EventStore) -> None:
        return None

    async def stop(self) -> None:
        return None


class SignedCallers:
    """Tokens for any principal, resolved by a ``FixedDirectory``."""

    def __init__(self) -> None:
        self.directory = FixedDirectory()
        self.issuer = issuer_for_tests()

    def issue(self, principal: Principal) -> str:
        return self.issuer.issue(principal.username, self.directory.version_of(principal))

    def headers(self, principal: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issue(principal)}"}


async def enrol(app: FastAPI, principal: Principal, *, demo: bool = False) -> str:
    """Write ``principal`` into the running platform's user directory as it is, and sign a token."""
    users: UserStore = app.state.users
    accounts = Repository(users.store, UserAccount)
    aid = account_id(principal.username)
    current = await accounts.get(aid)
    meta = CommandMeta(command_id=f"enrol-{aid}-{current.version}", actor="test")
    if not current.exists:
        await accounts.execute(aid, lambda a: a.add(principal, demo=demo), meta)
    elif current.principal() != principal:
        await accounts.execute(aid, lambda a: a.change(principal), meta)
    account = await accounts.get(aid)
    issuer: TokenIssuer = app.state.issuer
    return issuer.issue(principal.username, account.session_version)


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}
