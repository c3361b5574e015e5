"""The duty roster: enrol officers, post them to Kendras, change their duty status; and the roster sheet
an operator imports (service number, name, rank, gender, Kendra, in-charge, status).

A Kendra is looked up in its district's jurisdiction record (the aggregate, not a read model), so a
posting is checked against what has been imported, even by a process with no read model (the CLI).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path

from services.routing.domain import GENDERS, DistrictJurisdiction, Officer
from services.routing.sheets import Sheet, read_sheet, yes
from shared.aggregate import Repository
from shared.contracts.routing import SERVICE, KendraDefined
from shared.contracts.vocabulary import RANK_LABELS, DutyStatus, Record
from shared.errors import DomainError, NotFound
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, EventStore

COLUMNS = ("service_number", "name", "rank", "gender", "kendra")
OPTIONAL = ("incharge", "status", "note")
SERVICE_NUMBER = re.compile(r"^[A-Z0-9]{3,20}$")


def district_of_kendra(code: str) -> str | None:
    """``MSK-SJP-KATRA`` -> ``SJP``: MSK- and the thana code, which starts with the district."""
    parts = code.split("-")
    return parts[1] if len(parts) >= 3 and parts[0] == "MSK" else None


def valid_service_number(service_number: str) -> str:
    if not SERVICE_NUMBER.match(service_number):
        raise DomainError(
            "bad_service_number",
            f"A service number holds 3 to 20 capital letters and digits, not {service_number!r}.",
            f"सेवा संख्या में 3 से 20 बड़े अक्षर और अंक होते हैं, {service_number!r} नहीं।",
        )
    return service_number


@dataclass(frozen=True)
class RosterEntry:
    name: str
    rank: str
    gender: str
    kendra: KendraDefined
    incharge: bool
    status: DutyStatus

    def decide(self, officer: Officer) -> list[Event]:
        return officer.enter_roster(
            self.name, self.rank, self.gender, self.kendra, incharge=self.incharge, status=self.status
        )


@dataclass(frozen=True)
class RosterOutcome:
    rows: int
    officers_changed: int
    events: int


class Roster:
    def __init__(self, store: EventStore) -> None:
        self.officers = Repository(store, Officer)
        self.districts = Repository(store, DistrictJurisdiction)

    async def kendra(self, code: str) -> KendraDefined:
        district = district_of_kendra(code)
        found = (await self.districts.get(district)).kendra(code) if district else None
        if found is None:
            raise NotFound(Record.KENDRA, code)
        return found

    async def enrol(
        self, service_number: str, name: str, rank: str, gender: str, meta: CommandMeta
    ) -> list[Envelope]:
        valid_service_number(service_number)
        return await self.officers.execute(service_number, lambda o: o.enrol(name, rank, gender), meta)

    async def post(
        self, service_number: str, kendra_code: str, incharge: bool, meta: CommandMeta
    ) -> list[Envelope]:
        kendra = await self.kendra(kendra_code)
        return await self.officers.execute(service_number, lambda o: o.post(kendra, incharge=incharge), meta)

    async def change_duty(self, service_number: str, status: DutyStatus, meta: CommandMeta) -> list[Envelope]:
        return await self.officers.execute(service_number, lambda o: o.change_duty(status), meta)

    async def import_sheet(self, text: str, *, actor: str) -> RosterOutcome:
        """Validate every row (Kendras against the jurisdiction record), then record each officer's
        differences. A sheet with any problem records nothing; an unchanged sheet records nothing."""
        sheet = read_sheet(text, COLUMNS, OPTIONAL)
        sheet.check()
        entries = await self._validate(sheet)
        changed = events = 0
        for service_number, entry in entries.items():
            current = await self.officers.get(service_number)
            meta = CommandMeta(
                command_id=f"roster:{sheet.checksum}:{service_number}:{current.version}", actor=actor
            )
            stored = await self.officers.execute(service_number, entry.decide, meta)
            changed += bool(stored)
            events += len(stored)
        return RosterOutcome(len(entries), changed, events)

    async def _validate(self, sheet: Sheet) -> dict[str, RosterEntry]:
        entries: dict[str, RosterEntry] = {}
        first_line: dict[str, int] = {}
        incharge_line: dict[str, int] = {}
        kendras: dict[str, KendraDefined | None] = {}
        for line, row in sheet.rows:
            sn, code = row["service_number"], row["kendra"]
            rank, gender = row["rank"].lower(), row["gender"].lower()
            status = row.get("status", "") or DutyStatus.ON_DUTY.value
            problems_before = len(sheet.problems)
            if not SERVICE_NUMBER.match(sn):
                sheet.problem(line, f"bad service number {sn!r}", f"गलत सेवा संख्या {sn!r}", "service_number")
            elif sn in first_line:
                sheet.problem(
                    line,
                    f"service number {sn} again (first on line {first_line[sn]})",
                    f"सेवा संख्या {sn} दोहराई गई (पहली बार पंक्ति {first_line[sn]} पर)",
                    "service_number",
                )
            first_line.setdefault(sn, line)
            if not row["name"]:
                sheet.problem(line, "the officer's name is missing", "अधिकारी का नाम नहीं है", "name")
            if rank not in RANK_LABELS:
                sheet.problem(
                    line,
                    f"rank must be one of {', '.join(RANK_LABELS)}",
                    f"पद इनमें से एक हो: {', '.join(RANK_LABELS)}",
                    "rank",
                )
            if gender not in GENDERS:
                sheet.problem(
                    line,
                    f"gender must be one of {', '.join(GENDERS)}",
                    f"लिंग इनमें से एक हो: {', '.join(GENDERS)}",
                    "gender",
                )
            if status not in {s.value for s in DutyStatus}:
                sheet.problem(
                    line, f"unknown duty status {status!r}", f"अज्ञात ड्यूटी स्थिति {status!r}", "status"
                )
            if code not in kendras:
                try:
                    kendras[code] = await self.kendra(code)
                except NotFound:
                    kendras[code] = None
            kendra = kendras[code]
            if kendra is None:
                sheet.problem(
                    line,
                    f"Kendra {code} is not in the imported jurisdiction",
                    f"केन्द्र {code} आयातित क्षेत्राधिकार में नहीं है",
                    "kendra",
                )
            incharge = yes(row.get("incharge", ""))
            if incharge and code in incharge_line:
                sheet.problem(
                    line,
                    f"Kendra {code} already has an in-charge on line {incharge_line[code]}",
                    f"केन्द्र {code} का प्रभारी पंक्ति {incharge_line[code]} पर पहले से है",
                    "incharge",
                )
            if incharge:
                incharge_line.setdefault(code, line)
            if kendra is not None and len(sheet.problems) == problems_before:
                entries[sn] = RosterEntry(row["name"], rank, gender, kendra, incharge, DutyStatus(status))
        sheet.check()
        return entries


async def import_roster(
    path: str | Path, target: EventStore | str, *, actor: str = "operator"
) -> RosterOutcome:
    """What ``shakti routing roster FILE`` runs; ``target`` is the event store or a NATS URL."""
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    if isinstance(target, EventStore):
        return await Roster(target).import_sheet(text, actor=actor)
    store = await EventStore.connect(target, SERVICE, name="shakti-routing-roster")
    try:
        return await Roster(store).import_sheet(text, actor=actor)
    finally:
        await store.close()
