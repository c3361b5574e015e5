"""The state generator's data (bench/state_data.py): the 75 districts and their sheets as routing reads
them, and a year of complaints that is the same for the same seed and has the shares written down."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bench.state_data import (
    DANGER_NOW_SHARE,
    MINOR_SHARE,
    MONTH_WEIGHTS,
    NEVER_CONTACTED_SHARE,
    REFERRAL_SHARE,
    STATE_KENDRAS,
    YEAR_COMPLAINTS,
    YEAR_START,
    Complaint,
    complaints,
    jurisdiction_sheet,
    read_districts,
    roster_sheet,
    thana_codes,
    year_happenings,
)
from services.routing.jurisdiction import read_jurisdiction
from services.routing.sheets import read_sheet
from shared.contracts.vocabulary import Category

DISTRICTS = read_districts()
ROSTER_COLUMNS = ("service_number", "name", "rank", "gender", "kendra")


def test_the_state_has_its_75_districts_and_1647_kendras() -> None:
    assert len(DISTRICTS) == 75
    assert len({d.code for d in DISTRICTS}) == 75
    assert len({d.name_en for d in DISTRICTS}) == 75 and all(d.name_hi for d in DISTRICTS)
    assert sum(d.thanas for d in DISTRICTS) == STATE_KENDRAS
    sample = next(d for d in DISTRICTS if d.code == "SJP")
    assert (sample.name_en, sample.thanas, sample.circles) == ("Shahjahanpur", 23, 5)
    # Only the sample's counts are real: every other district says its counts are made up.
    assert all("SYNTHETIC" in d.basis for d in DISTRICTS if d.code != "SJP")


@pytest.mark.parametrize("district", DISTRICTS, ids=lambda d: d.code)
def test_every_district_sheet_is_one_routing_accepts(district) -> None:  # type: ignore[no-untyped-def]
    parsed = read_jurisdiction(jurisdiction_sheet(district))
    kinds = Counter(type(d).__name__ for d in parsed.definitions)
    assert parsed.district == district.code
    assert kinds["ThanaDefined"] == kinds["KendraDefined"] == district.thanas == len(thana_codes(district))
    assert kinds["CircleDefined"] == district.circles
    assert kinds["AgencyDefined"] == 5
    roster = read_sheet(roster_sheet(district), ROSTER_COLUMNS, ("incharge",))
    assert not roster.problems and len(roster.rows) == 3 * district.thanas
    assert all(row["name"].startswith("DEMO") for _, row in roster.rows)


def test_service_numbers_are_unique_in_the_state() -> None:
    numbers = [
        row["service_number"]
        for d in DISTRICTS
        for _, row in read_sheet(roster_sheet(d), ROSTER_COLUMNS, ("incharge",)).rows
    ]
    assert len(numbers) == len(set(numbers)) == 3 * STATE_KENDRAS


def test_the_same_seed_gives_the_same_year_and_another_seed_another() -> None:
    assert complaints(DISTRICTS, 0.001) == complaints(DISTRICTS, 0.001)
    assert complaints(DISTRICTS, 0.001) != complaints(DISTRICTS, 0.001, seed=20)


def test_a_year_at_scale_has_the_shares_written_down() -> None:
    year = complaints(DISTRICTS, 0.01)
    n = len(year)
    assert n == round(0.01 * YEAR_COMPLAINTS)
    assert [c.at for c in year] == sorted(c.at for c in year)
    assert year[0].at >= YEAR_START and (year[-1].at - YEAR_START).days < 366

    def share(test: list[bool]) -> float:
        return sum(test) / n

    forced_minor = share([c.category is Category.OFFENCE_AGAINST_MINOR for c in year])
    assert share([c.minor for c in year]) == pytest.approx(MINOR_SHARE + forced_minor, abs=0.01)
    forced_danger = share([c.category in (Category.ACID_ATTACK, Category.SEXUAL_ASSAULT) for c in year])
    assert share([c.danger_now for c in year]) == pytest.approx(DANGER_NOW_SHARE + forced_danger, abs=0.01)
    assert share([not c.steps for c in year]) == pytest.approx(NEVER_CONTACTED_SHARE, abs=0.005)
    referred = share([any(s.path == "referrals" for s in c.steps) for c in year])
    assert REFERRAL_SHARE - 0.01 < referred < REFERRAL_SHARE + share([c.minor for c in year]) + 0.01
    # Seasonality: the busiest month of the weights is busier than the quietest, as written.
    months = Counter((c.at.month + (c.at.year - YEAR_START.year) * 12) for c in year)
    assert max(months.values()) / min(months.values()) > 1.1
    assert len(MONTH_WEIGHTS) == 12


def test_districts_get_complaints_by_their_thanas() -> None:
    year = complaints(DISTRICTS, 0.01)
    per_district = Counter(c.district for c in year)
    assert set(per_district) == {d.code for d in DISTRICTS}
    for d in DISTRICTS:
        expected = len(year) * d.thanas / STATE_KENDRAS
        assert abs(per_district[d.code] - expected) < 5 * expected**0.5, d.code
    thanas = {t for d in DISTRICTS for t in thana_codes(d)}
    assert {c.thana for c in year} <= thanas


def test_a_part_of_the_state_gets_its_share_and_its_own_places_only() -> None:
    part = DISTRICTS[:2]
    year = complaints(part, 0.01)
    assert len(year) == round(0.01 * YEAR_COMPLAINTS * sum(d.thanas for d in part) / STATE_KENDRAS)
    assert {c.district for c in year} == {d.code for d in part}


def test_each_life_runs_forward_and_ends_as_a_case_can() -> None:
    for c in complaints(DISTRICTS, 0.002):
        afters = [s.after for s in c.steps]
        assert afters == sorted(afters), c.n
        paths = [s.path for s in c.steps]
        if paths:
            assert paths[0] == "first-contact"
        if "close" in paths:
            assert paths[paths.index("close") - 1] == "resolve"
        if "reopen" in paths:
            assert paths[-3:] == ["reopen", "resolve", "close"]
        for accepted in ("referral-accept", "referral-reject"):
            if accepted in paths:
                assert paths[paths.index(accepted) - 1] == "referrals"


def test_no_complainant_is_a_real_person() -> None:
    for c in complaints(DISTRICTS, 0.0005):
        body = Complaint.registration(c)
        assert body["identity"]["name"].startswith("DEMO")
        assert body["identity"]["phone"].startswith("+9155500")
        assert body["description"].startswith("DEMO")


def test_the_roster_and_training_year_is_whole_and_at_its_moments() -> None:
    districts = [d for d in DISTRICTS if d.code in ("SJP", "AGR")]
    year = year_happenings(districts, seed=19)
    assert year == year_happenings(districts, seed=19) and year != year_happenings(districts, seed=20)
    assert len({h.key for h in year}) == len(year)
    assert all(YEAR_START <= h.at < YEAR_START + timedelta(days=365) for h in year)
    assert [h.at for h in year] == sorted(h.at for h in year)
    whats = Counter(h.what for h in year)
    # A programme a month in each district, scheduled, attended and completed; an iGOT export a quarter.
    assert whats["programme"] == whats["attendance"] == whats["programme complete"] == 12 * len(districts)
    assert whats["igot import"] == 4
    assert whats["leave"] == whats["back on duty"] > 0 and whats["posting"] >= len(districts)
    # Every spell of leave ends in the year, after it began; the desk constable (the bench's registering
    # user, ``service_number(thana, 1)``) is never away.
    spells: dict[str, list[str]] = {}
    for h in year:
        if h.what in ("leave", "back on duty", "posting"):
            assert not h.path.split("/")[4].endswith("1"), h
        if h.what in ("leave", "back on duty"):
            spells.setdefault(h.path, []).append((h.body or {})["status"])
    assert all(s == ["on_leave", "on_duty"] * (len(s) // 2) for s in spells.values())
    # Each programme's attendance is marked on its day (IST), after it was scheduled.
    for h in year:
        if h.what == "attendance":
            plan = next(p for p in year if p.key == h.key.replace("-attendance", "-plan"))
            assert (
                plan.at < h.at
                and (h.at + timedelta(hours=5, minutes=30)).date().isoformat() == (plan.body or {})["date"]
            )
