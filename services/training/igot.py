"""Importing individual completions from the iGOT portal's CSV export.

Columns (by header name, any order, extra columns ignored and never stored): ``service_number``,
``module_id``, ``completed_at`` (ISO date or date-time, or DD-MM-YYYY; a time without a zone is
Indian time), ``score`` (optional, 0 to 100), ``version`` (optional; the module's current version).

The whole file is checked first: one problem anywhere (unknown officer or module, bad date or score,
the same officer and module twice) and nothing is imported; the report names every problem's line.
A valid file is imported officer by officer with command ids derived from the file's checksum, so
importing it again (or again after a crash half-way) changes nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from services.training.curriculum import TrainingPolicy
from services.training.domain import IST, Completion, OfficerRecord, start_of_day
from services.training.handlers import ACTOR, bounded, issuer_of, register_of
from shared.contracts.training import ModuleCompleted, OfficerCertified
from shared.eventstore import CommandMeta
from shared.runtime import ServiceContext

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

REQUIRED_COLUMNS = ("service_number", "module_id", "completed_at")
OPTIONAL_COLUMNS = ("score", "version")
EARLIEST = date(2020, 1, 1)
"""No iGOT completion can be older than the portal."""
SERVICE_NUMBER = re.compile(r"^[A-Z0-9]{3,20}$")
MAX_BYTES = 5_000_000


@dataclass(frozen=True)
class ImportProblem:
    line: int
    field: str
    en: str
    hi: str


@dataclass(frozen=True)
class IgotRow:
    line: int
    service_number: str
    completion: Completion


@dataclass
class ImportReport:
    checksum: str
    lines: int = 0
    """Lines read without a problem."""
    officers: int = 0
    recorded: int = 0
    """Completions new to the records (0 when the same file comes again)."""
    certified: int = 0
    problems: list[ImportProblem] = field(default_factory=list)

    @property
    def imported(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "imported": self.imported}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _when(text: str) -> datetime | None:
    """A completion time, or None when it cannot be read."""
    text = text.strip()
    for pattern in ("%d-%m-%Y", "%d/%m/%Y"):
        try:
            return start_of_day(datetime.strptime(text, pattern).date())
        except ValueError:
            pass
    try:
        if len(text) == 10:
            return start_of_day(date.fromisoformat(text))
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=IST) if moment.tzinfo is None else moment


Problem = Callable[[int, str, str, str], None]
"""Tells one problem: line, column, English, Hindi."""


def _open_csv(content: bytes, problem: Problem) -> tuple[CsvReader, dict[str, int]] | None:
    """The file's lines and where each known column is; None (the problem told) when the file is too
    large, not UTF-8, or lacks a required column."""
    if len(content) > MAX_BYTES:
        problem(0, "", f"The file is larger than {MAX_BYTES} bytes", f"फ़ाइल {MAX_BYTES} बाइट से बड़ी है")
        return None
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        problem(0, "", "The file is not UTF-8 text", "फ़ाइल UTF-8 टेक्स्ट नहीं है")
        return None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip().lower() for h in next(reader, [])]
    absent = [c for c in REQUIRED_COLUMNS if c not in header]
    if absent:
        names = ", ".join(absent)
        problem(1, "", f"Missing columns: {names}", f"कॉलम नहीं मिले: {names}")
        return None
    known = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
    return reader, {name: header.index(name) for name in known if name in header}


def read_igot_csv(
    content: bytes, policy: TrainingPolicy, now: datetime
) -> tuple[list[IgotRow], list[ImportProblem]]:
    """Check the file's form and every line against the curriculum (officers are checked after)."""
    problems: list[ImportProblem] = []

    def problem(line: int, column: str, en: str, hi: str) -> None:
        problems.append(ImportProblem(line, column, en, hi))

    opened = _open_csv(content, problem)
    if opened is None:
        return [], problems
    reader, column = opened
    rows: list[IgotRow] = []
    first_seen: dict[tuple[str, str], int] = {}
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue

        def cell(name: str, values: list[str] = values) -> str:
            at = column.get(name)
            return values[at].strip() if at is not None and at < len(values) else ""

        before = len(problems)
        service_number = cell("service_number").upper()
        if not SERVICE_NUMBER.match(service_number):
            problem(line, "service_number", "Not a service number", "सेवा संख्या मान्य नहीं है")
        module_id = cell("module_id").upper()
        spec = policy.module(module_id)
        if spec is None:
            shown = module_id[:40]
            problem(line, "module_id", f"Unknown module {shown!r}", f"अज्ञात मॉड्यूल {shown!r}")
        completed_at = _when(cell("completed_at"))
        if completed_at is None:
            problem(line, "completed_at", "Not a date", "तिथि मान्य नहीं है")
        elif completed_at > now:
            problem(line, "completed_at", "The date is in the future", "तिथि भविष्य की है")
        elif completed_at.astimezone(IST).date() < EARLIEST:
            problem(
                line,
                "completed_at",
                "The date is before the iGOT portal existed",
                "तिथि iGOT पोर्टल से पहले की है",
            )
        score = _number(raw_score) if (raw_score := cell("score")) else None
        if raw_score and (score is None or not 0 <= score <= 100):
            problem(
                line, "score", "The score is not a number from 0 to 100", "अंक 0 से 100 के बीच की संख्या नहीं है"
            )
        version = spec.version if spec else 0
        if (raw_version := cell("version")) and spec is not None:
            version = int(raw_version) if raw_version.isdigit() else 0
            if not 1 <= version <= spec.version:
                problem(line, "version", "No such version of the module", "मॉड्यूल का यह संस्करण नहीं है")
        key = (service_number, module_id)
        if key in first_seen:
            earlier = first_seen[key]
            problem(
                line,
                "",
                f"Same officer and module as line {earlier}",
                f"पंक्ति {earlier} जैसा ही अधिकारी व मॉड्यूल",
            )
        else:
            first_seen[key] = line
        if len(problems) == before and completed_at is not None:
            rows.append(IgotRow(line, service_number, Completion(module_id, version, score, completed_at)))
    if not first_seen:
        problem(1, "", "The file has no completions", "फ़ाइल में कोई प्रविष्टि नहीं है")
    return rows, problems


async def import_igot(ctx: ServiceContext, policy: TrainingPolicy, content: bytes) -> ImportReport:
    """Check the whole file, then record every completion (and any certification it completes)."""
    checksum = hashlib.sha256(content).hexdigest()
    report = ImportReport(checksum=checksum)
    now = ctx.clock.now()
    rows, problems = read_igot_csv(content, policy, now)
    known = await register_of(ctx).known_officers(r.service_number for r in rows)
    problems += [
        ImportProblem(r.line, "service_number", "Unknown officer", "अज्ञात अधिकारी")
        for r in rows
        if r.service_number not in known
    ]
    report.lines = len(rows)
    if problems:
        report.problems = sorted(problems, key=lambda p: (p.line, p.field))
        return report
    by_officer: dict[str, list[Completion]] = defaultdict(list)
    for row in rows:
        by_officer[row.service_number].append(row.completion)
    report.officers = len(by_officer)
    before = await ctx.store.last_sequence()
    officers = ctx.repository(OfficerRecord)
    issuer = issuer_of(ctx)
    source = f"igot_import:{checksum[:16]}"

    async def record(item: tuple[str, list[Completion]]) -> None:
        service_number, completions = item
        stored = await officers.execute(
            service_number,
            lambda r: r.credit(policy, issuer, completions, source, now),
            CommandMeta(command_id=f"igot:{checksum}:{service_number}", actor=ACTOR, occurred_at=now),
        )
        fresh = [e for e in stored if e.sequence > before]
        report.recorded += sum(e.event_type == ModuleCompleted.event_type for e in fresh)
        report.certified += sum(e.event_type == OfficerCertified.event_type for e in fresh)

    await bounded(sorted(by_officer.items()), record)
    return report
