"""The lists people work from: the Kendra's queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from shakti.web.pages import (
    KENDRA_ROLES,
    Api,
    User,
    allow,
    optional,
    render,
)

ACTIVE_STATUSES = ("registered", "in_progress", "awaiting_complainant")
HORIZON_HOURS = 24 * 90
"""How far ahead the queue looks for a case's next deadline: past the longest limit of the policy."""


def next_deadlines(clocks: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each case's soonest running clock (escalation answers them soonest first)."""
    soonest: dict[str, dict[str, Any]] = {}
    for clock in clocks:
        soonest.setdefault(clock["case_id"], clock)
    return soonest


def urgency(case: dict[str, Any], due: dict[str, dict[str, Any]]) -> tuple[int, str, str]:
    """Late cases first, then by the next deadline, then those with none running, oldest first."""
    nxt = due.get(case["case_id"])
    return (0 if case["overdue"] else 1, nxt["due_at"] if nxt else "~", str(case["registered_at"]))


def mount_queues(app: FastAPI) -> None:
    """The queues."""
    router = APIRouter(include_in_schema=False)

    @router.get("/kendra/queue")
    async def queue(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, KENDRA_ROLES)
        register = await api.get("/api/intake/cases", size=200)
        running = await optional(api, "/api/escalation/close-to-breach", within_hours=HORIZON_HOURS)
        due = next_deadlines((running or {}).get("clocks", []))
        active = sorted(
            (c for c in register["cases"] if c["status"] in ACTIVE_STATUSES), key=lambda c: urgency(c, due)
        )
        mine = [
            c for c in active if c["assigned_officer"] and c["assigned_officer"] == principal.service_number
        ]
        others = [c for c in active if c not in mine]
        return render(
            request, "queue.html", principal, mine=mine, others=others, total=register["total"], due=due
        )

    app.include_router(router)
