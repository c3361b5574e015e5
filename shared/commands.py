"""Commands: what a person or a process asks a service to do, and the one rule for their ids.

A command is a typed, frozen request (``Command``). Who issues it is a ``Caller``: a signed-in person
with the request's idempotency key, or a process manager reacting to an event. ``Caller.meta`` turns
the two into the ``CommandMeta`` the event store appends with, the same way in every service:

- a person's command id is bound to the actor, the command's name, its target (the aggregate it
  changes) and the client's idempotency key; without a key every request is a new command;
- the request's fingerprint (a hash of its body) is stored with the events. A retry with the same key
  and the same body finds the first answer; the same key with a different body is refused
  (``IdempotencyConflict``, HTTP 409) and stores nothing;
- a reaction's command id derives from the event it reacts to, so a redelivered event, or two
  replicas handling it, cannot produce a second output.

A body that carries a complainant's words is fingerprinted with a keyed hash (under the case's key),
so the stored fingerprint cannot be used to guess what was typed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, ClassVar

from fastapi import Header
from pydantic import BaseModel, ConfigDict

from shared.auth import Principal
from shared.events import Envelope, derived_id
from shared.eventstore import CommandMeta

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="Repeating a request with the same key returns the first answer; the same key with "
        "a different request is refused (409).",
    ),
]
"""The request header every command route reads its idempotency key from."""


class Command(BaseModel):
    """A request to change one aggregate; each service handles each of its commands in one place."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    """What the command is called in command ids and metrics (``first-contact``, ``transfer``)."""


def fingerprint(body: Any, *, secret: bytes | None = None) -> str:
    """A stable hash of a request's body (a model or plain JSON-able data); keyed when ``secret``."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    data = canonical.encode()
    if secret is not None:
        return hmac.new(secret, data, hashlib.sha256).hexdigest()[:40]
    return hashlib.sha256(data).hexdigest()[:40]


@dataclass(frozen=True)
class Caller:
    """Who issues a command: a person (with the request's idempotency key) or a reacting process."""

    actor: str
    principal: Principal | None = None
    key: str | None = None
    cause: Envelope | None = None

    @classmethod
    def person(cls, principal: Principal, key: str | None = None) -> Caller:
        return cls(actor=actor_of(principal), principal=principal, key=key)

    @classmethod
    def reacting_to(cls, cause: Envelope, actor: str) -> Caller:
        return cls(actor=actor, cause=cause)

    @property
    def who(self) -> Principal:
        """The person asking; a process manager has none (a programming error to ask)."""
        if self.principal is None:
            raise TypeError(f"{self.actor} is a process, not a signed-in person")
        return self.principal

    def meta(
        self,
        command: str,
        target: str,
        *,
        request: str | None = None,
        at: datetime | None = None,
        step: str = "",
    ) -> CommandMeta:
        """The command's metadata: its id by the one rule, the actor, the request's fingerprint."""
        if self.cause is not None:
            reaction = CommandMeta.reacting_to(self.cause, self.actor, step or command)
            return reaction.model_copy(update={"occurred_at": at, "request_hash": request})
        if self.key is not None:
            tail = derived_id("command", self.actor, command, target, self.key).hex
        else:
            # Without a key nothing can tell a retry from a repeat: every request is a new command.
            tail = uuid.uuid4().hex
        suffix = f":{step}" if step else ""
        return CommandMeta(
            command_id=f"{command}:{tail}{suffix}", actor=self.actor, occurred_at=at, request_hash=request
        )


def actor_of(principal: Principal) -> str:
    """How a person is named in the events: the service number where there is one."""
    return principal.service_number or principal.username
