"""Times as people read them: India Standard Time, labelled, and what is left of a deadline."""

from __future__ import annotations

from datetime import UTC, datetime

from shakti.web.times import ist, limit_due, limit_words, time_left
from shared.contracts.vocabulary import escalation_reason

NOW = datetime(2026, 3, 21, 13, 0, tzinfo=UTC)


def test_a_utc_time_is_shown_in_ist_with_its_label_in_both_languages() -> None:
    # The example: "16:19" on the dashboard meant 21:49 in India.
    assert ist("2026-03-21T16:19:00+00:00") == "21 Mar 2026, 21:49 IST"
    assert ist("2026-03-21T16:19:00", "hi") == "21 मार्च 2026, 21:49 IST"  # SQLite drops the zone: UTC
    assert ist("2026-03-21T20:00:00Z") == "22 Mar 2026, 01:30 IST"  # the date moves too
    assert ist(None) == "—"


def test_time_left_before_a_deadline_and_overdue_after_it() -> None:
    assert time_left("2026-03-21T16:19:00+00:00", NOW) == "3 h 19 min left"
    assert time_left("2026-03-21T16:19:00+00:00", NOW, "hi") == "3 घंटे 19 मिनट शेष"
    assert time_left("2026-03-19T12:00:00+00:00", NOW) == "overdue by 2 d 1 h"
    assert time_left("2026-03-21T12:40:00+00:00", NOW, "hi") == "20 मिनट की देरी"


def test_policy_limits_give_a_due_time_except_working_days() -> None:
    assert limit_due("2026-03-21T13:00:00+00:00", "4h") == datetime(2026, 3, 21, 17, 0, tzinfo=UTC)
    assert limit_due("2026-03-21T13:00:00+00:00", "15m") == datetime(2026, 3, 21, 13, 15, tzinfo=UTC)
    assert limit_due("2026-03-21T13:00:00+00:00", "7wd") is None  # holidays: escalation counts those
    assert (limit_words("1h"), limit_words("4h"), limit_words("7wd", "hi")) == (
        "1 hour",
        "4 hours",
        "7 कार्य दिवस",
    )


def test_escalation_reasons_are_words_in_both_languages() -> None:
    assert escalation_reason("danger_now:first_contact") == "in danger now: alerted at registration"
    assert escalation_reason("breach:action_taken") == "deadline missed (Action taken)"
    assert escalation_reason("unanswered:first_contact", "hi") == "पिछले स्तर से समय पर उत्तर नहीं (प्रथम संपर्क)"
