"""The one jurisdiction projection every service reads (``shared.places``): a place is its level and
code, so a circle and a thana of one code (Tilhar is both in Shahjahanpur) are two places."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.contracts.routing import (
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    ThanaDefined,
    UnitRetired,
)
from shared.events import Envelope, Event
from shared.places import (
    LadderThana,
    Places,
    PlaceTables,
    find_place,
    find_places,
    kendras_of,
    ladder_places,
    list_places,
    place_names,
    tree_places,
)
from shared.readmodel import create_engine, create_tables, sessions
from shared.rows import Rows

AT = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)

SJP = DistrictDefined(code="SJP", name_hi="शाहजहाँपुर", name_en="Shahjahanpur")
TILHAR_CIRCLE = CircleDefined(code="SJP-TILHAR", district="SJP", name_hi="तिलहर", name_en="Tilhar circle")
TILHAR_THANA = ThanaDefined(
    code="SJP-TILHAR", district="SJP", circle="SJP-TILHAR", name_hi="तिलहर", name_en="Tilhar"
)
TILHAR_KENDRA = KendraDefined(
    code="MSK-SJP-TILHAR", district="SJP", circle="SJP-TILHAR", thana="SJP-TILHAR", name_hi="तिलहर केंद्र",
    name_en="Tilhar Kendra",
)  # fmt: skip


def stored(event: Event, sequence: int) -> Envelope:
    return Envelope(
        event_id=uuid.uuid4(), event_type=event.event_type, schema_version=event.schema_version,
        aggregate_type="district", aggregate_id="SJP", aggregate_version=sequence, occurred_at=AT,
        correlation_id=uuid.uuid4(), actor="test", command_id=f"routing-{sequence}",
        payload=event.model_dump(mode="json"), stream="ROUTING", sequence=sequence,
    )  # fmt: skip


@pytest.fixture
async def engine(sqlite_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(sqlite_url)
    yield engine
    await engine.dispose()


async def project(engine: AsyncEngine, *events: Event) -> PlaceTables:
    places = Places("test")
    metadata = MetaData()
    tables = places.define(metadata, "t_")
    await create_tables(engine, metadata)
    async with sessions(engine).begin() as session:
        rows = Rows(session)
        for n, event in enumerate(events, start=1):
            await places.apply(rows, tables, stored(event, n))
        await rows.flush()
    return tables


@pytest.mark.parametrize("circle_last", [False, True], ids=["thana-last", "circle-redefined-last"])
async def test_a_circle_and_a_thana_of_one_code_are_both_kept(engine: AsyncEngine, circle_last: bool) -> None:
    tree: list[Event] = [SJP, TILHAR_CIRCLE, TILHAR_THANA, TILHAR_KENDRA]
    if circle_last:
        tree.append(TILHAR_CIRCLE.model_copy(update={"name_en": "Tilhar (renamed)"}))
    tables = await project(engine, *tree)
    async with sessions(engine)() as session:
        circle = await find_place(session, tables, "circle", "SJP-TILHAR")
        thana = await find_place(session, tables, "thana", "SJP-TILHAR")
        every = await list_places(session, tables, "SJP")
    assert circle is not None and thana is not None
    assert circle["name_en"] == ("Tilhar (renamed)" if circle_last else "Tilhar circle")
    assert (thana["name_en"], thana["circle"]) == ("Tilhar", "SJP-TILHAR")
    assert [(p["level"], p["code"]) for p in every] == [
        ("district", "SJP"),
        ("circle", "SJP-TILHAR"),
        ("thana", "SJP-TILHAR"),
        ("kendra", "MSK-SJP-TILHAR"),
    ]


async def test_retiring_the_thana_leaves_the_circle_of_its_code(engine: AsyncEngine) -> None:
    gone = UnitRetired(level="thana", code="SJP-TILHAR", district="SJP")
    tables = await project(engine, SJP, TILHAR_CIRCLE, TILHAR_THANA, gone)
    async with sessions(engine)() as session:
        live = await list_places(session, tables, "SJP")
        thana = await find_place(session, tables, "thana", "SJP-TILHAR")
    assert [(p["level"], p["code"]) for p in live] == [("district", "SJP"), ("circle", "SJP-TILHAR")]
    assert thana is not None and thana["retired"]


async def test_the_ladder_finds_the_thana_and_its_control_kendra_after_the_circle_is_redefined(
    engine: AsyncEngine,
) -> None:
    control = TILHAR_KENDRA.model_copy(update={"control": True})
    renamed = TILHAR_CIRCLE.model_copy(update={"name_en": "Tilhar (renamed)"})
    tables = await project(engine, SJP, TILHAR_CIRCLE, TILHAR_THANA, control, renamed)
    async with sessions(engine)() as session:
        ladder = await ladder_places(session, tables)
        kendras = await kendras_of(session, tables, "SJP-TILHAR")
    assert ladder.thanas == {"SJP-TILHAR": LadderThana("SJP-TILHAR", "SJP", "MSK-SJP-TILHAR")}
    assert ladder.control_thana == {"SJP": "SJP-TILHAR"}
    assert kendras == ["MSK-SJP-TILHAR"]


async def test_finding_places_says_the_level_and_the_roll_up_keeps_both_units(engine: AsyncEngine) -> None:
    tables = await project(engine, SJP, TILHAR_CIRCLE, TILHAR_THANA, TILHAR_KENDRA)
    async with sessions(engine)() as session:
        found = await find_places(session, tables, [("thana", "SJP-TILHAR"), ("locality", "SJP-TILHAR")])
        tree = await tree_places(session, tables, {"district": "SJP"})
        names = await place_names(session, tables)
    assert list(found) == [("thana", "SJP-TILHAR")]
    assert [(p["level"], p["code"], p["name_en"]) for p in tree] == [
        ("district", "SJP", "Shahjahanpur"),
        ("circle", "SJP-TILHAR", "Tilhar circle"),
        ("thana", "SJP-TILHAR", "Tilhar"),
    ]
    assert names["SJP-TILHAR"] == ("तिलहर", "Tilhar")


async def test_a_retired_control_kendra_is_no_district_control_but_still_the_thanas_office(
    engine: AsyncEngine,
) -> None:
    control = TILHAR_KENDRA.model_copy(update={"control": True})
    gone = UnitRetired(level="kendra", code="MSK-SJP-TILHAR", district="SJP")
    tables = await project(engine, SJP, TILHAR_CIRCLE, TILHAR_THANA, control, gone)
    async with sessions(engine)() as session:
        ladder = await ladder_places(session, tables)
        live = await kendras_of(session, tables, "SJP-TILHAR")
        every = await kendras_of(session, tables, "SJP-TILHAR", retired=True)
    assert ladder.control_thana == {}
    assert ladder.thanas["SJP-TILHAR"].kendra == "MSK-SJP-TILHAR"
    assert (live, every) == ([], ["MSK-SJP-TILHAR"])
