"""Handlers chosen by event type: one small typed method per event, for projections and reactions.

    class CaseRegister(Projection[CaseTables]):
        @handles(CaseRegistered)
        async def registered(self, rows: Rows, tables: CaseTables, event: CaseRegistered,
                             envelope: Envelope) -> None: ...

    class CaseWatch(Reactions):
        @handles(CaseAssigned, CaseReassigned)
        async def assigned(self, event: CaseAssigned | CaseReassigned, cause: Envelope) -> None: ...

A class collects its marked methods (inherited ones too) when it is defined; an event of a type
nobody handles is skipped without decoding its payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from shared.events import Envelope, Event

F = TypeVar("F", bound=Callable[..., Any])

HANDLES = "__shakti_handles__"


def handles(*event_types: type[Event]) -> Callable[[F], F]:
    """Mark a method as the handler of these event types."""
    if not event_types:
        raise TypeError("handles() needs at least one event type")

    def mark(method: F) -> F:
        setattr(method, HANDLES, tuple(t.event_type for t in event_types))
        return method

    return mark


class ByEventType:
    """Base of classes whose methods are chosen by the type of the event they are given."""

    handler_names: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                for event_type in getattr(member, HANDLES, ()):
                    if event_type in found and found[event_type] != name and klass is cls:
                        raise TypeError(f"{cls.__name__}: two handlers for {event_type}")
                    found[event_type] = name
        cls.handler_names = found

    @classmethod
    def handled_types(cls) -> frozenset[str]:
        return frozenset(cls.handler_names)

    def handler(self, event_type: str) -> Callable[..., Any] | None:
        name = self.handler_names.get(event_type)
        return getattr(self, name) if name else None


class Reactions(ByEventType):
    """A process manager's policy: one typed method per event type it reacts to (``@handles``).

    Its instance is the ``react`` of a ``ProcessManager``: other events of the subject are ignored."""

    async def __call__(self, cause: Envelope) -> None:
        method = self.handler(cause.event_type)
        if method is not None:
            await method(cause.event(), cause)
