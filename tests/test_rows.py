"""A projection batch's rows (``shared.rows``): read once, changed in memory, written as a set, with
the same results on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import rows as rows_module
from shared.readmodel import create_engine, create_tables, sessions
from shared.rows import Rows, UtcDateTime, as_dict, utc

metadata = MetaData()
cases = Table(
    "rows_case",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("status", String(32)),
    Column("events", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True)),
)
clocks = Table(
    "rows_clock",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("clock", String(32), primary_key=True),
    Column("due", Integer),
)
timeline = Table(
    "rows_timeline",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(64), nullable=False),
    Column("text", String(100), nullable=False),
)


async def table(session: AsyncSession, t: Table) -> list[dict[str, Any]]:
    result = await session.execute(select(t).order_by(*t.primary_key.columns))
    return [as_dict(r) for r in result]


@pytest.mark.parametrize("small", [False, True], ids=["one-statement", "chunked"])
async def test_a_batch_writes_what_its_events_changed(
    database_url: str, small: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if small:
        monkeypatch.setattr(rows_module, "MAX_PARAMETERS", 9)
    engine = create_engine(database_url)
    await create_tables(engine, metadata)
    at = datetime(2026, 1, 10, 9, 30, tzinfo=UTC)
    make = sessions(engine)
    try:
        async with make.begin() as session:
            batch = Rows(session)
            for n in range(7):
                await batch.change(cases, {"case_id": f"c{n}"}, status="registered", events=1, updated_at=at)
                batch.add(timeline, {"case_id": f"c{n}", "text": "registered"})
            row = await batch.change(cases, {"case_id": "c1"}, status="closed")
            row["events"] += 1
            batch.put(cases, row)
            batch.put(clocks, batch.blank(clocks, case_id="c1", clock="disposal", due=10))
            batch.put(clocks, batch.blank(clocks, case_id="c1", clock="contact", due=2))
            await batch.flush()
        async with make.begin() as session:
            batch = Rows(session)
            await batch.prefetch(cases, [("c1",), ("c2",), ("missing",)])
            assert (await batch.get(cases, case_id="missing")) is None
            assert (await batch.get(cases, case_id="c1")) == {
                "case_id": "c1",
                "status": "closed",
                "events": 2,
                "updated_at": (await batch.get(cases, case_id="c1") or {})["updated_at"],
            }
            batch.remove(clocks, case_id="c1", clock="contact")
            batch.remove(cases, case_id="c6")
            await batch.change(clocks, {"case_id": "c1", "clock": "disposal"}, due=12)
            # A query of the projection's own sees what the batch changed before it.
            seen = (await batch.select(select(clocks.c.clock, clocks.c.due))).all()
            assert [tuple(r) for r in seen] == [("disposal", 12)]
        async with make() as session:
            stored = await table(session, cases)
            assert [r["case_id"] for r in stored] == [f"c{n}" for n in range(6)]
            assert [(r["status"], r["events"]) for r in stored[:2]] == [("registered", 1), ("closed", 2)]
            assert utc(stored[0]["updated_at"]) == at
            assert [(r["clock"], r["due"]) for r in await table(session, clocks)] == [("disposal", 12)]
            assert len(await table(session, timeline)) == 7
    finally:
        await engine.dispose()


async def test_a_forgotten_batch_writes_nothing(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await create_tables(engine, metadata)
    try:
        async with sessions(engine).begin() as session:
            batch = Rows(session)
            await batch.change(cases, {"case_id": "x"}, status="registered")
            batch.forget()
            await batch.flush()
        async with sessions(engine)() as session:
            assert await table(session, cases) == []
    finally:
        await engine.dispose()


async def test_update_changes_only_a_row_that_exists_and_where_sees_the_batchs_changes(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    await create_tables(engine, metadata)
    make = sessions(engine)
    try:
        async with make.begin() as session:
            batch = Rows(session)
            for n, status in enumerate(["registered", "registered", "closed"]):
                await batch.change(cases, {"case_id": f"w{n}"}, status=status)
            await batch.flush()
        async with make.begin() as session:
            batch = Rows(session)
            # As an UPDATE: a row that is not there stays away.
            assert await batch.update(cases, {"case_id": "absent"}, status="closed") is None
            await batch.update(cases, {"case_id": "w0"}, status="closed")
            await batch.change(cases, {"case_id": "w3"}, status="registered")
            batch.remove(cases, case_id="w1")
            # Stored rows by a non-key column, with what this batch changed laid over them (not flushed).
            found = await batch.where(cases, status="registered")
            assert [r["case_id"] for r in found] == ["w3"]
            assert sorted(r["case_id"] for r in await batch.where(cases, status="closed")) == ["w0", "w2"]
            unset = await batch.where(cases, updated_at=None, status="closed")
            assert sorted(r["case_id"] for r in unset) == ["w0", "w2"]
            await batch.flush()
        async with make() as session:
            stored = {r["case_id"]: r["status"] for r in await table(session, cases)}
            assert stored == {"w0": "closed", "w2": "closed", "w3": "registered"}
    finally:
        await engine.dispose()


async def test_utc_datetimes_come_back_aware_and_in_utc(database_url: str) -> None:
    times = Table(
        "rows_time",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", UtcDateTime()),
    )
    engine = create_engine(database_url)
    await create_tables(engine, times.metadata)
    ist = timezone(timedelta(hours=5, minutes=30))
    try:
        async with sessions(engine).begin() as session:
            batch = Rows(session)
            batch.put(times, {"id": 1, "at": datetime(2026, 1, 10, 15, 0, tzinfo=ist)})
            batch.put(times, {"id": 2, "at": None})
            await batch.flush()
        async with sessions(engine)() as session:
            stored = await table(session, times)
        assert [r["at"] for r in stored] == [datetime(2026, 1, 10, 9, 30, tzinfo=UTC), None]
        assert stored[0]["at"].tzinfo == UTC
    finally:
        await engine.dispose()
