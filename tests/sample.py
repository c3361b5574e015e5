"""A tiny aggregate and projection used to test the foundation without any service's domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.aggregate import Aggregate
from shared.errors import DomainError
from shared.events import Envelope, Event, event_type, events
from shared.projection import Projection
from shared.rows import Rows


@event_type("TallyOpened")
class TallyOpened(Event):
    label: str


@event_type("TallyCounted", version=2)
class TallyCounted(Event):
    amount: int
    note: str


@event_type("TallyPoisoned")
class TallyPoisoned(Event):
    pass


@events.upcaster("TallyCounted", 1)
def _counted_v1_to_v2(payload: dict[str, object]) -> dict[str, object]:
    return {"amount": payload["n"], "note": "(v1)"}


class Tally(Aggregate):
    aggregate_type = "tally"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.total = 0

    def apply(self, event: Event) -> None:
        match event:
            case TallyCounted(amount=amount):
                self.total += amount
            case _:
                pass

    def open(self, label: str) -> Sequence[Event]:
        if self.exists:
            raise DomainError("exists", "tally exists", "गिनती पहले से है")
        return [TallyOpened(label=label)]

    def count(self, amount: int) -> Sequence[Event]:
        if not self.exists:
            raise DomainError("missing", "no such tally", "गिनती नहीं है")
        return [TallyCounted(amount=amount, note="")]


@dataclass
class TallyTables:
    tallies: Table


class TallyProjection(Projection[TallyTables]):
    name = "tallies"
    sources: ClassVar[dict[str, str]] = {"TESTS": "shakti.tests.tally.*"}

    def define(self, metadata: MetaData, prefix: str) -> TallyTables:
        return TallyTables(
            Table(
                f"{prefix}tally",
                metadata,
                Column("id", String(64), primary_key=True),
                Column("label", String(100)),
                Column("total", Integer, nullable=False),
                Column("events", Integer, nullable=False),
            )
        )

    async def apply(self, rows: Rows, tables: TallyTables, envelope: Envelope) -> None:
        session = rows.session
        t = tables.tallies
        event = envelope.event()
        match event:
            case TallyOpened(label=label):
                await session.execute(
                    t.insert().values(id=envelope.aggregate_id, label=label, total=0, events=1)
                )
            case TallyCounted(amount=amount):
                await session.execute(
                    update(t)
                    .where(t.c.id == envelope.aggregate_id)
                    .values(total=t.c.total + amount, events=t.c.events + 1)
                )
            case TallyPoisoned():
                raise ValueError("this event cannot be applied")


async def rows(session: AsyncSession, tables: TallyTables) -> list[tuple[str, str, int, int]]:
    result = await session.execute(select(tables.tallies).order_by(tables.tallies.c.id))
    return [(r.id, r.label, r.total, r.events) for r in result]
