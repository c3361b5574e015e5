"""Human-readable case numbers (``SJP-2026-000123``), unique across the state with any number of replicas.

Each district has one series a year, an aggregate of its own in the INTAKE stream
(``shakti.intake.series.SJP-2026``). Taking a number appends ``CaseNumberIssued`` expecting the series'
last stream sequence: of two replicas that take the same number at once, the stream accepts one, and
the other reads the new last number and tries the next. Only the last event of the series is read
(one direct get), so taking a number costs the same on the first day of the year and the last.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from nats.js.errors import NotFoundError

from shared.aggregate import on_conflict
from shared.contracts.intake import SERIES, CaseNumberIssued
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore, decode_message, stream_name

INDIA = timezone(timedelta(hours=5, minutes=30), "IST")
"""Case numbers follow the year on the Kendra's wall calendar, not UTC's."""

ATTEMPTS = 200


def series_of(district: str, moment: datetime) -> tuple[str, int]:
    year = moment.astimezone(INDIA).year
    return f"{district}-{year}", year


def format_case_number(district: str, year: int, running: int) -> str:
    return f"{district}-{year}-{running:06d}"


class CaseNumbers:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        # Registrations in this process take numbers one at a time per series, starting from the last
        # number this process saw: concurrent ones would only collide with each other. Other
        # replicas are kept out by the expected sequence; a stale guess costs one conflict and a read.
        self._turns: dict[str, asyncio.Lock] = {}
        self._seen: dict[str, Envelope] = {}

    async def issue(self, district: str, moment: datetime, case_id: str, meta: CommandMeta) -> str:
        """Take the next number of the district's series for ``case_id``; a repeated ``meta.command_id``
        gets the number it took before (as long as no other number was taken in between)."""
        series, year = series_of(district, moment)

        async def attempt(tried: int) -> str:
            # After a conflict the number seen last is stale: another replica took the next one.
            last = (None if tried else self._seen.get(series)) or await self._last(series)
            if last is not None and last.command_id == meta.command_id:
                return _issued(last).case_number
            running = _issued(last).running + 1 if last else 1
            number = CaseNumberIssued(
                case_number=format_case_number(district, year, running),
                district=district,
                year=year,
                running=running,
                case_id=case_id,
            )
            [stored] = await self.store.append(
                SERIES,
                series,
                [number],
                expected_sequence=last.sequence if last else 0,
                expected_version=last.aggregate_version if last else 0,
                meta=meta,
            )
            self._seen[series] = stored
            return _issued(stored).case_number

        async with self._turns.setdefault(series, asyncio.Lock()):
            # Many replicas may race for one series: more tries than a command, each wait shorter.
            return await on_conflict(attempt, attempts=ATTEMPTS, pause=0.001, longest=0.02)

    async def _last(self, series: str) -> Envelope | None:
        try:
            msg = await self.store.js.get_last_msg(
                stream_name(self.store.service), self.store.subject(SERIES, series), direct=True
            )
        except NotFoundError:
            return None
        return decode_message(msg.data or b"", {}, stream_name(self.store.service), sequence=msg.seq)


def _issued(envelope: Envelope) -> CaseNumberIssued:
    event = envelope.event()
    if not isinstance(event, CaseNumberIssued):
        raise TypeError(f"series event #{envelope.sequence} is a {envelope.event_type}")
    return event
