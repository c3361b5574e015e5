"""The aggregate's two shared mechanisms, on the test kit's in-memory store: a command's events on a
working copy (``Aggregate.decision``), and the one retry loop (``on_conflict``) that the repository runs
in: a lost race is decided again from a fresh read, a repeat gets its first answer, and a writer that
never wins gets the ``ConcurrencyError``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from shared.aggregate import Repository, on_conflict
from shared.errors import DomainError
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, ConcurrencyError
from shared.testing import MemoryEventStore, MemoryStreams, fold
from tests.sample import Tally, TallyCounted, TallyOpened

AT = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)


def meta(command_id: str) -> CommandMeta:
    return CommandMeta(command_id=command_id, actor="test", occurred_at=AT)


async def test_each_try_is_told_how_many_came_before_and_the_winner_is_returned() -> None:
    told: list[int] = []

    async def attempt(tried: int) -> str:
        told.append(tried)
        if tried < 2:
            raise ConcurrencyError("shakti.tests.tally.a", tried)
        return "stored"

    assert await on_conflict(attempt, pause=0) == "stored"
    assert told == [0, 1, 2]


async def test_a_writer_that_never_wins_gets_the_conflict_after_its_last_try() -> None:
    tries = 0

    async def attempt(tried: int) -> str:
        nonlocal tries
        tries += 1
        raise ConcurrencyError("shakti.tests.tally.a", tried)

    with pytest.raises(ConcurrencyError) as raised:
        await on_conflict(attempt, attempts=5, pause=0)
    assert tries == 5
    assert (raised.value.subject, raised.value.expected) == ("shakti.tests.tally.a", 4), "the last conflict"


async def test_other_errors_are_not_retried() -> None:
    tries = 0

    async def attempt(tried: int) -> str:
        nonlocal tries
        tries += 1
        raise ValueError("not a conflict")

    with pytest.raises(ValueError, match="not a conflict"):
        await on_conflict(attempt)
    assert tries == 1


async def test_a_command_that_lost_the_race_decides_again_on_what_the_winner_stored() -> None:
    store = MemoryEventStore(MemoryStreams(), "tests")
    tallies = Repository(store, Tally)
    await tallies.execute("a", lambda t: t.open("a"), meta("open"))
    seen: list[int] = []

    async def racing(tally: Tally) -> Sequence[Event]:
        seen.append(tally.total)
        if len(seen) == 1:
            # Another writer appends between this command's read and its append.
            await tallies.execute("a", lambda t: t.count(5), meta("other"))
        return [TallyCounted(amount=tally.total + 1, note="")]

    stored = await tallies.execute("a", racing, meta("mine"))
    assert seen == [0, 5]
    assert [e.payload["amount"] for e in stored] == [6]
    again = await tallies.execute("a", racing, meta("mine"))
    assert [(e.sequence, e.payload) for e in again] == [(e.sequence, e.payload) for e in stored]
    assert len(seen) == 2, "a repeat is answered from the stream, not decided again"


async def test_a_command_that_always_loses_gets_the_conflict_and_stores_nothing() -> None:
    store = MemoryEventStore(MemoryStreams(), "tests")
    tallies = Repository(store, Tally)
    await tallies.execute("a", lambda t: t.open("a"), meta("open"))
    rivals = 0

    async def always_beaten(tally: Tally) -> Sequence[Event]:
        nonlocal rivals
        rivals += 1
        await tallies.execute("a", lambda t: t.count(1), meta(f"rival-{rivals}"))
        return [TallyCounted(amount=100, note="")]

    with pytest.raises(ConcurrencyError):
        await tallies.execute("a", always_beaten, meta("mine"), attempts=3)
    history: list[Envelope] = await tallies.history("a")
    assert rivals == 3
    assert [e.event_type for e in history] == [TallyOpened.event_type] + [TallyCounted.event_type] * 3
    assert all(e.payload["amount"] == 1 for e in history[1:])


def test_a_decision_records_on_a_working_copy_and_leaves_the_aggregate_as_it_was() -> None:
    tally = fold(Tally, "a", [TallyOpened(label="a"), TallyCounted(amount=2, note="")])
    working = tally.decision()
    working.record(TallyCounted(amount=3, note=""))
    assert working.total == 5, "each recorded event is applied at once"
    working.record(*working.count(working.total))
    assert working.recorded == [TallyCounted(amount=3, note=""), TallyCounted(amount=5, note="")]
    assert (tally.total, tally.recorded, tally.version) == (2, [], 2)
    assert tally.decision().recorded == [], "each decision starts with nothing recorded"


class CountedLoads(MemoryEventStore):
    def __init__(self, streams: MemoryStreams, service: str) -> None:
        super().__init__(streams, service)
        self.loads = 0

    async def load(
        self, aggregate_type: str, aggregate_id: str, *, service: str | None = None, after: int = 0
    ) -> list[Envelope]:
        self.loads += 1
        return await super().load(aggregate_type, aggregate_id, service=service, after=after)


async def test_a_command_on_an_aggregate_the_caller_holds_loads_nothing_and_a_wrong_guess_loads_then() -> (
    None
):
    """``known``: a new aggregate's first append, or a command right after the caller's own read, saves
    the load; a guess that is wrong (it exists, or another writer came between) conflicts on the append
    and is decided again on what is stored."""
    store = CountedLoads(MemoryStreams(), "tests")
    tallies = Repository(store, Tally)
    await tallies.execute("a", lambda t: t.open("a"), meta("open"), known=Tally("a"))
    assert store.loads == 0
    held = await tallies.get("a")
    await tallies.execute("a", lambda t: t.count(2), meta("two"), known=held)
    assert store.loads == 1
    # Held before "two" was stored: stale, so the append conflicts and the next try loads.
    await tallies.execute("a", lambda t: t.count(3), meta("three"), known=held)
    assert store.loads == 2
    # Taken to be new, but it exists: decided again on what is stored, and refused there.
    with pytest.raises(DomainError, match="tally exists"):
        await tallies.execute("a", lambda t: t.open("again"), meta("reopen"), known=Tally("a"))
    assert (await tallies.get("a")).total == 5
    assert [e.event_type for e in await tallies.history("a")] == [TallyOpened.event_type] + [
        TallyCounted.event_type
    ] * 2
