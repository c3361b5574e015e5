"""The test kit: given / when / then for aggregates and process managers, on an in-memory store.

    Scenario(Case).given(registered).when(lambda case: case.close(...)).then(CaseClosed(...))
    Scenario(Case).given(closed).when(lambda case: case.close(...)).refused("case_closed")

A scenario folds the given events the way a repository loads them, runs one decision and compares
what it decided (or the rule it broke) with what the test expects. For process managers,
``MemoryStreams`` holds every service's stream and ``MemoryEventStore`` appends and reads them with
the real store's rules (see ``shared.testing.memory``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Self

from shared.aggregate import A, Aggregate, PureDecide
from shared.errors import DomainError
from shared.events import Envelope, Event
from shared.testing.memory import MemoryEventStore, MemoryStreams, subject_matches

__all__ = ["MemoryEventStore", "MemoryStreams", "Scenario", "apply_decided", "fold", "subject_matches"]


def fold(cls: type[A], aggregate_id: str, events: Sequence[Event]) -> A:
    """An aggregate as a repository would load it after these events."""
    aggregate = cls(aggregate_id)
    for version, event in enumerate(events, start=1):
        aggregate.apply(event)
        aggregate.version = version
        aggregate.sequence = version
    return aggregate


def apply_decided(aggregate: Aggregate, events: Sequence[Event]) -> list[Event]:
    """Apply a decision's events to the aggregate as a store would (each one a version), so that the
    test's next decision sees them; the events are handed back for the test to look at."""
    for event in events:
        aggregate.apply(event)
        aggregate.version += 1
    return list(events)


class Scenario(Generic[A]):
    """Given these events, when this decision is taken, then these events (or this refusal)."""

    def __init__(self, cls: type[A], aggregate_id: str = "test-1") -> None:
        self.cls = cls
        self.aggregate_id = aggregate_id
        self.history: list[Event] = []
        self.decided: list[Event] | None = None
        self.error: DomainError | None = None

    def given(self, *events: Event) -> Self:
        self.history.extend(events)
        return self

    @property
    def aggregate(self) -> A:
        return fold(self.cls, self.aggregate_id, self.history)

    def when(self, decide: PureDecide[A]) -> Self:
        aggregate = self.aggregate
        try:
            returned = decide(aggregate)
        except DomainError as error:
            self.error = error
            return self
        self.decided = list(returned) if returned is not None else aggregate.recorded
        return self

    def then(self, *expected: Event | Callable[[Event], bool]) -> list[Event]:
        """The decided events equal ``expected`` (an event, or a check of one), in order."""
        if self.error is not None:
            raise AssertionError(f"refused with {self.error.code}: {self.error.en}")
        assert self.decided is not None, "call when() first"
        assert len(self.decided) == len(expected), f"decided {[e.event_type for e in self.decided]}"
        for got, want in zip(self.decided, expected, strict=True):
            if isinstance(want, Event):
                assert got == want, f"{got!r} != {want!r}"
            else:
                assert want(got), f"{got!r} does not pass the check"
        return self.decided

    def then_nothing(self) -> None:
        self.then()

    def refused(self, code: str) -> DomainError:
        """The decision broke a rule; its bilingual refusal has this code."""
        assert self.error is not None, f"not refused: decided {self.decided!r}"
        assert self.error.code == code, f"refused with {self.error.code}, not {code}"
        assert self.error.en and self.error.hi
        return self.error


def types(envelopes: Sequence[Envelope]) -> list[str]:
    return [e.event_type for e in envelopes]
