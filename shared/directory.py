"""The user directory: who each user is (role, jurisdiction, service number), whether they may sign in,
and which of their sessions still hold. Event-sourced on its own stream (``USERS``, the part ``users``),
so every service can read it, in whatever process or pod it runs.

The process that issues session tokens (the web front, ``shakti users ...``) writes it through
``UserAccount`` and ``ServiceNumberHolder``; every process reads it through ``UserDirectory``, which folds
a user's events (direct gets, no consumer), keeps the result for at most ``CACHE_SECONDS`` and forgets it
the moment an event of that user is published (a core NATS subscription on ``shakti.users.user.*``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Self

from shared.aggregate import Aggregate
from shared.auth import NO_SUCH_USER, SESSION_ENDED, USER_DISABLED, Principal, SessionClaims, SessionRefused
from shared.contracts.users import (
    SERVICE,
    ServiceNumberClaimed,
    SessionEnd,
    SessionsRevoked,
    UserAdded,
    UserChanged,
    UserDisabled,
    UserEnabled,
)
from shared.contracts.vocabulary import Record
from shared.errors import DomainError, NotFound
from shared.events import Envelope, Event
from shared.eventstore import TOKEN, EventStore, EventStoreError, stream_name
from shared.roles import Role

log = logging.getLogger(__name__)

CACHE_SECONDS = 2.0
CLAIM_PENDING = timedelta(minutes=5)
"""How long a service number claimed for a user whose record does not name it yet stays taken: longer
than any add or change takes to write the record, short enough that a failed one does not hold it."""


def account_id(username: str) -> str:
    """The user name as one subject token: '.' cannot be in a token, so '.' is written '__' and '_' is
    written '_u' (a prefix code: two names never meet). 'demo.officer' -> 'demo__officer'."""
    return username.replace("_", "_u").replace(".", "__")


class UserAccount(Aggregate):
    """One user (``shakti.users.user.<account id>``)."""

    aggregate_type: ClassVar[str] = "user"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.username = ""
        self.role: Role | None = None
        self.service_number: str | None = None
        self.district: str | None = None
        self.circle: str | None = None
        self.thana: str | None = None
        self.agency: str | None = None
        self.demo = False
        self.enabled = False
        self.session_version = 0

    def apply(self, event: Event) -> None:
        match event:
            case UserAdded():
                self.username = event.username
                self._place(event)
                self.demo = event.demo
                self.enabled = True
                self.session_version = 1
            case UserChanged():
                self._place(event)
                self.session_version += 1
            case UserDisabled():
                self.enabled = False
                self.session_version += 1
            case UserEnabled():
                self.enabled = True
            case SessionsRevoked():
                self.session_version += 1

    def _place(self, event: UserAdded | UserChanged) -> None:
        self.role = Role(event.role)
        self.service_number = event.service_number
        self.district, self.circle, self.thana = event.district, event.circle, event.thana
        self.agency = event.agency

    def principal(self) -> Principal:
        assert self.role is not None
        return Principal(
            username=self.username,
            role=self.role,
            service_number=self.service_number,
            district=self.district,
            circle=self.circle,
            thana=self.thana,
            agency=self.agency,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.principal().model_dump(mode="json"),
            "enabled": self.enabled,
            "demo": self.demo,
            "session_version": self.session_version,
        }

    # ---- decisions --------------------------------------------------------------------------------

    def add(self, principal: Principal, *, demo: bool = False) -> list[Event]:
        if self.exists:
            raise DomainError(
                "exists", f"User {principal.username} exists.", f"उपयोगकर्ता {principal.username} पहले से है।"
            )
        return [
            UserAdded(
                username=principal.username,
                role=principal.role.value,
                service_number=principal.service_number,
                district=principal.district,
                circle=principal.circle,
                thana=principal.thana,
                agency=principal.agency,
                demo=demo,
            )
        ]

    def change(self, principal: Principal) -> list[Event]:
        self._must_exist()
        if principal == self.principal():
            return []
        return [
            UserChanged(
                role=principal.role.value,
                service_number=principal.service_number,
                district=principal.district,
                circle=principal.circle,
                thana=principal.thana,
                agency=principal.agency,
            )
        ]

    def disable(self) -> list[Event]:
        self._must_exist()
        return [UserDisabled()] if self.enabled else []

    def enable(self) -> list[Event]:
        self._must_exist()
        return [] if self.enabled else [UserEnabled()]

    def end_sessions(self, reason: SessionEnd) -> list[Event]:
        self._must_exist()
        return [SessionsRevoked(reason=reason)]

    def _must_exist(self) -> None:
        if not self.exists:
            raise NotFound(Record.USER, self.id)


class ServiceNumberHolder(Aggregate):
    """Who holds one service number (``shakti.users.service-number.<number>``). A claim stands while the
    claiming user's record names the number, and while the command that made the claim may still be
    writing that record (the record unchanged since the claim, for at most ``CLAIM_PENDING``). So a user
    who moves to another number frees it without a release event, a claim whose user was never added
    lapses, and of two users claiming one free number at the same moment the second is refused."""

    aggregate_type: ClassVar[str] = "service-number"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.username: str | None = None
        self.claimed_at: datetime | None = None

    @classmethod
    def replay(cls, aggregate_id: str, history: Sequence[Envelope]) -> Self:
        holder = super().replay(aggregate_id, history)
        if history:
            holder.claimed_at = history[-1].recorded_at
        return holder

    def apply(self, event: Event) -> None:
        if isinstance(event, ServiceNumberClaimed):
            self.username = event.username

    def claim(self, username: str, holder: UserAccount | None, now: datetime) -> list[Event]:
        """``holder``: the current record of the user who claimed it last (None: no claim yet)."""
        if self.username == username:
            return []
        if self.username is not None and holder is not None and self._stands(holder, now):
            raise DomainError(
                "service_number_taken",
                f"Service number {self.id} belongs to user {self.username}; two users cannot share one.",
                f"सेवा संख्या {self.id} उपयोगकर्ता {self.username} की है; दो उपयोगकर्ता एक संख्या नहीं रख सकते।",
            )
        return [ServiceNumberClaimed(service_number=self.id, username=username)]

    def _stands(self, holder: UserAccount, now: datetime) -> bool:
        if holder.exists and holder.service_number == self.id:
            return True
        being_written = holder.sequence < self.sequence and self.claimed_at is not None
        return being_written and now - (self.claimed_at or now) < CLAIM_PENDING


class UserDirectory:
    """Reads the directory for every request's principal (``shared.auth.SessionDirectory``)."""

    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self.cache_seconds = cache_seconds
        self._store: EventStore | None = None
        self._cache: dict[str, tuple[float, UserAccount]] = {}
        self._changes: dict[str, int] = {}
        self._subscription: Any = None

    async def start(self, store: EventStore) -> None:
        """Read through ``store``'s connection (any part's: every part may read every stream)."""
        self._store = store
        self._subscription = await store.nc.subscribe(f"shakti.{SERVICE}.user.*", cb=self._on_change)

    async def stop(self) -> None:
        if self._subscription is not None:
            with contextlib.suppress(Exception):
                await self._subscription.unsubscribe()
            self._subscription = None
        self._cache.clear()

    async def _on_change(self, msg: Any) -> None:
        self.forget(str(msg.subject).rsplit(".", 1)[-1])

    def forget(self, account: str) -> None:
        self._changes[account] = self._changes.get(account, 0) + 1
        self._cache.pop(account, None)

    async def account(self, username: str) -> UserAccount:
        """The user's record now (``exists`` is false for a user never added)."""
        account = account_id(username)
        if not TOKEN.match(account):
            return UserAccount(account)  # no user name the directory could hold
        now = time.monotonic()
        cached = self._cache.get(account)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        if self._store is None:
            raise RuntimeError("the user directory is not started")
        changes = self._changes.get(account, 0)
        try:
            history = await self._store.load(UserAccount.aggregate_type, account, service=SERVICE)
        except EventStoreError:
            if await self._store.stream_exists(stream_name(SERVICE)):
                raise
            history = []  # no user was ever added
        found = UserAccount.replay(account, history)
        # An event published while this load ran may not be in it: keep the answer only if none came.
        if self._changes.get(account, 0) == changes:
            self._cache[account] = (now, found)
        return found

    async def principal(self, claims: SessionClaims) -> Principal:
        account = await self.account(claims.username)
        if not account.exists:
            raise SessionRefused(*NO_SUCH_USER)
        if not account.enabled:
            raise SessionRefused(*USER_DISABLED)
        if claims.session_version != account.session_version:
            raise SessionRefused(*SESSION_ENDED)
        return account.principal()
