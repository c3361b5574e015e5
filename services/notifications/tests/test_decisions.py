"""The decisions' reads (issue 17): a case's status change reads intake's stream for her consent and
stops there when she gave none; only a message to be decided reads the routing and escalation streams."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.notifications.domain import Roster
from services.notifications.handlers import CaseEvents
from services.notifications.policy import DEFAULT_POLICY, load_policy
from shared.clock import ManualClock
from shared.contracts.intake import CaseRegistered, FirstContactMade
from shared.contracts.vocabulary import Category, Channel, Priority
from shared.eventstore import CommandMeta, stream_name
from shared.testing.memory import MemoryEventStore, MemoryStreams

AT = datetime(2026, 1, 12, 4, 30, tzinfo=UTC)


class CountedLoads(MemoryEventStore):
    def __init__(self, streams: MemoryStreams, service: str) -> None:
        super().__init__(streams, service)
        self.streams_read: list[str] = []

    async def read_subject(self, stream: str, subject: str, *, after: int = 0) -> list[Any]:
        self.streams_read.append(stream)
        return await super().read_subject(stream, subject, after=after)


async def no_roster() -> Roster:
    return Roster()


async def a_case(streams: MemoryStreams, *, consent: bool) -> None:
    registered = CaseRegistered(
        case_number="SJP-2026-000001",
        channel=Channel.WALK_IN,
        category=Category.DOMESTIC_VIOLENCE,
        priority=Priority.P3,
        danger_now=False,
        minor=False,
        district="SJP",
        thana="SJP-KATRA",
        registered_by="PNO152301",
        sealed_identity="c2VhbGVk",
        consent_to_messages=consent,
    )
    intake = MemoryEventStore(streams, "intake")
    await intake.append(
        "case",
        "case-1",
        [registered],
        expected_sequence=0,
        expected_version=0,
        meta=CommandMeta(command_id="c1", actor="t", occurred_at=AT),
    )
    contact = FirstContactMade(at=AT, by="PNO152301", mode="phone")
    await intake.append(
        "case",
        "case-1",
        [contact],
        expected_sequence=1,
        expected_version=1,
        meta=CommandMeta(command_id="c2", actor="t", occurred_at=AT),  # 10:00 IST: not held
    )


async def test_a_status_change_without_her_consent_reads_only_intake_s_stream() -> None:
    streams = MemoryStreams()
    await a_case(streams, consent=False)
    store = CountedLoads(streams, "notifications")
    decisions = CaseEvents(store, load_policy(DEFAULT_POLICY), no_roster, ManualClock(AT))
    first_contact = streams.stream(stream_name("intake"))[-1][1]
    await decisions(first_contact)
    assert store.streams_read == [stream_name("intake")]
    assert streams.stream(stream_name("notifications")) == []


async def test_with_her_consent_the_status_message_is_decided_from_all_three_streams() -> None:
    streams = MemoryStreams()
    await a_case(streams, consent=True)
    store = CountedLoads(streams, "notifications")
    decisions = CaseEvents(store, load_policy(DEFAULT_POLICY), no_roster, ManualClock(AT))
    await decisions(streams.stream(stream_name("intake"))[-1][1])
    assert set(store.streams_read) >= {stream_name(s) for s in ("intake", "routing", "escalation")}
    requested = [e for _, e in streams.stream(stream_name("notifications"))]
    assert [e.event_type for e in requested] == ["NotificationRequested"]
