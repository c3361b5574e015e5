"""Training in the web front (issue 16), page by page over HTTP with the platform running on the demo's
data: Shahjahanpur's jurisdiction, the DEMO roster and the programme of 10 January 2026 (attendance
marked, so some officers are certified and some not). The curriculum, an officer's own record, the
records and lists a supervisor may open (and those she may not), in both languages, and the CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from starlette.datastructures import FormData

from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.platform import build_platform, runners
from shakti.users import UserStore
from shakti.web.pages import PageRefused
from shakti.web.training import csv_text, marks_of, place_names
from shared.auth import COOKIE, Principal
from shared.clock import ManualClock
from shared.http_guard import csrf_token
from shared.roles import Role
from tests.sessions import bearer, enrol, keys_for_tests
from tests.waiting import eventually

KATRA = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}
KOTWALI = {"district": "SJP", "circle": "SJP-NAGAR", "thana": "SJP-KOTWALI"}
TILHAR = {"district": "SJP", "circle": "SJP-TILHAR"}
NAGAR = {"district": "SJP", "circle": "SJP-NAGAR"}
PROGRAMME = "DEMO-SJP-2026-01-10"
ROUTING = "/api/routing"
PROGRAMME_DAY = datetime(2026, 1, 10, 4, 0, tzinfo=UTC)  # 09:30 IST
LATER = datetime(2026, 12, 20, 4, 0, tzinfo=UTC)
"""Eleven months on: the certificates of 10-01-2026 (valid to 10-01-2027) end within the 30 days the
lists call lapsing, and the late joiner is long past her 60 days."""
LATE_JOINER = {
    "service_number": "DEMOKATRA9",
    "name": "DEMO Constable 9 Katra",
    "rank": "constable",
    "gender": "female",
}
"""Posted to Katra on the programme's day through routing's API, on the platform's clock (the demo's
roster import is stamped with the wall clock, so its officers' due dates move with the real date)."""


@dataclass
class District:
    app: FastAPI
    client: httpx.AsyncClient
    officers: list[dict[str, Any]]
    """The training service's own list of the district's officers, as the operator reads it."""

    def certified(self) -> dict[str, Any]:
        """A Tilhar circle officer the programme certified."""
        return next(o for o in self.officers if o["circle"] == "SJP-TILHAR" and o["certified"])

    def late_joiner(self) -> dict[str, Any]:
        return next(o for o in self.officers if o["service_number"] == LATE_JOINER["service_number"])

    async def user(self, role: Role, where: dict[str, str], service_number: str | None = None) -> User:
        place = where.get("thana") or where.get("circle") or where.get("district") or "state"
        name = f"{role.value}-{place}-{service_number or 'x'}".lower().replace("_", "-")
        who = Principal(username=name, role=role, service_number=service_number, **where)
        return User(self.client, await enrol(self.app, who))


@dataclass
class User:
    client: httpx.AsyncClient
    session: str

    def cookies(self, lang: str) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.session}; shakti_lang={lang}"}

    async def get(self, path: str, lang: str = "en") -> httpx.Response:
        return await self.client.get(path, headers=self.cookies(lang))

    async def post(self, path: str, fields: list[tuple[str, str]], lang: str = "en") -> httpx.Response:
        """A form as the page sends it (repeated names for checkboxes), with the form's token."""
        data = [*fields, ("csrf_token", csrf_token(self.session))]
        return await self.client.post(
            path,
            content=urlencode(data),
            headers={**self.cookies(lang), "Content-Type": "application/x-www-form-urlencoded"},
        )

    async def upload(self, path: str, name: str, content: str, lang: str = "en") -> httpx.Response:
        """A file sent from a page's form (multipart), with the form's token beside it."""
        return await self.client.post(
            path,
            data={"csrf_token": csrf_token(self.session)},
            files={"file": (name, content.encode("utf-8"), "text/csv")},
            headers=self.cookies(lang),
        )


def where(officer: dict[str, Any]) -> dict[str, str]:
    return {k: officer[k] for k in ("district", "circle", "thana")}


def sections(html: str) -> dict[str, str]:
    """Each list of the compliance page, as its own piece of the page."""
    return {
        which: html[html.index(f'<section class="card" id="{which}">') :].split("</section>")[0]
        for which in ("untrained", "overdue", "lapsing")
    }


@pytest.fixture
async def district(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[District]:
    clock = ManualClock(PROGRAMME_DAY)
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url, clock=clock), users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=30.0) as client:
            loader = DemoLoader(app, client)
            kendras = await loader.jurisdiction()
            await loader.roster(kendras)

            async def training_knows_the_roster() -> bool:
                officers = await client.get("/api/training/officers", headers=loader.operator)
                return len(officers.json()) >= 3 * len(kendras)

            await eventually(training_knows_the_roster, timeout=30, what="training has the roster")

            async def training_knows_the_places() -> bool:
                # Its own projection of the jurisdiction, which may follow the roster's by a moment:
                # until then the lists name a thana by its code (CI saw it once).
                tree = (await client.get("/api/training/compliance", headers=loader.operator)).json()
                return place_names(tree).get(("thana", "SJP-KATRA")) == ("थाना कटरा", "Katra")

            await eventually(training_knows_the_places, timeout=30, what="training has the places' names")
            await loader.programme(kendras)
            # One more officer, posted on the programme's day and never trained: overdue by LATER.
            await loader.call("POST", "/api/routing/officers", loader.operator, json=LATE_JOINER)
            await loader.call(
                "POST",
                f"/api/routing/officers/{LATE_JOINER['service_number']}/posting",
                loader.operator,
                json={"kendra": "MSK-SJP-KATRA", "incharge": False},
            )
            clock.set(LATER)
            officers: list[dict[str, Any]] = []

            async def settled() -> bool:
                answer = await client.get("/api/training/officers", headers=loader.operator)
                officers[:] = answer.json()
                report = await client.get(f"/api/training/programmes/{PROGRAMME}", headers=loader.operator)
                if report.status_code == 503:
                    return False  # the read model is still applying the roster's burst: try again
                assert report.status_code == 200, report.text
                attended = {a["service_number"] for a in report.json()["attended"]}
                certified = {o["service_number"] for o in officers if o["lapsing"]}
                late = [o for o in officers if o["service_number"] == LATE_JOINER["service_number"]]
                return bool(attended and attended == certified and late and late[0]["overdue"])

            await eventually(settled, timeout=60, what="the programme's attendance certified its officers")
            yield District(app, client, officers)


async def test_the_curriculum_shows_modules_videos_assessment_and_endorsements_in_both_languages(
    district: District,
) -> None:
    trained = district.certified()
    officer = await district.user(Role.KENDRA_OFFICER, where(trained), trained["service_number"])
    page = await officer.get("/training")
    assert page.status_code == 200, page.text
    html = page.text
    for text in (
        "Training curriculum",
        "2026.01-illustrative",
        "Mission Shakti Kendra Standard Operating Procedure (SOP)",
        "Receiving a complaint at the Kendra",  # IGOT-02
        "Mission Shakti Kendra assessment",
        "Pass mark (MSK-ASSESS): 60%",
        "POCSO cases: the child-friendly procedure (specialist module)",
        "Valid for (months): 12",
    ):
        assert text in html, text
    videos = html[html.index('id="kind-igot_video"') : html.index('id="kind-assessment"')]
    assert 'iGOT videos <span class="muted">(21)</span>' in videos
    assert all(f"IGOT-{n:02d}" in videos for n in range(1, 22))
    endorsements = html[html.index('id="endorsements"') :]
    # The categories that need a specialist module, each with its module.
    assert "MSK-POCSO" in endorsements and "MSK-SXO" in endorsements
    assert "Domestic violence" in endorsements
    hindi = (await officer.get("/training", lang="hi")).text
    for text in ("प्रशिक्षण पाठ्यक्रम", "मिशन शक्ति केन्द्र की मानक संचालन प्रक्रिया (SOP)", "iGOT वीडियो", "अनुमोदन"):
        assert text in hindi, text
    # Every role reads the curriculum, the state cell too.
    state = await district.user(Role.STATE_CELL, {})
    assert (await state.get("/training")).status_code == 200


async def test_an_officer_reads_her_own_record_and_nobody_elses(district: District) -> None:
    trained = district.certified()
    untrained = district.late_joiner()
    officer = await district.user(Role.KENDRA_OFFICER, where(trained), trained["service_number"])
    home = await officer.get("/training")
    assert 'href="/training/me"' in home.text and 'href="/training/compliance"' not in home.text
    mine = await officer.get("/training/me")
    assert mine.status_code == 303
    assert mine.headers["location"] == f"/training/officers/{trained['service_number']}"
    page = await officer.get(mine.headers["location"])
    assert page.status_code == 200, page.text
    html = page.text
    assert trained["name"] in html and trained["name"].startswith("DEMO ")
    certificate = f"/api/training/certificates/{trained['certificate_id']}"
    assert f'href="{certificate}"' in html
    # Done at the programme of 10 January 2026: its day in India, labelled IST.
    done = html[html.index('id="done"') :]
    assert "10 Jan 2026, 00:00 IST" in done and "Mission Shakti Kendra assessment" in done
    assert "Valid until 10 Jan 2027" in html
    assert "Domestic violence" in html[html.index('id="certificate"') : html.index('id="due"')]
    # The certificate link opens the printable certificate for her.
    assert (await officer.get(certificate)).status_code == 200
    hindi = (await officer.get(mine.headers["location"], lang="hi")).text
    assert "प्रशिक्षण अभिलेख" in hindi and "पूर्ण किए मॉड्यूल" in hindi and "जन॰ 2026" in hindi

    refused = await officer.get(f"/training/officers/{untrained['service_number']}")
    assert refused.status_code == 403 and untrained["name"] not in refused.text

    # Her colleague who missed the programme: modules due, with the date they were due by.
    colleague = await district.user(Role.KENDRA_OFFICER, KATRA, untrained["service_number"])
    theirs = (await colleague.get(f"/training/officers/{untrained['service_number']}")).text
    assert "Not certified" in theirs and "Newly posted to a Kendra" in theirs
    due = theirs[theirs.index('id="due"') : theirs.index('id="done"')]
    assert "11 Mar 2026" in due and "IST" in due and "Receiving a complaint at the Kendra" in due


async def test_supervisors_open_records_inside_their_jurisdiction_only(district: District) -> None:
    katra = district.late_joiner()
    path = f"/training/officers/{katra['service_number']}"
    allowed = [
        (Role.KENDRA_INCHARGE, KATRA), (Role.SHO, KATRA), (Role.CO, TILHAR),
        (Role.ADDL_SP, {"district": "SJP"}), (Role.SP, {"district": "SJP"}),
    ]  # fmt: skip
    for role, where in allowed:
        page = await (await district.user(role, where)).get(path)
        assert page.status_code == 200 and katra["name"] in page.text, (role, page.status_code)
    refused = [
        (Role.SHO, KOTWALI), (Role.KENDRA_INCHARGE, KOTWALI), (Role.CO, NAGAR),
        (Role.SP, {"district": "BLY"}), (Role.STATE_CELL, {}), (Role.OPERATOR, {}),
    ]  # fmt: skip
    for role, where in refused:
        page = await (await district.user(role, where)).get(path)
        assert page.status_code in (403, 404) and katra["name"] not in page.text, (role, page.status_code)
    # A supervisor with no service number has no record of her own: no link, and the page says why.
    sho = await district.user(Role.SHO, KATRA)
    assert 'href="/training/me"' not in (await sho.get("/training")).text
    mine = await sho.get("/training/me", lang="hi")
    assert mine.status_code == 404 and "कोई सेवा संख्या जुड़ी नहीं" in mine.text


async def test_the_lists_show_untrained_overdue_and_lapsing_officers_of_the_jurisdiction(
    district: District,
) -> None:
    sho = await district.user(Role.SHO, KATRA)
    page = await sho.get("/training/compliance")
    assert page.status_code == 200, page.text
    html = page.text
    katra = [o for o in district.officers if o["thana"] == "SJP-KATRA"]
    untrained = [o for o in katra if not o["certified"]]
    assert untrained
    section = sections(html)
    for o in untrained:
        assert o["name"] in section["untrained"]
    assert LATE_JOINER["name"] in section["overdue"] and "11 Mar 2026" in section["overdue"]
    assert [o for o in katra if o["overdue"]] == [district.late_joiner()]
    for o in katra:
        assert (o["name"] in section["lapsing"]) == o["lapsing"], o["name"]
    assert "within 30 days" in html
    others = [o["name"] for o in district.officers if o["thana"] != "SJP-KATRA"]
    assert others and not [name for name in others if name in html]
    hindi = (await sho.get("/training/compliance", lang="hi")).text
    assert "अप्रमाणित अधिकारी" in hindi and "शीघ्र समाप्त होने वाले प्रमाणपत्र" in hindi
    assert "CSV डाउनलोड करें" in hindi and "थाना कटरा" in hindi

    # The CO sees the circle's thanas side by side and drills down to one.
    co = await district.user(Role.CO, TILHAR)
    circle = (await co.get("/training/compliance")).text
    assert (
        "/training/compliance?thana=SJP-KATRA" in circle
        and "/training/compliance?thana=SJP-JAITIPUR" in circle
    )
    assert (await co.get("/training/compliance?thana=SJP-KOTWALI")).status_code == 404
    lapsing = [o for o in district.officers if o["circle"] == "SJP-TILHAR" and o["lapsing"]]
    assert lapsing
    for o in lapsing:
        assert o["name"] in sections(circle)["lapsing"] and o["name"] not in sections(circle)["untrained"]
    assert "10 Jan 2027, 00:00 IST" in sections(circle)["lapsing"]
    # Tilhar is a circle and one of its thanas: the thana's page lists that thana's officers only.
    tilhar = (await co.get("/training/compliance?thana=SJP-TILHAR")).text
    assert "थाना तिलहर" not in tilhar and "Training compliance lists: Tilhar" in tilhar
    assert LATE_JOINER["name"] not in tilhar
    assert [o for o in district.officers if o["thana"] == "SJP-TILHAR" and o["name"] in tilhar]
    drilled = (await co.get("/training/compliance?thana=SJP-KATRA")).text
    assert all(o["name"] in drilled for o in untrained)
    assert not [o for o in district.officers if o["thana"] == "SJP-JAITIPUR" and o["name"] in drilled]

    # The navigation offers the lists to supervisors; the lists refuse everyone else.
    assert 'href="/training/compliance"' in html
    for role, where in ((Role.KENDRA_OFFICER, KATRA), (Role.STATE_CELL, {}), (Role.OPERATOR, {})):
        user = await district.user(
            role, where, untrained[0]["service_number"] if role is Role.KENDRA_OFFICER else None
        )
        for path in ("/training/compliance", "/training/compliance/untrained.csv"):
            refused = await user.get(path)
            assert refused.status_code == 403 and untrained[0]["name"] not in refused.text, (role, path)


async def test_each_list_exports_as_csv_with_bilingual_headers_utf8_with_bom(district: District) -> None:
    co = await district.user(Role.CO, TILHAR)
    circle = [o for o in district.officers if o["circle"] == "SJP-TILHAR"]
    expected = {
        "untrained": {o["service_number"] for o in circle if not o["certified"]},
        "overdue": {o["service_number"] for o in circle if o["overdue"]},
        "lapsing": {o["service_number"] for o in circle if o["lapsing"]},
    }
    assert all(expected.values())
    for which, numbers in expected.items():
        answer = await co.get(f"/training/compliance/{which}.csv")
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/csv")
        assert f"training-{which}-SJP-TILHAR-" in answer.headers["content-disposition"]
        assert answer.content.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
        header, body = rows[0], rows[1:]
        assert header[0] == "सेवा संख्या / Service number" and header[1] == "नाम / Name"
        assert "प्रमाणपत्र वैध तक (IST) / Certificate valid until (IST)" in header
        assert {r[0] for r in body} == numbers, which
        by_number = {r[0]: dict(zip(header, r, strict=True)) for r in body}
        for o in circle:
            if o["service_number"] in numbers:
                row = by_number[o["service_number"]]
                assert row["नाम / Name"] == o["name"]
                # Training's place table is keyed by code alone, and thana SJP-TILHAR overwrites circle
                # SJP-TILHAR there: the circle comes without its name, but never as the thana.
                assert row["सर्किल / Circle"] in ("तिलहर / Tilhar", "SJP-TILHAR")
                assert row["थाना / Thana"] == {"SJP-KATRA": "थाना कटरा / Katra"}.get(
                    o["thana"], row["थाना / Thana"]
                )
                assert row["पद / Rank"] in ("आरक्षी / Constable", "उपनिरीक्षक / Sub-Inspector")
                if which == "lapsing":
                    assert row["प्रमाणपत्र वैध तक (IST) / Certificate valid until (IST)"] == "10-01-2027"
                if which == "overdue":
                    assert row["समय सीमा चूकी / Overdue"] == "हाँ / Yes"
                    assert row["अगली नियत तिथि (IST) / Next due (IST)"] == "11-03-2026"
    # A thana of the circle only, and nothing of another circle.
    katra = await co.get("/training/compliance/untrained.csv?thana=SJP-KATRA")
    numbers = {r[0] for r in list(csv.reader(io.StringIO(katra.content.decode("utf-8-sig"))))[1:]}
    assert numbers == {
        o["service_number"] for o in circle if o["thana"] == "SJP-KATRA" and not o["certified"]
    }
    assert (await co.get("/training/compliance/untrained.csv?circle=SJP-NAGAR")).status_code == 404
    assert (await co.get("/training/compliance/everyone.csv")).status_code == 404


async def test_an_sp_schedules_a_programme_for_two_thanas_and_the_co_calls_the_roll_on_a_phone(
    district: District,
) -> None:
    sp = await district.user(Role.SP, {"district": "SJP"})
    listed = await sp.get("/training/programmes")
    assert listed.status_code == 200 and "DEMO: training programme for the staff" in listed.text
    assert f"/training/programmes/{PROGRAMME}" in listed.text and "Completed (register closed)" in listed.text
    form = await sp.get("/training/programmes/new")
    assert form.status_code == 200, form.text
    assert 'value="MSK-SJP-KATRA"' in form.text and 'value="MSK-SJP-TILHAR"' in form.text
    found = re.search(r'name="programme_id" value="([0-9a-f]{32})"', form.text)
    assert found, "the form carries the programme's id (its idempotency key)"
    programme_id = found.group(1)
    plan = [
        ("programme_id", programme_id), ("title_hi", "DEMO: एसओपी पुनश्चर्या"), ("title_en", "DEMO: SOP refresher"),
        ("date", "2026-12-20"), ("venue", "Tilhar circle office"), ("ordered_by", "SP Shahjahanpur"),
        ("directed_by", "Additional SP"), ("organised_by", "CO Tilhar"),
        ("kendra", "MSK-SJP-KATRA"), ("kendra", "MSK-SJP-TILHAR"), ("module", "MSK-SOP"), ("module", "MSK-ASSESS"),
    ]  # fmt: skip
    scheduled = await sp.post("/training/programmes", plan)
    assert scheduled.status_code == 303, scheduled.text
    assert scheduled.headers["location"] == f"/training/programmes/{programme_id}?done=scheduled"
    again = await sp.post("/training/programmes", plan)  # the same form sent twice: one programme
    assert again.status_code == 303
    invited = [o for o in district.officers if o["thana"] in ("SJP-KATRA", "SJP-TILHAR")]
    page = (await sp.get(scheduled.headers["location"])).text
    assert "The programme is scheduled" in page and f"Invited: {len(invited)}" in page
    assert all(o["name"] in page for o in invited)

    co = await district.user(Role.CO, TILHAR)
    roll = await co.get(f"/training/programmes/{programme_id}/roll-call")
    assert roll.status_code == 200, roll.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in roll.text
    assert roll.text.count('name="present"') == len(invited) and 'name="score_DEMOKATRA9"' in roll.text
    hindi = (await co.get(f"/training/programmes/{programme_id}/roll-call", lang="hi")).text
    assert "उपस्थिति दर्ज करें" in hindi and "उपस्थिति सहेजें" in hindi
    key = re.search(r'name="key" value="([0-9a-f]+)"', roll.text)
    assert key
    marks = [("key", key.group(1))] + [("officer", o["service_number"]) for o in invited]
    marks += [("present", "DEMOKATRA9"), ("score_DEMOKATRA9", "75")]
    # A district's roll-call sends more than Starlette's default 1000 fields; an officer listed twice
    # is marked once.
    marks += [("officer", "DEMOKATRA9")] + [("score_DEMOKATRA0", "")] * 1100
    marked = await co.post(f"/training/programmes/{programme_id}/roll-call", marks)
    assert marked.status_code == 303, marked.text
    assert "Attendance saved" in (await co.get(marked.headers["location"])).text

    async def registered() -> bool:
        report = (await co.get(marked.headers["location"])).text
        row = report[report.index("DEMO Constable 9 Katra") :].split("</tr>")[0]
        absent = report.count("<td>Absent</td>") == len(invited) - 1
        return "Present" in row and "<td>75</td>" in row and absent

    await eventually(registered, timeout=30, what="the register shows who came, with the score")

    unconfirmed = await co.post(f"/training/programmes/{programme_id}/complete", [])
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    closed = await co.post(f"/training/programmes/{programme_id}/complete", [("confirm", "yes")])
    assert closed.status_code == 303, closed.text
    assert "/roll-call" not in (await co.get(closed.headers["location"])).text
    joiner = await district.user(Role.KENDRA_OFFICER, KATRA, "DEMOKATRA9")

    async def credited() -> bool:
        record = (await joiner.get("/training/officers/DEMOKATRA9")).text
        done = record[record.index('id="done"') :]
        return "20 Dec 2026, 00:00 IST" in done and "Mission Shakti Kendra assessment" in done

    await eventually(credited, timeout=30, what="the closed programme credits its modules to the record")

    # Read-only for the SHO; nothing for a Kendra officer; nothing of another district.
    sho = await district.user(Role.SHO, KATRA)
    seen = await sho.get(f"/training/programmes/{programme_id}")
    assert seen.status_code == 200 and "/complete" not in seen.text
    assert (await sho.get(f"/training/programmes/{programme_id}/roll-call")).status_code == 403
    assert (await sho.post("/training/programmes", plan)).status_code == 403
    assert (await joiner.get("/training/programmes")).status_code == 403
    elsewhere = await district.user(Role.SP, {"district": "BLY"})
    assert (await elsewhere.get(f"/training/programmes/{programme_id}")).status_code == 404


def test_a_cell_that_would_start_a_formula_is_quoted_in_the_csv() -> None:
    officer = {
        "service_number": "PNO1", "name": "=HYPERLINK(\"http://x\")", "rank": "constable", "kendra": "MSK-SJP-KATRA",
        "thana": "SJP-KATRA", "circle": "SJP-TILHAR", "certified": False, "valid_until": None,
        "next_due_at": "2026-03-11T04:00:00Z", "overdue": True,
    }  # fmt: skip
    names = {("thana", "SJP-KATRA"): ("थाना कटरा", "Katra")}
    text = csv_text([officer], names)
    assert text.startswith("\ufeff")
    [_, row] = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert row[1] == '\'=HYPERLINK("http://x")'
    assert row[2] == "आरक्षी / Constable" and row[4] == "थाना कटरा / Katra" and row[5] == "SJP-TILHAR"
    assert row[8] == "11-03-2026" and row[9] == "हाँ / Yes" and row[7] == ""


@pytest.mark.parametrize("typed", ["nan", "inf", "-1", "101", "sixty"])
def test_a_roll_call_score_that_is_not_0_to_100_is_refused_in_both_languages(typed: str) -> None:
    form = FormData([("officer", "PNO102"), ("present", "PNO102"), ("score_PNO102", typed)])
    with pytest.raises(PageRefused) as refused:
        marks_of(form, scored=True)
    assert refused.value.status == 422 and "0 to 100" in refused.value.en and "0 से 100" in refused.value.hi
    fine = FormData([("officer", "PNO102"), ("present", "PNO102"), ("score_PNO102", "64")])
    assert marks_of(fine, scored=True) == [{"service_number": "PNO102", "present": True, "score": 64.0}]


async def test_the_operator_uploads_an_igot_file_sees_every_problem_on_its_line_then_imports_it(
    district: District,
) -> None:
    """Issue 16: iGOT import by upload, every problem with its line and column before anything is
    recorded; the accepted columns on the page itself."""
    late = LATE_JOINER["service_number"]
    operator = await district.user(Role.OPERATOR, {})
    page = await operator.get("/training/igot")
    assert page.status_code == 200, page.text
    assert 'type="file"' in page.text and 'enctype="multipart/form-data"' in page.text
    assert all(column in page.text for column in ("service_number", "module_id", "completed_at", "score"))
    bad = (
        "service_number,module_id,completed_at,score\n"
        f"{late},MSK-SOP,2026-01-12,80\n"
        f"{late},NO-SUCH-MODULE,2026-01-12,80\n"
        f"{late},MSK-ASSESS,not a date,80\n"
        f"{late},MSK-ASSESS,2026-01-12,180\n"
    )
    refused = await operator.upload("/training/igot", "igot.csv", bad, lang="hi")
    assert refused.status_code == 422, refused.text
    assert "कुछ भी आयात नहीं हुआ" in refused.text
    rows = re.findall(r'<tr class="problem"><td>(\d+)</td><td>([a-z_]+)</td><td>([^<]+)</td>', refused.text)
    assert {(line, column) for line, column, _ in rows} == {
        ("3", "module_id"),
        ("4", "completed_at"),
        ("5", "score"),
    }, rows
    assert all(re.search(r"[\u0900-\u097F]", words) for _, _, words in rows)  # in Hindi, as asked
    good = f"service_number,module_id,completed_at,score\n{late},MSK-SOP,2026-01-12,80\n"
    imported = await operator.upload("/training/igot", "igot.csv", good)
    assert imported.status_code == 200, imported.text
    # Its one line is new to her record: the refused file recorded nothing, not even its good line 2.
    assert "1 completions recorded" in imported.text
    again = await operator.upload("/training/igot", "igot.csv", good)
    assert again.status_code == 200 and "0 completions recorded" in again.text
    # A Kendra officer has no upload: the service takes iGOT files from the operator only.
    officer = await district.user(Role.KENDRA_OFFICER, KATRA, late)
    assert (await officer.get("/training/igot")).status_code == 403


async def register_at_katra(district: District, officer: User, category: str, key: str) -> dict[str, Any]:
    """A complaint registered at Katra's Kendra, once routing has given it to an officer."""
    body = {
        "channel": "walk_in", "category": category, "description": "DEMO statement", "district": "SJP",
        "thana": "SJP-KATRA", "minor": False, "danger_now": False, "identity": {"name": "DEMO Name"},
    }  # fmt: skip
    headers = {**bearer(officer.session), "Idempotency-Key": key}
    registered = await district.client.post("/api/intake/cases", json=body, headers=headers)
    assert registered.status_code == 201, registered.text
    case: dict[str, Any] = registered.json()

    async def assigned() -> bool:
        seen = await district.client.get(
            f"/api/intake/cases/{case['case_id']}", headers=bearer(officer.session)
        )
        case.update(seen.json())
        return seen.status_code == 200 and case.get("assigned_officer") is not None

    await eventually(assigned, timeout=30, what=f"{category} case assigned")
    return case


async def test_the_compliance_page_links_to_the_cases_given_to_uncertified_officers(
    district: District,
) -> None:
    katra = [o for o in district.officers if o["thana"] == "SJP-KATRA"]
    desk = await district.user(Role.KENDRA_OFFICER, KATRA, katra[0]["service_number"])
    sho = await district.user(Role.SHO, KATRA)
    roster = (
        await district.client.get(f"{ROUTING}/roster?kendra=MSK-SJP-KATRA", headers=bearer(sho.session))
    ).json()
    trained = [o["service_number"] for o in roster if o["certified_for"] and not o["incharge"]]

    async def duty(status: str) -> None:
        for number in trained:
            moved = await district.client.post(
                f"{ROUTING}/officers/{number}/duty", json={"status": status}, headers=bearer(sho.session)
            )
            assert moved.status_code == 200, moved.text

    # With the trained officers on leave, the late joiner (never trained) takes the case; back on duty,
    # a trained officer takes the next one.
    await duty("on_leave")
    uncovered = await register_at_katra(district, desk, "sexual_assault", "u1")
    assert uncovered["assigned_officer"] == LATE_JOINER["service_number"]
    await duty("on_duty")
    covered = await register_at_katra(district, desk, "domestic_violence", "u2")
    assert covered["assigned_officer"] in trained
    co = await district.user(Role.CO, TILHAR)

    async def counted() -> bool:
        page = (await co.get("/training/compliance")).text
        return '<h2>Cases given to uncertified officers <span class="muted">(1)</span>' in page

    await eventually(counted, timeout=30, what="routing's figures on the compliance page")
    page = (await co.get("/training/compliance")).text
    section = page[page.index('id="uncertified"') :].split("</section>")[0]
    assert "Cases given to uncertified officers <span" in section and "(1)" in section
    assert 'value="2026-11-21"' in section and 'value="2026-12-20"' in section  # the last 30 days, IST
    assert "/training/compliance/uncertified-cases?from=2026-11-21&amp;to=2026-12-20" in section
    katra_row = page[page.index("?thana=SJP-KATRA") :].split("</tr>")[0]
    assert "uncertified-cases?thana=SJP-KATRA&amp;from=2026-11-21&amp;to=2026-12-20" in katra_row

    listed = await co.get("/training/compliance/uncertified-cases?thana=SJP-KATRA")
    assert listed.status_code == 200, listed.text
    html = listed.text
    assert f'href="/cases/{uncovered["case_id"]}">{uncovered["case_number"]}</a>' in html
    assert uncovered["assigned_officer"] in html and "20 Dec 2026, 09:30 IST" in html
    assert "Sexual assault" in html and covered["case_number"] not in html
    hindi = (await co.get("/training/compliance/uncertified-cases?thana=SJP-KATRA", lang="hi")).text
    assert "अप्रमाणित अधिकारियों को सौंपे गए मामले" in hindi and "सौंपे जाने का समय" in hindi
    assert uncovered["case_number"] in hindi and "दिस॰ 2026" in hindi
    assert "अप्रमाणित अधिकारियों को सौंपे गए मामले" in (await co.get("/training/compliance", lang="hi")).text
    later = await co.get("/training/compliance/uncertified-cases?from=2026-12-21&to=2026-12-22")
    assert later.status_code == 200 and uncovered["case_number"] not in later.text
    assert (await co.get("/training/compliance/uncertified-cases?from=21-12-2026")).status_code == 422

    exported = await co.get("/training/compliance/uncertified-cases.csv?thana=SJP-KATRA")
    assert exported.status_code == 200 and exported.content.startswith(b"\xef\xbb\xbf")
    assert "uncertified-cases-SJP-KATRA-2026-11-21-2026-12-20.csv" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][0] == "मामला संख्या / Case number" and rows[0][-1] == "सौंपा गया (IST) / Assigned at (IST)"
    assert [r[0] for r in rows[1:]] == [uncovered["case_number"]]
    assert rows[1][2] == uncovered["assigned_officer"] and rows[1][-1] == "20-12-2026 09:30"

    # The case page says why this officer, in both languages.
    case_page = (await sho.get(f"/cases/{uncovered['case_id']}")).text
    why = case_page[case_page.index('id="why-officer"') :].split("</p>")[0]
    assert "Why this officer" in why and "none of them is certified for sexual assault" in why
    hindi_case = (await sho.get(f"/cases/{uncovered['case_id']}", lang="hi")).text
    why_hi = hindi_case[hindi_case.index('id="why-officer"') :].split("</p>")[0]
    assert "इस अधिकारी को क्यों" in why_hi and "प्रमाणित नहीं" in why_hi and "none of them" not in why_hi

    # An officer is refused; a CO of another circle sees nothing of this one.
    for path in ("/training/compliance/uncertified-cases", "/training/compliance/uncertified-cases.csv"):
        refused = await desk.get(path)
        assert refused.status_code == 403 and uncovered["case_number"] not in refused.text
    nagar = await district.user(Role.CO, NAGAR)
    theirs = await nagar.get("/training/compliance/uncertified-cases")
    assert theirs.status_code == 200 and uncovered["case_number"] not in theirs.text
    assert (await nagar.get("/training/compliance/uncertified-cases?circle=SJP-TILHAR")).status_code == 404
    assert uncovered["case_number"] not in (await nagar.get("/training/compliance")).text
