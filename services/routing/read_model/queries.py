"""What supervisors and operators ask of routing's read model; each answer stays inside the caller's
jurisdiction. Answers carry codes; the API gives them their Hindi and English labels.
Nothing here identifies a complainant: a case is its id, number, category, priority and place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.routing.certified import CertifiedSpell, certified_when, spell
from services.routing.read_model.tables import RoutingTables
from shared.projection import Projector
from shared.rows import utc

OUTSTANDING = ("issued", "accepted")
PLURAL = {
    "circle": "circles",
    "thana": "thanas",
    "locality": "localities",
    "kendra": "kendras",
    "agency": "agencies",
}


def _scoped(table: Table, scope: Mapping[str, str]) -> list[ColumnElement[bool]]:
    return [table.c[column] == value for column, value in scope.items()]


class RoutingQueries:
    """What supervisors and operators ask of routing; each answer stays inside ``scope``."""

    def __init__(self, projector: Projector[RoutingTables]) -> None:
        self.projector = projector

    async def district(self, code: str) -> dict[str, Any] | None:
        t = self.projector.tables
        async with self.projector.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(t.unit)
                        .where(t.unit.c.district == code, t.unit.c.active)
                        .order_by(t.unit.c.code)
                    )
                )
                .mappings()
                .all()
            )
            imports = (
                (
                    await session.execute(
                        select(t.jurisdiction_import)
                        .where(t.jurisdiction_import.c.district == code)
                        .order_by(t.jurisdiction_import.c.sequence)
                    )
                )
                .mappings()
                .all()
            )
        if not rows:
            return None
        units: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            unit = {k: row[k] for k in ("code", "name_hi", "name_en", "district", "circle", "thana", "basis")}
            match row["level"]:
                case "thana":
                    unit["pincodes"] = json.loads(row["pincodes"])
                case "kendra":
                    unit["control"] = row["control"]
                case "agency":
                    unit["kind"] = row["agency_kind"]
            units.setdefault(row["level"], []).append(unit)
        [district] = units.pop("district")
        history = [
            {
                "version": i["version"],
                "source": i["source"],
                "checksum": i["checksum"],
                "counts": json.loads(i["counts"]),
                "by": i["actor"],
                "at": utc(i["imported_at"]),
            }
            for i in imports
        ]
        return {
            "district": district,
            **{PLURAL[level]: found for level, found in units.items()},
            "imports": history,
        }

    async def roster(
        self, scope: Mapping[str, str], now: datetime, kendra: str | None = None
    ) -> list[dict[str, Any]]:
        t = self.projector.tables
        where = _scoped(t.officer, scope)
        if kendra:
            where.append(t.officer.c.kendra == kendra)
        async with self.projector.sessions() as session:
            officers = (
                (
                    await session.execute(
                        select(t.officer)
                        .where(*where)
                        .order_by(t.officer.c.kendra, t.officer.c.service_number)
                    )
                )
                .mappings()
                .all()
            )
            numbers = [o["service_number"] for o in officers]
            loads = await self._workloads(session, numbers)
            certificates = (
                (
                    await session.execute(
                        select(t.certificate).where(
                            t.certificate.c.service_number.in_(numbers), ~t.certificate.c.lapsed
                        )
                    )
                )
                .mappings()
                .all()
            )
        certified: dict[str, set[str]] = {}
        for cert in certificates:
            if utc(cert["valid_until"]) > now:
                certified.setdefault(cert["service_number"], set()).update(json.loads(cert["endorsements"]))
        return [
            {
                "service_number": o["service_number"],
                "name": o["name"],
                "rank": o["rank"],
                "gender": o["gender"],
                "kendra": o["kendra"],
                "thana": o["thana"],
                "incharge": o["incharge"],
                "status": o["status"],
                "open_cases": loads.get(o["service_number"], 0),
                "certified_for": sorted(certified.get(o["service_number"], ())),
            }
            for o in officers
        ]

    async def _workloads(self, session: AsyncSession, officers: Sequence[str]) -> dict[str, int]:
        c = self.projector.tables.case.c
        rows = await session.execute(
            select(c.officer, func.count())
            .where(c.officer.in_(officers), c.state == "open")
            .group_by(c.officer)
        )
        return {officer: count for officer, count in rows.all()}

    async def workloads(self, scope: Mapping[str, str], now: datetime) -> list[dict[str, Any]]:
        """Open cases per officer, busiest first."""
        rows = await self.roster(scope, now)
        keep = ("service_number", "name", "kendra", "status", "open_cases")
        return sorted(
            ({k: r[k] for k in keep} for r in rows), key=lambda r: (-r["open_cases"], r["service_number"])
        )

    async def queue(self, kendra: str) -> dict[str, Any]:
        """A Kendra's open cases grouped by the officer holding them (None: waiting for an officer)."""
        t = self.projector.tables
        async with self.projector.sessions() as session:
            cases = (
                (
                    await session.execute(
                        select(t.case)
                        .where(t.case.c.kendra == kendra, t.case.c.state == "open")
                        .order_by(t.case.c.priority, t.case.c.registered_at, t.case.c.case_id)
                    )
                )
                .mappings()
                .all()
            )
        by_officer: dict[str | None, list[dict[str, Any]]] = {}
        for row in cases:
            by_officer.setdefault(row["officer"], []).append(_case_line(row))
        return {
            "kendra": kendra,
            "officers": [
                {"officer": officer, "cases": items} for officer, items in by_officer.items() if officer
            ],
            "waiting": by_officer.get(None, []),
        }

    async def referrals_outstanding(self, scope: Mapping[str, str], now: datetime) -> list[dict[str, Any]]:
        """Per agency: referrals issued or accepted and not completed, and how many are overdue."""
        t = self.projector.tables
        async with self.projector.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(t.referral, t.unit.c.name_hi, t.unit.c.name_en)
                        .join(t.case, t.case.c.case_id == t.referral.c.case_id)
                        .outerjoin(
                            t.unit, (t.unit.c.level == "agency") & (t.unit.c.code == t.referral.c.agency_code)
                        )
                        .where(t.referral.c.status.in_(OUTSTANDING), *_scoped(t.case, scope))
                        .order_by(t.referral.c.agency_code, t.referral.c.due_at, t.referral.c.referral_id)
                    )
                )
                .mappings()
                .all()
            )
        agencies: dict[str, dict[str, Any]] = {}
        for row in rows:
            agency = agencies.setdefault(
                row["agency_code"],
                {
                    "agency_code": row["agency_code"],
                    "name_hi": row["name_hi"],
                    "name_en": row["name_en"],
                    "kind": row["agency_kind"],
                    "outstanding": 0,
                    "overdue": 0,
                    "referrals": [],
                },
            )
            overdue = row["status"] == "issued" and utc(row["due_at"]) < now
            agency["outstanding"] += 1
            agency["overdue"] += overdue
            agency["referrals"].append(
                {
                    "referral_id": row["referral_id"],
                    "case_id": row["case_id"],
                    "status": row["status"],
                    "due_at": utc(row["due_at"]),
                    "overdue": overdue,
                    "reason": {"en": row["reason_en"], "hi": row["reason_hi"]},
                }
            )
        return list(agencies.values())

    async def agency(self, code: str) -> dict[str, Any] | None:
        """An agency as the jurisdiction defines it: its kind, district and names."""
        u = self.projector.tables.unit
        async with self.projector.sessions() as session:
            row = (
                (await session.execute(select(u).where(u.c.level == "agency", u.c.code == code)))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return {
            "code": row["code"],
            "kind": row["agency_kind"],
            "district": row["district"],
            "name_hi": row["name_hi"],
            "name_en": row["name_en"],
        }

    async def agency_referrals(self, agency_code: str) -> list[dict[str, Any]]:
        """One agency's referrals, open ones (issued, accepted) first by due time, then the answered ones
        newest first; with only what her desk needs to act on each: the case's number, category,
        priority and thana, never who the complainant is (routing does not hold that)."""
        r, c = self.projector.tables.referral, self.projector.tables.case
        u = self.projector.tables.unit
        async with self.projector.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(
                            r,
                            c.c.case_number,
                            c.c.category,
                            c.c.priority,
                            c.c.district,
                            c.c.thana,
                            c.c.registered_at,
                            u.c.name_hi.label("thana_hi"),
                            u.c.name_en.label("thana_en"),
                        )
                        .join(c, c.c.case_id == r.c.case_id)
                        .outerjoin(u, (u.c.level == "thana") & (u.c.code == c.c.thana))
                        .where(r.c.agency_code == agency_code)
                        .order_by(r.c.due_at, r.c.referral_id)
                    )
                )
                .mappings()
                .all()
            )
        lines = [
            {
                "referral_id": row["referral_id"],
                "case_id": row["case_id"],
                "case_number": row["case_number"],
                "category": row["category"],
                "priority": row["priority"],
                "district": row["district"],
                "thana": row["thana"],
                "thana_name": {"hi": row["thana_hi"] or row["thana"], "en": row["thana_en"] or row["thana"]}
                if row["thana"]
                else None,
                "kind": row["agency_kind"],
                "status": row["status"],
                "rejection": row["rejection"],
                "reason": {"en": row["reason_en"], "hi": row["reason_hi"]},
                "registered_at": utc(row["registered_at"]) if row["registered_at"] else None,
                "issued_at": utc(row["issued_at"]),
                "due_at": utc(row["due_at"]),
                "answered_at": None if row["status"] == "issued" else utc(row["updated_at"]),
            }
            for row in rows
        ]
        open_first = [line for line in lines if line["status"] in OUTSTANDING]
        answered = sorted(
            (line for line in lines if line["status"] not in OUTSTANDING),
            key=lambda line: line["answered_at"],
            reverse=True,
        )
        return open_first + answered

    async def referrals_of(self, case_id: str) -> list[dict[str, Any]]:
        t = self.projector.tables.referral
        async with self.projector.sessions() as session:
            rows = (
                await session.execute(
                    select(t).where(t.c.case_id == case_id).order_by(t.c.issued_at, t.c.referral_id)
                )
            ).mappings()
            return [
                {
                    "referral_id": r["referral_id"],
                    "agency_code": r["agency_code"],
                    "kind": r["agency_kind"],
                    "status": r["status"],
                    "rejection": r["rejection"],
                    "due_at": utc(r["due_at"]),
                }
                for r in rows
            ]

    async def attention(self, scope: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
        """Open cases an operator or supervisor must look at: unroutable, sent to the control Kendra,
        given to an in-charge for want of an eligible officer, or waiting with no officer at all."""
        c = self.projector.tables.case.c
        async with self.projector.sessions() as session:
            rows = (
                (
                    await session.execute(
                        select(self.projector.tables.case)
                        .where(
                            c.state == "open",
                            c.unroutable | c.routing_flagged | c.assignment_flagged | c.waiting,
                            *_scoped(self.projector.tables.case, scope),
                        )
                        .order_by(c.priority, c.registered_at, c.case_id)
                    )
                )
                .mappings()
                .all()
            )
        out: dict[str, list[dict[str, Any]]] = {
            "unroutable": [],
            "waiting": [],
            "control_kendra": [],
            "incharge": [],
        }
        for row in rows:
            line = _case_line(row)
            if row["unroutable"]:
                out["unroutable"].append(line | {"why": {"en": row["why_en"], "hi": row["why_hi"]}})
            elif row["waiting"]:
                out["waiting"].append(line)
            elif row["routing_flagged"]:
                out["control_kendra"].append(line)
            else:
                out["incharge"].append(line)
        return out

    async def case(self, case_id: str) -> dict[str, Any] | None:
        t = self.projector.tables.case
        async with self.projector.sessions() as session:
            row = (await session.execute(select(t).where(t.c.case_id == case_id))).mappings().first()
        return (
            None
            if row is None
            else _case_line(row)
            | {
                "district": row["district"],
                "circle": row["circle"],
                "thana": row["thana"],
                "state": row["state"],
                "unroutable": row["unroutable"],
            }
        )

    async def uncertified_assignments(
        self, scope: Mapping[str, str], start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """Assignments from ``start`` (inclusive) to ``end`` (exclusive), at a place inside ``scope``, to an
        officer who was not certified for the case's category at that moment; newest first."""
        t = self.projector.tables
        a = t.assignment.c
        start, end = utc(start), utc(end)  # stored as UTC; SQLite compares the text
        async with self.projector.sessions() as session:
            given = (
                (
                    await session.execute(
                        select(t.assignment, t.case.c.case_number, t.case.c.category)
                        .outerjoin(t.case, t.case.c.case_id == a.case_id)
                        .where(a.assigned_at >= start, a.assigned_at < end, *_scoped(t.assignment, scope))
                        .order_by(a.assigned_at.desc(), a.case_id, a.event_id)
                    )
                )
                .mappings()
                .all()
            )
            spells = await self._spells(session, sorted({row["officer"] for row in given}))
        return [
            {
                "case_id": row["case_id"],
                "case_number": row["case_number"],
                "category": row["category"],
                "officer": row["officer"],
                "kendra": row["kendra"],
                "district": row["district"],
                "circle": row["circle"],
                "thana": row["thana"],
                "assigned_at": utc(row["assigned_at"]),
            }
            for row in given
            if not certified_when(spells.get(row["officer"], ()), row["category"], utc(row["assigned_at"]))
        ]

    async def _spells(
        self, session: AsyncSession, officers: Sequence[str]
    ) -> dict[str, list[CertifiedSpell]]:
        c = self.projector.tables.certified_spell.c
        found: dict[str, list[CertifiedSpell]] = {}
        for start in range(0, len(officers), 500):
            rows = await session.execute(
                select(c.service_number, c.endorsements, c.recorded_at, c.valid_until, c.lapsed_at).where(
                    c.service_number.in_(officers[start : start + 500])
                )
            )
            for number, endorsements, recorded_at, valid_until, lapsed_at in rows.all():
                found.setdefault(number, []).append(
                    spell(json.loads(endorsements), utc(recorded_at), utc(valid_until), utc(lapsed_at))
                )
        return found


def _case_line(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "case_id": row["case_id"],
        "case_number": row["case_number"],
        "category": row["category"],
        "priority": row["priority"],
        "kendra": row["kendra"],
        "officer": row["officer"],
        "routing": {
            "en": row["route_reason_en"],
            "hi": row["route_reason_hi"],
            "flagged": row["routing_flagged"],
        },
        "assignment": {
            "en": row["assign_reason_en"],
            "hi": row["assign_reason_hi"],
            "flagged": row["assignment_flagged"],
        },
        "registered_at": utc(row["registered_at"]) if row["registered_at"] else None,
    }
