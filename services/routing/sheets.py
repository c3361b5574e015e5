"""The CSV sheets an operator edits (jurisdiction, roster): rows with their line numbers, comment lines,
a ``# version: ...`` line, and problems reported in Hindi and English with the line (and, where one
cell is at fault, the column) they are on."""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

VERSION = re.compile(r"^#\s*version\s*:\s*(.+?)\s*$")
CODE = re.compile(r"^[A-Z0-9]+(-[A-Z0-9]+)*$")


@dataclass(frozen=True)
class Problem:
    line: int
    en: str
    hi: str
    column: str = ""
    """The column at fault, by its name in the header; empty when the whole row or file is."""


class SheetProblems(ValueError):
    """A sheet that cannot be imported; nothing of it was recorded."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("; ".join(f"line {p.line}: {p.en}" for p in self.problems))


@dataclass
class Sheet:
    rows: list[tuple[int, dict[str, str]]]
    version: str | None
    checksum: str
    problems: list[Problem] = field(default_factory=list)

    def problem(self, line: int, en: str, hi: str, column: str = "") -> None:
        self.problems.append(Problem(line, en, hi, column))

    def check(self) -> None:
        if self.problems:
            raise SheetProblems(self.problems)


def read_sheet(text: str, required: Sequence[str], optional: Sequence[str] = ()) -> Sheet:
    """Rows keyed by column, numbered by their line in the file. Comment lines start with ``#``."""
    sheet = Sheet([], None, hashlib.sha256(text.encode()).hexdigest())
    header: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if line.lstrip().startswith("#"):
            if found := VERSION.match(line.strip()):
                sheet.version = found[1]
            continue
        cells = [cell.strip() for cell in next(csv.reader([line]))]
        if header is None:
            header = cells
            missing = [c for c in required if c not in cells]
            unknown = [c for c in cells if c not in required and c not in optional]
            if missing:
                names = ", ".join(missing)
                sheet.problem(number, f"missing columns: {names}", f"कॉलम नहीं हैं: {names}", names)
            if unknown:
                names = ", ".join(unknown)
                sheet.problem(number, f"unknown columns: {names}", f"अज्ञात कॉलम: {names}", names)
            if missing or unknown:
                break
            continue
        if len(cells) > len(header):
            sheet.problem(
                number,
                f"{len(cells)} cells but {len(header)} columns",
                f"{len(cells)} खाने हैं पर कॉलम {len(header)} हैं",
            )
            continue
        sheet.rows.append((number, dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))))
    if header is None:
        sheet.problem(1, "the file has no header row", "फ़ाइल में शीर्ष पंक्ति (कॉलम नाम) नहीं है")
    return sheet


def split_list(cell: str) -> list[str]:
    """A cell holding several values separated by ``|``."""
    return [item.strip() for item in cell.split("|") if item.strip()]


def yes(cell: str) -> bool:
    return cell.strip().lower() in ("yes", "y", "true", "1", "हाँ")
