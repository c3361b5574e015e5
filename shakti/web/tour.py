"""The demo's guided tour: who to sign in as, and what to try as each role. It exists in demo mode only
(``shakti up --demo``), where every user, case and name is made up; a real platform has no such page and
shows no password anywhere."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse

from shakti.config import PlatformSettings
from shakti.demo import PASSWORD, USERS
from shakti.web.pages import PageRefused, render, templates


def demo_users() -> list[dict[str, str]]:
    """The demo users as the pages list them: name, role and where they work."""
    return [
        {
            "username": username,
            "role": role.value,
            "place": where.get("agency") or where.get("thana") or where.get("circle") or "SJP",
        }
        for username, role, where in USERS
    ]


def mount_tour(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)
    # The sign-in page lists them too, in demo mode only (its template asks ``demo`` first).
    templates.env.globals.update(demo_users=demo_users(), demo_password=PASSWORD)

    @router.get("/demo")
    async def tour(request: Request) -> HTMLResponse:
        settings: PlatformSettings = request.app.state.settings
        if not settings.demo:
            raise PageRefused(404, "No such page.", "ऐसा कोई पृष्ठ नहीं।")
        return render(request, "tour.html", None, users=demo_users(), password=PASSWORD)

    app.include_router(router)
