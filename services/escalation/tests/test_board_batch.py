"""Escalation's board applies a batch as a set: the rows its events change are read once per table."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, event
from sqlalchemy.ext.asyncio import AsyncEngine

from services.escalation.read_model.projection import EscalationBoard
from shared.contracts.escalation import CaseWatched, ClockPaused, ClockStarted
from shared.contracts.routing import CaseRouted
from shared.contracts.vocabulary import Category, Priority
from shared.events import Envelope, Event
from shared.readmodel import create_engine, create_tables, sessions
from shared.rows import Rows

AT = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)


def stored(event: Event, stream: str, sequence: int) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(), event_type=event.event_type, schema_version=event.schema_version,
        aggregate_type="case", aggregate_id=getattr(event, "case_id", "-"), aggregate_version=sequence,
        occurred_at=AT, correlation_id=uuid.uuid4(), actor="test", command_id=f"{stream}-{sequence}",
        payload=event.model_dump(mode="json"), stream=stream, sequence=sequence,
    )  # fmt: skip


def case_events(case_id: str) -> list[Event]:
    return [
        CaseWatched(
            case_id=case_id, case_number=f"N-{case_id}", priority=Priority.P2, category=Category.DOMESTIC_VIOLENCE,
            danger_now=False, district="SJP", circle="SJP-C", thana="SJP-T", registered_at=AT, policy_version="1",
        ),
        CaseRouted(case_id=case_id, district="SJP", circle="SJP-C", thana="SJP-T", kendra="MSK-SJP-T", reason="pin"),
        ClockStarted(case_id=case_id, clock="first_contact", started_at=AT, due_at=AT + timedelta(hours=1), policy_version="1"),
        ClockPaused(case_id=case_id, clock="first_contact", at=AT, remaining_seconds=60.0),
    ]  # fmt: skip


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


async def test_a_batch_of_several_cases_reads_each_table_once(engine: AsyncEngine) -> None:
    """Three cases' events in one batch, the clocks of one paused in the next: the case rows are read
    with one query and the clocks with one, not a query per case or per clock."""
    board = EscalationBoard()
    metadata = MetaData()
    tables = board.define(metadata, "t_")
    await create_tables(engine, metadata)
    first = [stored(e, "ESCALATION", 0) for case_id in ("c1", "c2", "c3") for e in case_events(case_id)[:3]]
    paused = [stored(e, "ESCALATION", 0) for case_id in ("c1", "c2", "c3") for e in case_events(case_id)[3:]]
    reads: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        words = statement.split()
        if words[0] == "SELECT":
            reads.append(words[words.index("FROM") + 1])

    for batch in (first, paused):
        async with sessions(engine).begin() as session:
            rows = Rows(session)
            event.listen(engine.sync_engine, "before_cursor_execute", count)
            try:
                await board.prefetch(rows, tables, batch)
                for envelope in batch:
                    await board.apply(rows, tables, envelope)
            finally:
                event.remove(engine.sync_engine, "before_cursor_execute", count)
            await rows.flush()
    assert sorted(reads) == ["t_case", "t_clock"], reads
    async with sessions(engine)() as session:
        rows = Rows(session)
        for case_id in ("c1", "c2", "c3"):
            case = await rows.get(tables.case, case_id=case_id)
            assert case is not None and case["kendra"] == "MSK-SJP-T"
            clock = await rows.get(
                tables.clock, case_id=case_id, clock="first_contact", referral_id="", round=1
            )
            assert clock is not None and clock["state"] == "paused"
