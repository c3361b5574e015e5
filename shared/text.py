"""Text a person or a program sends in a request: every string field has a length limit (the field's
``max_length``) and refuses control characters. Control characters (NUL, escape sequences, bells)
have no place in a name or a code: they break logs, terminals, CSV exports and PostgreSQL text, and
hide text from a reader. Several-line text (a statement, a note) keeps its line breaks and tabs.

Use as metadata beside the field's limits::

    name: Annotated[str, Field(min_length=1, max_length=200), OneLine]
    statement: Annotated[str, Field(max_length=5000), Lines]
"""

from __future__ import annotations

import re

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

CONTROL_CHARACTERS = (
    "Control characters (such as NUL or escape) are not allowed here.",
    "यहाँ नियंत्रण वर्ण (जैसे NUL या escape) स्वीकार्य नहीं हैं।",
)

_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_LINE_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _refusing(control: re.Pattern[str]) -> AfterValidator:
    def check(value: str | None) -> str | None:
        if value is not None and control.search(value):
            # The message names no value: the field may hold identity data.
            raise PydanticCustomError("control_characters", CONTROL_CHARACTERS[0])
        return value

    return AfterValidator(check)


OneLine = _refusing(_ANY_CONTROL)
"""Names, codes, numbers, one-line remarks: no control character at all."""
Lines = _refusing(_CONTROL_BUT_LINE_BREAKS)
"""Statements, notes, descriptions: line breaks (CR, LF) and tabs allowed, other control characters not."""


def without_control_characters(text: str) -> str:
    """Text kept as sent but for its control characters (a file's name, where refusing would lose a file)."""
    return _ANY_CONTROL.sub("", text)
