"""The operator's page: the services' state and what is parked."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from shakti.web.pages import (
    Api,
    User,
    allow,
    render,
)
from shared.roles import Role


def mount_operator(app: FastAPI) -> None:
    """The operator's page."""
    router = APIRouter(include_in_schema=False)

    # ---- operator ---------------------------------------------------------------------------------

    @router.get("/operations")
    async def operations(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, frozenset({Role.OPERATOR}))
        report = await api.get("/api/ops/status")
        parked = await api.get("/api/ops/parked")
        return render(request, "operations.html", principal, report=report, parked=parked)

    app.include_router(router)
