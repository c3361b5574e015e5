"""The words of an SMS to a complainant who agreed to be sent them (issue 17), in Hindi and English: her
case number, the Kendra by name and its phone, the helplines, the case's status in words and the time in
IST. Nothing else: never her name, phone, address or story, and no link (the case page is the police's).

It lives in ``shared/`` because two services write it: notifications decides and shows it (outbox,
lists) and intake, the only service that can open her phone, sends it. These are the texts to register as
TRAI DLT templates; their variable parts are the case number, the Kendra's name, its phone, the status
and the time.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from shared.clock import IST
from shared.contracts.notifications import NotificationRequested, NotificationRule
from shared.contracts.vocabulary import STATUS_LABELS, labelled

PlaceNames = Mapping[str, tuple[str, str]]
"""Place code -> (Hindi, English) name."""

HELPLINES_EN = "Helplines: 1090 Women Power Line, 181 Women helpline; in danger now call 112."
HELPLINES_HI = "हेल्पलाइन: 1090 वीमेन पावर लाइन, 181 महिला हेल्पलाइन; अभी खतरे में हों तो 112 पर कॉल करें।"


def ist(moment: datetime) -> str:
    """A time as people here read it: day, month, year, 24-hour clock, labelled IST."""
    return moment.astimezone(IST).strftime("%d-%m-%Y %H:%M IST")


def thana_words(name: str, hindi: bool) -> str:
    """A thana's name with the word thana before it, once: routing's jurisdiction already names thanas
    in Hindi with the word ("थाना कटरा"), which is then not said twice."""
    word = "थाना" if hindi else "thana"
    return name if name.lower().startswith(word) else f"{word} {name}"


def complainant_sms(wanted: NotificationRequested, names: PlaceNames) -> tuple[str, str]:
    """(English, Hindi) text of a complainant's SMS (rule ``complainant_receipt`` or ``_status``)."""

    def name(code: str | None, hindi: bool) -> str:
        pair = names.get(code or "")
        return (pair[0] if hindi else pair[1]) if pair else (code or "")

    kendra_en, kendra_hi = name(wanted.kendra, False), name(wanted.kendra, True)
    thana_en = f", {thana_words(name(wanted.thana, False), False)}" if wanted.thana else ""
    thana_hi = f", {thana_words(name(wanted.thana, True), True)}" if wanted.thana else ""
    phone_en = f", phone {wanted.kendra_phone}" if wanted.kendra_phone else ""
    phone_hi = f", फ़ोन {wanted.kendra_phone}" if wanted.kendra_phone else ""
    where_en = f" {kendra_en}{thana_en}{phone_en}." if kendra_en else ""
    where_hi = f" {kendra_hi}{thana_hi}{phone_hi}।" if kendra_hi else ""
    number, at = wanted.case_number, ist(wanted.at)
    if wanted.rule is NotificationRule.COMPLAINANT_RECEIPT:
        said_en = f"Mission Shakti: your complaint is registered as case {number} ({at})."
        said_hi = f"मिशन शक्ति: आपकी शिकायत मामला संख्या {number} पर दर्ज हो गई है ({at})।"
    else:
        status_en, status_hi = labelled(STATUS_LABELS, wanted.case_status or "")
        said_en = f"Mission Shakti: case {number} is now: {status_en} ({at})."
        said_hi = f"मिशन शक्ति: मामला {number} की स्थिति अब: {status_hi} ({at})।"
    return f"{said_en}{where_en} {HELPLINES_EN}", f"{said_hi}{where_hi} {HELPLINES_HI}"
