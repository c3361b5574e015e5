"""The jurisdiction tree as every service reads it: one projection of routing's definitions.

State → district → circle → thana → locality and Kendra (and the agencies of a district), each with its
Hindi and English name, projected from routing's ``*Defined`` and ``UnitRetired`` events into a service's
own database. Intake checks places against it, escalation finds the ladder's offices in it, training rolls
compliance up along it, notifications and the web front name places with it. One class, one table shape,
one set of queries: each service lists ``Places(<service>)`` among its projections.

A place is its level and its code, as in routing: a circle is often named after its seat thana and has
the thana's code (Tilhar is both in Shahjahanpur), and a table keyed by code alone kept only whichever
was defined last. So every query that finds a place says which level it wants.

Routing keeps its own ``unit`` table: it is where routing's API reads the definitions in full (pincodes,
localities and the basis of each unit, which no other service needs), inside the one generation of
routing's register that also holds its cases and roster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy import Boolean, Column, MetaData, String, Table, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.auth import Principal
from shared.contracts.routing import (
    AgencyDefined,
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    LocalityDefined,
    ThanaDefined,
    UnitRetired,
)
from shared.contracts.vocabulary import Record
from shared.dispatch import handles
from shared.errors import NotFound
from shared.events import Envelope
from shared.projection import Projection, Projector
from shared.rows import Row, Rows, as_dict

PLACE_SUBJECTS = "shakti.routing.district.*"
"""Routing records a district's whole tree on the district's subject."""

LEVELS = ("district", "circle", "thana", "locality", "kendra", "agency")
"""Tree order: how lists of places are sorted within a district."""

Named = DistrictDefined | CircleDefined | ThanaDefined | LocalityDefined | KendraDefined | AgencyDefined


def places_name(service: str) -> str:
    """The projection's name in a service: how the service's queries find its projector."""
    # Not ``<service>_places``, the name of the tables keyed by code alone: a deployment that had those
    # fills this projection from the start of routing's stream by itself.
    return f"{service}_jurisdiction"


@dataclass
class PlaceTables:
    places: Table


class Places(Projection[PlaceTables]):
    sources: ClassVar[dict[str, str]] = {"ROUTING": PLACE_SUBJECTS}

    def __init__(self, service: str) -> None:
        self.name = places_name(service)

    def define(self, metadata: MetaData, prefix: str) -> PlaceTables:
        return PlaceTables(
            Table(
                f"{prefix}place",
                metadata,
                Column("level", String(10), primary_key=True),
                Column("code", String(80), primary_key=True),
                Column("district", String(40), nullable=False, index=True),
                Column("circle", String(80)),
                Column("thana", String(80), index=True),
                Column("kind", String(40)),
                Column("name_hi", String(200), nullable=False),
                Column("name_en", String(200), nullable=False),
                Column("control", Boolean, nullable=False, default=False),
                Column("retired", Boolean, nullable=False, default=False),
            )
        )

    async def _define(self, rows: Rows, tables: PlaceTables, level: str, event: Named, **where: Any) -> None:
        await rows.change(
            tables.places,
            {"level": level, "code": event.code},
            retired=False,
            name_hi=event.name_hi,
            name_en=event.name_en,
            **where,
        )

    @handles(DistrictDefined)
    async def district(
        self, rows: Rows, tables: PlaceTables, event: DistrictDefined, envelope: Envelope
    ) -> None:
        await self._define(rows, tables, "district", event, district=event.code)

    @handles(CircleDefined)
    async def circle(self, rows: Rows, tables: PlaceTables, event: CircleDefined, envelope: Envelope) -> None:
        await self._define(rows, tables, "circle", event, district=event.district, circle=event.code)

    @handles(ThanaDefined)
    async def thana(self, rows: Rows, tables: PlaceTables, event: ThanaDefined, envelope: Envelope) -> None:
        where = {"district": event.district, "circle": event.circle, "thana": event.code}
        await self._define(rows, tables, "thana", event, **where)

    @handles(LocalityDefined)
    async def locality(
        self, rows: Rows, tables: PlaceTables, event: LocalityDefined, envelope: Envelope
    ) -> None:
        where = {"district": event.district, "circle": event.circle, "thana": event.thana}
        await self._define(rows, tables, "locality", event, **where)

    @handles(KendraDefined)
    async def kendra(self, rows: Rows, tables: PlaceTables, event: KendraDefined, envelope: Envelope) -> None:
        where = {"district": event.district, "circle": event.circle, "thana": event.thana}
        await self._define(rows, tables, "kendra", event, control=event.control, **where)

    @handles(AgencyDefined)
    async def agency(self, rows: Rows, tables: PlaceTables, event: AgencyDefined, envelope: Envelope) -> None:
        await self._define(rows, tables, "agency", event, district=event.district, kind=event.kind.value)

    @handles(UnitRetired)
    async def retired(self, rows: Rows, tables: PlaceTables, event: UnitRetired, envelope: Envelope) -> None:
        key = {"level": event.level, "code": event.code}
        if await rows.get(tables.places, **key) is not None:
            await rows.change(tables.places, key, retired=True)


def _tree_order(t: Table) -> Any:
    return case({level: n for n, level in enumerate(LEVELS)}, value=t.c.level, else_=len(LEVELS))


async def find_place(session: AsyncSession, tables: PlaceTables, level: str, code: str) -> Row | None:
    """The place of this level and code (retired or not), or None."""
    t = tables.places
    found = (await session.execute(select(t).where(t.c.level == level, t.c.code == code))).first()
    return as_dict(found) if found else None


async def narrowed_to(
    places: Projector[PlaceTables], principal: Principal, *, circle: str | None, thana: str | None
) -> dict[str, str]:
    """The columns narrowing a caller's figures to a circle and/or a thana. A place unknown, outside the
    caller's jurisdiction, or a thana of another circle gets the 404 every out-of-reach read gets."""
    narrowing: dict[str, str] = {}
    for level, code in (("circle", circle), ("thana", thana)):
        if code is None:
            continue
        async with places.sessions() as session:
            place = await find_place(session, places.tables, level, code)
        if (
            place is None
            or not principal.covers(place["district"], place["circle"], place["thana"])
            or (level == "thana" and circle is not None and place["circle"] != circle)
        ):
            raise NotFound(Record(level), code)
        narrowing[level] = code
    return narrowing


async def find_places(
    session: AsyncSession, tables: PlaceTables, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Row]:
    """The places of these (level, code) pairs, by the pair (those unknown are left out)."""
    t = tables.places
    pairs = sorted(set(wanted))
    if not pairs:
        return {}
    query = select(t).where(or_(*(and_(t.c.level == level, t.c.code == code) for level, code in pairs)))
    return {(row.level, row.code): as_dict(row) for row in await session.execute(query)}


async def jurisdiction_known(session: AsyncSession, tables: PlaceTables) -> bool:
    """Has routing imported any jurisdiction yet?"""
    return bool(await session.scalar(select(func.count()).select_from(tables.places)))


async def list_places(
    session: AsyncSession,
    tables: PlaceTables,
    district: str | None = None,
    *,
    levels: Sequence[str] = LEVELS,
    retired: bool = False,
) -> list[Row]:
    """Every place of these levels (of a district), in tree order: districts, circles, thanas,
    localities, Kendras, agencies."""
    t = tables.places
    query = select(t).where(t.c.level.in_(levels)).order_by(t.c.district, _tree_order(t), t.c.code)
    if district:
        query = query.where(t.c.district == district)
    if not retired:
        query = query.where(t.c.retired.is_(False))
    return [as_dict(r) for r in await session.execute(query)]


async def place_names(session: AsyncSession, tables: PlaceTables) -> dict[str, tuple[str, str]]:
    """code -> (Hindi, English) of every place: how messages name a place instead of showing its code.
    Where a circle and its seat thana share a code the thana's name is kept: messages name the thana
    and the Kendra of a case, never its circle."""
    t = tables.places
    # Narrower units last, so that they are the ones kept.
    rows = await session.execute(select(t.c.code, t.c.name_hi, t.c.name_en).order_by(_tree_order(t)))
    return {code: (hi, en) for code, hi, en in rows}


async def kendras_of(
    session: AsyncSession, tables: PlaceTables, thana: str, *, retired: bool = False
) -> list[str]:
    """The codes of the Kendras at a thana (the live ones, unless ``retired``), by code."""
    t = tables.places
    query = select(t.c.code).where(t.c.level == "kendra", t.c.thana == thana).order_by(t.c.code)
    if not retired:
        query = query.where(t.c.retired.is_(False))
    return list(await session.scalars(query))


async def kendra_thanas(session: AsyncSession, tables: PlaceTables) -> dict[str, str]:
    """Kendra code -> its thana, of the live Kendras."""
    t = tables.places
    rows = await session.execute(
        select(t.c.code, t.c.thana).where(
            t.c.level == "kendra", t.c.retired.is_(False), t.c.thana.is_not(None)
        )
    )
    return {code: thana for code, thana in rows}


@dataclass(frozen=True)
class LadderThana:
    circle: str
    district: str
    kendra: str | None


@dataclass(frozen=True)
class LadderPlaces:
    """What escalation's ladder needs of the tree: each thana's circle, district and Kendra, and each
    district's control thana (the thana of its live control Kendra). Retired thanas and Kendras stay,
    as escalation always kept them: a case already there still climbs to the offices it had."""

    thanas: dict[str, LadderThana]
    control_thana: dict[str, str]


async def ladder_places(session: AsyncSession, tables: PlaceTables) -> LadderPlaces:
    t = tables.places
    rows = (
        await session.execute(
            select(t.c.level, t.c.code, t.c.district, t.c.circle, t.c.thana, t.c.control, t.c.retired)
            .where(t.c.level.in_(("thana", "kendra")))
            # The first Kendra of a thana by code, whichever order the rows come in.
            .order_by(t.c.level, t.c.code.desc())
        )
    ).all()
    kendras = {r.thana: r.code for r in rows if r.level == "kendra" and r.thana}
    thanas = {
        r.code: LadderThana(r.circle, r.district, kendras.get(r.code))
        for r in rows
        if r.level == "thana" and r.circle
    }
    # A retired control Kendra takes no new cases: the district's control is the live one.
    control = {
        r.district: r.thana for r in rows if r.level == "kendra" and r.control and r.thana and not r.retired
    }
    return LadderPlaces(thanas, control)


async def tree_places(session: AsyncSession, tables: PlaceTables, scope: Mapping[str, str]) -> list[Row]:
    """The districts, circles and thanas inside a scope ({"district": …, "circle": …, "thana": …}, any
    of them), in tree order: what a roll-up (training's compliance) hangs its figures on. Retired units
    are kept, as their officers' figures still count under them until they are posted elsewhere."""
    t = tables.places
    query = (
        select(t)
        .where(t.c.level.in_(("district", "circle", "thana")), *(t.c[k] == v for k, v in scope.items()))
        .order_by(_tree_order(t), t.c.code)
    )
    return [as_dict(r) for r in await session.execute(query)]
