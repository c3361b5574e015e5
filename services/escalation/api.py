"""HTTP routes of the escalation service (mounted at ``/api/escalation``).

Every route admits named roles only and answers inside the caller's jurisdiction. Answers carry codes
with Hindi and English labels; there is no identity data here to show.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from shared.auth import FIELD_STAFF, PLATFORM_STAFF, SUPERVISORS, Principal, require
from shared.commands import Caller, IdempotencyKey
from shared.contracts.escalation import EscalationAcknowledged
from shared.contracts.vocabulary import (
    CATEGORY_LABELS,
    LADDER_LABELS,
    PRIORITY_LABELS,
    LadderRole,
    Priority,
    label,
)
from shared.errors import CaseNotFound
from shared.places import narrowed_to
from shared.roles import Role
from shared.runtime import ServiceContext
from shared.text import OneLine

from .commands import Acknowledge, EscalationCommands
from .policy import Policy
from .read_model.projection import EscalationBoard
from .read_model.queries import (
    PlaceLevel,
    breach_rates,
    breach_trend,
    case_view,
    close_to_breach,
    escalated_to,
    escalation_summary,
    step_times,
)
from .read_model.tables import BoardTables

# The state cell gets figures only (summaries, rates, step times): no route that names a case.
LADDER_ROLES = frozenset(Role(r.value) for r in LadderRole) - {Role.STATE_CELL}
WATCHERS = FIELD_STAFF | SUPERVISORS
FIGURES = SUPERVISORS | {Role.KENDRA_INCHARGE, Role.STATE_CELL, Role.OPERATOR}

Ladder = Annotated[Principal, Depends(require(LADDER_ROLES))]
Watcher = Annotated[Principal, Depends(require(WATCHERS))]
FiguresReader = Annotated[Principal, Depends(require(FIGURES))]
Anyone = Annotated[Principal, Depends(require(PLATFORM_STAFF))]
CaseKey = Annotated[str, Path(min_length=1, max_length=64), OneLine]
PlaceCode = Annotated[str | None, Query(pattern=r"^[A-Z0-9][A-Z0-9-]{0,63}$", max_length=64)]


def _both(labels: dict[Any, tuple[str, str]], code: str | None) -> dict[str, str] | None:
    if code is None:
        return None
    return {"code": code, "hi": label(labels, code, "hi"), "en": label(labels, code, "en")}


class Labels:
    """The bilingual labels of the answers: codes of roles, priorities, categories and the policy's clocks."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def clock(self, code: str) -> dict[str, str]:
        return {"code": code, "hi": self.policy.label(code, "hi"), "en": self.policy.label(code, "en")}

    def row(self, row: dict[str, Any]) -> dict[str, Any]:
        out = dict(row)
        if "role" in out:
            out["role"] = _both(LADDER_LABELS, out["role"])
        if "priority" in out:
            out["priority"] = _both(PRIORITY_LABELS, out["priority"])
        if "category" in out:
            out["category"] = _both(CATEGORY_LABELS, out["category"])
        if "clock" in out:
            out["clock"] = self.clock(out["clock"])
        return out

    def policy_in_force(self) -> dict[str, Any]:
        policy = self.policy
        return {
            "version": policy.version,
            "status": policy.status,
            "warnings_pct": policy.warnings,
            "clocks": [
                {
                    **self.clock(name),
                    "limits": {
                        p.value: policy.priorities[p].limits[name].text
                        for p in Priority
                        if p in policy.priorities
                    },
                }
                for name in policy.clocks
            ],
            "ladder": {
                p.value: [
                    {"role": _both(LADDER_LABELS, r.role.value), "gives": r.gives.text if r.gives else None}
                    for r in rules.ladder
                ]
                for p, rules in policy.priorities.items()
            },
        }


def build_router(ctx: ServiceContext, policy: Policy, commands: EscalationCommands) -> APIRouter:
    router = APIRouter(tags=["escalation"])
    board = ctx.projector(EscalationBoard.name)
    labels = Labels(policy)
    labelled = labels.row
    places = commands.places

    def tables() -> BoardTables:
        tables: BoardTables = board.tables
        return tables

    @router.get("/policy", summary="The SOP policy in force: clocks, limits, ladder")
    async def policy_in_force(principal: Anyone) -> dict[str, Any]:
        return labels.policy_in_force()

    @router.get("/escalated-to-me", summary="Open cases escalated to the caller's level and office")
    async def escalated_to_me(principal: Ladder, include_done: bool = False) -> dict[str, Any]:
        office = await commands.office_of(principal)
        async with board.sessions() as session:
            rows = await escalated_to(
                session, tables(), LadderRole(principal.role.value), office, include_done=include_done
            )
        return {"office_code": office, "cases": [labelled(r) for r in rows]}

    @router.get("/escalations/summary", summary="Unanswered escalations per level and office")
    async def summary(principal: FiguresReader) -> dict[str, Any]:
        async with board.sessions() as session:
            rows = await escalation_summary(session, tables(), principal.scope())
        return {"scope": principal.scope(), "levels": [labelled(r) for r in rows]}

    @router.get("/close-to-breach", summary="Running clocks warned or due soon")
    async def near_breach(
        principal: Watcher, within_hours: Annotated[float, Query(ge=0, le=24 * 90)] = 0
    ) -> dict[str, Any]:
        now = ctx.clock.now()
        async with board.sessions() as session:
            rows = await close_to_breach(
                session, tables(), principal.scope(), now, timedelta(hours=within_hours)
            )
        return {"now": now, "clocks": [labelled(r) for r in rows]}

    _figures(router, ctx, board, labels, places)

    @router.get("/cases/{case_id}", summary="One case's clocks and escalations")
    async def one_case(case_id: CaseKey, principal: Watcher) -> dict[str, Any]:
        async def found() -> dict[str, Any] | None:
            async with board.sessions() as session:
                return await case_view(session, tables(), case_id)

        def reached(view: dict[str, Any]) -> bool:
            return principal.covers(view["district"], view["circle"], view["thana"])

        view = await board.find(found, reached)  # named by an alert a moment ago, perhaps
        if view is None:
            raise CaseNotFound(case_id)
        view["clocks"] = [labelled(c) for c in view["clocks"]]
        view["escalations"] = [labelled(e) for e in view["escalations"]]
        return labelled(view)

    @router.post("/cases/{case_id}/acknowledge", summary="The caller takes up a case escalated to them")
    async def acknowledge(
        case_id: CaseKey,
        principal: Ladder,
        idempotency_key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        stored = await commands.acknowledge(
            Caller.person(principal, idempotency_key), Acknowledge(case_id=case_id)
        )
        levels = [event.level for e in stored if isinstance(event := e.event(), EscalationAcknowledged)]
        return {"case_id": case_id, "acknowledged_levels": levels, "already_acknowledged": not levels}

    return router


def _figures(router: APIRouter, ctx: ServiceContext, board: Any, labels: Labels, places: Any) -> None:
    """The figures of a jurisdiction: breach rates, the weekly trend, the time each step took."""
    labelled = labels.row

    def tables() -> BoardTables:
        tables: BoardTables = board.tables
        return tables

    @router.get("/breach-rates", summary="Share of clocks breached, per place and clock")
    async def rates(principal: FiguresReader, by: PlaceLevel = "thana") -> dict[str, Any]:
        async with board.sessions() as session:
            rows = await breach_rates(session, tables(), principal.scope(), by)
        return {"by": by, "rates": [labelled(r) for r in rows]}

    @router.get("/breach-trend", summary="Clocks decided and breached per week (weeks from Monday, IST)")
    async def trend(
        principal: FiguresReader,
        weeks: Annotated[int, Query(ge=1, le=104)] = 12,
        circle: PlaceCode = None,
        thana: PlaceCode = None,
    ) -> dict[str, Any]:
        """The last ``weeks`` weeks up to this one, oldest first, every week present (zeros too); a week
        starts Monday 00:00 India time and is named by that Monday's date. A clock counts in the week its
        outcome became known: when it breached, or when it stopped in time or late. Of the caller's
        jurisdiction, or of a circle or thana inside it."""
        scope = principal.scope() | await narrowed_to(places, principal, circle=circle, thana=thana)
        async with board.sessions() as session:
            rows = await breach_trend(session, tables(), scope, ctx.clock.now(), weeks)
        return {"scope": scope or {"state": "UP"}, "timezone": "Asia/Kolkata", "weeks": rows}

    @router.get("/step-times", summary="Time to first contact and to disposal (percentiles, hours)")
    async def times(principal: FiguresReader, by: PlaceLevel | None = None) -> dict[str, Any]:
        async with board.sessions() as session:
            figures = await step_times(session, tables(), principal.scope(), by)
        return {"by": by or "all", "places": figures}
