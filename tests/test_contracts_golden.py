"""The published events, frozen: every type's committed example (tests/golden) decodes with today's
classes and encodes back to the same bytes, and every older version still on the streams decodes through
its upcasters. A change to a contract fails here until it is made on purpose (tests/golden explains how)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from shared.events import Event, events
from tests.golden import HERE, encoded, golden_file, registered

CLASSES = registered()
FILES = sorted(HERE.glob("*/*.json"))


def test_every_published_event_type_has_a_golden_payload() -> None:
    missing = [name for name, cls in CLASSES.items() if not golden_file(cls).exists()]
    assert not missing, f"no golden payload for {missing}: run python -m tests.golden"


def test_every_older_version_an_upcaster_reads_has_a_golden_payload() -> None:
    upcast = sorted((t, v) for t, v in events._upcasters if t in CLASSES)
    missing = [f"{t} v{v}" for t, v in upcast if not golden_file(CLASSES[t], v).exists()]
    assert upcast and not missing, f"no golden payload for the old versions {missing}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_golden_payload_decodes_and_encodes_to_itself(path: Path) -> None:
    match = re.fullmatch(r"(\w+)\.v(\d+)", path.stem)
    assert match, f"{path.name}: name it <EventType>.v<version>.json"
    name, version = match[1], int(match[2])
    assert name in CLASSES, f"{path.name}: no such event type is published (a type was removed?)"
    cls = CLASSES[name]
    assert path.parent.name == cls.__module__.rsplit(".", 1)[-1], f"{path.name} is in the wrong folder"
    payload = json.loads(path.read_text())
    decoded = events.decode(name, version, payload)
    assert isinstance(decoded, cls)
    if version == cls.schema_version:
        assert encoded(cls, payload) == payload, f"{name} v{version} no longer encodes as published"
    else:
        assert version < cls.schema_version, f"{path.name} is newer than the class (v{cls.schema_version})"


def test_a_changed_contract_is_caught() -> None:
    """The check above can fail: a payload with a field renamed is refused, one with a field missing
    encodes differently."""
    cls: type[Event] = CLASSES["CaseRegistered"]
    payload = json.loads(golden_file(cls).read_text())
    first = next(iter(payload))
    renamed = {(f"{k}_renamed" if k == first else k): v for k, v in payload.items()}
    with pytest.raises(ValueError):
        events.decode("CaseRegistered", cls.schema_version, renamed)
    optional = [k for k, f in cls.model_fields.items() if not f.is_required()]
    dropped = {k: v for k, v in payload.items() if k != optional[0]}
    assert encoded(cls, dropped) != dropped
