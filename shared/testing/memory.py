"""An event store in memory, with the JetStream store's rules, for unit tests of domain and handlers.

It keeps the same promises as ``shared.eventstore.EventStore`` (and passes the same contract tests in
``tests/test_eventstore.py``): one stream per service with stream sequences, appends under optimistic
concurrency on the aggregate's subject (``ConcurrencyError``), several events of a command all or
none, a repeated command stores nothing and answers with its first events, loads in order. The proof
that the system works stays on real servers; this makes a handler's test run in milliseconds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from shared.clock import Clock
from shared.events import Envelope, Event, derived_id, utcnow
from shared.eventstore import (
    CommandMeta,
    ConcurrencyError,
    earlier_answer,
    occurred_at,
    stream_name,
    subject_for,
)


def subject_matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: ``*`` is one token, ``>`` the rest."""
    wanted, tokens = pattern.split("."), subject.split(".")
    for i, token in enumerate(wanted):
        if token == ">":
            return len(tokens) > i
        if i >= len(tokens) or (token != "*" and token != tokens[i]):
            return False
    return len(wanted) == len(tokens)


class MemoryStreams:
    """The streams of every service, as one NATS server would hold them, with each subject's events at
    hand: an append or an aggregate's load does not scan the stream (a year of history is loaded on
    these streams by ``shakti.fastload``)."""

    def __init__(self) -> None:
        self.streams: dict[str, list[tuple[str, Envelope]]] = {}
        self.subjects: dict[str, dict[str, list[Envelope]]] = {}
        self.lock = asyncio.Lock()

    def stream(self, name: str) -> list[tuple[str, Envelope]]:
        return self.streams.setdefault(name, [])

    def add(self, stream: str, subject: str, envelope: Envelope) -> None:
        self.stream(stream).append((subject, envelope))
        self.subjects.setdefault(stream, {}).setdefault(subject, []).append(envelope)

    def of_subject(self, stream: str, subject: str) -> list[Envelope]:
        """The events of one subject (no wildcard), in order."""
        return self.subjects.get(stream, {}).get(subject, [])


class MemoryEventStore:
    """One service's view of ``MemoryStreams``: appends to its own stream, reads any."""

    def __init__(self, streams: MemoryStreams, service: str, *, clock: Clock | None = None) -> None:
        self.streams = streams
        self.clock = clock
        self.service = service
        self.stream = stream_name(service)

    async def ensure_stream(self, service: str | None = None) -> None:
        self.streams.stream(stream_name(service or self.service))

    def subject(self, aggregate_type: str, aggregate_id: str) -> str:
        return subject_for(self.service, aggregate_type, aggregate_id)

    async def append(
        self,
        aggregate_type: str,
        aggregate_id: str,
        new_events: Sequence[Event],
        *,
        expected_sequence: int,
        expected_version: int,
        meta: CommandMeta,
    ) -> list[Envelope]:
        if not new_events:
            return []
        subject = self.subject(aggregate_type, aggregate_id)
        async with self.streams.lock:
            stored = self.streams.stream(self.stream)
            mine = self.streams.of_subject(self.stream, subject)
            last = mine[-1].sequence if mine else 0
            if last != expected_sequence:
                earlier = earlier_answer([e for e in mine if e.sequence > expected_sequence], meta)
                if earlier:
                    return earlier
                raise ConcurrencyError(subject, expected_sequence)
            now = utcnow()
            correlation = meta.correlation_id or derived_id("correlation", meta.command_id)
            out = []
            for i, event in enumerate(new_events):
                envelope = Envelope(
                    event_id=derived_id(meta.command_id, aggregate_type, aggregate_id, i),
                    event_type=event.event_type,
                    schema_version=event.schema_version,
                    aggregate_type=aggregate_type,
                    aggregate_id=aggregate_id,
                    aggregate_version=expected_version + i + 1,
                    occurred_at=meta.occurred_at or occurred_at(self.clock, now),
                    recorded_at=now,
                    correlation_id=correlation,
                    causation_id=meta.causation_id,
                    actor=meta.actor,
                    command_id=meta.command_id,
                    request_hash=meta.request_hash,
                    payload=event.model_dump(mode="json"),
                    sequence=len(stored) + 1,
                    stream=self.stream,
                )
                self.streams.add(self.stream, subject, envelope)
                out.append(envelope)
            return out

    async def load(
        self, aggregate_type: str, aggregate_id: str, *, service: str | None = None, after: int = 0
    ) -> list[Envelope]:
        service = service or self.service
        return await self.read_subject(
            stream_name(service), subject_for(service, aggregate_type, aggregate_id), after=after
        )

    async def read_subject(self, stream: str, subject: str, *, after: int = 0) -> list[Envelope]:
        if "*" not in subject and ">" not in subject:
            return [e for e in self.streams.of_subject(stream, subject) if e.sequence > after]
        return [
            e for s, e in self.streams.stream(stream) if e.sequence > after and subject_matches(subject, s)
        ]

    async def last_sequence(self, stream: str | None = None) -> int:
        stored = self.streams.stream(stream or self.stream)
        return stored[-1][1].sequence if stored else 0
