"""Every word a page shows is in Hindi and English: no page's own text is English alone, every label a
page asks for exists in both languages, and each language's label is written in its own script.

Read from the templates and the web front's code, without a platform: a new page or label that forgets
Hindi fails here, before an officer sees it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shakti.web.i18n import TEXT
from shared.contracts.vocabulary import RECORD_LABELS, ROLE_LABELS, Record
from shared.errors import NotFound
from shared.roles import Role

WEB = Path(__file__).resolve().parent.parent / "shakti" / "web"
TEMPLATES = sorted((WEB / "templates").glob("*.html"))
DEVANAGARI = re.compile(r"[\u0900-\u097F]")
# Words a page may show in Latin letters in both languages: a product's name, a version's "v", a unit.
NAMES = {"NATS", "v", "KB"}
CASE_NUMBER_HINT = re.compile(r"^[A-Z]{3}-\d{4}-\d*$")


def visible_text(template: str) -> str:
    """What a reader sees of a template, with the parts written for English readers alone taken out:
    a ``lang="en"`` span beside its Hindi, and the English branch of a choice made by the page's language."""
    text = re.sub(r"\{#.*?#\}", " ", template, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    text = re.sub(r'<span lang="en">.*?</span>', " ", text, flags=re.S)
    # A file's column names are what the file must say, the same in both languages.
    text = re.sub(r"<code>.*?</code>", " ", text, flags=re.S)
    text = re.sub(
        r'\{%-? if lang == "hi" -?%\}(.*?)\{%-? else -?%\}.*?\{%-? endif -?%\}', r"\1", text, flags=re.S
    )
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", text, flags=re.S)
    return re.sub(r"<[^>]*>", " ", text)


def keys_asked_for() -> set[str]:
    sources = [*TEMPLATES, *WEB.glob("*.py")]
    return {key for p in sources for key in re.findall(r'\bt\(\s*[\'"]([a-z0-9_]+)[\'"]\s*\)', p.read_text())}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_page_shows_english_words_of_its_own(template: Path) -> None:
    words = re.findall(r"[A-Za-z][A-Za-z'-]*", visible_text(template.read_text()))
    assert [w for w in words if w not in NAMES] == []


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_no_attribute_a_person_reads_is_english_alone(template: Path) -> None:
    read = re.findall(r'\b(?:placeholder|title|aria-label|alt)="([^"{]*)"', template.read_text())
    assert [v for v in read if re.search(r"[A-Za-z]{2,}", v) and not CASE_NUMBER_HINT.match(v)] == []


def test_every_label_a_page_asks_for_exists() -> None:
    assert sorted(keys_asked_for() - set(TEXT)) == []
    # Labels asked for by a prefix and a code: a programme's state after a step.
    assert {f"done_{step}" for step in ("scheduled", "marked", "completed")} <= set(TEXT)


def test_each_label_is_written_in_its_own_language() -> None:
    # The language switch names the other language, in that language's own script.
    hindi_in_latin = [k for k, (hi, _) in TEXT.items() if not DEVANAGARI.search(hi) and k != "switch_lang"]
    english_in_devanagari = [k for k, (_, en) in TEXT.items() if DEVANAGARI.search(en) and k != "switch_lang"]
    empty = [k for k, (hi, en) in TEXT.items() if not hi.strip() or not en.strip()]
    assert (hindi_in_latin, english_in_devanagari, empty) == ([], [], [])


def test_every_role_has_its_words_in_both_languages() -> None:
    # One table for the pages and the case timeline alike (shared.contracts.vocabulary).
    assert set(ROLE_LABELS) == {role.value for role in Role}
    assert all(DEVANAGARI.search(hi) and not DEVANAGARI.search(en) for hi, en in ROLE_LABELS.values())


def test_a_refusal_names_what_it_did_not_find_in_the_language_it_is_read_in() -> None:
    """The Hindi of "Programme X not found" read "Programme X नहीं मिला"; every record a refusal can name
    has its Hindi and English word (shared.contracts.vocabulary)."""
    assert set(RECORD_LABELS) == set(Record)
    for record in Record:
        refused = NotFound(record, "SJP-2026-01")
        latin_hi = re.sub(r"SJP-2026-01", "", refused.hi)
        assert DEVANAGARI.search(latin_hi) and not re.search(r"[A-Za-z]", latin_hi), refused.hi
        assert refused.en.startswith(RECORD_LABELS[record][1]) and not DEVANAGARI.search(refused.en)
    # The verb agrees with the word's gender (सूचना, सेवा and फ़ाइल are feminine).
    assert NotFound(Record.NOTIFICATION, "n1").hi == "सूचना n1 नहीं मिली"
    assert NotFound(Record.PROGRAMME, "p1").hi == "प्रशिक्षण कार्यक्रम p1 नहीं मिला"
