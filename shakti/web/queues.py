"""The lists people work from: the Kendra's queue."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from shakti.web.pages import (
    KENDRA_ROLES,
    Api,
    User,
    allow,
    render,
)

ACTIVE_STATUSES = ("registered", "in_progress", "awaiting_complainant")


def mount_queues(app: FastAPI) -> None:
    """The queues."""
    router = APIRouter(include_in_schema=False)

    @router.get("/kendra/queue")
    async def queue(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, KENDRA_ROLES)
        register = await api.get("/api/intake/cases", size=200)
        active = [c for c in register["cases"] if c["status"] in ACTIVE_STATUSES]
        mine = [
            c for c in active if c["assigned_officer"] and c["assigned_officer"] == principal.service_number
        ]
        others = [c for c in active if c not in mine]
        return render(request, "queue.html", principal, mine=mine, others=others, total=register["total"])

    app.include_router(router)
