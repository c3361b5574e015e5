"""No free text in clear in any event (issue 12, item 8: the locality typed at registration).

Every field of every event in ``shared/contracts/`` that holds text must be one of:
- a code: an enum of the vocabulary, or constrained by a pattern;
- sealed: ``sealed_*`` (AES-GCM under the case key, intake only);
- an id or a code by the contracts' naming (``*_id``, and the names in ``CODES`` below: places, staff
  service numbers, record numbers, vocabulary values kept as strings);
- or in ``ALLOWED``: words typed by an operator about reference data (a thana's name, a training
  module's title), never about a case, each with its reason.
Anything else fails: a new field a person could type into about a case must be sealed or a code.
"""

from __future__ import annotations

import enum
import importlib
import pkgutil
import typing
from typing import Any

from pydantic import create_model
from pydantic.fields import FieldInfo

import shared.contracts
from shared.events import Event

CODES: dict[str, str] = {
    # places and units: codes of the imported jurisdiction (checked against the CODE pattern at import)
    **dict.fromkeys(
        (
            "code",
            "district",
            "circle",
            "thana",
            "kendra",
            "state",
            "office_code",
            "agency_code",
            "agency",  # an agency desk's agency (UserAdded), checked against routing's agencies
            "transfer_from",
        ),
        "a jurisdiction code",
    ),
    # people of the platform: staff service numbers (the roster's), never a complainant
    **dict.fromkeys(
        (
            "by",
            "officer",
            "from_officer",
            "service_number",
            "registered_by",
            "ordered_by",
            "directed_by",
            "organised_by",
            "invited_officers",
        ),
        "a staff service number",
    ),
    # records: numbers and digests the platform makes or checks
    **dict.fromkeys(
        (
            "case_number",
            "duplicate_of",
            "duplicate_of_number",
            "sha256",
            "checksum",
            "version",
            "policy_version",
            "counts",
        ),
        "a record number, digest or version made by the platform",
    ),
    "fir_number": "a police FIR number (pattern-checked at the API), a record number, not about a person",
    # vocabulary values and lists of codes carried as strings
    **dict.fromkeys(
        (
            "kind",
            "mode",
            "outcome",
            "legal_basis",
            "purpose",
            "role",
            "clock",
            "rank",
            "gender",
            "trigger",
            "what",
            "level",
            "language",
            "flags",
            "endorsements",
            "modules",
            "invited_kendras",
            "pincodes",
        ),
        "a value of a code list (vocabulary or the service's own), chosen, never typed",
    ),
    **dict.fromkeys(
        ("reason", "reason_hi", "why", "why_hi"),
        "intake: a reason code; routing, escalation, training: wording the platform composes from codes "
        "and reference data (never a person's words)",
    ),
}
ALLOWED: dict[tuple[str, str], str] = {
    **{
        (event, field): "reference data typed by an operator (jurisdiction file), not about a case"
        for event in (
            "DistrictDefined",
            "CircleDefined",
            "ThanaDefined",
            "LocalityDefined",
            "KendraDefined",
            "AgencyDefined",
        )
        for field in ("name_hi", "name_en", "basis")
        if not (event in ("DistrictDefined", "KendraDefined", "LocalityDefined") and field == "basis")
    },
    ("JurisdictionImported", "source"): "the name of the operator's jurisdiction file",
    ("OfficerEnrolled", "name"): "a police officer's name from the roster (staff, not a complainant)",
    ("ModulePublished", "title_hi"): "a training module's title (curriculum file)",
    ("ModulePublished", "title_en"): "a training module's title (curriculum file)",
    ("ProgrammeScheduled", "title_hi"): "a training programme's title, typed by a CO (not about a case)",
    ("ProgrammeScheduled", "title_en"): "a training programme's title, typed by a CO (not about a case)",
    ("ProgrammeScheduled", "venue"): "where a training takes place (a police building)",
    ("ModuleCompleted", "source"): "where a completion came from: programme or iGOT import (a code)",
    ("ClockStarted", "basis"): "how a deadline counts (calendar or working time), from the policy file",
    ("UserAdded", "username"): "a staff member's sign-in name, chosen by an operator (not a complainant)",
    ("ServiceNumberClaimed", "username"): "a staff member's sign-in name (not a complainant)",
}


def contract_events() -> list[type[Event]]:
    found: dict[str, type[Event]] = {}
    for module in pkgutil.iter_modules(shared.contracts.__path__):
        loaded = importlib.import_module(f"shared.contracts.{module.name}")
        for value in vars(loaded).values():
            if isinstance(value, type) and issubclass(value, Event) and value.__module__ == loaded.__name__:
                found[value.__name__] = value
    return sorted(found.values(), key=lambda cls: cls.__name__)


def holds_text(annotation: Any) -> bool:
    if annotation is str:
        return True
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return False  # a code
    return any(holds_text(arg) for arg in typing.get_args(annotation))


def verdict(event: str, field: str, info: FieldInfo) -> str | None:
    """Why the field is not free text in clear; None when it may be."""
    if not holds_text(info.annotation):
        return "no text"
    if any(getattr(m, "pattern", None) for m in info.metadata):
        return "constrained by a pattern"
    if field.startswith("sealed_"):
        return "sealed"
    if field.endswith("_id"):
        return "an id"
    return CODES.get(field) or ALLOWED.get((event, field))


def test_every_text_field_of_every_event_is_a_code_an_id_or_sealed() -> None:
    events = contract_events()
    assert {"CaseRegistered", "CaseRouted", "ClockStarted", "OfficerCertified"} <= {
        e.__name__ for e in events
    }
    free = [
        f"{cls.__name__}.{field}: {info.annotation}"
        for cls in events
        for field, info in cls.model_fields.items()
        if verdict(cls.__name__, field, info) is None
    ]
    assert free == [], "free text in clear: seal it (sealed_*) or make it a code"
    # The registration carries no typed place any more: a locality code (pattern) and the sealed identity.
    registered = next(cls for cls in events if cls.__name__ == "CaseRegistered")
    assert "locality" not in registered.model_fields
    assert verdict("CaseRegistered", "locality_code", registered.model_fields["locality_code"]) == (
        "constrained by a pattern"
    )


def test_the_lists_name_only_fields_that_exist() -> None:
    fields = {(cls.__name__, f) for cls in contract_events() for f in cls.model_fields}
    assert set(ALLOWED) <= fields
    assert set(CODES) <= {f for _, f in fields}


def test_a_new_free_text_field_would_fail() -> None:
    """The check can fail: a field a person could type into is caught, under any event's name."""
    typed = create_model("CaseNoted", __base__=Event, remark=(str, ...), note=(str | None, None))
    assert [f for f, info in typed.model_fields.items() if verdict("CaseNoted", f, info) is None] == [
        "remark",
        "note",
    ]
