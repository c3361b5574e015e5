"""Domain events, their envelope, the type registry and upcasters.

An event class is a frozen pydantic model with a ``event_type`` and ``schema_version``. The envelope
carries everything about the fact that is not the fact itself (ids, versions, times, who, why).
Old versions are upgraded on read by registered upcasters; stored events are never rewritten.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

JsonDict = dict[str, Any]
Upcaster = Callable[[JsonDict], JsonDict]

HEADER_TYPE = "Shakti-Event-Type"
HEADER_VERSION = "Shakti-Schema-Version"
HEADER_AGGREGATE_VERSION = "Shakti-Aggregate-Version"
"""The event's place in its aggregate: a reaction passing over an event it does not act on keeps its
aggregate's order from the headers, without reading the payload (older events lack it)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """A fact a service owns. Subclasses add the fields; never identity data in clear."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class UnknownEvent(Event):
    """An event of a type this process does not know (another service's, or newer): kept raw."""

    model_config = ConfigDict(frozen=True, extra="allow")
    event_type: ClassVar[str] = "Unknown"


class Envelope(BaseModel):
    """The stored form of one event: the fact plus where it sits and where it came from."""

    model_config = ConfigDict(frozen=True)

    event_id: uuid.UUID
    event_type: str
    schema_version: int
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int
    occurred_at: datetime
    recorded_at: datetime = Field(default_factory=utcnow)
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None = None
    actor: str
    command_id: str
    request_hash: str | None = None
    """The fingerprint of the request that produced the event (see ``shared.commands``)."""
    payload: JsonDict
    # Where the event sits in its stream; set on read, not stored in the body.
    sequence: int = Field(default=0, exclude=True)
    stream: str = Field(default="", exclude=True)

    _decoded: Event | None = PrivateAttr(default=None)

    def event(self, registry: EventRegistry | None = None) -> Event:
        """The fact, decoded (and upcast) once: projections and reactions ask for it again and again."""
        if registry is not None:
            return registry.decode(self.event_type, self.schema_version, self.payload)
        if self._decoded is None:
            self._decoded = events.decode(self.event_type, self.schema_version, self.payload)
        return self._decoded

    def headers(self) -> dict[str, str]:
        """What the stored message says of the event outside its body."""
        return {
            HEADER_TYPE: self.event_type,
            HEADER_VERSION: str(self.schema_version),
            HEADER_AGGREGATE_VERSION: str(self.aggregate_version),
        }


E = TypeVar("E", bound=type[Event])


class EventRegistry:
    """Maps (type, version) to a class, and holds the upcasters that bring old versions forward."""

    def __init__(self) -> None:
        self._classes: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: E) -> E:
        known = self._classes.get(cls.event_type)
        if known is not None and known is not cls and known.__qualname__ != cls.__qualname__:
            raise ValueError(f"event type {cls.event_type!r} registered twice")
        self._classes[cls.event_type] = cls
        return cls

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register ``fn(payload_v_n) -> payload_v_n+1``."""

        def register(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return register

    def get(self, event_type: str) -> type[Event] | None:
        return self._classes.get(event_type)

    def decode(self, event_type: str, version: int, payload: JsonDict) -> Event:
        cls = self._classes.get(event_type)
        if cls is None:
            return UnknownEvent(**payload)
        while version < cls.schema_version:
            upcast = self._upcasters.get((event_type, version))
            if upcast is None:
                raise ValueError(f"no upcaster for {event_type} v{version} -> v{version + 1}")
            payload = upcast(dict(payload))
            version += 1
        if version > cls.schema_version:
            raise ValueError(f"{event_type} v{version} is newer than this code (v{cls.schema_version})")
        return cls.model_validate(payload)


events = EventRegistry()
"""The process-wide registry; each service's ``events.py`` registers its classes here."""


def event_type(name: str, version: int = 1) -> Callable[[E], E]:
    """Class decorator: name the event type, set its schema version, register it."""

    def decorate(cls: E) -> E:
        cls.event_type = name
        cls.schema_version = version
        return events.register(cls)

    return decorate


def derived_id(*parts: object) -> uuid.UUID:
    """A stable id from stable inputs: a retried command or a redelivered event yields the same id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, "shakti:" + ":".join(str(p) for p in parts))
