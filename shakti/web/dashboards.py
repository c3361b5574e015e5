"""The supervisors' dashboards and the state cell's figures, from the services' read models."""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from shakti.web.i18n import language
from shakti.web.pages import (
    SUPERVISOR_ROLES,
    Api,
    PageRefused,
    User,
    allow,
    optional,
    render,
)
from shakti.web.queues import register_csv
from shared.roles import Role

NEWEST = 10
"""How many of the newest cases the dashboard lists under its figures (the figures count every case)."""
WEEKS = 12
"""How many weeks the breach trend goes back, this week included."""
"""How many of the newest cases the dashboard lists under its figures (the figures count every case)."""


def mount_dashboards(app: FastAPI) -> None:
    """Dashboards and the state cell's page."""
    router = APIRouter(include_in_schema=False)
    _supervisors(router)
    _state_cell(router)
    app.include_router(router)


def _supervisors(router: APIRouter) -> None:
    """The supervisors' dashboard of a place and its register as CSV."""

    @router.get("/dashboard")
    async def dashboard(
        request: Request, principal: User, api: Api, circle: str | None = None, thana: str | None = None
    ) -> HTMLResponse:
        allow(principal, SUPERVISOR_ROLES)
        compliance = await optional(api, "/api/training/compliance")
        tree = compliance or {}
        focus = (
            find_place(tree, "thana" if thana else "circle", thana or circle) if (thana or circle) else tree
        )
        if (thana or circle) and focus is None:
            raise PageRefused(404, "No such place in your jurisdiction.", "आपके क्षेत्र में ऐसा स्थान नहीं।")
        thanas_in_focus = {p["code"] for p in places_under(focus or {}, "thana")}
        counts = await api.get("/api/intake/counts", circle=circle, thana=thana)
        newest = await api.get("/api/intake/cases", size=NEWEST, circle=circle, thana=thana)
        rates = await optional(api, "/api/escalation/breach-rates", by="thana") or {"rates": []}
        by_thana: dict[str, list[int]] = {}
        for rate in rates["rates"]:
            if thanas_in_focus and rate["place"] not in thanas_in_focus:
                continue
            decided, breached = by_thana.setdefault(rate["place"], [0, 0])
            by_thana[rate["place"]] = [decided + rate["decided"], breached + rate["breached"]]
        trend = await optional(api, "/api/escalation/breach-trend", weeks=WEEKS, circle=circle, thana=thana)
        steps = await optional(api, "/api/escalation/step-times", by="thana") or {"places": {}}
        first_contact = {
            place: figures["time_to_first_contact"]["p50_hours"]
            for place, figures in steps["places"].items()
            if (not thanas_in_focus or place in thanas_in_focus)
            and figures["time_to_first_contact"]["p50_hours"] is not None
        }
        workloads = await optional(api, "/api/routing/workloads") or []
        per_kendra: dict[str, list[int]] = {}
        for officer in workloads:
            if thanas_in_focus and officer["kendra"].removeprefix("MSK-") not in thanas_in_focus:
                continue
            staff, open_cases = per_kendra.setdefault(officer["kendra"], [0, 0])
            per_kendra[officer["kendra"]] = [staff + 1, open_cases + officer["open_cases"]]
        escalated = await optional(api, "/api/escalation/escalated-to-me") or {"cases": []}
        near = await optional(api, "/api/escalation/close-to-breach", within_hours=24) or {"clocks": []}
        # Escalation's lists cover her whole jurisdiction: the page keeps the place drilled down to.
        level, code = ("thana", thana) if thana else ("circle", circle) if circle else ("", None)

        def here(row: dict[str, Any]) -> bool:
            return not level or row.get(level) == code

        thanas = places_under(tree, "thana")
        asked = urlencode({k: v for k, v in (("circle", circle), ("thana", thana)) if v})
        return render(
            request, "dashboard.html", principal,
            export=f"/dashboard.csv?{asked}" if asked else "/dashboard.csv",
            focus=focus, circle=circle, thana=thana, open_count=counts["open"], cases=newest["cases"],
            total=newest["total"], per_day=per_day_items(counts["registered_per_ist_day"]),
            breaches=sorted(by_thana.items()),
            per_week=per_week_items((trend or {}).get("weeks", [])),
            first_contact=sorted(first_contact.items()),
            workloads=sorted(per_kendra.items()),
            escalated=[r for r in escalated["cases"] if here(r)], near=[r for r in near["clocks"] if here(r)],
            children=(focus or {}).get("children", []), trail=trail_to(tree, focus),
            thana_names={p["code"]: {"hi": p["name_hi"], "en": p["name_en"]} for p in thanas},
        )  # fmt: skip

    @router.get("/dashboard.csv")
    async def dashboard_csv(
        request: Request, principal: User, api: Api, circle: str | None = None, thana: str | None = None
    ) -> Response:
        """The register of the place the dashboard shows, every case in every status; what the register
        keeps of the complainant never (its columns are codes, times and service numbers)."""
        allow(principal, SUPERVISOR_ROLES)
        if thana or circle:
            tree = await optional(api, "/api/training/compliance") or {}
            if find_place(tree, "thana" if thana else "circle", thana or circle) is None:
                raise PageRefused(404, "No such place in your jurisdiction.", "आपके क्षेत्र में ऐसा स्थान नहीं।")
        place = thana or circle or principal.district or principal.circle or principal.thana or "register"
        query = {k: v for k, v in (("circle", circle), ("thana", thana)) if v}
        return await register_csv(api, query, language(request), f"register-{place}")


def _state_cell(router: APIRouter) -> None:
    """The state cell's page: every district side by side, figures only."""

    @router.get("/state")
    async def state(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, frozenset({Role.STATE_CELL}))
        counts = await api.get("/api/intake/counts")
        rates = await api.get("/api/escalation/breach-rates", by="district")
        compliance = await api.get("/api/training/compliance")
        # Figures only: how many cases each district gave to uncertified officers in the last 30 days.
        uncertified = await optional(api, "/api/routing/compliance/uncertified")
        districts: dict[str, dict[str, Any]] = {}
        for d in compliance.get("children", []):
            districts[d["code"]] = district_row(d["name_hi"], d["name_en"], d["staff"], d["certified_share"])
        for rate in rates["rates"]:
            row = districts.setdefault(rate["place"], district_row(rate["place"], rate["place"], 0, None))
            row["decided"] += rate["decided"]
            row["breached"] += rate["breached"]
        for given in (uncertified or {}).get("district", []):
            row = districts.setdefault(given["code"], district_row(given["code"], given["code"], 0, None))
            row["uncertified"] = given["cases"]
        return render(
            request, "state.html", principal,
            counts=counts, districts=sorted(districts.items()), uncertified=uncertified,
        )  # fmt: skip


def district_row(name_hi: str, name_en: str, staff: int, certified_share: float | None) -> dict[str, Any]:
    return {
        "name_hi": name_hi,
        "name_en": name_en,
        "staff": staff,
        "certified_share": certified_share,
        "decided": 0,
        "breached": 0,
        "uncertified": 0,
    }


def find_place(tree: dict[str, Any], level: str, code: str | None) -> dict[str, Any] | None:
    """The place of this level and code: a circle and a thana may share a code (Tilhar's do)."""
    if tree.get("level") == level and tree.get("code") == code:
        return tree
    for child in tree.get("children", []):
        if (found := find_place(child, level, code)) is not None:
            return found
    return None


def trail_to(tree: dict[str, Any], focus: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The places from the top of the caller's tree down to the one in focus (the state's level left
    out: a dashboard starts at a district at the widest)."""

    def path(place: dict[str, Any]) -> list[dict[str, Any]] | None:
        if place is focus:
            return [place]
        for child in place.get("children", []):
            if (below := path(child)) is not None:
                return [place, *below]
        return None

    found = path(tree) if tree and focus is not None else None
    return [p for p in found or [] if p.get("level") in ("district", "circle", "thana")]


def places_under(tree: dict[str, Any], level: str) -> list[dict[str, Any]]:
    found = [tree] if tree.get("level") == level else []
    for child in tree.get("children", []):
        found += places_under(child, level)
    return found


def per_day_items(per_ist_day: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """The chart's columns from intake's cases per IST day: a column a day, labelled day-month."""
    return [(date.fromisoformat(d["day"]).strftime("%d-%m"), float(d["cases"])) for d in per_ist_day]


def per_week_items(weeks: list[dict[str, Any]]) -> list[tuple[str, float]]:
    """The chart's columns from escalation's breach trend: clocks breached each IST week, labelled by
    the week's Monday, day-month."""
    return [(date.fromisoformat(w["week"]).strftime("%d-%m"), float(w["breached"])) for w in weeks]
