"""Aggregates and the command loop: load, decide (pure), append, retry on conflict.

An aggregate folds its events into state with ``apply``. Its command methods only *decide*: they check
the rules against the current state and ``record`` the new events (each applied at once, so a command
that decides several events sees the state each one leaves), never touching I/O. A command that returns
its events instead, leaving the aggregate as it was, records them on a working copy (``decision()``).
``Repository.execute`` runs them: load, decide, append under optimistic concurrency, and on a conflict
reload and decide again. ``on_conflict`` is the only retry loop of the platform: ``execute`` runs in it,
and so do the writers that append without a repository (a case's routing step by step, the case-number
series).
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar, Generic, Protocol, Self, TypeVar

from shared.errors import IdempotencyConflict
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, ConcurrencyError, earlier_answer


class Aggregate:
    """Base of every aggregate: an id, the version (events applied) and the last stream sequence."""

    aggregate_type: ClassVar[str]

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self.sequence = 0
        self._recorded: list[Event] = []

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, event: Event) -> None:
        raise NotImplementedError

    def record(self, *decided: Event) -> None:
        """Decide events: each is applied at once, so the next decision of the same command sees it."""
        for event in decided:
            self.apply(event)
            self._recorded.append(event)

    @property
    def recorded(self) -> list[Event]:
        """The events decided since the aggregate was loaded (what a command appends)."""
        return list(self._recorded)

    def decision(self) -> Self:
        """A working copy for one command that returns its events: it ``record``s them, and this
        aggregate stays as it was. The caller folds what the command returned (a test does, the bench
        loader does, the repository stores it), and the command can still compare with the state
        before it (escalation's next check)."""
        working = self.clone()
        working._recorded = []
        return working

    def clone(self) -> Self:
        """A copy whose changes leave this one as it is. An aggregate whose state is costly to deep-copy
        and read on a hot path (escalation's clocks) copies its mutable parts by hand instead."""
        return copy.deepcopy(self)

    @classmethod
    def replay(cls, aggregate_id: str, history: Sequence[Envelope]) -> Self:
        aggregate = cls(aggregate_id)
        for envelope in history:
            aggregate.apply(envelope.event())
            aggregate.version = envelope.aggregate_version
            aggregate.sequence = envelope.sequence
        return aggregate


A = TypeVar("A", bound=Aggregate)


T = TypeVar("T")

ATTEMPTS = 40
"""Tries of one command before its ``ConcurrencyError`` reaches the caller."""


async def on_conflict(
    attempt: Callable[[int], Awaitable[T]],
    *,
    attempts: int = ATTEMPTS,
    pause: float = 0.002,
    longest: float = math.inf,
) -> T:
    """Run ``attempt`` until it appends without a ``ConcurrencyError``; after ``attempts`` conflicts,
    the last one reaches the caller.

    ``attempt`` is given how many tries came before it: the first may decide from what the caller
    already holds, a later one must read again what the winner stored. Idempotency is the attempt's
    to check (a repeated command finds its own events on the re-read and returns them). Between tries
    it waits a random while, up to ``pause`` times the tries so far (at most ``longest``), so that
    writers who lost together do not collide again in step."""
    for tried in range(attempts - 1):
        try:
            return await attempt(tried)
        except ConcurrencyError:
            await asyncio.sleep(random.uniform(0, min(pause * (tried + 1), longest)))
    return await attempt(attempts - 1)


class Store(Protocol):
    """What a repository needs of an event store (``EventStore``, or the test kit's in-memory one)."""

    service: str

    def subject(self, aggregate_type: str, aggregate_id: str) -> str: ...

    async def load(
        self, aggregate_type: str, aggregate_id: str, *, service: str | None = None, after: int = 0
    ) -> list[Envelope]: ...

    async def append(
        self,
        aggregate_type: str,
        aggregate_id: str,
        new_events: Sequence[Event],
        *,
        expected_sequence: int,
        expected_version: int,
        meta: CommandMeta,
    ) -> list[Envelope]: ...

    async def last_sequence(self, stream: str | None = None) -> int: ...


PureDecide = Callable[[A], Sequence[Event] | None]
"""A command on a loaded aggregate: records its events (or, for a single pure decision, returns them)."""
Decide = Callable[[A], Sequence[Event] | Awaitable[Sequence[Event]] | None]
"""A pure decision, or one that must read another aggregate first (who holds a service number now): a
coroutine, so that the read is made again on every attempt, never carried over from a state that lost
the race."""


class Repository(Generic[A]):
    """Loads and stores one kind of aggregate in one service's stream."""

    def __init__(self, store: Store, cls: type[A]) -> None:
        self.store = store
        self.cls = cls

    async def get(self, aggregate_id: str) -> A:
        history = await self.store.load(self.cls.aggregate_type, aggregate_id)
        return self.cls.replay(aggregate_id, history)

    async def history(self, aggregate_id: str) -> list[Envelope]:
        return await self.store.load(self.cls.aggregate_type, aggregate_id)

    async def execute(
        self,
        aggregate_id: str,
        decide: Decide[A],
        meta: CommandMeta,
        *,
        attempts: int = ATTEMPTS,
        known: A | None = None,
    ) -> list[Envelope]:
        """Run one command: load, decide, append; on a conflict reload and decide again.

        Returns the stored events (those of the first attempt when the command is a repeat; a repeat
        with a different request raises ``IdempotencyConflict`` and stores nothing).

        ``known``: the aggregate as the caller already holds it (just loaded, or ``cls(id)`` for one it
        takes to be new): the first attempt decides on it without loading, a round trip saved on a hot
        path. A wrong guess costs nothing but that: the append expects the aggregate's last sequence as
        held, conflicts, and the next attempt loads. A repeat decided on it may then return nothing
        instead of the earlier events (its state already shows them)."""

        async def attempt(tried: int) -> list[Envelope]:
            if tried == 0 and known is not None:
                aggregate = known
            else:
                history = await self.store.load(self.cls.aggregate_type, aggregate_id)
                earlier = earlier_answer(history, meta)
                if earlier:
                    return earlier
                aggregate = self.cls.replay(aggregate_id, history)
            returned = decide(aggregate)
            if inspect.isawaitable(returned):
                returned = await returned
            new_events = list(returned) if returned is not None else aggregate.recorded
            return await self.store.append(
                self.cls.aggregate_type,
                aggregate_id,
                new_events,
                expected_sequence=aggregate.sequence,
                expected_version=aggregate.version,
                meta=meta,
            )

        return await on_conflict(attempt, attempts=attempts)

    async def execute_once(
        self, aggregate_id: str, decide: Decide[A], meta: CommandMeta, *, known: A | None = None
    ) -> list[Envelope]:
        """Run a command that whoever stores it must act on alone (hand a message to its channel, say):
        the events stored by this call, or none when the command was stored before, by this caller or by
        any other (another replica, a redelivered cause). ``execute`` answers a repeat with the first
        run's events, and so cannot tell the two apart.

        The request's fingerprint is made unique to the call: a repeat then meets another fingerprint
        under its command id, which the store refuses (``IdempotencyConflict``) instead of answering. A
        repeat of a command stored without a fingerprint (before it was run this way) is answered by the
        store all the same: its events, not carrying this call's token, are not this call's."""
        token = uuid.uuid4().hex
        try:
            stored = await self.execute(
                aggregate_id, decide, meta.model_copy(update={"request_hash": token}), known=known
            )
        except IdempotencyConflict:
            return []
        return stored if all(e.request_hash == token for e in stored) else []
