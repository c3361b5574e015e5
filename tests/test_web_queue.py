"""The Kendra queue in the web front with the platform running (issue 15): its filters and search by
case number give exactly their cases, it pages with the total shown, it exports what it shows as a CSV
file Excel reads in Hindi (IST times, no identity), and a filter value no form offers is refused in
both languages."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Any

import httpx
import pytest

from shakti.web import queues
from shakti.web.queues import QueueFilter
from shakti.web.times import IST
from shared.auth import Principal
from shared.roles import Role
from tests.sessions import enrol
from tests.test_web_case_work import KATRA, NAME, PHONE, Browser, Desk, case_id_of, desk, register
from tests.waiting import eventually

__all__ = ["desk"]  # the platform and the Katra Kendra's officer, as the case-work tests have them

NUMBER = re.compile(r"SJP-\d{4}-\d{6}")


def numbers_on(page: httpx.Response) -> list[str]:
    """The case numbers the queue lists, in its order (the page names no other case)."""
    assert page.status_code == 200, page.text
    table = page.text[page.text.index("</form>", page.text.index('id="filters"')) :]
    return list(dict.fromkeys(NUMBER.findall(table)))


async def registered_cases(officer: Browser) -> dict[str, dict[str, Any]]:
    """Katra's cases as the register has them, by case id."""
    everything = (await officer.get("/api/intake/cases?size=200")).json()
    return {c["case_id"]: c for c in everything["cases"]}


async def test_the_queue_filters_searches_pages_and_exports_exactly_what_it_is_asked(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    made: dict[str, str] = {}
    for key, fields in (
        ("danger", {"category": "domestic_violence", "danger_now": "on"}),
        ("stalking", {"category": "stalking"}),
        ("dowry", {"category": "dowry_harassment"}),
        ("family", {"category": "family_dispute"}),
    ):
        answer = await register(officer, "SJP-KATRA", **fields)
        assert answer.status_code == 303, answer.text
        made[key] = case_id_of(answer.headers["location"])
    # A zero FIR for Kotwali: it goes there, out of Katra's queue.
    elsewhere = case_id_of((await register(officer, "SJP-KOTWALI")).headers["location"])
    cases: dict[str, dict[str, Any]] = {}

    async def assigned() -> bool:
        cases.update(await registered_cases(officer))
        return all(cases.get(case_id, {}).get("assigned_officer") for case_id in made.values())

    await eventually(assigned, timeout=30, what="routing assigns the four Katra cases")
    assert elsewhere not in cases
    number = {key: cases[case_id]["case_number"] for key, case_id in made.items()}
    closed = await officer.post(f"/cases/{made['family']}/close", reason="no_further_action", confirm="yes")
    assert closed.status_code == 303, closed.text

    async def family_closed() -> bool:
        case = (await officer.get(f"/api/intake/cases/{made['family']}")).json()
        return bool(case["status"] == "closed")

    await eventually(family_closed, what="the closed case in the register")
    working = {number[k] for k in ("danger", "stalking", "dowry")}

    async def clocks_running() -> bool:
        cases.update(await registered_cases(officer))
        return all(cases[made[key]]["next_due_at"] for key in ("danger", "stalking", "dowry"))

    await eventually(clocks_running, timeout=30, what="escalation's clocks in the register")
    queue = await officer.get("/kendra/queue")
    assert set(numbers_on(queue)) == working
    soonest_first = sorted(
        (c["next_due_at"], c["case_number"]) for c in cases.values() if c["case_number"] in working
    )
    assert numbers_on(queue) == [n for _, n in soonest_first], "the next deadline first, to the minute"
    assert numbers_on(queue)[0] == number["danger"], "danger now and P1 come first"
    for case_number in working:
        shown = next(c for c in cases.values() if c["case_number"] == case_number)
        assert shown["labels"]["next_clock"]["en"] in queue.text
    assert 'id="total">(3)' in queue.text
    assert NAME not in queue.text and PHONE not in queue.text
    assert set(numbers_on(await officer.get("/kendra/queue?status=all"))) == set(number.values())
    assert numbers_on(await officer.get("/kendra/queue?status=closed")) == [number["family"]]
    assert numbers_on(await officer.get("/kendra/queue?category=stalking")) == [number["stalking"]]
    danger_only = await officer.get("/kendra/queue?danger_now=1")
    assert numbers_on(danger_only) == [number["danger"]]
    # Switching language keeps the filter: the link carries the page's query along.
    assert 'href="/lang/hi?next=/kendra/queue%3Fdanger_now%3D1"' in danger_only.text
    assert numbers_on(await officer.get("/kendra/queue?priority=P1")) == [number["danger"]]
    assert set(numbers_on(await officer.get("/kendra/queue?priority=P2"))) == working - {number["danger"]}
    assert numbers_on(await officer.get("/kendra/queue?deadline=overdue")) == []
    assert numbers_on(await officer.get(f"/kendra/queue?number={number['dowry']}")) == [number["dowry"]]
    lowercase_prefix = number["dowry"][:-1].lower()  # typed as it comes: the page writes it in capitals
    assert set(numbers_on(await officer.get(f"/kendra/queue?number={lowercase_prefix}&status=all"))) == {
        n for n in number.values() if n.startswith(number["dowry"][:-1])
    }
    # Mine: the cases routing gave to the officer who holds the dowry case, and no other. Routing may
    # still move a danger-now case meanwhile, so the page is compared with the register read beside it.
    holder = cases[made["dowry"]]["assigned_officer"]
    holder_is = Principal(username="katra-holder", role=Role.KENDRA_OFFICER, service_number=holder, **KATRA)
    colleague = Browser(desk.client, await enrol(desk.app, holder_is))

    async def only_theirs() -> bool:
        listed = set(numbers_on(await colleague.get("/kendra/queue?whose=mine&status=all")))
        now = await registered_cases(officer)
        theirs = {c["case_number"] for c in now.values() if c["assigned_officer"] == holder}
        return listed == theirs and number["dowry"] in listed

    await eventually(only_theirs, what="the page lists exactly the cases assigned to their holder")
    assert set(numbers_on(await colleague.get("/kendra/queue?whose=kendra&status=all"))) == set(
        number.values()
    )

    # Pages (of 2 here, 50 in use), the total shown, the filter kept from page to page.
    monkeypatch.setattr(queues, "PAGE_SIZE", 2)
    first = await officer.get("/kendra/queue?status=all")
    assert "1–2 of 4" in first.text and "Page 1 / 2" in first.text and 'rel="prev"' not in first.text
    following = re.search(r'rel="next" href="([^"]+)"', first.text)
    assert following, first.text
    assert following.group(1) == "/kendra/queue?status=all&amp;page=2"
    second = await officer.get(following.group(1).replace("&amp;", "&"))
    assert "3–4 of 4" in second.text and 'rel="next"' not in second.text
    assert 'rel="prev" href="/kendra/queue?status=all"' in second.text
    assert set(numbers_on(first)) | set(numbers_on(second)) == set(number.values())
    assert not set(numbers_on(first)) & set(numbers_on(second))
    hindi = await officer.get("/kendra/queue?status=all&page=2", lang="hi")
    assert "4 में से 3–4" in hindi.text and "पृष्ठ 2 / 2" in hindi.text
    monkeypatch.setattr(queues, "PAGE_SIZE", 50)

    # The CSV file: what the filter finds, every page of it, read as a spreadsheet reads it.
    monkeypatch.setattr(queues, "EXPORT_PAGE", 2)  # so that the export reads more than one page
    export = await officer.get("/kendra/queue.csv?status=all")
    assert export.status_code == 200, export.text
    assert export.headers["content-type"] == "text/csv; charset=utf-8"
    assert export.headers["content-disposition"].startswith('attachment; filename="queue-SJP-KATRA-')
    assert export.content.startswith(b"\xef\xbb\xbf"), "a byte order mark, so that Excel reads UTF-8"
    assert NAME not in export.text and PHONE not in export.text
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[0] == "मामला संख्या / Case number"
    assert header[1] == "दर्ज होने का समय (IST) / Registered on (IST)"
    assert all(re.fullmatch(r"[\u0900-\u097f][^/]* / [A-Z][^/]*", cell) for cell in header), header
    assert len(body) == 4 and {row[0] for row in body} == set(number.values())
    by_number = {row[0]: dict(zip(header, row, strict=True)) for row in body}
    for case in (cases[case_id] for case_id in made.values()):
        row = by_number[case["case_number"]]
        registered = datetime.fromisoformat(case["registered_at"]).astimezone(IST)
        assert row[header[1]] == registered.strftime("%Y-%m-%d %H:%M")
        assert row["श्रेणी / Category"] == case["labels"]["category"]["en"]
        if not case["danger_now"]:  # routing may have moved that one since
            assert row["सौंपा गया (सेवा संख्या) / Assigned to (service number)"] == case["assigned_officer"]
        assert row["थाना / Thana"] == "SJP-KATRA"
    assert by_number[number["danger"]]["अभी खतरे में / In danger now"] == "yes"
    assert by_number[number["family"]]["स्थिति / Status"] == "Closed"
    stalking = list(csv.reader(io.StringIO((await officer.get("/kendra/queue.csv?category=stalking")).text)))
    assert [row[0] for row in stalking[1:]] == [number["stalking"]]
    in_hindi = (await officer.get("/kendra/queue.csv?status=closed", lang="hi")).content.decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(in_hindi)))[1][5] == "बंद"
    page = await officer.get("/kendra/queue?category=stalking")
    assert 'href="/kendra/queue.csv?category=stalking"' in page.text


async def test_a_filter_no_form_offers_is_refused_in_the_readers_language(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    for address in (
        "/kendra/queue?status=lost",
        "/kendra/queue?category=burglary",
        "/kendra/queue?priority=P9",
        "/kendra/queue?deadline=tomorrow",
        "/kendra/queue?whose=everyone",
        "/kendra/queue?danger_now=maybe",
        "/kendra/queue?number=SJP%25",
        "/kendra/queue?page=0",
        "/kendra/queue?page=two",
        "/kendra/queue.csv?category=burglary",
        "/kendra/queue.csv?deadline=tomorrow",
    ):
        english = await officer.get(address)
        hindi = await officer.get(address, lang="hi")
        assert english.status_code == hindi.status_code == 422, (address, english.text)
        english_says = re.search(r'<p class="error" role="alert">([^<]+)</p>', english.text)
        hindi_says = re.search(r'<p class="error" role="alert">([^<]+)</p>', hindi.text)
        assert english_says and hindi_says, address
        assert re.search(r"[A-Za-z]{4}", english_says.group(1)), english_says.group(1)
        assert re.search(r"[\u0900-\u097f]", hindi_says.group(1)), (address, hindi_says.group(1))


def test_the_queue_asks_for_what_is_due_within_hours_and_for_an_escalation_level() -> None:
    """Issue 15: "due within" and "level" among the queue's filters, as the register's API takes them."""
    asked = QueueFilter(deadline="within_24h", level="sho").query()
    assert asked["due_within_hours"] == 24 and asked["level"] == 2
    assert QueueFilter(level="none").query()["level"] == 0
    assert "level" not in QueueFilter().query() and "due_within_hours" not in QueueFilter().query()
    assert QueueFilter(deadline="within_1h", level="state_cell").address("/kendra/queue") == (
        "/kendra/queue?deadline=within_1h&level=state_cell"
    )
