"""The jurisdiction tree as every service reads it: one projection of routing's definitions.

State → district → circle → thana → Kendra (and the agencies of a district), each with its Hindi and
English name, projected from routing's ``*Defined`` and ``UnitRetired`` events into a service's own
database. Intake checks places against it, escalation finds the ladder's offices in it, training rolls
compliance up along it, the web front names places with it. One class, one table shape, one set of
queries: each service lists ``Places(<service>)`` among its projections.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Boolean, Column, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.routing import (
    AgencyDefined,
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    ThanaDefined,
    UnitRetired,
)
from shared.dispatch import handles
from shared.events import Envelope
from shared.projection import Projection
from shared.rows import Row, Rows, as_dict

PLACE_SUBJECTS = "shakti.routing.district.*"
"""Routing records a district's whole tree on the district's subject."""

LEVELS = ("district", "circle", "thana", "kendra", "agency")


@dataclass
class PlaceTables:
    places: Table


class Places(Projection[PlaceTables]):
    sources: ClassVar[dict[str, str]] = {"ROUTING": PLACE_SUBJECTS}

    def __init__(self, service: str) -> None:
        self.name = f"{service}_places"

    def define(self, metadata: MetaData, prefix: str) -> PlaceTables:
        return PlaceTables(
            Table(
                f"{prefix}place",
                metadata,
                Column("code", String(80), primary_key=True),
                Column("level", String(10), nullable=False, index=True),
                Column("district", String(40), nullable=False, index=True),
                Column("circle", String(80)),
                Column("thana", String(80)),
                Column("kind", String(40)),
                Column("name_hi", String(200), nullable=False),
                Column("name_en", String(200), nullable=False),
                Column("control", Boolean, nullable=False, default=False),
                Column("retired", Boolean, nullable=False, default=False),
            )
        )

    async def _define(self, rows: Rows, tables: PlaceTables, code: str, **values: Any) -> None:
        await rows.change(tables.places, {"code": code}, retired=False, **values)

    @handles(DistrictDefined)
    async def district(
        self, rows: Rows, tables: PlaceTables, event: DistrictDefined, envelope: Envelope
    ) -> None:
        await self._define(rows, tables, event.code, level="district", district=event.code, **_names(event))

    @handles(CircleDefined)
    async def circle(self, rows: Rows, tables: PlaceTables, event: CircleDefined, envelope: Envelope) -> None:
        await self._define(
            rows,
            tables,
            event.code,
            level="circle",
            district=event.district,
            circle=event.code,
            **_names(event),
        )

    @handles(ThanaDefined)
    async def thana(self, rows: Rows, tables: PlaceTables, event: ThanaDefined, envelope: Envelope) -> None:
        where = {"district": event.district, "circle": event.circle, "thana": event.code}
        await self._define(rows, tables, event.code, level="thana", **where, **_names(event))

    @handles(KendraDefined)
    async def kendra(self, rows: Rows, tables: PlaceTables, event: KendraDefined, envelope: Envelope) -> None:
        where = {"district": event.district, "circle": event.circle, "thana": event.thana}
        await self._define(
            rows, tables, event.code, level="kendra", control=event.control, **where, **_names(event)
        )

    @handles(AgencyDefined)
    async def agency(self, rows: Rows, tables: PlaceTables, event: AgencyDefined, envelope: Envelope) -> None:
        await self._define(
            rows,
            tables,
            event.code,
            level="agency",
            district=event.district,
            kind=event.kind.value,
            **_names(event),
        )

    @handles(UnitRetired)
    async def retired(self, rows: Rows, tables: PlaceTables, event: UnitRetired, envelope: Envelope) -> None:
        if await rows.get(tables.places, code=event.code) is not None:
            await rows.change(tables.places, {"code": event.code}, retired=True)


def _names(event: DistrictDefined | CircleDefined | ThanaDefined | KendraDefined | AgencyDefined) -> Row:
    return {"name_hi": event.name_hi, "name_en": event.name_en}


async def find_places(session: AsyncSession, tables: PlaceTables, codes: Sequence[str]) -> dict[str, Row]:
    """The places with these codes, by code (those unknown are left out)."""
    t = tables.places
    return {row.code: as_dict(row) for row in await session.execute(select(t).where(t.c.code.in_(codes)))}


async def jurisdiction_known(session: AsyncSession, tables: PlaceTables) -> bool:
    """Has routing imported any jurisdiction yet?"""
    return bool(await session.scalar(select(func.count()).select_from(tables.places)))


async def list_places(
    session: AsyncSession, tables: PlaceTables, district: str | None = None, *, retired: bool = False
) -> list[Row]:
    """Every place (of a district), in tree order: districts, circles, thanas, Kendras, agencies."""
    t = tables.places
    query = select(t).order_by(t.c.district, t.c.level, t.c.code)
    if district:
        query = query.where(t.c.district == district)
    if not retired:
        query = query.where(t.c.retired.is_(False))
    return [as_dict(r) for r in await session.execute(query)]


async def place_names(session: AsyncSession, tables: PlaceTables) -> dict[str, tuple[str, str]]:
    """code -> (Hindi, English) of every place: how pages name a place instead of showing its code."""
    t = tables.places
    rows = await session.execute(select(t.c.code, t.c.name_hi, t.c.name_en))
    return {code: (hi, en) for code, hi, en in rows}
