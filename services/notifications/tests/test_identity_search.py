"""The identity-leak search of these tests can fail, and it reads every message the tests hand over:
what the SMTP server and the SMS gateway received and what the web list and the outbox showed
(``conftest.SENT``, searched after each test by ``no_identity_in_any_message``)."""

from __future__ import annotations

from .conftest import SENT, witness
from .identity import NAME, PHONE, STORY, hits


def test_the_search_finds_a_name_a_phone_and_her_story_in_any_case() -> None:
    assert hits("sms", f"Call {PHONE.upper()} now") == [f"{PHONE!r} in sms"]
    assert len(hits("e-mail", f"{NAME.lower()}: {STORY}")) >= 3
    assert hits("web", "URGENT: Danger now. Case SJP-2026-000042, thana Katra.") == []


def test_a_leaking_message_is_caught_after_the_test() -> None:
    """What the after-test check does with a message that names her (taken back out before it runs)."""
    before = len(SENT)
    witness("sms", f"Case SJP-2026-000042: ring {PHONE}")
    leaks = [hit for where, text in SENT[before:] for hit in hits(where, text)]
    assert leaks == [f"{PHONE!r} in sms"]
    del SENT[before:]
