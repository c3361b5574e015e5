"""The test kit itself: scenarios compare decisions and refusals, and fail when they differ."""

from __future__ import annotations

import pytest

from shared.testing import Scenario, subject_matches
from tests.sample import Tally, TallyCounted, TallyOpened


def test_a_scenario_compares_what_was_decided() -> None:
    Scenario(Tally).given(TallyOpened(label="a")).when(lambda t: t.count(3)).then(
        TallyCounted(amount=3, note="")
    )
    with pytest.raises(AssertionError):
        Scenario(Tally).given(TallyOpened(label="a")).when(lambda t: t.count(3)).then(
            TallyCounted(amount=4, note="")
        )


def test_a_scenario_names_the_rule_broken() -> None:
    refusal = Scenario(Tally).when(lambda t: t.count(1)).refused("missing")
    assert refusal.hi
    with pytest.raises(AssertionError):
        Scenario(Tally).given(TallyOpened(label="a")).when(lambda t: t.count(1)).refused("missing")
    with pytest.raises(AssertionError):
        Scenario(Tally).when(lambda t: t.count(1)).then(TallyCounted(amount=1, note=""))


def test_subjects_match_as_nats_matches_them() -> None:
    assert subject_matches("shakti.intake.case.*", "shakti.intake.case.abc")
    assert not subject_matches("shakti.intake.case.*", "shakti.intake.case.abc.def")
    assert subject_matches("shakti.intake.>", "shakti.intake.case.abc")
    assert not subject_matches("shakti.intake.>", "shakti.intake")
    assert not subject_matches("shakti.routing.>", "shakti.intake.case.abc")
