"""How escalation's and routing's events change escalation's read model: one small handler per event,
reading and writing rows through the batch's ``Rows`` (written as a set when the batch commits)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from sqlalchemy import MetaData

from shared.contracts.escalation import (
    CaseEscalated,
    CaseWatchClosed,
    CaseWatched,
    CaseWatchReopened,
    ClockPaused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    EscalationAcknowledged,
    NextCheckScheduled,
    SlaBreached,
)
from shared.contracts.routing import (
    CaseRouted,
    ThanaDefined,
)
from shared.dispatch import handles
from shared.events import Envelope
from shared.projection import Projection
from shared.rows import Row, Rows

from .tables import BoardTables, board_tables

FIRST_CONTACT_TRIGGER = "FirstContactMade"
DISPOSAL_TRIGGER = "CaseResolved"
"""The intake events whose times give the time-to-first-contact and time-to-disposal figures."""
STEP_TIMES = {FIRST_CONTACT_TRIGGER: "first_contact_at", DISPOSAL_TRIGGER: "disposed_at"}

ClockFact = ClockPaused | ClockResumed | DeadlineApproaching | SlaBreached | ClockStopped
CaseFact = (
    CaseWatched
    | CaseRouted
    | ClockStopped
    | CaseEscalated
    | EscalationAcknowledged
    | CaseWatchClosed
    | CaseWatchReopened
)
"""Events that read or change a case's row (prefetched per batch)."""


class EscalationBoard(Projection[BoardTables]):
    name = "escalation_board"
    sources: ClassVar[Mapping[str, str]] = {
        "ESCALATION": "shakti.escalation.case.*",
        "ROUTING": "shakti.routing.>",
    }

    def define(self, metadata: MetaData, prefix: str) -> BoardTables:
        return board_tables(metadata, prefix)

    async def prefetch(self, rows: Rows, t: BoardTables, envelopes: list[Envelope]) -> None:
        """The cases and clocks a batch's events change, each table read in one query (a started
        clock's row is new: nothing to read)."""
        cases: list[tuple[Any, ...]] = []
        clocks: list[tuple[Any, ...]] = []
        key_columns = [column.name for column in t.clock.primary_key.columns]
        for envelope in envelopes:
            event = envelope.event()
            if isinstance(event, CaseFact):
                cases.append((event.case_id,))
            if isinstance(event, ClockFact):
                clock = _clock_key(event)
                clocks.append(tuple(clock[name] for name in key_columns))
        await rows.prefetch(t.case, cases)
        await rows.prefetch(t.clock, clocks)

    @handles(CaseWatched)
    async def case_watched(self, rows: Rows, t: BoardTables, event: CaseWatched, envelope: Envelope) -> None:
        known = await rows.get(t.case, case_id=event.case_id)
        # Routing's CaseRouted, when it came first, knows the place better: only empty columns are filled.
        place: Row = {}
        for column, value in (("district", event.district), ("thana", event.thana)):
            if known is None or known[column] is None:
                place[column] = value
        if known is None or known["circle"] is None:
            place["circle"] = event.circle or await _circle_of(rows, t, event.thana)
        await rows.change(
            t.case,
            {"case_id": event.case_id},
            case_number=event.case_number,
            priority=event.priority.value,
            category=event.category.value,
            danger_now=event.danger_now,
            registered_at=event.registered_at,
            **place,
        )

    @handles(CaseRouted)
    async def case_routed(self, rows: Rows, t: BoardTables, event: CaseRouted, envelope: Envelope) -> None:
        await rows.change(
            t.case,
            {"case_id": event.case_id},
            district=event.district,
            circle=event.circle,
            thana=event.thana,
            kendra=event.kendra,
        )

    @handles(ClockStarted)
    async def clock_started(
        self, rows: Rows, t: BoardTables, event: ClockStarted, envelope: Envelope
    ) -> None:
        rows.put(
            t.clock,
            rows.blank(
                t.clock,
                **_clock_key(event),
                basis=event.basis,
                limit_seconds=event.limit_seconds,
                policy_version=event.policy_version,
                started_at=event.started_at,
                due_at=event.due_at,
                state="running",
                remaining_seconds=None,
                warned_pct=0,
                breached_at=None,
                stopped_at=None,
                met=None,
                stop_reason=None,
            ),
        )

    @handles(ClockPaused)
    async def clock_paused(self, rows: Rows, t: BoardTables, event: ClockPaused, envelope: Envelope) -> None:
        await rows.update(
            t.clock, _clock_key(event), state="paused", due_at=None, remaining_seconds=event.remaining_seconds
        )

    @handles(ClockResumed)
    async def clock_resumed(
        self, rows: Rows, t: BoardTables, event: ClockResumed, envelope: Envelope
    ) -> None:
        await rows.update(t.clock, _clock_key(event), state="running", due_at=event.due_at)

    @handles(DeadlineApproaching)
    async def deadline_approaching(
        self, rows: Rows, t: BoardTables, event: DeadlineApproaching, envelope: Envelope
    ) -> None:
        await rows.update(t.clock, _clock_key(event), warned_pct=event.threshold_pct)

    @handles(SlaBreached)
    async def sla_breached(self, rows: Rows, t: BoardTables, event: SlaBreached, envelope: Envelope) -> None:
        await rows.update(
            t.clock, _clock_key(event), state="breached", breached_at=event.breached_at, met=False
        )

    @handles(ClockStopped)
    async def clock_stopped(
        self, rows: Rows, t: BoardTables, event: ClockStopped, envelope: Envelope
    ) -> None:
        await rows.update(
            t.clock,
            _clock_key(event),
            state="stopped",
            stopped_at=event.at,
            met=event.met,
            stop_reason=event.reason,
        )
        column = STEP_TIMES.get(event.reason)
        case = await rows.get(t.case, case_id=event.case_id) if column else None
        # The first time counts (a reopened case's later disposal does not move the figure).
        if column and case is not None and case[column] is None:
            await rows.update(t.case, {"case_id": event.case_id}, **{column: event.at})

    @handles(CaseEscalated)
    async def case_escalated(
        self, rows: Rows, t: BoardTables, event: CaseEscalated, envelope: Envelope
    ) -> None:
        at = envelope.occurred_at
        escalation = {"case_id": event.case_id, "round": event.round, "level": event.level}
        rows.put(
            t.escalation,
            rows.blank(
                t.escalation,
                **escalation,
                role=event.role.value,
                office_code=event.office_code,
                reason=event.reason,
                escalated_at=at,
                next_due_at=event.next_due_at,
                acknowledged_at=None,
                acknowledged_by=None,
            ),
        )
        await rows.update(
            t.case,
            {"case_id": event.case_id},
            level=event.level,
            role=event.role.value,
            office_code=event.office_code,
            escalated_at=at,
            climbing=event.next_due_at is not None,
            acknowledged_at=None,
        )

    @handles(EscalationAcknowledged)
    async def escalation_acknowledged(
        self, rows: Rows, t: BoardTables, event: EscalationAcknowledged, envelope: Envelope
    ) -> None:
        at = envelope.occurred_at
        await rows.update(
            t.escalation,
            {"case_id": event.case_id, "round": event.round, "level": event.level},
            acknowledged_at=at,
            acknowledged_by=event.by,
        )
        await rows.update(t.case, {"case_id": event.case_id}, climbing=False, acknowledged_at=at)

    @handles(CaseWatchClosed)
    async def case_watch_closed(
        self, rows: Rows, t: BoardTables, event: CaseWatchClosed, envelope: Envelope
    ) -> None:
        await rows.update(t.case, {"case_id": event.case_id}, closed=True, closed_at=event.at, climbing=False)

    @handles(CaseWatchReopened)
    async def case_watch_reopened(
        self, rows: Rows, t: BoardTables, event: CaseWatchReopened, envelope: Envelope
    ) -> None:
        await rows.update(
            t.case,
            {"case_id": event.case_id},
            closed=False,
            closed_at=None,
            round=event.round,
            level=0,
            role=None,
            office_code=None,
            escalated_at=None,
            climbing=False,
            acknowledged_at=None,
        )

    @handles(NextCheckScheduled)
    async def next_check_scheduled(
        self, rows: Rows, t: BoardTables, event: NextCheckScheduled, envelope: Envelope
    ) -> None:
        if event.at is None:
            rows.remove(t.next_check, case_id=event.case_id)
        else:
            rows.put(
                t.next_check,
                rows.blank(t.next_check, case_id=event.case_id, at=event.at, what=event.what[:80]),
            )

    @handles(ThanaDefined)
    async def thana_defined(
        self, rows: Rows, t: BoardTables, event: ThanaDefined, envelope: Envelope
    ) -> None:
        rows.put(t.thana, rows.blank(t.thana, code=event.code, circle=event.circle))
        # A case watched before its thana was known here gets the circle now, as it would have
        # had the thana come first: the two streams are applied in no fixed order.
        for case in await rows.where(t.case, thana=event.code, circle=None):
            await rows.update(t.case, {"case_id": case["case_id"]}, circle=event.circle)


def _clock_key(event: ClockStarted | ClockFact) -> dict[str, Any]:
    return {
        "case_id": event.case_id,
        "clock": event.clock,
        "referral_id": event.referral_id or "",
        "round": event.round,
    }


async def _circle_of(rows: Rows, t: BoardTables, thana: str | None) -> str | None:
    if thana is None:
        return None
    known = await rows.get(t.thana, code=thana)
    return known["circle"] if known is not None else None
