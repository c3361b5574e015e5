"""What the training read model answers: an officer's record, the officers of a place, the compliance
roll-up, what is due for review, programmes, certificates and modules."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select

from shared.places import PlaceTables, tree_places
from shared.projection import Projector
from shared.rows import as_dict, utc

from .tables import RecordTables

STATE_CODE = "UP"
REVIEW_BATCH = 500


@dataclass
class Figures:
    """One node of the compliance roll-up: Kendra staff, and how many are certified, overdue, lapsing."""

    level: str
    code: str
    name_hi: str
    name_en: str
    staff: int = 0
    certified: int = 0
    overdue: int = 0
    lapsing: int = 0
    children: list[Figures] = field(default_factory=list)

    def add(self, other: Figures) -> None:
        self.staff += other.staff
        self.certified += other.certified
        self.overdue += other.overdue
        self.lapsing += other.lapsing

    def share(self, count: int) -> float | None:
        return round(count / self.staff, 4) if self.staff else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "code": self.code,
            "name_hi": self.name_hi,
            "name_en": self.name_en,
            "staff": self.staff,
            "certified": self.certified,
            "overdue": self.overdue,
            "lapsing": self.lapsing,
            "certified_share": self.share(self.certified),
            "overdue_share": self.share(self.overdue),
            "lapsing_share": self.share(self.lapsing),
            "children": [c.as_dict() for c in self.children],
        }


@dataclass(frozen=True)
class DueForReview:
    overdue: list[tuple[str, datetime]]
    """(service number, due date) of outstanding modules past due and not yet reported."""
    expired: list[tuple[str, str]]
    """(service number, certificate id) of certificates whose term has passed."""


class TrainingRegister:
    """The queries over the training read model."""

    def __init__(self, records: Projector[RecordTables], places: Projector[PlaceTables]) -> None:
        self.records = records
        self.places = places

    async def known_officers(self, service_numbers: Iterable[str]) -> set[str]:
        wanted = sorted(set(service_numbers))
        t = self.records.tables.officer
        found: set[str] = set()
        async with self.records.sessions() as session:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                rows = await session.scalars(select(t.c.service_number).where(t.c.service_number.in_(chunk)))
                found.update(rows)
        return found

    async def officer(self, service_number: str) -> dict[str, Any] | None:
        t = self.records.tables
        async with self.records.sessions() as session:
            row = (
                await session.execute(select(t.officer).where(t.officer.c.service_number == service_number))
            ).first()
            if row is None:
                return None
            certificates = await session.execute(
                select(t.certificate)
                .where(t.certificate.c.service_number == service_number)
                .order_by(t.certificate.c.issued_at, t.certificate.c.certificate_id)
            )
            completions = await session.execute(
                select(t.completion)
                .where(t.completion.c.service_number == service_number)
                .order_by(t.completion.c.completed_at, t.completion.c.module_id, t.completion.c.event_id)
            )
            outstanding = await session.execute(
                select(t.outstanding)
                .where(t.outstanding.c.service_number == service_number)
                .order_by(t.outstanding.c.module_id)
            )
            return {
                **row._mapping,
                "certificates": [_certificate(c._mapping) for c in certificates],
                "completions": [as_dict(c) for c in completions],
                "outstanding": [
                    {
                        "module_id": o.module_id,
                        "due_at": o.due_at,
                        "reason": o.reason,
                        "reported": o.reported,
                    }
                    for o in outstanding
                ],
            }

    async def officers(self, scope: Mapping[str, str], now: datetime) -> list[dict[str, Any]]:
        """The posted officers in ``scope`` with where their training stands."""
        t = self.records.tables
        o, c = t.officer, t.certificate
        next_due = (
            select(func.min(t.outstanding.c.due_at))
            .where(t.outstanding.c.service_number == o.c.service_number)
            .scalar_subquery()
        )
        query = (
            select(
                o,
                c.c.certificate_id,
                c.c.valid_until,
                _overdue_clause(t, now).label("overdue"),
                next_due.label("next_due_at"),
            )
            .outerjoin(c, and_(c.c.service_number == o.c.service_number, c.c.status == "valid"))
            .where(o.c.kendra.is_not(None), *(o.c[k] == v for k, v in scope.items()))
            .order_by(o.c.district, o.c.thana, o.c.service_number)
        )
        async with self.records.sessions() as session:
            rows = await session.execute(query)
        out = []
        for row in rows:
            valid_until = row.valid_until
            certified = valid_until is not None and valid_until > now
            out.append(
                {
                    "service_number": row.service_number,
                    "name": row.name,
                    "rank": row.rank,
                    "kendra": row.kendra,
                    "thana": row.thana,
                    "circle": row.circle,
                    "district": row.district,
                    "certified": certified,
                    "certificate_id": row.certificate_id if certified else None,
                    "valid_until": valid_until if certified else None,
                    "overdue": bool(row.overdue),
                    "next_due_at": utc(row.next_due_at),
                }
            )
        return out

    async def compliance(self, scope: Mapping[str, str], now: datetime, lapsing_by: datetime) -> Figures:
        """The roll-up thana -> circle -> district -> state, cut to the caller's scope.

        The tree comes from routing's jurisdiction; a posting to a place routing has not defined yet
        still counts, under its code."""
        state = Figures("state", STATE_CODE, "उत्तर प्रदेश", "Uttar Pradesh")
        nodes: dict[tuple[str, str], Figures] = {("state", STATE_CODE): state}
        parents: dict[tuple[str, str], tuple[str, str]] = {}

        def node(level: str, code: str, parent: tuple[str, str], hi: str = "", en: str = "") -> Figures:
            key = (level, code)
            found = nodes.get(key)
            if found is None:
                found = nodes[key] = Figures(level, code, hi or code, en or code)
                parents[key] = parent
                nodes[parent].children.append(found)
            return found

        async with self.places.sessions() as session:
            places = await tree_places(session, self.places.tables, scope)
        for p in places:
            level, district, circle = p["level"], p["district"], p["circle"] or ""
            parent = {
                "district": ("state", STATE_CODE),
                "circle": ("district", district),
                "thana": ("circle", circle),
            }[level]
            if level in ("circle", "thana"):
                node("district", district, ("state", STATE_CODE))
            if level == "thana":
                node("circle", circle, ("district", district))
            node(level, p["code"], parent, p["name_hi"], p["name_en"])

        for officer in await self.officers(scope, now):
            district = node("district", officer["district"], ("state", STATE_CODE))
            circle = node("circle", officer["circle"], ("district", district.code))
            thana = node("thana", officer["thana"], ("circle", circle.code))
            thana.staff += 1
            thana.certified += officer["certified"]
            thana.overdue += officer["overdue"]
            until = officer["valid_until"]
            thana.lapsing += bool(officer["certified"] and until <= lapsing_by)

        def total(figures: Figures) -> Figures:
            figures.children.sort(key=lambda c: c.code)
            for child in figures.children:
                figures.add(total(child))
            return figures

        total(state)
        for level in ("thana", "circle", "district"):
            if level in scope:
                return nodes.get((level, scope[level])) or Figures(
                    level, scope[level], scope[level], scope[level]
                )
        return state

    async def due_for_review(self, now: datetime) -> DueForReview:
        t = self.records.tables
        async with self.records.sessions() as session:
            overdue = await session.execute(
                select(t.outstanding.c.service_number, t.outstanding.c.due_at)
                .where(t.outstanding.c.due_at <= now, t.outstanding.c.reported.is_(False))
                .group_by(t.outstanding.c.service_number, t.outstanding.c.due_at)
                .order_by(t.outstanding.c.due_at)
                .limit(REVIEW_BATCH)
            )
            expired = await session.execute(
                select(t.certificate.c.service_number, t.certificate.c.certificate_id)
                .where(t.certificate.c.status == "valid", t.certificate.c.valid_until <= now)
                .order_by(t.certificate.c.valid_until)
                .limit(REVIEW_BATCH)
            )
            return DueForReview(
                overdue=[(sn, due) for sn, due in overdue],
                expired=[(sn, cid) for sn, cid in expired],
            )

    async def programmes(self, district: str | None) -> list[dict[str, Any]]:
        p = self.records.tables.programme
        query = select(p).order_by(p.c.date.desc(), p.c.programme_id)
        if district is not None:
            query = query.where(p.c.district == district)
        async with self.records.sessions() as session:
            return [_programme(row._mapping) for row in await session.execute(query)]

    async def programme_report(self, programme_id: str) -> dict[str, Any] | None:
        """Who was invited, who attended (with scores), who missed (marked absent or never marked)."""
        t = self.records.tables
        async with self.records.sessions() as session:
            row = (
                await session.execute(select(t.programme).where(t.programme.c.programme_id == programme_id))
            ).first()
            if row is None:
                return None
            plan = _programme(row._mapping)
            marks = {
                a.service_number: a
                for a in await session.execute(
                    select(t.attendance).where(t.attendance.c.programme_id == programme_id)
                )
            }
            invited = set(plan["invited_officers"])
            if plan["invited_kendras"]:
                invited.update(
                    await session.scalars(
                        select(t.officer.c.service_number).where(
                            t.officer.c.kendra.in_(plan["invited_kendras"])
                        )
                    )
                )
            people = {
                o.service_number: o
                for o in await session.execute(
                    select(t.officer).where(t.officer.c.service_number.in_(sorted(invited | set(marks))))
                )
            }

        def who(sn: str) -> dict[str, Any]:
            o = people.get(sn)
            return {
                "service_number": sn,
                "name": o.name if o else "",
                "rank": o.rank if o else "",
                "kendra": o.kendra if o else None,
            }

        attended = [{**who(sn), "score": m.score} for sn, m in sorted(marks.items()) if m.present]
        missed = [
            {**who(sn), "marked_absent": sn in marks}
            for sn in sorted(invited)
            if not (sn in marks and marks[sn].present)
        ]
        return {
            **plan,
            "invited": len(invited),
            "attended": attended,
            "missed": missed,
        }

    async def certificate(self, certificate_id: str) -> dict[str, Any] | None:
        """A certificate with its holder and the modules that count towards it."""
        t = self.records.tables
        async with self.records.sessions() as session:
            row = (
                await session.execute(
                    select(t.certificate, t.officer.c.name, t.officer.c.rank, t.officer.c.kendra)
                    .outerjoin(t.officer, t.officer.c.service_number == t.certificate.c.service_number)
                    .where(t.certificate.c.certificate_id == certificate_id)
                )
            ).first()
            if row is None:
                return None
            modules = await session.execute(
                select(
                    t.completion.c.module_id, t.completion.c.version, t.module.c.title_hi, t.module.c.title_en
                )
                .join(t.module, t.module.c.module_id == t.completion.c.module_id)
                .where(
                    t.completion.c.service_number == row.service_number,
                    t.completion.c.satisfies.is_(True),
                    t.completion.c.version >= t.module.c.accepted_from_version,
                )
                .distinct()
                .order_by(t.completion.c.module_id)
            )
            return {
                **_certificate(row._mapping),
                "name": row.name or "",
                "rank": row.rank or "",
                "kendra": row.kendra,
                "modules": [dict(m._mapping) for m in modules],
            }

    async def modules(self) -> list[dict[str, Any]]:
        m = self.records.tables.module
        async with self.records.sessions() as session:
            rows = await session.execute(select(m).order_by(m.c.module_id))
            return [as_dict(r) for r in rows]


def _overdue_clause(t: RecordTables, now: datetime) -> Any:
    return exists().where(
        t.outstanding.c.service_number == t.officer.c.service_number,
        t.outstanding.c.due_at <= now,
    )


def _certificate(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "certificate_id": row["certificate_id"],
        "service_number": row["service_number"],
        "issued_at": row["issued_at"],
        "valid_until": row["valid_until"],
        "endorsements": json.loads(row["endorsements"]),
        "status": row["status"],
        "lapsed_why": row["lapsed_why"],
    }


def _programme(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key in ("modules", "invited_kendras", "invited_officers"):
        out[key] = json.loads(row[key])
    return out
