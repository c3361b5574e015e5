"""The policy file: the defaults load, limits and the working-day calendar compute right, and a bad file
is refused with a message naming each wrong field."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.escalation.policy import (
    DEFAULT_POLICY,
    Basis,
    PolicyError,
    load_policy,
    main,
    parse_policy,
)
from shared.contracts.vocabulary import Category, LadderRole, Priority

IST_10AM = 4.5  # 10:00 in Kolkata is 04:30 UTC


def default_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    return document


def test_the_default_policy_loads_and_says_it_is_a_default() -> None:
    policy = load_policy()
    assert "default" in policy.status
    assert set(policy.clocks) == {
        "acknowledge",
        "first_contact",
        "referral_acknowledged",
        "action_taken",
        "disposal",
    }
    assert policy.warnings == [50, 80]
    assert [r.role for r in policy.ladder(Priority.P2)] == list(LadderRole)
    assert policy.ladder(Priority.P2)[-1].gives is None


def test_a_category_limit_applies_only_where_it_is_stricter() -> None:
    policy = load_policy()
    # P3 first contact is 24h; sexual assault asks for 1h.
    assert policy.limit(Priority.P3, Category.SEXUAL_ASSAULT, "first_contact").seconds == 3600
    assert policy.limit(Priority.P3, Category.DOMESTIC_VIOLENCE, "first_contact").seconds == 24 * 3600
    # POCSO disposal 30 calendar days: stricter than P3's 30 working days, not than P1's 7 working days.
    assert policy.limit(Priority.P3, Category.OFFENCE_AGAINST_MINOR, "disposal").text == "30d"
    assert policy.limit(Priority.P1, Category.OFFENCE_AGAINST_MINOR, "disposal").text == "7wd"


def test_working_days_skip_sundays_and_holidays() -> None:
    calendar = load_policy().working_calendar
    saturday = datetime(2026, 1, 24, 4, 30, tzinfo=UTC)  # Sat 24 Jan 2026, 10:00 IST
    # Saturday 14h + Sunday (off) + Monday 26 Jan (Republic Day) + Tuesday 24h + 10h of Wednesday.
    due = calendar.add(saturday, 2 * 86400, Basis.WORKING_DAYS)
    assert due == datetime(2026, 1, 28, 4, 30, tzinfo=UTC)
    assert calendar.counted(saturday, due, Basis.WORKING_DAYS) == 2 * 86400
    # The same span on the calendar basis counts every hour.
    assert calendar.add(saturday, 2 * 86400, Basis.CALENDAR) == datetime(2026, 1, 26, 4, 30, tzinfo=UTC)
    # A clock started on a day off begins counting at the next working midnight (IST).
    sunday = datetime(2026, 1, 25, 6, 0, tzinfo=UTC)
    assert calendar.add(sunday, 3600, Basis.WORKING_DAYS) == datetime(2026, 1, 26, 19, 30, tzinfo=UTC)


def _refusal(document: Any) -> str:
    with pytest.raises(PolicyError) as refused:
        parse_policy(document, "test.yaml")
    return str(refused.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["priorities"]["P1"]["limits"].update(acknowledge="15 minutes"),
            "priorities.P1.limits.acknowledge",
        ),
        (lambda d: d["priorities"]["P2"]["limits"].pop("disposal"), "priorities.P2.limits.disposal: missing"),
        (lambda d: d["priorities"].pop("P4"), "priorities.P4: missing"),
        (lambda d: d["priorities"]["P3"]["ladder"].reverse(), "priorities.P3.ladder: list each role once"),
        (
            lambda d: d["priorities"]["P3"]["ladder"][1].pop("gives"),
            "priorities.P3.ladder.sho: 'gives' is missing",
        ),
        (
            lambda d: d["clocks"]["first_contact"]["stops_on"].append("FirstContactDone"),
            "clocks.first_contact.stops_on.1",
        ),
        (lambda d: d["reopen"]["restart"].append("survey"), "reopen.restart: no such clock 'survey'"),
        (lambda d: d.update(warnings=[80, 50]), "warnings: list each threshold once"),
        (lambda d: d.update(warnings=[50, 120]), "warnings: 120 is not a percentage"),
        (lambda d: d["calendar"].update(timezone="Mars/Olympus"), "calendar.timezone: unknown time zone"),
        (lambda d: d["calendar"].update(holidays=["2026-02-30"]), "calendar.holidays.0"),
        (lambda d: d.pop("version"), "version: Field required"),
        (lambda d: d.update(colour="saffron"), "colour: Extra inputs are not permitted"),
        (
            lambda d: d["clocks"]["referral_acknowledged"].update(starts_on=["CaseRegistered"]),
            "per-referral clock",
        ),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field(change: Any, expected: str) -> None:
    document = default_document()
    change(document)
    message = _refusal(document)
    assert expected in message
    assert message.startswith("test.yaml is not a valid escalation policy")


def test_a_wrong_limit_says_how_to_write_one() -> None:
    document = default_document()
    document["priorities"]["P1"]["limits"]["acknowledge"] = "soon"
    document["priorities"]["P2"]["limits"]["first_contact"] = "0h"
    message = _refusal(document)
    assert "priorities.P1.limits.acknowledge: 'soon' is not a limit: write minutes '30m'" in message
    assert "priorities.P2.limits.first_contact: '0h' is not a limit" in message


def test_cross_field_problems_are_listed_together() -> None:
    document = default_document()
    document["danger_now"]["climb_until"] = "rescue"
    document["categories"]["acid_attack"]["limits"]["burns"] = "1h"
    message = _refusal(document)
    assert "danger_now.climb_until: no such clock 'rescue'" in message
    assert "categories.acid_attack.limits.burns: no such clock" in message


def test_a_file_that_is_not_yaml_or_not_there(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(broken)
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "missing.yaml")
    assert main([str(broken)]) == 1
    assert "not valid YAML" in capsys.readouterr().err
    assert main([str(DEFAULT_POLICY)]) == 0
    assert "2026.1-default" in capsys.readouterr().out
