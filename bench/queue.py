"""The Kendra queue at a year's size: ``python -m bench.queue [--cases 100000] [--postgres URL]``.

Intake's register holds ``--cases`` cases of one district (23 thanas in 6 circles, a Kendra each), a
third of them still being worked with a running clock, the rest disposed; the rows are written straight
into the register's tables with the urgency key the projection gives them (``urgency_key``), so the
figures are the queries', not a load's. Then the register's own query (``find_cases``) is timed as the
queue asks it, most urgent first, for one Kendra, one circle and the whole district, on page 1 and page
40 (20 a page), and newest first for the district as the baseline of the same run. SQLite always;
PostgreSQL too when ``--postgres`` names a server (a scratch database is made and dropped).

The last line is one JSON object: per database, per question, the median and the slowest of
``--repeat`` runs in ms, and each median as a ratio to the baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from services.intake.read_model.queries import RegisterFilter, find_cases, urgency_key
from services.intake.read_model.tables import CaseTables, case_tables
from shared.contracts.vocabulary import ACTIVE, CaseStatus

CIRCLES = 6
THANAS = 23
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def case_rows(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    """A district's year: registrations spread over 365 days, one in three still being worked."""
    chance = random.Random(seed)
    worked = sorted(s.value for s in ACTIVE)
    rows = []
    for n in range(count):
        thana = n % THANAS
        registered = NOW - timedelta(minutes=chance.randrange(365 * 24 * 60))
        open_ = chance.random() < 1 / 3
        due = registered + timedelta(hours=chance.choice((1, 24, 72, 24 * 30))) if open_ else None
        row: dict[str, Any] = {
            "case_id": uuid.UUID(int=chance.getrandbits(128)).hex,
            "case_number": f"SJP-2026-{n:07d}",
            "category": "domestic_violence",
            "priority": chance.choice(("P1", "P2", "P3", "P4")),
            "danger_now": chance.random() < 0.02,
            "minor": False,
            "flags": "",
            "district": "SJP",
            "circle": f"SJP-C{thana % CIRCLES}",
            "thana": f"SJP-T{thana:02d}",
            "kendra": f"MSK-SJP-T{thana:02d}",
            "routed": True,
            "registered_at": registered,
            "status": chance.choice(worked) if open_ else CaseStatus.CLOSED.value,
            "identity_erased": False,
            "escalation_level": 0,
            "overdue": bool(due and due < NOW),
            "overdue_clocks": "first_contact" if due and due < NOW else "",
            "due_soon_clocks": "",
            "next_clock": "disposal" if due else None,
            "next_due_at": due,
            "updated_at": registered,
        }
        row["urgency"] = urgency_key(row)
        rows.append(row)
    return rows


QUESTIONS: dict[str, tuple[dict[str, str], RegisterFilter, int]] = {
    "district newest first, page 1 (baseline)": ({"district": "SJP"}, RegisterFilter(), 1),
    "kendra by urgency, page 1": (
        {"thana": "SJP-T07"},
        RegisterFilter(kendra="MSK-SJP-T07", by_urgency=True),
        1,
    ),
    "circle by urgency, page 1": ({"circle": "SJP-C3"}, RegisterFilter(by_urgency=True), 1),
    "district by urgency, page 1": ({"district": "SJP"}, RegisterFilter(by_urgency=True), 1),
    "district by urgency, page 40": ({"district": "SJP"}, RegisterFilter(by_urgency=True), 40),
    "district open by urgency, page 1": (
        {"district": "SJP"},
        RegisterFilter(open=True, by_urgency=True),
        1,
    ),
}
BASELINE = "district newest first, page 1 (baseline)"


async def fill(
    engine: AsyncEngine, tables: CaseTables, metadata: MetaData, rows: list[dict[str, Any]]
) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
        for start in range(0, len(rows), 5000):
            await connection.execute(tables.cases.insert(), rows[start : start + 5000])
        if engine.dialect.name == "postgresql":
            await connection.execute(text(f"ANALYZE {tables.cases.name}"))
        else:
            await connection.execute(text("ANALYZE"))


async def timed(engine: AsyncEngine, tables: CaseTables, repeat: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    async with AsyncSession(engine) as session:
        for question, (scope, wanted, page) in QUESTIONS.items():
            await find_cases(session, tables, scope, wanted, page=page, size=20)  # warm
            took = []
            for _ in range(repeat):
                started = time.perf_counter()
                found, _total = await find_cases(session, tables, scope, wanted, page=page, size=20)
                took.append((time.perf_counter() - started) * 1000)
                assert len(found) == 20, question
            out[question] = {"median_ms": round(statistics.median(took), 1), "max_ms": round(max(took), 1)}
    base = out[BASELINE]["median_ms"]
    for figures in out.values():
        figures["ratio_to_baseline"] = round(figures["median_ms"] / base, 2)
    return out


async def one_database(url: str, rows: list[dict[str, Any]], repeat: int) -> dict[str, dict[str, float]]:
    engine = create_async_engine(url)
    metadata = MetaData()
    tables = case_tables(metadata, "bench_")
    try:
        started = time.perf_counter()
        await fill(engine, tables, metadata, rows)
        say(f"  {engine.dialect.name}: {len(rows):,} cases written in {time.perf_counter() - started:.1f} s")
        return await timed(engine, tables, repeat)
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    rows = case_rows(args.cases)
    folder = Path(tempfile.mkdtemp(prefix="bench-queue-"))
    figures: dict[str, Any] = {"cases": args.cases}
    figures["sqlite"] = await one_database(f"sqlite+aiosqlite:///{folder / 'intake.db'}", rows, args.repeat)
    if args.postgres:
        scratch = f"bench_queue_{uuid.uuid4().hex[:8]}"
        admin = create_async_engine(args.postgres, isolation_level="AUTOCOMMIT")
        async with admin.connect() as connection:
            await connection.execute(text(f"CREATE DATABASE {scratch}"))
        try:
            base = args.postgres.rsplit("/", 1)[0]
            figures["postgresql"] = await one_database(f"{base}/{scratch}", rows, args.repeat)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f"DROP DATABASE {scratch}"))
            await admin.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--postgres", default="", help="e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    for database in ("sqlite", "postgresql"):
        for question, values in figures.get(database, {}).items():
            say(f"  {database:<10} {question:<42} {values}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
