"""The jurisdiction file: one district's circles, thanas (with PIN codes), localities (each with a code,
under its thana), Kendras and agencies, as an operator edits it and re-imports it
(``shakti routing import FILE``).

The whole file is validated first; a file with any problem records nothing. A valid file is recorded
as one atomic command on the district's aggregate, holding only what differs from the record
(new or changed units, retired units) plus ``JurisdictionImported``; an unchanged file records nothing.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from services.routing.domain import Definition, DistrictJurisdiction
from services.routing.sheets import CODE, Sheet, read_sheet, split_list, yes
from shared.aggregate import Repository
from shared.contracts.routing import (
    SERVICE,
    AgencyDefined,
    CircleDefined,
    DistrictDefined,
    KendraDefined,
    LocalityDefined,
    ThanaDefined,
)
from shared.contracts.vocabulary import AgencyKind
from shared.events import Envelope
from shared.eventstore import CommandMeta, EventStore

COLUMNS = ("kind", "code", "parent", "name_hi", "name_en")
OPTIONAL = ("pincodes", "localities", "agency_kind", "control", "basis", "note")
KINDS = ("district", "circle", "thana", "locality", "kendra", "agency")
KIND_HI = {
    "district": "जनपद",
    "circle": "सर्किल",
    "thana": "थाना",
    "locality": "मोहल्ला/गाँव",
    "kendra": "केन्द्र",
    "agency": "एजेंसी",
}
STATE = "UP"
PINCODE = re.compile(r"^[1-9][0-9]{5}$")
MAX_EVENTS = 999
"""A JetStream atomic batch holds at most 1000 messages; JurisdictionImported takes one."""


@dataclass(frozen=True)
class JurisdictionFile:
    district: str
    version: str
    checksum: str
    definitions: list[Definition]


@dataclass(frozen=True)
class ImportOutcome:
    district: str
    version: str
    checksum: str
    recorded: dict[str, int]
    """Events recorded by type; empty when the file matched the record."""

    @property
    def unchanged(self) -> bool:
        return not self.recorded


def read_jurisdiction(text: str) -> JurisdictionFile:
    """Parse and validate a jurisdiction file; raises ``SheetProblems`` listing every problem found."""
    sheet = read_sheet(text, COLUMNS, OPTIONAL)
    sheet.check()
    seen: dict[tuple[str, str], int] = {}
    for line, row in sheet.rows:
        kind, code = row["kind"].lower(), row["code"]
        if kind not in KINDS:
            sheet.problem(
                line, f"unknown kind {kind!r} (one of {', '.join(KINDS)})", f"अज्ञात प्रकार {kind!r}", "kind"
            )
            continue
        if not CODE.match(code):
            sheet.problem(
                line,
                f"code {code!r} may hold only capital letters, digits and '-'",
                f"कोड {code!r} में केवल बड़े अक्षर, अंक और '-' हो सकते हैं",
                "code",
            )
        if (kind, code) in seen:
            sheet.problem(
                line,
                f"duplicate {kind} code {code} (first on line {seen[kind, code]})",
                f"{KIND_HI[kind]} कोड {code} दोहराया गया (पहली बार पंक्ति {seen[kind, code]} पर)",
                "code",
            )
            continue
        seen[kind, code] = line
        if not row["name_hi"] or not row["name_en"]:
            sheet.problem(
                line,
                "a Hindi and an English name are both needed",
                "हिन्दी और अंग्रेज़ी दोनों नाम आवश्यक हैं",
                "name_hi" if not row["name_hi"] else "name_en",
            )
    districts = [(line, row) for line, row in sheet.rows if row["kind"].lower() == "district"]
    if len(districts) != 1:
        sheet.problem(
            districts[1][0] if len(districts) > 1 else 1,
            f"a file defines exactly one district ({len(districts)} found)",
            f"एक फ़ाइल में ठीक एक जनपद होना चाहिए ({len(districts)} मिले)",
            "kind",
        )
        sheet.check()
    definitions = _definitions(sheet, districts[0][1]["code"])
    sheet.check()
    if len(definitions) > MAX_EVENTS:
        sheet.problem(
            1,
            f"{len(definitions)} units are more than one import can record ({MAX_EVENTS})",
            f"{len(definitions)} इकाइयाँ एक बार में दर्ज सीमा ({MAX_EVENTS}) से अधिक हैं",
        )
        sheet.check()
    district = districts[0][1]["code"]
    return JurisdictionFile(district, sheet.version or sheet.checksum[:12], sheet.checksum, definitions)


def _definitions(sheet: Sheet, district: str) -> list[Definition]:
    """Build the definitions, checking parents, conventions and what each kind of row may hold."""
    by_kind: dict[str, dict[str, tuple[int, dict[str, str]]]] = {k: {} for k in KINDS}
    for line, row in sheet.rows:
        kind = row["kind"].lower()
        if kind in by_kind:
            by_kind[kind].setdefault(row["code"], (line, row))
    circles, thanas = by_kind["circle"], by_kind["thana"]
    kendra_of: dict[str, list[int]] = {}
    out: list[Definition] = []
    for line, row in sheet.rows:
        kind, code, parent = row["kind"].lower(), row["code"], row["parent"]
        if kind not in by_kind or by_kind[kind].get(code, (0,))[0] != line:
            continue  # reported already (unknown kind or duplicate)
        _only_on(sheet, line, row, kind)
        match kind:
            case "district":
                _parent(sheet, line, parent, parent == STATE, f"the state {STATE}")
                out.append(
                    DistrictDefined(code=code, name_hi=row["name_hi"], name_en=row["name_en"], state=STATE)
                )
            case "circle":
                _in_district(sheet, line, code, district)
                _parent(sheet, line, parent, parent == district, f"district {district}")
                out.append(
                    CircleDefined(
                        code=code,
                        district=district,
                        name_hi=row["name_hi"],
                        name_en=row["name_en"],
                        basis=row.get("basis", ""),
                    )
                )
            case "thana":
                _in_district(sheet, line, code, district)
                _parent(sheet, line, parent, parent in circles, "a circle of this file")
                out.append(_thana(sheet, line, row, district))
            case "locality":
                _in_district(sheet, line, code, district)
                _parent(sheet, line, parent, parent in thanas, "a thana of this file")
                out.append(
                    LocalityDefined(
                        code=code,
                        thana=parent,
                        district=district,
                        circle=thanas.get(parent, (0, {}))[1].get("parent", ""),
                        name_hi=row["name_hi"],
                        name_en=row["name_en"],
                    )
                )
            case "kendra":
                _parent(sheet, line, parent, parent in thanas, "a thana of this file")
                kendra_of.setdefault(parent, []).append(line)
                out.append(_kendra(sheet, line, row, district, thanas.get(parent, (0, {}))[1]))
            case "agency":
                _in_district(sheet, line, code, district)
                _parent(sheet, line, parent, parent == district, f"district {district}")
                if (agency := _agency(sheet, line, row, district)) is not None:
                    out.append(agency)
    _one_kendra_per_thana(sheet, thanas, kendra_of)
    _one_control(sheet, out)
    return out


def _thana(sheet: Sheet, line: int, row: dict[str, str], district: str) -> ThanaDefined:
    pincodes = split_list(row.get("pincodes", ""))
    for pin in pincodes:
        if not PINCODE.match(pin):
            sheet.problem(
                line,
                f"bad PIN code {pin!r} (six digits, not starting with 0)",
                f"गलत पिन कोड {pin!r} (छह अंक, पहला अंक 0 नहीं)",
                "pincodes",
            )
    return ThanaDefined(
        code=row["code"],
        district=district,
        circle=row["parent"],
        name_hi=row["name_hi"],
        name_en=row["name_en"],
        pincodes=pincodes,
        basis=row.get("basis", ""),
    )


def _kendra(
    sheet: Sheet, line: int, row: dict[str, str], district: str, thana_row: dict[str, str]
) -> KendraDefined:
    code, parent = row["code"], row["parent"]
    if code != f"MSK-{parent}":
        sheet.problem(
            line,
            f"a Kendra's code is MSK- and its thana's code: MSK-{parent}",
            f"केन्द्र का कोड MSK- और उसके थाने का कोड होता है: MSK-{parent}",
            "code",
        )
    return KendraDefined(
        code=code,
        thana=parent,
        district=district,
        circle=thana_row.get("parent", ""),
        name_hi=row["name_hi"],
        name_en=row["name_en"],
        control=yes(row.get("control", "")),
    )


def _agency(sheet: Sheet, line: int, row: dict[str, str], district: str) -> AgencyDefined | None:
    """None (the problem told) when the agency's kind is not one of the known kinds."""
    kinds = [k.value for k in AgencyKind]
    if row.get("agency_kind", "") not in kinds:
        sheet.problem(
            line,
            f"agency_kind must be one of {', '.join(kinds)}",
            f"agency_kind इनमें से एक हो: {', '.join(kinds)}",
            "agency_kind",
        )
        return None
    return AgencyDefined(
        code=row["code"],
        kind=AgencyKind(row["agency_kind"]),
        district=district,
        name_hi=row["name_hi"],
        name_en=row["name_en"],
        basis=row.get("basis", ""),
    )


def _only_on(sheet: Sheet, line: int, row: dict[str, str], kind: str) -> None:
    allowed = {"thana": ("pincodes",), "kendra": ("control",), "agency": ("agency_kind",)}
    if row.get("localities"):
        sheet.problem(
            line,
            "localities are rows of their own now: kind locality, a code, the thana as parent, Hindi and "
            "English names (leave the localities column empty)",
            "मोहल्ले/गाँव अब अलग पंक्तियाँ हैं: प्रकार locality, एक कोड, मूल इकाई थाना, हिन्दी और अंग्रेज़ी नाम "
            "(localities स्तंभ खाली छोड़ें)",
        )
    for column in ("pincodes", "control", "agency_kind"):
        if row.get(column) and column not in allowed.get(kind, ()):
            sheet.problem(
                line,
                f"a {kind} row has no {column} (leave it empty)",
                f"{KIND_HI[kind]} पंक्ति में {column} नहीं होता (खाली छोड़ें)",
                column,
            )


def _parent(sheet: Sheet, line: int, parent: str, known: bool, what: str) -> None:
    if not known:
        sheet.problem(
            line,
            f"unknown parent {parent!r}: expected {what}",
            f"अज्ञात मूल इकाई {parent!r}: अपेक्षित {what}",
            "parent",
        )


def _in_district(sheet: Sheet, line: int, code: str, district: str) -> None:
    if not code.startswith(f"{district}-"):
        sheet.problem(
            line,
            f"code {code} must start with the district's code: {district}-",
            f"कोड {code} जनपद के कोड से शुरू हो: {district}-",
            "code",
        )


def _one_kendra_per_thana(
    sheet: Sheet, thanas: dict[str, tuple[int, dict[str, str]]], kendra_of: dict[str, list[int]]
) -> None:
    for code, (line, _) in thanas.items():
        lines = kendra_of.get(code, [])
        if not lines:
            sheet.problem(
                line,
                f"thana {code} has no Kendra (add a row: kendra,MSK-{code},{code},...)",
                f"थाना {code} का कोई केन्द्र नहीं है (पंक्ति जोड़ें: kendra,MSK-{code},{code},...)",
            )
        for extra in lines[1:]:
            sheet.problem(
                extra,
                f"thana {code} already has a Kendra (line {lines[0]})",
                f"थाना {code} का केन्द्र पहले से है (पंक्ति {lines[0]})",
                "parent",
            )


def _one_control(sheet: Sheet, definitions: Sequence[Definition]) -> None:
    controls = [d.code for d in definitions if isinstance(d, KendraDefined) and d.control]
    if len(controls) != 1:
        sheet.problem(
            1,
            f"the district needs exactly one control Kendra (control=yes), found {len(controls)}",
            f"जनपद में ठीक एक नियंत्रण केन्द्र (control=yes) आवश्यक है, मिले {len(controls)}",
            "control",
        )


async def record_jurisdiction(
    store: EventStore, parsed: JurisdictionFile, *, source: str, actor: str
) -> ImportOutcome:
    """Record a validated file's differences as one atomic command on the district's aggregate."""
    districts = Repository(store, DistrictJurisdiction)
    current = await districts.get(parsed.district)
    # The record's version is in the id: the same file imported again after a change is a new command.
    meta = CommandMeta(
        command_id=f"jurisdiction:{parsed.district}:{parsed.checksum}:{current.version}", actor=actor
    )
    stored = await districts.execute(
        parsed.district,
        lambda d: d.import_file(
            parsed.definitions, version=parsed.version, source=source, checksum=parsed.checksum
        ),
        meta,
    )
    return ImportOutcome(parsed.district, parsed.version, parsed.checksum, _count(stored))


def _count(stored: Sequence[Envelope]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for envelope in stored:
        counts[envelope.event_type] = counts.get(envelope.event_type, 0) + 1
    return counts


async def import_jurisdiction(
    path: str | Path, target: EventStore | str, *, actor: str = "operator"
) -> ImportOutcome:
    """What ``shakti routing import FILE`` runs: validate the file, then record it.

    ``target`` is the event store, or the URL of a NATS server to connect to for this import.
    Raises ``SheetProblems`` (every problem, with its line) and records nothing when the file is bad."""
    path = Path(path)
    parsed = read_jurisdiction(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    if isinstance(target, EventStore):
        return await record_jurisdiction(target, parsed, source=path.name, actor=actor)
    store = await EventStore.connect(target, SERVICE, name="shakti-routing-import")
    try:
        return await record_jurisdiction(store, parsed, source=path.name, actor=actor)
    finally:
        await store.close()
