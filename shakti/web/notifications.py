"""The notification bell: the signed-in user's notifications with acknowledgement, the bell's live
unread count (Server-Sent Events), and the outbox of messages that would have been sent."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette.sse import EventSourceResponse

from shakti.web.i18n import language
from shakti.web.pages import (
    KENDRA_ROLES,
    SUPERVISOR_ROLES,
    Api,
    PageRefused,
    ServiceAPI,
    SignInNeeded,
    User,
    allow,
    page_user,
    render,
    service_api,
)
from shared.auth import AGENCY_STAFF
from shared.roles import Role

READERS = KENDRA_ROLES | SUPERVISOR_ROLES
BELL_READERS = READERS | AGENCY_STAFF
"""Who has the bell: an agency desk reads her desk's notifications, and has no message preferences (her
agency's e-mail and phone are the address book's, not hers to turn off)."""
NOTIFICATION_ID = re.compile(r"^[0-9a-f]{32}$")
LIVE_POLL_SECONDS = 1.0
"""How often the bell's stream asks for the count (the web front may run apart from the service)."""
LIVE_LONGEST_SECONDS = 15 * 60
"""A stream ends after this long; the browser's EventSource opens a new one, checking the session."""


def mount_notifications(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)

    @router.get("/notifications")
    async def notifications(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, BELL_READERS)
        mine = await api.get("/api/notifications/mine", limit=100)
        return render(
            request, "notifications.html", principal, notices=mine["notifications"], unread=mine["unread"]
        )

    @router.post("/notifications/{notification_id}/acknowledge")
    async def acknowledge(notification_id: str, principal: User, api: Api) -> Response:
        allow(principal, BELL_READERS)
        if not NOTIFICATION_ID.match(notification_id):
            raise PageRefused(404, "No such notification.", "ऐसी कोई सूचना नहीं।")
        await api.post(f"/api/notifications/{notification_id}/acknowledge", {})
        return RedirectResponse("/notifications", status_code=303)

    @router.get("/notifications/outbox")
    async def outbox(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, READERS | {Role.OPERATOR})
        found = await api.get("/api/notifications/outbox")
        return render(request, "outbox.html", principal, messages=found["messages"])

    @router.get("/notifications/preferences")
    async def preferences(request: Request, principal: User, api: Api, saved: bool = False) -> HTMLResponse:
        allow(principal, READERS)
        current = await api.get("/api/notifications/preferences")
        return render(request, "preferences.html", principal, chosen=_chosen(current), saved=saved)

    @router.post("/notifications/preferences")
    async def choose(request: Request, principal: User, api: Api) -> Response:
        allow(principal, READERS)
        posted = await request.form()
        form = {k: str(v).strip() or None for k, v in posted.items() if k != "csrf_token"}
        wanted: dict[str, Any] = {k: form.get(k) for k in ("language", "quiet_from", "quiet_until")}
        # Each ticked box is one value of the field; the service refuses one that is not e-mail or SMS.
        wanted["muted_channels"] = [str(v) for v in posted.getlist("muted_channels")]
        try:
            await api.put("/api/notifications/preferences", wanted)
        except PageRefused as refused:
            if refused.status != 422:
                raise
            # The form again with what they typed and why it was refused, nothing lost.
            problem = refused.hi if language(request) == "hi" else refused.en
            return render(request, "preferences.html", principal, 422, chosen=wanted, problem=problem)
        return RedirectResponse("/notifications/preferences?saved=true", status_code=303)

    @router.get("/notifications/live")
    async def live(request: Request) -> Response:
        """``unread`` events with the caller's unread count: one at once, then one at each change."""
        try:
            principal = await page_user(request)
        except SignInNeeded:
            return Response(status_code=401)
        allow(principal, BELL_READERS)
        return EventSourceResponse(_counts(request), ping=15)

    app.include_router(router)


def _chosen(current: dict[str, Any]) -> dict[str, Any]:
    quiet = current.get("quiet_hours") or {}
    return {
        "language": current.get("language"),
        "quiet_from": quiet.get("from"),
        "quiet_until": quiet.get("until"),
        "muted_channels": current.get("muted_channels") or [],
    }


async def _counts(request: Request) -> AsyncIterator[dict[str, Any]]:
    shown: int | None = None
    loop = asyncio.get_running_loop()
    until = loop.time() + LIVE_LONGEST_SECONDS
    async with contextlib.asynccontextmanager(service_api)(request) as api:
        while loop.time() < until and not await request.is_disconnected():
            try:
                count = await _unread(api)
            except PageRefused:
                return  # the session ended or the service is away: the browser asks again later
            if count != shown:
                shown = count
                yield {"event": "unread", "data": str(count)}
            await asyncio.sleep(LIVE_POLL_SECONDS)


async def _unread(api: ServiceAPI) -> int:
    return int((await api.get("/api/notifications/unread"))["unread"])
