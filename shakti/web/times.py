"""Every time a person sees, in India Standard Time and labelled so, and what is left of a deadline.

The services answer in UTC (ISO 8601); SQLite gives times back without their zone, which are UTC too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "hi": ("जन॰", "फ़र॰", "मार्च", "अप्रैल", "मई", "जून", "जुलाई", "अग॰", "सित॰", "अक्टू॰", "नव॰", "दिस॰"),
}
UNITS = {"en": ("d", "h", "min"), "hi": ("दिन", "घंटे", "मिनट")}
LIMIT = re.compile(r"^(\d+(?:\.\d+)?)(m|h|d|wd)$")


def moment(value: str | datetime | None) -> datetime | None:
    """A time as the services give it, as an aware datetime (UTC when it came without a zone)."""
    if value is None or value == "":
        return None
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def ist(value: str | datetime | None, lang: str = "en") -> str:
    """``21 Mar 2026, 21:49 IST``: the date and time in India, with the label that says so."""
    at = moment(value)
    if at is None:
        return "—"
    local = at.astimezone(IST)
    month = MONTHS["hi" if lang == "hi" else "en"][local.month - 1]
    return f"{local.day} {month} {local.year}, {local:%H:%M} IST"


def span(seconds: float, lang: str = "en") -> str:
    """A length of time to the minute, in the largest two units: ``2 d 3 h``, ``45 min``."""
    day, hour, minute = UNITS["hi" if lang == "hi" else "en"]
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} {day} {hours} {hour}" if hours else f"{days} {day}"
    if hours:
        return f"{hours} {hour} {mins} {minute}" if mins else f"{hours} {hour}"
    return f"{mins} {minute}"


def time_left(due: str | datetime | None, now: datetime, lang: str = "en") -> str:
    """``3 h 10 min left`` before a deadline, ``overdue by 20 min`` after it."""
    at = moment(due)
    if at is None:
        return ""
    seconds = (at - now).total_seconds()
    if seconds >= 0:
        return f"{span(seconds, lang)} शेष" if lang == "hi" else f"{span(seconds, lang)} left"
    return f"{span(seconds, lang)} की देरी" if lang == "hi" else f"overdue by {span(seconds, lang)}"


def overdue(due: str | datetime | None, now: datetime) -> bool:
    at = moment(due)
    return at is not None and at < now


def limit_due(start: str | datetime | None, limit: str) -> datetime | None:
    """When a limit of the SOP policy (``15m``, ``4h``, ``3d``) counted from ``start`` runs out; None
    for working days (``7wd``), which only the escalation service counts, with its holidays."""
    at, found = moment(start), LIMIT.match(limit)
    if at is None or found is None or found.group(2) == "wd":
        return None
    amount, unit = float(found.group(1)), found.group(2)
    return at + timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})


def limit_words(limit: str, lang: str = "en") -> str:
    """A limit of the SOP policy in words: ``4h`` -> ``4 hours``, ``7wd`` -> ``7 working days``."""
    found = LIMIT.match(limit)
    if found is None:
        return limit
    words = {
        "en": {"m": "minutes", "h": "hours", "d": "days", "wd": "working days"},
        "hi": {"m": "मिनट", "h": "घंटे", "d": "दिन", "wd": "कार्य दिवस"},
    }["hi" if lang == "hi" else "en"]
    amount = found.group(1).removesuffix(".0")
    word = words[found.group(2)]
    return f"{amount} {word.removesuffix('s') if amount == '1' and lang != 'hi' else word}"
