"""Training in the web front: the curriculum, an officer's training record, the lists supervisors act on
(untrained, overdue, lapsing) with their CSV export, programmes (schedule, roll-call, close), and the
operator's upload of an iGOT completion file.

Every figure and name comes from the training service's API called as the signed-in user, so the
service's own jurisdiction rules decide what a page may show; the pages only add the narrower rules of
the web front (a Kendra officer opens her own record and nobody else's)."""

from __future__ import annotations

import csv
import io
import math
import re
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from shakti.web.pages import (
    KENDRA_ROLES,
    SUPERVISOR_ROLES,
    Api,
    PageRefused,
    ServiceAPI,
    User,
    allow,
    optional,
    render,
    templates,
)
from shakti.web.times import IST, moment
from shared.auth import PLATFORM_STAFF, Principal
from shared.contracts.vocabulary import (
    CERTIFICATE_STATUS_LABELS,
    MODULE_KIND_LABELS,
    RANK_LABELS,
    TRAINING_REASON_LABELS,
    label,
)
from shared.roles import Role

UNCERTIFIED = "/api/routing/compliance/uncertified"
# Routing's figures and list of cases given to an officer not certified for them at the time: routing
# knows the assignments and projects the certifications from training's stream, so the join is its.
PeriodDay = Annotated[str | None, Query(max_length=10)]

RECORD_READERS = KENDRA_ROLES | SUPERVISOR_ROLES
"""Who opens an officer's record: her own for anyone with a service number, others' for supervisors."""
LIST_READERS = SUPERVISOR_ROLES
"""Who works from the compliance lists: the Kendra in-charge, SHO, CO, Additional SP and SP."""
SERVICE_NUMBER = re.compile(r"^[A-Za-z0-9]{3,20}$")
PLACE_CODE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
LISTS = ("untrained", "overdue", "lapsing")

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
UNCERTIFIED_CSV_HEADER: list[tuple[str, str]] = [
    ("मामला संख्या", "Case number"),
    ("श्रेणी", "Category"),
    ("अधिकारी (सेवा संख्या)", "Officer (service number)"),
    ("केन्द्र", "Kendra"),
    ("थाना", "Thana"),
    ("सर्किल", "Circle"),
    ("सौंपा गया (IST)", "Assigned at (IST)"),
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
        "lapsing": [o for o in officers if o["lapsing"]],
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


def ist_moment(value: str | datetime | None) -> str:
    at = moment(value)
    return f"{at.astimezone(IST):%d-%m-%Y %H:%M}" if at else ""


def uncertified_csv(lines: list[dict[str, Any]], names: dict[tuple[str, str], tuple[str, str]]) -> str:
    """The cases given to uncertified officers as CSV: bilingual headers and labels, times in IST."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([both(h) for h in UNCERTIFIED_CSV_HEADER])
    for line in lines:
        category = line["category"]
        writer.writerow(
            cell(v)
            for v in (
                line["case_number"] or line["case_id"],
                both((category["hi"], category["en"])) if category["code"] else "",
                line["officer"],
                line["kendra"] or "",
                both(names.get(("thana", line["thana"]), (line["thana"], line["thana"]))),
                both(names.get(("circle", line["circle"]), (line["circle"], line["circle"]))),
                ist_moment(line["assigned_at"]),
            )
        )
    return "\ufeff" + out.getvalue()


def period_asked(first: str | None, last: str | None) -> dict[str, str]:
    """The period's days as routing takes them (YYYY-MM-DD, IST); routing fills in what is missing."""
    asked = {}
    for key, value in (("from", first), ("to", last)):
        if value:
            try:
                asked[key] = date.fromisoformat(value).isoformat()
            except ValueError:
                raise PageRefused(
                    422, "Choose the dates from the calendar (YYYY-MM-DD).", "दिनांक कैलेंडर से चुनें (YYYY-MM-DD)।"
                ) from None
    return asked


def uncertified_by_place(counts: dict[str, Any] | None) -> dict[tuple[str, str], int]:
    """Routing's figures by (level, code); the caller's whole jurisdiction under ("all", "")."""
    if counts is None:
        return {}
    found = {("all", ""): int(counts["cases"])}
    for level in ("district", "circle", "thana"):
        found |= {(level, p["code"]): int(p["cases"]) for p in counts[level]}
    return found


def uncertified_here(by_place: dict[tuple[str, str], int], focus: dict[str, Any]) -> int | None:
    """The figure of the place in focus (None: routing gave no figures)."""
    if not by_place:
        return None
    if focus.get("level") in ("district", "circle", "thana"):
        return by_place.get((focus["level"], focus["code"]), 0)
    return by_place[("all", "")]


def place_asked(circle: str | None, thana: str | None) -> dict[str, str]:
    return {"thana": thana} if thana else {"circle": circle} if circle else {}


async def uncertified_lines(
    api: Api, focus: dict[str, Any], period: dict[str, str]
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Routing's list for the place in focus, and the period it answered for."""
    level = focus.get("level")
    place = {level: focus["code"]} if level in ("district", "circle", "thana") else {}
    found = await api.get(f"{UNCERTIFIED}/cases", **period, **place)
    return found["assignments"], {"from": found["from"], "to": found["to"]}


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
    """The curriculum, officers' records, the compliance lists, and the programmes' pages."""
    mount_programmes(app)
    mount_igot(app)
    router = APIRouter(include_in_schema=False)
    templates.env.globals.update(
        RANK_LABELS=RANK_LABELS,
        CERTIFICATE_STATUS_LABELS=CERTIFICATE_STATUS_LABELS,
        TRAINING_REASON_LABELS=TRAINING_REASON_LABELS,
        MODULE_KIND_LABELS=MODULE_KIND_LABELS,
    )
    _record_routes(router)
    _compliance_routes(router)
    app.include_router(router)


def _record_routes(router: APIRouter) -> None:
    """The curriculum, and an officer's own training record."""

    @router.get("/training")
    async def curriculum(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, PLATFORM_STAFF)
        found = await api.get("/api/training/curriculum")
        # In the vocabulary's order: the SOP, the iGOT videos, the assessment, the specialist modules.
        kinds = {kind: [m for m in found["modules"] if m["kind"] == kind] for kind in MODULE_KIND_LABELS}
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


def _compliance_routes(router: APIRouter) -> None:
    """The compliance lists supervisors act on, on the page and as CSV."""

    @router.get("/training/compliance")
    async def compliance(
        request: Request, principal: User, api: Api, circle: str | None = None, thana: str | None = None,
        first: Annotated[PeriodDay, Query(alias="from")] = None,
        last: Annotated[PeriodDay, Query(alias="to")] = None,
    ) -> HTMLResponse:  # fmt: skip
        allow(principal, LIST_READERS)
        asked = period_asked(first, last)
        tree, focus, officers = await focus_of(api, circle, thana)
        place = place_asked(circle, thana)
        counts = await optional(api, UNCERTIFIED, **asked)
        by_place = uncertified_by_place(counts)
        period = {"from": counts["from"], "to": counts["to"]} if counts else asked
        return render(
            request, "training_compliance.html", principal,
            tree=tree, focus=focus, lists=lists_of(officers), names=place_names(tree),
            query=f"?{urlencode(place)}" if place else "", circle=circle, thana=thana,
            tree_days=tree["lapsing_within_days"], uncertified=by_place,
            uncertified_here=uncertified_here(by_place, focus), period=period,
            uncertified_query=urlencode(place | period),
        )  # fmt: skip

    @router.get("/training/compliance/uncertified-cases")
    async def uncertified_cases(
        request: Request, principal: User, api: Api, circle: str | None = None, thana: str | None = None,
        first: Annotated[PeriodDay, Query(alias="from")] = None,
        last: Annotated[PeriodDay, Query(alias="to")] = None,
    ) -> HTMLResponse:  # fmt: skip
        """Each case of the period given to an officer not certified for it, linked to its page."""
        allow(principal, LIST_READERS)
        asked = period_asked(first, last)
        tree, focus, _ = await focus_of(api, circle, thana)
        lines, period = await uncertified_lines(api, focus, asked)
        return render(
            request, "training_uncertified.html", principal,
            tree=tree, focus=focus, lines=lines, names=place_names(tree), period=period,
            circle=circle, thana=thana, csv_query=urlencode(place_asked(circle, thana) | period),
            case_count=len({line["case_id"] for line in lines}),
        )  # fmt: skip

    @router.get("/training/compliance/uncertified-cases.csv")
    async def uncertified_cases_csv(
        principal: User, api: Api, circle: str | None = None, thana: str | None = None,
        first: Annotated[PeriodDay, Query(alias="from")] = None,
        last: Annotated[PeriodDay, Query(alias="to")] = None,
    ) -> Response:  # fmt: skip
        allow(principal, LIST_READERS)
        asked = period_asked(first, last)
        tree, focus, _ = await focus_of(api, circle, thana)
        lines, period = await uncertified_lines(api, focus, asked)
        name = f"uncertified-cases-{focus['code']}-{period['from']}-{period['to']}.csv"
        return Response(
            uncertified_csv(lines, place_names(tree)),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
        )

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


PROGRAMME_READERS = frozenset({Role.SHO, Role.CO, Role.ADDL_SP, Role.SP})
ORGANISERS = frozenset({Role.CO, Role.ADDL_SP, Role.SP})
"""Who schedules a programme, calls its roll and closes it (the service admits the operator too; the web
front leaves that to the API)."""
PROGRAMME_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PLAN_FIELDS = ("title_hi", "title_en", "ordered_by", "directed_by", "organised_by", "venue", "date")
# Form fields a page may send, from the API's own limits (2000 Kendras and 100 modules a programme,
# 2000 marks a roll-call, three fields each), above Starlette's default of 1000: a district's roll-call
# of 400 officers would otherwise be refused. The body limit still bounds the bytes.
PLAN_FORM_FIELDS = 2000 + 100 + len(PLAN_FIELDS) + 3
ROLL_CALL_FIELDS = 3 * 2000 + 3


def check_programme_id(programme_id: str) -> str:
    if not PROGRAMME_ID.match(programme_id):
        raise PageRefused(404, "No such programme.", "ऐसा कोई कार्यक्रम नहीं।")
    return programme_id


def roll(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Everyone on the programme's register, by Kendra then name: marked present (with the score),
    marked absent, or not marked yet."""
    people = [{**a, "present": True} for a in report["attended"]]
    people += [{**m, "present": False, "score": None} for m in report["missed"]]
    return sorted(people, key=lambda p: (p["kendra"] or "", p["name"], p["service_number"]))


def marks_of(form: FormData, scored: bool) -> list[dict[str, Any]]:
    """The roll-call form as the attendance command's marks: every officer listed, present or not; a
    score only for one present at a programme with an assessment."""
    present = {str(v) for v in form.getlist("present")}
    marks = []
    for service_number in dict.fromkeys(str(v) for v in form.getlist("officer")):
        here = service_number in present
        typed = str(form.get(f"score_{service_number}") or "").strip()
        try:
            score = float(typed) if (here and scored and typed) else None
        except ValueError:
            score = math.nan
        if score is not None and not 0 <= score <= 100:  # also "nan" and "inf", which float() takes
            raise PageRefused(
                422,
                f"The score of {service_number} is not a number from 0 to 100.",
                f"{service_number} के अंक 0 से 100 तक की संख्या नहीं हैं।",
            )
        marks.append({"service_number": service_number, "present": here, "score": score})
    return marks


def scored(report: dict[str, Any], curriculum: dict[str, Any]) -> bool:
    """Whether the programme includes a module with a pass mark (the assessment): only then a score."""
    return any(m in curriculum["certification"]["pass_marks"] for m in report["modules"])


async def kendra_choices(api: Api) -> list[dict[str, Any]]:
    """The Kendras of the caller's jurisdiction (where its officers are posted), with thana names."""
    names = place_names(await api.get("/api/training/compliance"))
    kendras: dict[str, dict[str, Any]] = {}
    for o in await api.get("/api/training/officers"):
        if o["kendra"]:
            thana = names.get(("thana", o["thana"]), (o["thana"], o["thana"]))
            kendras.setdefault(o["kendra"], {"code": o["kendra"], "thana": thana, "staff": 0})
            kendras[o["kendra"]]["staff"] += 1
    return sorted(kendras.values(), key=lambda k: k["thana"][1])


async def plan_form(
    request: Request, principal: Principal, api: Api, status: int = 200, **extra: Any
) -> HTMLResponse:
    """The new programme's form, empty or again with what was chosen and the refusal."""
    found = await api.get("/api/training/curriculum")
    return render(
        request, "training_programme_new.html", principal, status,
        modules=found["modules"], required=set(found["certification"]["required_modules"]),
        kendras=await kendra_choices(api), programme_id=uuid.uuid4().hex, form={}, chosen=None,
        **extra,
    )  # fmt: skip


async def roll_call_page(
    request: Request, principal: Principal, api: Api, programme_id: str, status: int = 200, **extra: Any
) -> HTMLResponse:
    """The programme's roll-call form, or again with the refusal."""
    report = await api.get(f"/api/training/programmes/{programme_id}")
    with_score = scored(report, await api.get("/api/training/curriculum"))
    return render(
        request, "training_rollcall.html", principal, status,
        report=report, people=roll(report), scored=with_score, key=uuid.uuid4().hex, **extra,
    )  # fmt: skip


def mount_programmes(app: FastAPI) -> None:
    """Training programmes: planned and scheduled, then their roll-call and closing."""
    router = APIRouter(include_in_schema=False)
    _programme_plan_routes(router)
    _roll_call_routes(router)
    app.include_router(router)


def _programme_plan_routes(router: APIRouter) -> None:
    """The programmes listed, a new one planned and scheduled, and one programme's page."""

    @router.get("/training/programmes")
    async def programmes(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, PROGRAMME_READERS)
        listed = await api.get("/api/training/programmes")
        return render(request, "training_programmes.html", principal, programmes=listed)

    @router.get("/training/programmes/new")
    async def new_programme(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, ORGANISERS)
        return await plan_form(request, principal, api)

    @router.post("/training/programmes")
    async def schedule(request: Request, principal: User, api: Api) -> Response:
        allow(principal, ORGANISERS)
        form = await request.form(max_fields=PLAN_FORM_FIELDS)
        fields = {k: str(form.get(k) or "").strip() for k in ("programme_id", *PLAN_FIELDS)}
        body = {
            **fields,
            "district": principal.district or "",
            "modules": [str(m) for m in form.getlist("module")],
            "invited_kendras": [str(k) for k in form.getlist("kendra")],
        }
        try:
            if not body["invited_kendras"]:
                raise PageRefused(422, "Invite at least one Kendra.", "कम से कम एक केन्द्र आमंत्रित करें।")
            await api.post("/api/training/programmes", body)
        except PageRefused as refused:
            return await plan_form(
                request, principal, api, refused.status, error=refused, form=fields,
                chosen={"modules": set(body["modules"]), "kendras": set(body["invited_kendras"])},
            )  # fmt: skip
        return RedirectResponse(
            f"/training/programmes/{check_programme_id(fields['programme_id'])}?done=scheduled",
            status_code=303,
        )

    @router.get("/training/programmes/{programme_id}")
    async def programme(request: Request, programme_id: str, principal: User, api: Api) -> HTMLResponse:
        allow(principal, PROGRAMME_READERS)
        report = await api.get(f"/api/training/programmes/{check_programme_id(programme_id)}")
        titles = {
            m["module_id"]: (m["title_hi"], m["title_en"])
            for m in (await api.get("/api/training/curriculum"))["modules"]
        }
        return render(
            request, "training_programme.html", principal,
            report=report, people=roll(report), titles=titles, organiser=principal.role in ORGANISERS,
            done=request.query_params.get("done"),
        )  # fmt: skip


def _roll_call_routes(router: APIRouter) -> None:
    """A programme's roll-call marked, and the programme closed."""

    @router.get("/training/programmes/{programme_id}/roll-call")
    async def roll_call(request: Request, programme_id: str, principal: User, api: Api) -> HTMLResponse:
        allow(principal, ORGANISERS)
        return await roll_call_page(request, principal, api, check_programme_id(programme_id))

    @router.post("/training/programmes/{programme_id}/roll-call")
    async def mark(request: Request, programme_id: str, principal: User, api: Api) -> Response:
        allow(principal, ORGANISERS)
        check_programme_id(programme_id)
        form = await request.form(max_fields=ROLL_CALL_FIELDS)
        report = await api.get(f"/api/training/programmes/{programme_id}")
        try:
            marks = marks_of(form, scored(report, await api.get("/api/training/curriculum")))
            if not marks:
                raise PageRefused(422, "Nobody to mark.", "दर्ज करने को कोई नहीं।")
            response = await api.call(
                "POST",
                f"/api/training/programmes/{programme_id}/attendance",
                json={"marks": marks},
                headers={"Idempotency-Key": str(form.get("key") or uuid.uuid4().hex)},
            )
            ServiceAPI._body(response)
        except PageRefused as refused:
            return await roll_call_page(request, principal, api, programme_id, refused.status, error=refused)
        return RedirectResponse(f"/training/programmes/{programme_id}?done=marked", status_code=303)

    @router.post("/training/programmes/{programme_id}/complete")
    async def complete(request: Request, programme_id: str, principal: User, api: Api) -> Response:
        allow(principal, ORGANISERS)
        check_programme_id(programme_id)
        form = await request.form()
        if form.get("confirm") != "yes":
            raise PageRefused(
                422,
                "Tick the box to confirm: the register closes and the modules are credited.",
                "पुष्टि के लिए बॉक्स चुनें: उपस्थिति पंजिका बंद होगी और मॉड्यूल दर्ज होंगे।",
            )
        await api.post(f"/api/training/programmes/{programme_id}/complete", {})
        return RedirectResponse(f"/training/programmes/{programme_id}?done=completed", status_code=303)


IGOT_IMPORTERS = frozenset({Role.OPERATOR})
"""Who sends iGOT files: the operator (the training service's rule; the page offers it to her alone)."""
IGOT_FILE_BYTES = 5_000_000
"""The training service's limit; a larger file is refused here before it is sent on."""


def mount_igot(app: FastAPI) -> None:
    """The iGOT upload: the file checked whole by the training service, every problem shown on its line
    and column before anything is recorded, or what was recorded."""
    router = APIRouter(include_in_schema=False)

    def igot_page(request: Request, principal: Principal, status: int = 200, **extra: Any) -> HTMLResponse:
        return render(request, "training_igot.html", principal, status, **extra)

    @router.get("/training/igot")
    async def igot_form(request: Request, principal: User) -> HTMLResponse:
        allow(principal, IGOT_IMPORTERS)
        return igot_page(request, principal)

    @router.post("/training/igot")
    async def igot_upload(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, IGOT_IMPORTERS)
        sent = (await request.form()).get("file")
        if sent is None or isinstance(sent, str) or not sent.filename:
            refused = PageRefused(422, "Choose the iGOT file to send.", "भेजने के लिए iGOT फ़ाइल चुनें।")
            return igot_page(request, principal, 422, error=refused)
        content = await sent.read(IGOT_FILE_BYTES + 1)
        if len(content) > IGOT_FILE_BYTES:
            refused = PageRefused(
                413, "The file is larger than 5 MB: send it in parts.", "फ़ाइल 5 MB से बड़ी है: भागों में भेजें।"
            )
            return igot_page(request, principal, 413, error=refused)
        response = await api.call(
            "POST", "/api/training/imports/igot", files={"file": (sent.filename, content, "text/csv")}
        )
        if response.status_code == 422 and "report" in (detail := response.json().get("detail") or {}):
            refused = PageRefused(422, detail["en"], detail["hi"])
            return igot_page(
                request, principal, 422, error=refused, report=detail["report"], name=sent.filename
            )
        return igot_page(request, principal, report=ServiceAPI._body(response), name=sent.filename)

    app.include_router(router)
