"""Whether an officer was certified for a case when it was given to her: the join of routing's
assignments with the certifications it projects from training's stream, for the compliance lists.

Routing answers as it knew things at the moment of the assignment: a certificate counts from when its
``OfficerCertified`` was recorded, not from its (backdated) issue date, and until it expired or was
lapsed. So a certification recorded later never makes a past assignment certified, and the answer is
the same however a rebuild interleaves the streams. Without I/O: the read model hands in the rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from shared.clock import IST

DEFAULT_PERIOD_DAYS = 30
"""The period the compliance page shows when none is asked for: the last 30 days, today included."""
LONGEST_PERIOD_DAYS = 366
"""A longer period is refused: a year is what a supervisor reviews at once."""


@dataclass(frozen=True)
class CertifiedSpell:
    """One certificate as routing knew it: from ``since`` (when recorded) until ``until`` (its expiry,
    or its lapse when earlier), for the categories it endorses."""

    endorsements: frozenset[str]
    since: datetime
    until: datetime


def spell(
    endorsements: Iterable[str], recorded_at: datetime, valid_until: datetime, lapsed_at: datetime | None
) -> CertifiedSpell:
    until = valid_until if lapsed_at is None else min(valid_until, lapsed_at)
    return CertifiedSpell(frozenset(endorsements), recorded_at, until)


def certified_when(spells: Iterable[CertifiedSpell], category: str | None, at: datetime) -> bool:
    """Was the officer certified for ``category`` at ``at``? As the duty board asks when it picks an
    officer: a certificate endorsing the category. A case whose category routing has not yet heard of
    asks for any certificate."""
    return any(s.since <= at < s.until and (category is None or category in s.endorsements) for s in spells)


def chosen_period(first: date | None, last: date | None, now: datetime) -> tuple[date, date]:
    """The period asked for: to today (IST) when no end is given, over 30 days when no start is."""
    last = last or now.astimezone(IST).date()
    return first or last - timedelta(days=DEFAULT_PERIOD_DAYS - 1), last


def period_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """The instants a period of IST days spans: from the first day's midnight in India to the midnight
    after the last day (exclusive)."""
    return (
        datetime.combine(first, time(), IST),
        datetime.combine(last + timedelta(days=1), time(), IST),
    )


def period_problem(first: date, last: date) -> tuple[str, str] | None:
    """Why a period cannot be shown (English, Hindi), or None."""
    if last < first:
        return "The period ends before it begins.", "अवधि शुरू होने से पहले समाप्त होती है।"
    if (last - first).days + 1 > LONGEST_PERIOD_DAYS:
        return (
            f"Choose a period of at most {LONGEST_PERIOD_DAYS} days.",
            f"अधिकतम {LONGEST_PERIOD_DAYS} दिनों की अवधि चुनें।",
        )
    return None
