"""The escalation board comes out the same in whichever order its two streams (escalation's own and
routing's) are applied: live they interleave as events arrive, a rebuild reads one after the other."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.escalation.read_model.projection import EscalationBoard
from services.escalation.read_model.tables import BoardTables
from shared.contracts.escalation import CaseWatched
from shared.contracts.routing import CircleDefined, ThanaDefined
from shared.contracts.vocabulary import Category, Priority
from shared.events import Envelope, Event
from shared.readmodel import create_engine, sessions
from shared.rows import Rows

AT = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)


def stored(event: Event, aggregate: str, key: str, stream: str, sequence: int) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(), event_type=event.event_type, schema_version=event.schema_version,
        aggregate_type=aggregate, aggregate_id=key, aggregate_version=1, occurred_at=AT,
        correlation_id=uuid.uuid4(), actor="test", command_id=f"{stream}-{sequence}",
        payload=event.model_dump(mode="json"), stream=stream, sequence=sequence,
    )  # fmt: skip


async def board_cases(engine: AsyncEngine, prefix: str, order: list[Envelope]) -> list[dict[str, Any]]:
    """The board's case rows after ``order`` is applied in one batch to fresh tables."""
    board = EscalationBoard()
    metadata = MetaData()
    tables: BoardTables = board.define(metadata, prefix)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    async with sessions(engine).begin() as session:
        rows = Rows(session)
        for envelope in order:
            await board.apply(rows, tables, envelope)
        await rows.flush()
    async with sessions(engine)() as session:
        return [dict(r._mapping) for r in await session.execute(select(tables.case))]


async def test_a_case_watched_before_its_thana_was_known_gets_the_circle_in_either_order(
    sqlite_url: str,
) -> None:
    # Escalation did not know Katra yet when it watched the case (its jurisdiction is read every few
    # seconds), so the event names no circle; routing's definition of Katra names it.
    watched = stored(
        CaseWatched(
            case_id="c1", case_number="SJP-2026-000001", priority=Priority.P2, category=Category.STALKING,
            danger_now=False, district="SJP", circle=None, thana="SJP-KATRA", registered_at=AT,
            policy_version="test",
        ),
        "case", "c1", "ESCALATION", 1,
    )  # fmt: skip
    places = [
        stored(CircleDefined(code="SJP-TILHAR", district="SJP", name_hi="तिलहर", name_en="Tilhar"),
               "district", "SJP", "ROUTING", 1),
        stored(ThanaDefined(code="SJP-KATRA", district="SJP", circle="SJP-TILHAR", name_hi="कटरा",
                            name_en="Katra"), "district", "SJP", "ROUTING", 2),
    ]  # fmt: skip
    engine = create_engine(sqlite_url)
    cases: list[list[dict[str, Any]]] = []
    try:
        for n, order in enumerate([[watched, *places], [*places, watched]]):
            cases.append(await board_cases(engine, f"order{n}_", order))
    finally:
        await engine.dispose()
    assert cases[0] == cases[1]
    assert cases[0][0]["circle"] == "SJP-TILHAR"


async def test_a_thana_keeps_its_circle_when_the_circle_of_its_code_is_defined_again(sqlite_url: str) -> None:
    # Tilhar is a circle and a thana of one code; a re-import renaming the circle defines it again after
    # the thana. The thana is still in the circle, and a case watched there later is placed in it.
    tilhar = CircleDefined(code="SJP-TILHAR", district="SJP", name_hi="तिलहर", name_en="Tilhar")
    thana = ThanaDefined(
        code="SJP-TILHAR", district="SJP", circle="SJP-TILHAR", name_hi="तिलहर", name_en="Tilhar"
    )
    renamed = tilhar.model_copy(update={"name_en": "Tilhar circle"})
    watched = CaseWatched(
        case_id="c1", case_number="SJP-2026-000001", priority=Priority.P2, category=Category.STALKING,
        danger_now=False, district="SJP", circle=None, thana="SJP-TILHAR", registered_at=AT,
        policy_version="test",
    )  # fmt: skip
    order = [
        stored(tilhar, "district", "SJP", "ROUTING", 1),
        stored(thana, "district", "SJP", "ROUTING", 2),
        stored(renamed, "district", "SJP", "ROUTING", 3),
        stored(watched, "case", "c1", "ESCALATION", 1),
    ]
    engine = create_engine(sqlite_url)
    try:
        [case] = await board_cases(engine, "tilhar_", order)
    finally:
        await engine.dispose()
    assert case["circle"] == "SJP-TILHAR"
