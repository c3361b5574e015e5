"""Training in the web front: the curriculum, an officer's training record, and the lists supervisors
act on (untrained, overdue, lapsing) with their CSV export.

Every figure and name comes from the training service's API called as the signed-in user, so the
service's own jurisdiction rules decide what a page may show; the pages only add the narrower rules of
the web front (a Kendra officer opens her own record and nobody else's)."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shakti.web.pages import (
    KENDRA_ROLES,
    SUPERVISOR_ROLES,
    Api,
    PageRefused,
    User,
    allow,
    render,
    templates,
)
from shakti.web.times import IST, moment
from shared.auth import Principal, Role
from shared.contracts.vocabulary import (
    CERTIFICATE_STATUS_LABELS,
    MODULE_KIND_LABELS,
    RANK_LABELS,
    TRAINING_REASON_LABELS,
    label,
)

RECORD_READERS = KENDRA_ROLES | SUPERVISOR_ROLES
"""Who opens an officer's record: her own for anyone with a service number, others' for supervisors."""
LIST_READERS = SUPERVISOR_ROLES
"""Who works from the compliance lists: the Kendra in-charge, SHO, CO, Additional SP and SP."""
SERVICE_NUMBER = re.compile(r"^[A-Za-z0-9]{3,20}$")
PLACE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
LISTS = ("untrained", "overdue", "lapsing")
MODULE_KINDS = ("sop", "igot_video", "assessment", "specialist")

CSV_HEADER: list[tuple[str, str]] = [
    ("सेवा संख्या", "Service number"),
    ("नाम", "Name"),
    ("पद", "Rank"),
    ("केन्द्र", "Kendra"),
    ("थाना", "Thana"),
    ("सर्किल", "Circle"),
    ("प्रमाणित", "Certified"),
    ("प्रमाणपत्र वैध तक (IST)", "Certificate valid until (IST)"),
    ("अगली नियत तिथि (IST)", "Next due (IST)"),
    ("समय सीमा चूकी", "Overdue"),
]
YES_NO = {True: "हाँ / Yes", False: "नहीं / No"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def both(pair: tuple[str, str]) -> str:
    """A (Hindi, English) pair as one cell: ``उपनिरीक्षक / Sub-Inspector``."""
    hi, en = pair
    return en if hi == en else f"{hi} / {en}"


def cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one starting like a formula is quoted (CSV injection)."""
    return f"'{value}" if value.startswith(FORMULA_START) else value


def ist_day(value: str | datetime | None) -> str:
    at = moment(value)
    return f"{at.astimezone(IST):%d-%m-%Y}" if at else ""


def certificate_standing(certificate: dict[str, Any], now: datetime) -> str:
    """A certificate's status as its holder reads it: a valid one past its term has expired (the
    service's review lapses it shortly after)."""
    until = moment(certificate["valid_until"])
    if certificate["status"] == "valid" and until is not None and until <= now:
        return "expired"
    return str(certificate["status"])


def place_names(tree: dict[str, Any]) -> dict[tuple[str, str], tuple[str, str]]:
    """Every place of the compliance roll-up, by (level, code), with its (Hindi, English) name: a
    circle and a thana may share a code (Tilhar)."""
    names = {(tree["level"], tree["code"]): (tree["name_hi"], tree["name_en"])}
    for child in tree.get("children", []):
        names |= place_names(child)
    return names


def place_in(tree: dict[str, Any], level: str, code: str | None) -> dict[str, Any] | None:
    """The place of the roll-up at ``level`` with ``code`` (a circle and a thana may share a code)."""
    if tree.get("level") == level and tree.get("code") == code:
        return tree
    for child in tree.get("children", []):
        if (found := place_in(child, level, code)) is not None:
            return found
    return None


def in_focus(officer: dict[str, Any], focus: dict[str, Any]) -> bool:
    level = focus.get("level")
    return level not in ("district", "circle", "thana") or officer.get(level) == focus["code"]


def lists_of(officers: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    return {
        "untrained": [o for o in officers if not o["certified"]],
        "overdue": [o for o in officers if o["overdue"]],
        "lapsing": [o for o in officers if o.get("lapsing")],
    }


def csv_text(officers: list[dict[str, Any]], names: dict[tuple[str, str], tuple[str, str]]) -> str:
    """The list as CSV for a spreadsheet: bilingual header cells, ranks and places in both languages,
    dates in IST, a byte-order mark so that Excel reads the Devanagari as UTF-8."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([both(h) for h in CSV_HEADER])
    for o in officers:
        thana = names.get(("thana", o["thana"]), (o["thana"], o["thana"]))
        circle = names.get(("circle", o["circle"]), (o["circle"], o["circle"]))
        writer.writerow(
            cell(v)
            for v in (
                o["service_number"],
                o["name"],
                both((label(RANK_LABELS, o["rank"], "hi"), label(RANK_LABELS, o["rank"]))),
                o["kendra"] or "",
                both(thana),
                both(circle),
                YES_NO[bool(o["certified"])],
                ist_day(o["valid_until"]),
                ist_day(o["next_due_at"]),
                YES_NO[bool(o["overdue"])],
            )
        )
    return "\ufeff" + out.getvalue()


async def focus_of(
    api: Api, circle: str | None, thana: str | None
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """The caller's compliance roll-up, the place asked for inside it, and its officers."""
    for code in (circle, thana):
        if code is not None and not PLACE_CODE.match(code):
            raise PageRefused(404, "No such place in your jurisdiction.", "आपके क्षेत्र में ऐसा स्थान नहीं।")
    tree = await api.get("/api/training/compliance")
    focus = place_in(tree, "thana", thana) if thana else place_in(tree, "circle", circle) if circle else tree
    if focus is None or focus.get("level") not in ("state", "district", "circle", "thana"):
        raise PageRefused(404, "No such place in your jurisdiction.", "आपके क्षेत्र में ऐसा स्थान नहीं।")
    officers = [o for o in await api.get("/api/training/officers") if in_focus(o, focus)]
    return tree, focus, officers


def mount_training(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)
    templates.env.globals.update(
        RANK_LABELS=RANK_LABELS,
        CERTIFICATE_STATUS_LABELS=CERTIFICATE_STATUS_LABELS,
        TRAINING_REASON_LABELS=TRAINING_REASON_LABELS,
        MODULE_KIND_LABELS=MODULE_KIND_LABELS,
    )

    @router.get("/training")
    async def curriculum(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, frozenset(Role))
        found = await api.get("/api/training/curriculum")
        kinds = {kind: [m for m in found["modules"] if m["kind"] == kind] for kind in MODULE_KINDS}
        titles = {m["module_id"]: (m["title_hi"], m["title_en"]) for m in found["modules"]}
        return render(
            request, "training_curriculum.html", principal,
            curriculum=found, kinds=kinds, titles=titles,
        )  # fmt: skip

    @router.get("/training/me")
    async def my_record(principal: User) -> Response:
        allow(principal, RECORD_READERS)
        if not principal.service_number:
            raise PageRefused(
                404,
                "No service number is linked to your user, so there is no training record to show.",
                "आपके उपयोगकर्ता से कोई सेवा संख्या जुड़ी नहीं है, इसलिए दिखाने को प्रशिक्षण अभिलेख नहीं।",
            )
        return RedirectResponse(f"/training/officers/{principal.service_number}", status_code=303)

    @router.get("/training/officers/{service_number}")
    async def record(request: Request, service_number: str, principal: User, api: Api) -> HTMLResponse:
        allow(principal, RECORD_READERS)
        check_record_reader(principal, service_number)
        officer = await api.get(f"/api/training/officers/{service_number}")
        found = await api.get("/api/training/curriculum")
        now = datetime.now(UTC)
        certificates = [
            {**c, "standing": certificate_standing(c, now)} for c in reversed(officer["certificates"])
        ]
        current = next((c for c in certificates if c["standing"] == "valid"), None)
        return render(
            request, "training_record.html", principal,
            officer=officer, certificates=certificates, current=current,
            titles={m["module_id"]: (m["title_hi"], m["title_en"]) for m in found["modules"]},
            at=now,
        )  # fmt: skip

    @router.get("/training/compliance")
    async def compliance(
        request: Request, principal: User, api: Api, circle: str | None = None, thana: str | None = None
    ) -> HTMLResponse:
        allow(principal, LIST_READERS)
        tree, focus, officers = await focus_of(api, circle, thana)
        query = f"?thana={thana}" if thana else f"?circle={circle}" if circle else ""
        return render(
            request, "training_compliance.html", principal,
            tree=tree, focus=focus, lists=lists_of(officers), names=place_names(tree), query=query,
            circle=circle, thana=thana, tree_days=tree["lapsing_within_days"],
        )  # fmt: skip

    @router.get("/training/compliance/{which}.csv")
    async def compliance_csv(
        which: str, principal: User, api: Api, circle: str | None = None, thana: str | None = None
    ) -> Response:
        allow(principal, LIST_READERS)
        if which not in LISTS:
            raise PageRefused(404, "No such list.", "ऐसी कोई सूची नहीं।")
        tree, focus, officers = await focus_of(api, circle, thana)
        day = datetime.now(UTC).astimezone(IST).date().isoformat()
        name = f"training-{which}-{focus['code']}-{day}.csv"
        return Response(
            csv_text(lists_of(officers)[which], place_names(tree)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

    app.include_router(router)


def check_record_reader(principal: Principal, service_number: str) -> None:
    """A Kendra officer reads her own record only; supervisors read those the service lets them (it
    answers 404 outside their jurisdiction)."""
    if not SERVICE_NUMBER.match(service_number):
        raise PageRefused(404, "No such officer.", "ऐसा कोई अधिकारी नहीं।")
    own = principal.service_number is not None and principal.service_number.upper() == service_number.upper()
    if principal.role is Role.KENDRA_OFFICER and not own:
        raise PageRefused(
            403, "You may open your own training record only.", "आप केवल अपना प्रशिक्षण अभिलेख देख सकते हैं।"
        )
