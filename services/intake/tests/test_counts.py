"""The dashboards' figures (issue 15): counted in the read model over every case of the place asked for,
not over a first page of 200, narrowed to a circle or a thana inside the caller's jurisdiction, with
the cases registered per day as India counts days (Asia/Kolkata)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from services.intake.tests.conftest import CO, INCHARGE, OTHER_THANA, SP, STATE, Intake
from shared.auth import Principal
from shared.roles import Role

IST = ZoneInfo("Asia/Kolkata")
NOW = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)  # the test clock's start: 15:30 IST on 10 January
KATRA = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA", "kendra": "MSK-SJP-KATRA"}
SADAR = {"district": "SJP", "circle": "SJP-NAGAR", "thana": "SJP-SADAR-BAZAR", "kendra": None}
# 00:30 IST on 10 January is still 9 January in UTC: the day it counts on is India's.
AFTER_IST_MIDNIGHT = datetime(2026, 1, 9, 19, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=45)  # counted in the totals, before the 30 days of the chart


def row(n: int, place: dict[str, Any], at: datetime, status: str) -> dict[str, Any]:
    return {
        "case_id": f"{n:032x}",
        "case_number": f"SJP-2025-{n:06d}",
        "category": "domestic_violence" if n % 2 else "stalking",
        "priority": "P2",
        "registered_at": at,
        "status": status,
        "updated_at": at,
        **place,
    }


def seeded() -> list[dict[str, Any]]:
    """230 Katra cases over 29 days, every tenth closed; 7 of Sadar Bazar; two at the edges of days."""
    rows = [
        row(n, KATRA, NOW - timedelta(hours=3 * n), "closed" if n % 10 == 0 else "registered")
        for n in range(1, 231)
    ]
    rows += [row(300 + n, SADAR, NOW - timedelta(hours=5 * n), "in_progress") for n in range(7)]
    rows += [row(400, KATRA, AFTER_IST_MIDNIGHT, "withdrawn"), row(401, KATRA, LONG_AGO, "registered")]
    return rows


async def seed(intake: Intake) -> list[dict[str, Any]]:
    """A district's volume written straight into intake's register (registering 239 complaints one by
    one would test the command path, not the figures)."""
    rows = seeded()
    assert intake.runner.context is not None
    projector = intake.runner.context.projector("intake_cases")
    async with projector.sessions.begin() as session:
        await session.execute(insert(projector.tables.cases), rows)
    return rows


def per_ist_day(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The expected chart, counted here in Python from the seeded moments."""
    counted = Counter(r["registered_at"].astimezone(IST).date() for r in rows)
    today = NOW.astimezone(IST).date()
    days = [today - timedelta(days=n) for n in range(29, -1, -1)]
    return [{"day": d.isoformat(), "cases": counted.get(d, 0)} for d in days]


async def test_the_figures_count_every_case_of_the_place_and_each_ist_day(intake: Intake) -> None:
    rows = await seed(intake)
    katra = [r for r in rows if r["thana"] == "SJP-KATRA"]

    figures = (await intake.get("/counts", SP)).json()
    assert sum(figures["status"].values()) == len(rows) == 239
    assert figures["open"] == 207 + 7 + 1  # Katra's registered, Sadar Bazar's in progress, the old one
    assert figures["status"] == {"registered": 208, "closed": 23, "in_progress": 7, "withdrawn": 1}
    assert figures["registered_per_ist_day"] == per_ist_day(rows)
    chart = {d["day"]: d["cases"] for d in figures["registered_per_ist_day"]}
    assert len(chart) == 30 and min(chart) == "2025-12-12" and max(chart) == "2026-01-10"
    assert sum(chart.values()) == len(rows) - 1  # all but the case of 45 days ago
    # 10 January in IST is 18:30 UTC on the 9th onwards: 5 of Katra's, 4 of Sadar Bazar's and the
    # withdrawn one of 00:30 IST; a day in UTC would have counted 6.
    assert chart["2026-01-10"] == 10 and chart["2026-01-09"] == per_ist_day(rows)[-2]["cases"]

    circle = (await intake.get("/counts", SP, circle="SJP-TILHAR")).json()
    thana = (await intake.get("/counts", CO, thana="SJP-KATRA")).json()
    for narrowed in (circle, thana):
        assert sum(narrowed["status"].values()) == len(katra) == 232
        assert narrowed["open"] == 208 and narrowed["category"] == {"domestic_violence": 116, "stalking": 116}
        assert narrowed["registered_per_ist_day"] == per_ist_day(katra)
    nagar = (await intake.get("/counts", SP, circle="SJP-NAGAR", thana="SJP-SADAR-BAZAR")).json()
    assert nagar["status"] == {"in_progress": 7} and nagar["open"] == 7
    # The register's newest cases of a circle, for the list under the figures.
    newest = (await intake.get("/cases", SP, circle="SJP-NAGAR", size=3)).json()
    assert newest["total"] == 7 and [c["case_number"] for c in newest["cases"]] == [
        "SJP-2025-000300", "SJP-2025-000301", "SJP-2025-000302",
    ]  # fmt: skip
    # The Kendra in-charge's own thana, asked by name, is the same as her whole scope.
    assert (await intake.get("/counts", INCHARGE, thana="SJP-KATRA")).json() == (
        await intake.get("/counts", INCHARGE)
    ).json()


async def test_a_place_out_of_reach_is_not_found_and_a_bad_code_is_refused_in_both_languages(
    intake: Intake,
) -> None:
    elsewhere = Principal(username="co-x", role=Role.CO, service_number="PNO1", district="SJP", circle="X")
    for who, params in (
        (CO, {"thana": "SJP-SADAR-BAZAR"}),  # another circle's thana
        (CO, {"circle": "SJP-NAGAR"}),
        (OTHER_THANA, {"thana": "SJP-KATRA"}),
        (INCHARGE, {"circle": "SJP-TILHAR"}),  # a thana's in-charge asking for her whole circle
        (elsewhere, {"circle": "SJP-TILHAR"}),
        (SP, {"thana": "SJP-NOWHERE"}),  # unknown: the same answer as out of reach
        (SP, {"circle": "SJP-TILHAR", "thana": "SJP-SADAR-BAZAR"}),  # a thana of another circle
        (STATE, {"circle": "LKO-NORTH"}),
    ):
        answer = await intake.get("/counts", who, **params)
        assert answer.status_code == 404, (who.username, params, answer.text)
        assert answer.json()["detail"]["code"] == "not_found"
    for params in ({"circle": "sjp tilhar"}, {"thana": "X" * 65}, {"thana": ""}):
        answer = await intake.get("/counts", SP, **params)
        assert answer.status_code == 422, answer.text
        detail = answer.json()["detail"]
        assert detail["en"] and detail["hi"] and detail["fields"][0]["field"] in ("circle", "thana")
