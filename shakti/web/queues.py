"""The lists people work from: the Kendra's queue, on the page and as a CSV file.

Filtering, ordering and paging are the register's (intake's read model, through
``/api/intake/cases``): the page only turns its form into that query, so the count and the pages are
right however many cases a Kendra holds. Cases are found by case number, never by anything of the
complainant's."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from shakti.web.i18n import language
from shakti.web.pages import (
    KENDRA_ROLES,
    Api,
    PageRefused,
    ServiceAPI,
    User,
    allow,
    render,
)
from shakti.web.times import IST, moment
from shared.contracts.vocabulary import CATEGORY_LABELS, PRIORITY_LABELS, STATUS_LABELS, LadderRole

PAGE_SIZE = 50
EXPORT_PAGE = 200
"""The register's largest page: the CSV file is read from it page after page."""

STATUS_CHOICES = ("open", "all", *(str(code) for code in STATUS_LABELS))
"""``open``: every case still being worked (the default); ``all``; or one status."""
WITHIN_HOURS = {"within_1h": 1, "within_4h": 4, "within_24h": 24, "within_72h": 72}
"""The "due within" choices: the register's ``due_within_hours``."""
DEADLINE_CHOICES = ("any", "overdue", "due_soon", *WITHIN_HOURS)
LEVELS = {"none": 0, **{role.value: rank for rank, role in enumerate(LadderRole, start=1)}}
"""The "escalation level" choices: not escalated, or the rung of the ladder (the register's ``level``)."""
LEVEL_CHOICES = ("any", *LEVELS)
WHOSE_CHOICES = ("kendra", "mine")


@dataclass(frozen=True)
class QueueFilter:
    """What the queue's form asks for, as the page's address carries it."""

    status: str = "open"
    category: str = ""
    priority: str = ""
    deadline: str = "any"
    danger_now: bool = False
    whose: str = "kendra"
    number: str = ""
    level: str = "any"

    @classmethod
    def of(cls, request: Request) -> QueueFilter:
        """The form's values; a value no choice of the form has is refused in both languages (the
        register's API checks the status, category, priority and case number the same way)."""
        asked = request.query_params
        wanted = cls(
            status=asked.get("status") or "open",
            category=asked.get("category") or "",
            priority=asked.get("priority") or "",
            deadline=asked.get("deadline") or "any",
            danger_now=asked.get("danger_now") in ("1", "on", "true"),
            whose=asked.get("whose") or "kendra",
            number=(asked.get("number") or "").strip().upper(),
            level=asked.get("level") or "any",
        )
        for field, value, choices in (
            ("status", wanted.status, STATUS_CHOICES),
            ("deadline", wanted.deadline, DEADLINE_CHOICES),
            ("whose", wanted.whose, WHOSE_CHOICES),
            ("level", wanted.level, LEVEL_CHOICES),
        ):
            if value not in choices:
                raise PageRefused(
                    422,
                    f"{field}: choose one of: {', '.join(choices)}.",
                    f"{field}: इनमें से एक चुनें: {', '.join(choices)}।",
                )
        if asked.get("danger_now") not in (None, "", "1", "on", "true"):
            raise PageRefused(422, "danger_now: give 1 or nothing.", "danger_now: 1 दें या कुछ नहीं।")
        return wanted

    def query(self) -> dict[str, Any]:
        """The register's query for these choices, most urgent first."""
        params: dict[str, Any] = {"sort": "urgency"}
        if self.status == "open":
            params["open"] = "true"
        elif self.status != "all":
            params["status"] = self.status
        if self.category:
            params["category"] = self.category
        if self.priority:
            params["priority"] = self.priority
        if self.deadline in WITHIN_HOURS:
            params["due_within_hours"] = WITHIN_HOURS[self.deadline]
        elif self.deadline != "any":
            params[self.deadline] = "true"
        if self.level != "any":
            params["level"] = LEVELS[self.level]
        if self.danger_now:
            params["danger_now"] = "true"
        if self.whose == "mine":
            params["mine"] = "true"
        if self.number:
            params["number"] = self.number
        return params

    def address(self, path: str, page: int | None = None) -> str:
        """This filter's address (another page of it, or its CSV file): only what differs from the form's
        defaults, so that a plain ``/kendra/queue`` stays plain."""
        fields: dict[str, Any] = {
            "status": self.status if self.status != "open" else None,
            "category": self.category or None,
            "priority": self.priority or None,
            "deadline": self.deadline if self.deadline != "any" else None,
            "danger_now": "1" if self.danger_now else None,
            "whose": self.whose if self.whose != "kendra" else None,
            "number": self.number or None,
            "level": self.level if self.level != "any" else None,
            "page": page if page and page > 1 else None,
        }
        query = urlencode({k: v for k, v in fields.items() if v is not None})
        return f"{path}?{query}" if query else path


def page_number(request: Request) -> int:
    raw = request.query_params.get("page") or "1"
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise PageRefused(422, "page: a number from 1.", "page: 1 या उससे बड़ी संख्या।")
    return int(raw)


CSV_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("case_number", "मामला संख्या", "Case number"),
    ("registered_at", "दर्ज होने का समय (IST)", "Registered on (IST)"),
    ("category", "श्रेणी", "Category"),
    ("priority", "प्राथमिकता", "Priority"),
    ("danger_now", "अभी खतरे में", "In danger now"),
    ("status", "स्थिति", "Status"),
    ("district", "जनपद", "District"),
    ("circle", "सर्किल", "Circle"),
    ("thana", "थाना", "Thana"),
    ("kendra", "केन्द्र", "Kendra"),
    ("assigned_officer", "सौंपा गया (सेवा संख्या)", "Assigned to (service number)"),
    ("overdue", "समय सीमा चूकी", "Overdue"),
    ("due_soon", "समय सीमा निकट", "Deadline close"),
    ("escalation_level", "बढ़ाने का स्तर", "Escalation level"),
    ("first_contact_at", "पहला संपर्क (IST)", "First contact (IST)"),
    ("resolved_at", "निस्तारण (IST)", "Disposed on (IST)"),
)
"""The export's columns: codes, times and service numbers only, nothing of the complainant's."""
YES_NO = {"hi": ("हाँ", "नहीं"), "en": ("yes", "no")}


def csv_time(value: str | None) -> str:
    """A time as a spreadsheet reads it (``2026-11-29 21:49``), in IST as the column's header says."""
    at = moment(value)
    return at.astimezone(IST).strftime("%Y-%m-%d %H:%M") if at else ""


def csv_row(case: dict[str, Any], lang: str) -> list[str]:
    yes, no = YES_NO[lang]
    labels = case["labels"]

    def word(kind: str) -> str:
        label = labels.get(kind)
        return str(label[lang]) if label else str(case[kind] or "")

    cells = {
        "case_number": case["case_number"],
        "registered_at": csv_time(case["registered_at"]),
        "category": word("category"),
        "priority": case["priority"] or "",
        "danger_now": yes if case["danger_now"] else no,
        "status": word("status"),
        "district": case["district"] or "",
        "circle": case["circle"] or "",
        "thana": case["thana"] or "",
        "kendra": case["kendra"] or "",
        "assigned_officer": case["assigned_officer"] or "",
        "overdue": yes if case["overdue"] else no,
        "due_soon": yes if case["due_soon_clocks"] else no,
        "escalation_level": str(case["escalation_level"]),
        "first_contact_at": csv_time(case["first_contact_at"]),
        "resolved_at": csv_time(case["resolved_at"]),
    }
    return [cells[key] for key, _, _ in CSV_COLUMNS]


async def register_csv(api: ServiceAPI, query: dict[str, Any], lang: str, name: str) -> Response:
    """The register's cases this query finds, read page after page, as a CSV file for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f"{hi} / {en}" for _, hi, en in CSV_COLUMNS])
    page = 1
    while True:
        found = await api.get("/api/intake/cases", **query, page=page, size=EXPORT_PAGE)
        writer.writerows(csv_row(c, lang) for c in found["cases"])
        if page * EXPORT_PAGE >= found["total"] or not found["cases"]:
            break
        page += 1
    today = datetime.now(UTC).astimezone(IST).strftime("%Y-%m-%d")
    # The byte order mark tells Excel the file is UTF-8, so that Hindi shows as Hindi.
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}-{today}.csv"',
            "Content-Language": "hi, en",
        },
    )


def mount_queues(app: FastAPI) -> None:
    """The queue and its export."""
    router = APIRouter(include_in_schema=False)

    @router.get("/kendra/queue")
    async def queue(request: Request, principal: User, api: Api) -> HTMLResponse:
        allow(principal, KENDRA_ROLES)
        wanted, page = QueueFilter.of(request), page_number(request)
        found = await api.get("/api/intake/cases", **wanted.query(), page=page, size=PAGE_SIZE)
        total = found["total"]
        last = max(1, -(-total // PAGE_SIZE))
        return render(
            request,
            "queue.html",
            principal,
            cases=found["cases"],
            total=total,
            page=page,
            last=last,
            first_shown=(page - 1) * PAGE_SIZE + 1 if found["cases"] else 0,
            last_shown=(page - 1) * PAGE_SIZE + len(found["cases"]),
            wanted=wanted,
            previous=wanted.address("/kendra/queue", page - 1) if page > 1 else None,
            following=wanted.address("/kendra/queue", page + 1) if page < last else None,
            export=wanted.address("/kendra/queue.csv"),
            status_choices=STATUS_CHOICES[2:],
            categories=list(CATEGORY_LABELS),
            priorities=list(PRIORITY_LABELS),
            within=list(WITHIN_HOURS),
            ladder=[role.value for role in LadderRole],
        )

    @router.get("/kendra/queue.csv")
    async def queue_csv(request: Request, principal: User, api: Api) -> Response:
        allow(principal, KENDRA_ROLES)
        wanted = QueueFilter.of(request)
        where = principal.thana or principal.district or "queue"
        return await register_csv(api, wanted.query(), language(request), f"queue-{where}")

    app.include_router(router)
