"""Whether an officer was certified for a case when it was given to her, and the compliance period, without
I/O: a certificate counts from when routing recorded it until it expired or lapsed, for what it endorses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.routing.certified import (
    certified_when,
    chosen_period,
    period_bounds,
    period_problem,
    spell,
)
from shared.clock import IST

T0 = datetime(2026, 1, 10, 10, 0, tzinfo=UTC)
YEAR = timedelta(days=365)


def test_a_certificate_counts_from_when_it_was_recorded_not_from_its_backdated_issue() -> None:
    # Recorded at T0 (its issue date, the training's day, may be weeks earlier: it is not asked for).
    held = [spell(["stalking", "other"], T0, T0 + YEAR, None)]
    assert not certified_when(held, "stalking", T0 - timedelta(seconds=1))
    assert certified_when(held, "stalking", T0)
    assert certified_when(held, "stalking", T0 + YEAR - timedelta(seconds=1))
    assert not certified_when(held, "stalking", T0 + YEAR)  # expired


def test_only_the_categories_it_endorses_and_only_until_it_lapsed() -> None:
    lapsed = T0 + timedelta(days=10)
    held = [spell(["stalking"], T0, T0 + YEAR, lapsed)]
    assert not certified_when(held, "sexual_assault", T0 + timedelta(days=1))  # needs a specialist module
    assert certified_when(held, "stalking", lapsed - timedelta(seconds=1))
    assert not certified_when(held, "stalking", lapsed)
    # A category routing has not heard of yet asks for any certificate.
    assert certified_when(held, None, T0 + timedelta(days=1))
    assert not certified_when([], None, T0)


def test_a_renewal_after_a_lapse_leaves_the_gap_uncertified() -> None:
    first = spell(["stalking"], T0, T0 + YEAR, T0 + timedelta(days=10))
    renewed = spell(["stalking"], T0 + timedelta(days=20), T0 + 2 * YEAR, None)
    assert certified_when([first, renewed], "stalking", T0 + timedelta(days=5))
    assert not certified_when([first, renewed], "stalking", T0 + timedelta(days=15))
    assert certified_when([first, renewed], "stalking", T0 + timedelta(days=25))


def test_the_period_is_whole_days_in_india() -> None:
    # 20:00 UTC on 9 January is 01:30 IST on 10 January: the last 30 days end on the 10th.
    late = datetime(2026, 1, 9, 20, 0, tzinfo=UTC)
    assert chosen_period(None, None, late) == (date(2025, 12, 12), date(2026, 1, 10))
    assert chosen_period(None, date(2026, 1, 5), late) == (date(2025, 12, 7), date(2026, 1, 5))
    assert chosen_period(date(2026, 1, 1), None, late) == (date(2026, 1, 1), date(2026, 1, 10))
    start, end = period_bounds(date(2026, 1, 1), date(2026, 1, 10))
    assert start == datetime(2025, 12, 31, 18, 30, tzinfo=UTC)
    assert end == datetime(2026, 1, 10, 18, 30, tzinfo=UTC)
    assert start.astimezone(IST).hour == 0
    assert period_problem(date(2026, 1, 1), date(2026, 1, 1)) is None
    backwards = period_problem(date(2026, 1, 2), date(2026, 1, 1))
    assert backwards is not None and "before" in backwards[0] and backwards[1]
    assert period_problem(date(2025, 1, 1), date(2026, 1, 2)) is not None
