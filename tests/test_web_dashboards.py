"""The dashboards without a platform: which place a page focuses on, and that the figures of a place are
the services' counts of every case there, not of a first page of the register (issue 15)."""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from shakti.config import PlatformSettings
from shakti.web.dashboards import NEWEST, find_place, mount_dashboards
from shakti.web.i18n import LANG_COOKIE
from shakti.web.pages import PageRefused, page_user, service_api
from shared.auth import Principal
from shared.roles import Role
from tests.sessions import keys_for_tests


def place(level: str, code: str, *children: dict[str, Any]) -> dict[str, Any]:
    return {"level": level, "code": code, "children": list(children)}


# Shahjahanpur's Tilhar circle is named after its thana: both are SJP-TILHAR.
TREE = place(
    "state",
    "UP",
    place(
        "district",
        "SJP",
        place("circle", "SJP-TILHAR", place("thana", "SJP-KATRA"), place("thana", "SJP-TILHAR")),
    ),
)


def test_a_thana_named_like_its_circle_is_found_as_the_thana_and_the_circle_as_the_circle() -> None:
    thana = find_place(TREE, "thana", "SJP-TILHAR")
    circle = find_place(TREE, "circle", "SJP-TILHAR")
    assert thana is not None and thana["level"] == "thana" and thana["children"] == []
    assert circle is not None and circle["level"] == "circle" and len(circle["children"]) == 2


def test_a_place_not_in_the_tree_is_none() -> None:
    assert find_place(TREE, "thana", "SJP-ROZA") is None
    assert find_place(TREE, "circle", "SJP-KATRA") is None


# ---- the figures of a district bigger than a page of cases ----------------------------------------

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)  # 15:30 IST
SJP = {"district": "SJP"}


NAMES = {
    "SJP-TILHAR": ("तिलहर", "Tilhar"),
    "SJP-KATRA": ("थाना कटरा", "Katra"),
    "SJP-SADAR-BAZAR": ("सदर बाजार", "Sadar Bazar"),
}


def compliance_place(level: str, code: str, *children: dict[str, Any]) -> dict[str, Any]:
    name_hi, name_en = NAMES.get(code, (code, code))
    return {
        "level": level, "code": code, "name_hi": name_hi, "name_en": name_en, "staff": 2, "certified": 1,
        "certified_share": 0.5, "children": list(children),
    }  # fmt: skip


COMPLIANCE = compliance_place(
    "district",
    "SJP",
    compliance_place(
        "circle",
        "SJP-TILHAR",
        compliance_place("thana", "SJP-KATRA"),
        compliance_place("thana", "SJP-TILHAR"),
    ),
    compliance_place("circle", "SJP-NAGAR", compliance_place("thana", "SJP-SADAR-BAZAR")),
)


def district_case(n: int, circle: str, thana: str, hours_ago: int) -> dict[str, Any]:
    at = NOW - timedelta(hours=hours_ago)
    return {
        "case_id": f"{n:032x}", "case_number": f"SJP-2026-{n:06d}", "category": "stalking", "priority": "P2",
        "status": "closed" if n % 10 == 0 else "registered", "circle": circle, "thana": thana,
        "registered_at": at.isoformat(), "overdue": False, "assigned_officer": None, "labels": {},
        "district": "SJP", "kendra": f"MSK-{thana}", "danger_now": False, "due_soon_clocks": 0,
        "escalation_level": 0, "first_contact_at": None, "resolved_at": None,
    }  # fmt: skip


# 240 cases of Katra (Tilhar circle), one every 2 hours over 20 days, every tenth closed: 216 open.
# 6 of Sadar Bazar (Nagar circle), open, one every 5 hours.
CASES = [district_case(n, "SJP-TILHAR", "SJP-KATRA", 2 * n) for n in range(1, 241)] + [
    district_case(300 + n, "SJP-NAGAR", "SJP-SADAR-BAZAR", 5 * n) for n in range(1, 7)
]


class Services:
    """The services' API as the dashboard calls it, over the district's cases: the register pages at most
    200 cases, newest first, as intake's does; the figures count every case of the place asked for."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, dict[str, Any]]] = []

    async def get(self, path: str, **params: Any) -> Any:
        params = {k: v for k, v in params.items() if v is not None}
        self.asked.append((path, params))
        place = [c for c in CASES if all(c[k] == params[k] for k in ("circle", "thana") if k in params)]
        if path == "/api/intake/cases":
            assert params["size"] <= 200
            newest = sorted(place, key=lambda c: c["registered_at"], reverse=True)
            size, page = params["size"], params.get("page", 1)
            shown = newest[(page - 1) * size : page * size]
            return {"total": len(place), "page": page, "size": size, "cases": shown}
        if path == "/api/intake/counts":
            days = Counter(datetime.fromisoformat(c["registered_at"]).astimezone(IST).date() for c in place)
            today = NOW.astimezone(IST).date()
            span = [today - timedelta(days=n) for n in range(29, -1, -1)]
            return {
                "scope": SJP | params,
                "status": dict(Counter(c["status"] for c in place)),
                "open": sum(c["status"] == "registered" for c in place),
                "registered_per_ist_day": [{"day": d.isoformat(), "cases": days.get(d, 0)} for d in span],
            }
        if path == "/api/training/compliance":
            return COMPLIANCE
        if path == "/api/escalation/breach-rates":
            return {"rates": [{"place": "SJP-KATRA", "clock": "first_contact", "decided": 4, "breached": 1}]}
        if path == "/api/escalation/breach-trend":
            assert params["weeks"] == 12
            return {"weeks": breach_trend(params.get("thana") or params.get("circle"))}
        if path == "/api/escalation/step-times":
            assert params == {"by": "thana"}  # her whole jurisdiction: the page keeps the place in focus
            return {"by": "thana", "places": STEP_TIMES}
        if path == "/api/escalation/close-to-breach":
            return {"clocks": [clock_of(KATRA_NEAR, "SJP-TILHAR", "SJP-KATRA"), clock_of(SADAR_NEAR, *SADAR)]}
        if path == "/api/escalation/escalated-to-me":
            return {"cases": [clock_of(KATRA_NEAR, "SJP-TILHAR", "SJP-KATRA") | {"level": 4}]}
        raise PageRefused(404, "Not here.", "यहाँ नहीं।")  # parts the page may leave out


def breach_trend(place: str | None) -> list[dict[str, Any]]:
    """Twelve IST weeks (Mondays from 20 October to 5 January), zeros but for the last two; a place
    drilled down to has fewer breaches than the district."""
    mondays = [date(2026, 1, 5) - timedelta(weeks=n) for n in range(11, -1, -1)]
    late = {None: {"2025-12-29": 3, "2026-01-05": 5}, "SJP-KATRA": {"2026-01-05": 2}}.get(place, {})
    return [
        {"week": m.isoformat(), "decided": 10, "breached": late.get(m.isoformat(), 0), "rate": 0.0}
        for m in mondays
    ]


def figures(p50: float | None) -> dict[str, Any]:
    return {"count": 0 if p50 is None else 4, "p50_hours": p50, "p90_hours": p50, "p99_hours": p50}


STEP_TIMES = {
    thana: {"time_to_first_contact": figures(p50), "time_to_disposal": figures(None)}
    for thana, p50 in (("SJP-KATRA", 2.5), ("SJP-SADAR-BAZAR", 30.0), ("SJP-TILHAR", None))
}


KATRA_NEAR, SADAR_NEAR = "SJP-2026-900001", "SJP-2026-900002"
SADAR = ("SJP-NAGAR", "SJP-SADAR-BAZAR")


def clock_of(number: str, circle: str, thana: str) -> dict[str, Any]:
    """A deadline close to breach (or an escalation) as escalation's lists give it: the case's place."""
    return {
        "case_id": f"{int(number[-6:]):032x}", "case_number": number, "district": "SJP", "circle": circle,
        "thana": thana, "clock": "first_contact", "due_at": (NOW + timedelta(hours=2)).isoformat(),
    }  # fmt: skip


@pytest.fixture
def dashboard_of_the_sp() -> tuple[httpx.AsyncClient, Services]:
    services = Services()
    app = FastAPI()
    app.state.settings = PlatformSettings(data_dir=Path("var-unused"), keys_dir=keys_for_tests())
    mount_dashboards(app)
    sp = Principal(username="sp-sjp", role=Role.SP, service_number="PNO100002", district="SJP")
    app.dependency_overrides[page_user] = lambda: sp
    app.dependency_overrides[service_api] = lambda: services
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web.test")
    client.cookies.set(LANG_COOKIE, "en")
    return client, services


def open_count(page: httpx.Response) -> int:
    assert page.status_code == 200, page.text
    found = re.search(r'id="open-count">(\d+)<', page.text)
    assert found is not None
    return int(found.group(1))


async def test_the_dashboard_counts_every_case_of_the_place_not_a_first_page(
    dashboard_of_the_sp: tuple[httpx.AsyncClient, Services],
) -> None:
    client, services = dashboard_of_the_sp
    district = await client.get("/dashboard")
    assert open_count(district) == 216 + 6
    assert ("/api/intake/counts", {}) in services.asked
    # Each IST day's column: 10 January until 15:30 IST has Katra's of 13:30 to 01:30 (7) and Sadar
    # Bazar's of 10:30, 05:30 and 00:30 (3, the last one on the 9th in UTC); a full day has Katra's 12.
    assert "10-01: 10</title>" in district.text and "09-01: 15</title>" in district.text
    assert "05-01: 12</title>" in district.text

    services.asked.clear()
    tilhar = await client.get("/dashboard", params={"circle": "SJP-TILHAR"})
    assert open_count(tilhar) == 216
    assert ("/api/intake/counts", {"circle": "SJP-TILHAR"}) in services.asked
    katra = await client.get("/dashboard", params={"thana": "SJP-KATRA"})
    assert open_count(katra) == 216
    sadar = await client.get("/dashboard", params={"thana": "SJP-SADAR-BAZAR"})
    assert open_count(sadar) == 6
    # The list under the figures is the newest cases only, and says so.
    assert "Newest cases" in tilhar.text
    listed = set(re.findall(r"SJP-2026-\d{6}", tilhar.text[tilhar.text.index("Newest cases") :]))
    assert listed == {c["case_number"] for c in CASES[:NEWEST]}


async def test_every_list_of_the_dashboard_follows_the_drill_down_and_the_trail_names_the_places(
    dashboard_of_the_sp: tuple[httpx.AsyncClient, Services],
) -> None:
    """A thana's dashboard lists that thana's deadlines and escalations, not the district's; its trail
    names the district, the circle and the thana, in the page's language."""
    client, _ = dashboard_of_the_sp
    district = await client.get("/dashboard")
    assert KATRA_NEAR in district.text and SADAR_NEAR in district.text
    sadar = await client.get("/dashboard", params={"thana": "SJP-SADAR-BAZAR"})
    assert SADAR_NEAR in sadar.text and KATRA_NEAR not in sadar.text
    tilhar = await client.get("/dashboard", params={"circle": "SJP-TILHAR"})
    assert KATRA_NEAR in tilhar.text and SADAR_NEAR not in tilhar.text
    katra = await client.get("/dashboard", params={"thana": "SJP-KATRA"})
    trail = katra.text[katra.text.index('<nav class="card muted"') :].split("</nav>")[0]
    assert 'href="/dashboard?circle=SJP-TILHAR">Tilhar</a>' in trail and "Katra" in trail, trail
    # Breaches by thana: the thana's name, in the chart and the table.
    breaches = district.text[district.text.index("Breaches by thana") :].split("</section>")[0]
    assert 'href="/dashboard?thana=SJP-KATRA">Katra</a>' in breaches and ">SJP-KATRA<" not in breaches
    client.cookies.set(LANG_COOKIE, "hi")
    hindi = (await client.get("/dashboard")).text
    assert ">थाना कटरा</a>" in hindi[hindi.index("थानेवार") :].split("</section>")[0]
    katra_hi = (await client.get("/dashboard", params={"thana": "SJP-KATRA"})).text
    trail_hi = katra_hi[katra_hi.index('<nav class="card muted"') :].split("</nav>")[0]
    assert "तिलहर" in trail_hi and "थाना कटरा" in trail_hi and "Tilhar" not in trail_hi, trail_hi


def tile(page: httpx.Response, tile_id: str) -> str:
    assert page.status_code == 200, page.text
    return page.text[page.text.index(f'id="{tile_id}"') :].split("</section>")[0]


def bars_of(section: str) -> list[tuple[str, str]]:
    """(name, value shown) of each bar of a bar chart."""
    return re.findall(r'text-anchor="end">([^<]*)</text><rect[^>]*/><text[^>]*>([^<]*)</text>', section)


@pytest.mark.parametrize("lang", ["en", "hi"])
async def test_the_breach_trend_and_time_to_first_contact_follow_the_drill_down(
    dashboard_of_the_sp: tuple[httpx.AsyncClient, Services], lang: str
) -> None:
    """Issue 15: breaches per IST week and the median hours to first contact per thana, for the district
    and for a thana drilled down to, each tile saying what it counts, in the page's language."""
    client, services = dashboard_of_the_sp
    client.cookies.set(LANG_COOKIE, lang)
    words = {
        "en": ("Deadlines breached per week (count; weeks from Monday, India time", "Median hours", " h"),
        "hi": ("प्रति सप्ताह समय-सीमा उल्लंघन (संख्या; सप्ताह सोमवार से, भारतीय समय", "माध्यिका, घंटे", " घंटे"),
    }[lang]
    heading, hours_heading, unit = words
    katra, sadar = {"en": ("Katra", "Sadar Bazar"), "hi": ("थाना कटरा", "सदर बाजार")}[lang]

    district = await client.get("/dashboard")
    weeks = tile(district, "breaches-per-week")
    assert heading in weeks
    columns = re.findall(r"<title>([^<]*)</title>", weeks)
    assert len(columns) == 12 and columns[0] == "20-10: 0"
    assert columns[-2:] == ["29-12: 3", "05-01: 5"]
    assert ("/api/escalation/breach-trend", {"weeks": 12}) in services.asked
    first_contact = tile(district, "first-contact")
    assert hours_heading.lower() in first_contact.lower()
    # Named, not coded; a thana with nobody contacted yet has no median and no bar.
    assert bars_of(first_contact) == [(katra, f"2.5{unit}"), (sadar, f"30.0{unit}")]

    services.asked.clear()
    at_katra = await client.get("/dashboard", params={"thana": "SJP-KATRA"})
    columns = re.findall(r"<title>([^<]*)</title>", tile(at_katra, "breaches-per-week"))
    assert columns[-2:] == ["29-12: 0", "05-01: 2"] and sum(int(c.split(": ")[1]) for c in columns) == 2
    assert ("/api/escalation/breach-trend", {"weeks": 12, "thana": "SJP-KATRA"}) in services.asked
    assert bars_of(tile(at_katra, "first-contact")) == [(katra, f"2.5{unit}")]
    nagar = await client.get("/dashboard", params={"circle": "SJP-NAGAR"})
    assert bars_of(tile(nagar, "first-contact")) == [(sadar, f"30.0{unit}")]
    nagar_weeks = re.findall(r"<title>[^<]*: (\d+)</title>", tile(nagar, "breaches-per-week"))
    assert len(nagar_weeks) == 12 and {int(n) for n in nagar_weeks} == {0}


async def test_the_sp_downloads_the_register_of_the_place_the_dashboard_shows_as_csv(
    dashboard_of_the_sp: tuple[httpx.AsyncClient, Services],
) -> None:
    """Every case of the circle drilled down to, in every status, read page after page; no identity."""
    client, services = dashboard_of_the_sp
    tilhar = await client.get("/dashboard", params={"circle": "SJP-TILHAR"})
    assert 'href="/dashboard.csv?circle=SJP-TILHAR"' in tilhar.text
    assert 'href="/dashboard.csv"' in (await client.get("/dashboard")).text
    export = await client.get("/dashboard.csv", params={"circle": "SJP-TILHAR"})
    assert export.status_code == 200, export.text
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert export.headers["content-disposition"].startswith('attachment; filename="register-SJP-TILHAR-')
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "मामला संख्या / Case number"
    assert sorted(r[0] for r in rows[1:]) == sorted(c["case_number"] for c in CASES[:240])
    assert any(params.get("page") == 2 for path, params in services.asked if path == "/api/intake/cases")
    katra = await client.get("/dashboard.csv", params={"thana": "SJP-SADAR-BAZAR"})
    assert len(list(csv.reader(io.StringIO(katra.text)))) == 1 + 6
    with pytest.raises(PageRefused) as refused:  # the platform's handler shows it as a page
        await client.get("/dashboard.csv", params={"thana": "SJP-ROZA"})
    assert refused.value.args[0] == 404


# ---- the state cell's figures ---------------------------------------------------------------------


class StateServices:
    """The services as the state cell's page calls them: figures of every district, never a case."""

    async def get(self, path: str, **params: Any) -> Any:
        if path == "/api/intake/counts":
            return {"status": {"registered": 5}, "category": {"stalking": 5}, "open": 5}
        if path == "/api/escalation/breach-rates":
            return {"rates": [{"place": "SJP", "decided": 4, "breached": 1}]}
        if path == "/api/training/compliance":
            return compliance_place("state", "UP", COMPLIANCE, compliance_place("district", "BLY"))
        if path == "/api/routing/compliance/uncertified":
            return {
                "from": "2025-12-12", "to": "2026-01-10", "cases": 3,
                "district": [{"code": "SJP", "cases": 3}], "circle": [{"code": "SJP-TILHAR", "cases": 3}],
                "thana": [{"code": "SJP-KATRA", "cases": 3}],
            }  # fmt: skip
        raise PageRefused(404, "Not here.", "यहाँ नहीं।")


@pytest.mark.parametrize("lang", ["en", "hi"])
async def test_the_state_cell_sees_each_districts_cases_given_to_uncertified_officers(lang: str) -> None:
    app = FastAPI()
    app.state.settings = PlatformSettings(data_dir=Path("var-unused"), keys_dir=keys_for_tests())
    mount_dashboards(app)
    app.dependency_overrides[page_user] = lambda: Principal(username="state", role=Role.STATE_CELL)
    app.dependency_overrides[service_api] = StateServices
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://web.test"
    ) as client:
        client.cookies.set(LANG_COOKIE, lang)
        page = await client.get("/state")
    assert page.status_code == 200, page.text
    heading, zone = {"en": ("Cases given uncertified", "IST"), "hi": ("अप्रमाणित को सौंपे मामले", "भारतीय समय")}[
        lang
    ]
    assert f'{heading} <span class="muted">(2025-12-12 – 2026-01-10, {zone})</span>' in page.text
    rows = {re.sub(r"<[^>]+>", " ", r).split()[0]: r.split("</tr>")[0] for r in page.text.split("<tr>")[2:]}
    assert rows["SJP"].endswith("<td>3</td>") and rows["BLY"].endswith("<td>0</td>")
    assert "SJP-2026-" not in page.text  # figures only
