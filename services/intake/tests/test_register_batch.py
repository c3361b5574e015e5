"""The case register applies a batch as a set: its cases read in one query, written in one statement."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import MetaData, event, select

from services.intake.read_model.projection import CaseRegister
from services.intake.tests.conftest import Intake
from shared.contracts.routing import CaseAssigned
from shared.events import Envelope
from shared.readmodel import create_engine, create_tables, sessions
from shared.rows import Rows

AT = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)


def assigned(n: int) -> Envelope:
    fact = CaseAssigned(case_id=f"c{n}", officer=f"SJP{n:04d}", kendra="SJP-KATRA-K1", reason="nearest")
    return Envelope(
        event_id=uuid.uuid4(), event_type=fact.event_type, schema_version=fact.schema_version,
        aggregate_type="case", aggregate_id=f"c{n}", aggregate_version=1, occurred_at=AT + timedelta(minutes=n),
        correlation_id=uuid.uuid4(), actor="routing", command_id=f"assign-{n}",
        payload=fact.model_dump(mode="json"), stream="ROUTING", sequence=n + 1,
    )  # fmt: skip


async def test_a_batch_of_twenty_cases_costs_three_statements(sqlite_url: str) -> None:
    register = CaseRegister()
    tables = register.define(MetaData(), "batch_")
    engine = create_engine(sqlite_url)
    await create_tables(engine, tables.cases.metadata)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement != "BEGIN":  # the transaction's own
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    batch = [assigned(n) for n in range(20)]
    try:
        async with sessions(engine).begin() as session:
            rows = Rows(session)
            await register.prefetch(rows, tables, batch)
            for envelope in batch:
                await register.apply(rows, tables, envelope)
            await rows.flush()
        # One read of the twenty cases, one upsert of them, one insert of their timeline lines.
        assert len(statements) == 3, statements
        async with sessions(engine)() as session:
            cases = (await session.execute(select(tables.cases).order_by(tables.cases.c.case_id))).all()
            lines = (await session.execute(select(tables.timeline))).all()
        assert [(c.case_id, c.assigned_officer) for c in cases] == sorted(
            (f"c{n}", f"SJP{n:04d}") for n in range(20)
        )
        assert len(lines) == 20
    finally:
        await engine.dispose()


def statements_counted(metrics: str, service: str) -> float:
    found = re.search(rf'^shakti_read_model_statements_total{{service="{service}"}} (\S+)$', metrics, re.M)
    assert found, "the service reports no statement count"
    return float(found.group(1))


async def test_the_statements_a_case_costs_are_counted_in_the_metrics(intake_sqlite: Intake) -> None:
    before = statements_counted((await intake_sqlite.client.get("/metrics")).text, "intake")
    case = await intake_sqlite.register()
    await intake_sqlite.settled(case["case_id"], lambda r: r["status"] == "registered")
    after = statements_counted((await intake_sqlite.client.get("/metrics")).text, "intake")
    # At least the register's read and write of the case and its timeline line, and the checkpoint.
    assert after - before >= 3
