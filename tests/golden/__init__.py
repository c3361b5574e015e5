"""Golden payloads: one committed example of every event type the platform publishes, as it is on the bus.

``tests/test_contracts_golden.py`` decodes each file with today's classes and encodes it again: the two
must be equal, and every registered type must have its file. A change to an event's fields therefore fails
that test until its author either bumps the event's version with an upcaster (and keeps the old file,
which must still decode) or, for a change that old readers would not notice, rewrites the file on purpose:
``python -m tests.golden`` writes the files of types that have none, ``--rewrite NAME`` one again.

The examples are made from the fields' types: every optional field filled, so that a field dropped by a
later change is noticed too.
"""

from __future__ import annotations

import enum
import json
import types
import typing
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared.events import Event, events

HERE = Path(__file__).parent
CONTRACTS = ("intake", "routing", "escalation", "training", "notifications", "users")
"""The modules of ``shared.contracts`` whose events are published (importing them registers them)."""

MOMENT = datetime(2026, 1, 10, 4, 30, tzinfo=UTC)
"""10 January 2026, 10:00 IST: the Shahjahanpur programme of the docs."""


def registered() -> dict[str, type[Event]]:
    """Every event type of the published contracts, by name."""
    import importlib

    for name in CONTRACTS:
        importlib.import_module(f"shared.contracts.{name}")
    # Only the contracts': tests register event types of their own in the same registry.
    published = {n: c for n, c in events._classes.items() if c.__module__.startswith("shared.contracts.")}
    return dict(sorted(published.items()))


def golden_file(cls: type[Event], version: int | None = None) -> Path:
    service = cls.__module__.rsplit(".", 1)[-1]
    return HERE / service / f"{cls.event_type}.v{version or cls.schema_version}.json"


def example(annotation: Any, name: str) -> Any:
    """A value of ``annotation`` that reads like the domain where the name tells what it is."""
    origin = typing.get_origin(annotation)
    arguments = typing.get_args(annotation)
    if origin is typing.Annotated:
        return example(arguments[0], name)
    if origin in (typing.Union, types.UnionType):
        chosen = [a for a in arguments if a is not type(None)]
        return example(chosen[0], name)
    if origin is typing.Literal:
        return arguments[0]
    if origin in (list, tuple, set, frozenset):
        return [example(arguments[0] if arguments else str, name)]
    if origin is dict:
        return {"SJP": example(arguments[1], name)} if arguments else {}
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, BaseModel):
            return model_example(annotation)
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            return 2
        if issubclass(annotation, float):
            return 1.5
        if issubclass(annotation, datetime):
            return MOMENT.isoformat().replace("+00:00", "Z")
        if issubclass(annotation, date):
            return MOMENT.date().isoformat()
        if issubclass(annotation, uuid.UUID):
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"shakti:golden:{name}"))
        if issubclass(annotation, str):
            return WORDS.get(name, f"{name}-example")
    if annotation is Any:
        return {"example": name}
    raise TypeError(f"no example for {name}: {annotation!r}")


WORDS = {
    "district": "SJP",
    "circle": "SJP-C-SADAR",
    "thana": "SJP-KOTWALI",
    "kendra": "SJP-KOTWALI-MSK",
    "agency": "SJP-OSC",
    "case_id": "SJP-2026-000067",
    "service_number": "UP12345",
    "username": "demo.officer",
    "pincode": "242001",
    "locality_code": "SJP-L-0001",
    "registered_at_thana": "SJP-KOTWALI",
    "recipient": "officer:UP12345",
    "via": "smtp",
    "language": "en",
    "quiet_from": "22:00",
    "quiet_until": "07:00",
    "kendra_phone": "+915842000111",
    "template_id": "1007000000000000007",
}


def model_example(cls: type[BaseModel]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return {name: example(hints[name], name) for name in cls.model_fields}


def encoded(cls: type[Event], payload: dict[str, Any]) -> dict[str, Any]:
    """What a publisher of ``cls`` puts on the bus for ``payload``."""
    dumped: dict[str, Any] = json.loads(cls.model_validate(payload).model_dump_json())
    return dumped


def write(cls: type[Event]) -> Path:
    path = golden_file(cls)
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(encoded(cls, model_example(cls)), ensure_ascii=False, indent=2) + "\n")
    return path


def main(argv: list[str]) -> None:
    classes = registered()
    rewrite = set(argv[argv.index("--rewrite") + 1 :]) if "--rewrite" in argv else set()
    for name, cls in classes.items():
        if name in rewrite or not golden_file(cls).exists():
            print(f"wrote {write(cls).relative_to(HERE.parent.parent)}")
