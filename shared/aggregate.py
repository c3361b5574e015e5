"""Aggregates and the command loop: load, decide (pure), append, retry on conflict.

An aggregate folds its events into state with ``apply``; its command methods only *decide*: they check
the rules against the current state and return the new events, never touching I/O. The service layer
runs them through ``execute``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import ClassVar, Generic, Self, TypeVar

from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, ConcurrencyError, EventStore


class DomainError(ValueError):
    """A command broke a rule of the domain. Carries a bilingual message safe to show an officer."""

    def __init__(self, code: str, en: str, hi: str) -> None:
        super().__init__(en)
        self.code = code
        self.en = en
        self.hi = hi


class NotFound(DomainError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__("not_found", f"{what} {key} not found", f"{what} {key} नहीं मिला")


class Aggregate:
    """Base of every aggregate: an id, the version (events applied) and the last stream sequence."""

    aggregate_type: ClassVar[str]

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0
        self.sequence = 0

    @property
    def exists(self) -> bool:
        return self.version > 0

    def apply(self, event: Event) -> None:
        raise NotImplementedError

    @classmethod
    def replay(cls, aggregate_id: str, history: Sequence[Envelope]) -> Self:
        aggregate = cls(aggregate_id)
        for envelope in history:
            aggregate.apply(envelope.event())
            aggregate.version = envelope.aggregate_version
            aggregate.sequence = envelope.sequence
        return aggregate


A = TypeVar("A", bound=Aggregate)


class Repository(Generic[A]):
    """Loads and stores one kind of aggregate in one service's stream."""

    def __init__(self, store: EventStore, cls: type[A]) -> None:
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
        decide: Callable[[A], Sequence[Event]],
        meta: CommandMeta,
        *,
        attempts: int = 40,
    ) -> list[Envelope]:
        """Run one command: load, decide, append; on a conflict reload and decide again.

        Returns the stored events (those of the first attempt when the command is a repeat)."""
        for attempt in range(attempts):
            history = await self.store.load(self.cls.aggregate_type, aggregate_id)
            earlier = [e for e in history if e.command_id == meta.command_id]
            if earlier:
                return earlier
            aggregate = self.cls.replay(aggregate_id, history)
            new_events = decide(aggregate)
            try:
                return await self.store.append(
                    self.cls.aggregate_type,
                    aggregate_id,
                    new_events,
                    expected_sequence=aggregate.sequence,
                    expected_version=aggregate.version,
                    meta=meta,
                )
            except ConcurrencyError:
                # Back off a little, at random, so that writers who lost together do not collide again.
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ConcurrencyError(self.store.subject(self.cls.aggregate_type, aggregate_id), -1)
