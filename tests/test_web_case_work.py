"""A case's working day in the web front, page by page over HTTP with the platform running: the
receipt after registration (also when the case went to another thana), supervisors acknowledging an
escalation from the case page, closing and reopening with a reason and a confirmation, and times shown
in IST with what is left of each deadline; waiting for the complainant, notes, withdrawal and duplicates,
a supervisor's reassignment and transfer, and a referral's answer, each from the case page and each
refused to the roles the services refuse."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.platform import build_platform, runners
from shakti.users import UserStore
from shakti.web.times import IST
from shared.auth import COOKIE, Principal
from shared.contracts.intake import CaseRegistered
from shared.eventstore import EventStore
from shared.http_guard import csrf_token
from shared.roles import Role
from tests.sessions import enrol, keys_for_tests
from tests.waiting import eventually

KATRA = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}
NAME, PHONE = "DEMO Caseday Complainant", "9812399999"


@dataclass
class Desk:
    """The platform, a client, and the Katra Kendra's first constable (who registers complaints)."""

    app: FastAPI
    client: httpx.AsyncClient
    officer: str
    incharge: str

    async def browser(self, role: Role, where: dict[str, str], service_number: str | None = None) -> Browser:
        name = f"{role.value}-{where.get('thana') or where.get('circle') or where.get('district')}"
        who = Principal(
            username=name.lower().replace("_", "-"), role=role, service_number=service_number, **where
        )
        return Browser(self.client, await enrol(self.app, who))


@dataclass
class Browser:
    """One signed-in user's cookies, and forms posted as the page would (with the form's token)."""

    client: httpx.AsyncClient
    session: str

    def cookies(self, lang: str) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.session}; shakti_lang={lang}"}

    async def get(self, path: str, lang: str = "en") -> httpx.Response:
        return await self.client.get(path, headers=self.cookies(lang))

    async def post(self, path: str, lang: str = "en", **fields: Any) -> httpx.Response:
        return await self.client.post(
            path, data={**fields, "csrf_token": csrf_token(self.session)}, headers=self.cookies(lang)
        )


@pytest.fixture
async def desk(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    async with opened_desk(PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests()), nats_url) as desk:
        yield desk


@pytest.fixture
async def gathering_desk(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Desk]:
    """The desk, with read models that gather each burst of events for half a second before applying it
    (``SHAKTI_PROJECTION_GATHER_MS``): the page after a step is read well before they would apply it."""
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), projection_gather_ms=500)
    async with opened_desk(settings, nats_url) as desk:
        yield desk


@contextlib.asynccontextmanager
async def opened_desk(settings: PlatformSettings, nats_url: str) -> AsyncIterator[Desk]:
    """The platform with the demo's jurisdiction and roster, and a client of it."""
    users = UserStore(f"sqlite+aiosqlite:///{settings.data_dir / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url), users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=30.0) as client:
            loader = DemoLoader(app, client)
            registrar, incharges = await loader.roster(await loader.jurisdiction())
            yield Desk(app, client, registrar["SJP-KATRA"], incharges["SJP-KATRA"])


async def register(officer: Browser, thana: str, **extra: str) -> httpx.Response:
    form = await officer.get("/kendra/register")
    key = re.search(r'name="key" value="([0-9a-f]+)"', form.text)
    assert key, "the registration form carries its idempotency key"
    fields = {
        "channel": "walk_in", "category": "stalking", "statement": "DEMO statement", "thana": thana,
        "name": NAME, "phone": PHONE, "key": key.group(1), **extra,
    }  # fmt: skip
    return await officer.post("/kendra/register", **fields)


def case_id_of(location: str) -> str:
    found = re.search(r"/cases/([0-9a-f]{32})", location)
    assert found, location
    return found.group(1)


async def test_a_complaint_for_another_thana_sends_its_officer_to_the_receipt_saying_where_it_went(
    desk: Desk,
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    registered = await register(officer, "SJP-KOTWALI")
    assert registered.status_code == 303, registered.text
    case_id = case_id_of(registered.headers["location"])
    page = await officer.get(registered.headers["location"])
    assert page.status_code == 200, page.text
    number = re.search(r"SJP-\d{4}-\d{6}", page.text)
    assert number, page.text
    # Where the case went, in both languages: the thana's name, never a bare code.
    assert "Kotwali" in page.text and "कोतवाली" in page.text
    assert "IST" in page.text and "1090" in page.text and "181" in page.text and "112" in page.text
    assert NAME not in page.text and PHONE not in page.text
    # The receipt stays reachable for her later, though the case page itself is another thana's.
    again = await officer.get(f"/cases/{case_id}/receipt", lang="hi")
    assert again.status_code == 200 and number.group(0) in again.text
    assert "मामला संख्या" in again.text and "हेल्पलाइन" in again.text
    assert (await officer.get(f"/cases/{case_id}")).status_code == 404


async def test_the_receipt_is_offered_after_registration_and_from_the_case_page(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    registered = await register(officer, "SJP-KATRA")
    assert registered.status_code == 303
    case_id = case_id_of(registered.headers["location"])
    receipt = await officer.get(f"/cases/{case_id}/receipt")
    assert receipt.status_code == 200
    # The clock of first contact for this priority, from the SOP policy in force, and its IST time.
    assert re.search(r"\d{1,2}:\d{2} IST", receipt.text), receipt.text
    assert "First contact" in receipt.text and "प्रथम संपर्क" in receipt.text
    assert desk.officer in receipt.text
    # Printer styles for an A5 sheet and an 80 mm thermal roll.
    assert "/static/receipt-a5.css" in receipt.text
    thermal = await officer.get(f"/cases/{case_id}/receipt?paper=80mm")
    assert "/static/receipt-80mm.css" in thermal.text
    css = await desk.client.get("/static/receipt-80mm.css")
    assert css.status_code == 200 and "80mm" in css.text
    case_page = await officer.get(f"/cases/{case_id}")
    assert f"/cases/{case_id}/receipt" in case_page.text


async def test_the_sho_acknowledges_a_danger_now_escalation_from_the_case_page_with_a_direction(
    desk: Desk,
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    registered = await register(officer, "SJP-KATRA", category="domestic_violence", danger_now="on")
    case_id = case_id_of(registered.headers["location"])
    sho = await desk.browser(Role.SHO, KATRA)

    async def offered() -> bool:
        page = await sho.get(f"/cases/{case_id}")
        return 'action="/cases/' + case_id + '/acknowledge"' in page.text

    # A danger-now case alerts the in-charge and the SHO at once, at registration.
    await eventually(offered, timeout=30, what="the case page offers the SHO to acknowledge")
    hindi = await sho.get(f"/cases/{case_id}", lang="hi")
    assert "स्वीकार करें" in hindi.text and "थाना प्रभारी" in hindi.text
    # Somebody else's level is not hers to acknowledge: a CO of the circle sees no button.
    co = await desk.browser(Role.CO, {"district": "SJP", "circle": "SJP-TILHAR"})
    assert "/acknowledge" not in (await co.get(f"/cases/{case_id}")).text
    # Without the form's token the door refuses it.
    forged = await desk.client.post(
        f"/cases/{case_id}/acknowledge", data={"note": "x"}, headers=sho.cookies("en")
    )
    assert forged.status_code == 403
    done = await sho.post(f"/cases/{case_id}/acknowledge", note="DEMO call her back within the hour")
    assert done.status_code == 303 and done.headers["location"].endswith("?done=acknowledged")
    after = await sho.get(done.headers["location"])
    assert "You acknowledged the escalation" in after.text
    assert 'action="/cases/' + case_id + '/acknowledge"' not in after.text

    async def noted() -> bool:
        page = await officer.get(f"/cases/{case_id}")
        return "Note added by" in page.text and "acknowledged by" in page.text

    await eventually(noted, timeout=30, what="the officer's timeline shows the note and the acknowledgement")


async def test_an_officer_closes_with_a_reason_after_confirming_and_reopens(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    page = await officer.get(f"/cases/{case_id}")
    assert 'name="confirm"' in page.text and "No further action needed" in page.text
    unconfirmed = await officer.post(f"/cases/{case_id}/close", reason="no_further_action")
    assert unconfirmed.status_code == 422 and "Tick the box to confirm" in unconfirmed.text
    assert (await officer.get(f"/api/intake/cases/{case_id}")).json()["status"] != "closed"
    closed = await officer.post(f"/cases/{case_id}/close", reason="no_further_action", confirm="yes")
    assert closed.status_code == 303, closed.text
    page = await officer.get(f"/cases/{case_id}", lang="hi")
    assert "बंद" in page.text and "मामला पुनः खोलें" in page.text and "न्यायालय का निर्देश" in page.text
    reopened = await officer.post(f"/cases/{case_id}/reopen", reason="complainant_returned")
    assert reopened.status_code == 303, reopened.text
    page = await officer.get(f"/cases/{case_id}")
    assert "Case reopened by" in page.text and "The complainant came back" in page.text
    # A Circle Officer reads the case but closes nothing from it.
    co = await desk.browser(Role.CO, {"district": "SJP", "circle": "SJP-TILHAR"})
    seen = await co.get(f"/cases/{case_id}")
    assert seen.status_code == 200 and f'action="/cases/{case_id}/close"' not in seen.text
    assert (await co.post(f"/cases/{case_id}/close", reason="other", confirm="yes")).status_code == 403


async def test_each_page_after_a_step_shows_the_step_though_the_read_models_gather_their_events(
    gathering_desk: Desk,
) -> None:
    """The web front waits, after each command, until the service's read models hold what it wrote:
    registered, she lands on her case page (not on the receipt of a case she 'cannot see'), and closing
    and reopening show at once."""
    officer = await gathering_desk.browser(Role.KENDRA_OFFICER, KATRA, gathering_desk.officer)
    registered = await register(officer, "SJP-KATRA")
    assert registered.status_code == 303, registered.text
    assert "/receipt" not in registered.headers["location"], registered.headers["location"]
    case_id = case_id_of(registered.headers["location"])
    closed = await officer.post(f"/cases/{case_id}/close", reason="no_further_action", confirm="yes")
    assert closed.status_code == 303, closed.text
    page = await officer.get(closed.headers["location"])
    assert "Reopen the case" in page.text, page.text
    reopened = await officer.post(f"/cases/{case_id}/reopen", reason="complainant_returned")
    assert reopened.status_code == 303, reopened.text
    page = await officer.get(reopened.headers["location"])
    assert "Case reopened by" in page.text and "The complainant came back" in page.text
    # Who may ask how far a read model has applied: the signed-in, never a stranger.
    asked = {"stream": "INTAKE", "sequence": "1"}
    assert (await gathering_desk.client.get("/api/intake/applied", params=asked)).status_code == 401
    answer = await gathering_desk.client.get(
        "/api/intake/applied", params=asked, headers=officer.cookies("en")
    )
    assert answer.status_code == 200 and answer.json() == {"applied": True}
    unknown = await gathering_desk.client.get(
        "/api/nobody/applied", params=asked, headers=officer.cookies("en")
    )
    assert unknown.status_code == 404


async def test_a_reassignment_shows_on_the_next_page_though_another_service_writes_it(
    gathering_desk: Desk,
) -> None:
    """A supervisor's reassignment is routing's command, and the case page reads intake's register of
    it: the web front waits for every service whose read models read the stream written, not only the
    service that answered. Showing the identity (a reading intake records) tells the browser nothing of
    the streams."""
    desk = gathering_desk
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])

    async def assigned() -> bool:
        return bool((await officer.get(f"/api/intake/cases/{case_id}")).json()["assigned_officer"])

    await eventually(assigned, timeout=30, what="the case assigned")
    co = await desk.browser(Role.CO, {"district": "SJP", "circle": "SJP-TILHAR"})
    page = (await co.get(f"/cases/{case_id}")).text
    form = page[page.index(f'action="/cases/{case_id}/reassign"') :].split("</form>")[0]
    offered = re.findall(r'<option value="(DEMO[0-9A-Z]+)"', form)
    held = (await co.get(f"/api/intake/cases/{case_id}")).json()["assigned_officer"]
    chosen = next(o for o in offered if o != held)
    assert (await co.post(f"/cases/{case_id}/note", text="DEMO direction")).status_code == 303
    moved = await co.post(f"/cases/{case_id}/reassign", officer=chosen, reason="supervisor_decision")
    assert moved.status_code == 303, moved.text
    assert (await co.get(f"/api/intake/cases/{case_id}")).json()["assigned_officer"] == chosen
    sho = await desk.browser(Role.SHO, KATRA)
    shown = await sho.post(f"/cases/{case_id}/identity", purpose="supervisory_review")
    assert shown.status_code == 200 and NAME in shown.text
    assert "shakti-written" not in {k.lower() for k in shown.headers}


async def test_the_case_page_shows_the_case_as_it_stood_at_a_past_moment(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    before = datetime.now(IST) - timedelta(minutes=1)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    closed = await officer.post(f"/cases/{case_id}/close", reason="no_further_action", confirm="yes")
    assert closed.status_code == 303, closed.text
    await asyncio.sleep(0.05)
    between = datetime.now(IST).isoformat()
    await asyncio.sleep(0.05)
    reopened = await officer.post(f"/cases/{case_id}/reopen", reason="complainant_returned")
    assert reopened.status_code == 303, reopened.text
    assert f'action="/cases/{case_id}/as-of"' in (await officer.get(f"/cases/{case_id}")).text

    async def as_of(at: str | None, lang: str = "en") -> httpx.Response:
        query = f"?{urlencode({'at': at})}" if at else ""
        return await officer.get(f"/cases/{case_id}/as-of{query}", lang)

    def then(page: httpx.Response) -> str:
        assert page.status_code == 200, page.text
        shown = page.text.index('id="then"')
        return page.text[shown : page.text.index("</section>", shown)]

    closed_then = then(await as_of(between))
    assert '<span id="status">Closed</span>' in closed_then
    assert "Case closed" in closed_then and "Case reopened" not in closed_then
    assert re.search(r"\d{1,2}:\d{2} IST", closed_then)
    assert '<span id="status">बंद</span>' in then(await as_of(between, "hi"))
    assert "Case reopened" in then(await as_of(None))
    # Before it was registered: said so on the page; a typed moment that is no moment: refused.
    early = await as_of(before.strftime("%Y-%m-%dT%H:%M"))
    assert early.status_code == 200 and "not yet registered at that moment" in early.text
    assert 'id="then"' not in early.text
    for slip in ("yesterday", "0001-01-01T00:00+14:00", "9999-12-31T23:59-12:00", "2019-12-31T10:00"):
        garbled = await as_of(slip)
        assert garbled.status_code == 422 and "2026-01-10T15:30" in garbled.text, slip


async def test_an_address_with_no_page_answers_a_page_in_both_languages_and_the_api_json(desk: Desk) -> None:
    """A mistyped or stale link showed a person raw JSON ("detail": "Not Found")."""
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    for lang, words in (("en", "There is no page at this address"), ("hi", "इस पते पर कोई पृष्ठ नहीं है")):
        page = await officer.get("/kendra/queue-of-yesterday", lang)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert words in page.text and '<html lang="' in page.text
    api = await officer.client.get("/api/intake/no-such-route", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


async def test_deadlines_and_the_timeline_read_in_ist_with_time_left_and_words_not_codes(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    registered = await register(officer, "SJP-KATRA", category="domestic_violence", danger_now="on")
    case_id = case_id_of(registered.headers["location"])

    async def escalated() -> bool:
        page = await officer.get(f"/cases/{case_id}")
        return 'id="deadlines"' in page.text and "Escalated to level 2" in page.text

    await eventually(
        escalated, timeout=30, what="the deadlines and the danger-now alert are on the case page"
    )
    for lang in ("en", "hi"):
        page = (await officer.get(f"/cases/{case_id}", lang=lang)).text
        deadlines = page[
            page.index('id="deadlines"') : page.index("</section>", page.index('id="deadlines"'))
        ]
        assert " UTC" not in page and re.search(r"\d{1,2}:\d{2} IST", deadlines), deadlines
        assert ("left" if lang == "en" else "शेष") in deadlines
        for internal in ("CaseWatched", "NextCheckScheduled", "Recorded:", "दर्ज: "):
            assert internal not in page, (lang, internal)
        for code in ("danger_now:", "action_taken", "referral_acknowledged", "kendra_incharge"):
            assert code not in page.replace(f'value="{code}"', ""), (lang, code)
    assert "अभी खतरे में: दर्ज होते ही सूचित" in page  # the Hindi page, last of the loop
    assert "in danger now: alerted at registration" in (await officer.get(f"/cases/{case_id}")).text
    queue = (await officer.get("/kendra/queue")).text
    assert "Next deadline" in queue and " left" in queue and " IST" in queue


async def test_an_officer_sets_her_message_language_and_quiet_hours_and_a_half_filled_form_is_kept(
    desk: Desk,
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    page = await officer.get("/notifications/preferences", lang="hi")
    assert page.status_code == 200 and "संदेश प्राथमिकताएँ" in page.text and "शांत समय (IST)" in page.text
    assert (await officer.get("/notifications")).text.count('href="/notifications/preferences"') == 1
    saved = await officer.post(
        "/notifications/preferences", language="en", quiet_from="22:00", quiet_until="07:00"
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/notifications/preferences?saved=true"
    shown = await officer.get("/notifications/preferences?saved=true")
    assert "Preferences saved." in shown.text
    assert 'value="22:00"' in shown.text and 'value="07:00"' in shown.text
    assert '<option value="en" selected>' in shown.text
    # Only a start: refused in both languages, what she typed still in the form, nothing stored.
    half = await officer.post(
        "/notifications/preferences", lang="hi", language="hi", quiet_from="21:00", quiet_until=""
    )
    assert half.status_code == 422 and "शांत समय का आरंभ और अंत दोनों दें" in half.text
    assert 'value="21:00"' in half.text and '<option value="hi" selected>' in half.text
    again = await officer.get("/notifications/preferences")
    assert 'value="22:00"' in again.text and '<option value="en" selected>' in again.text
    # Cleared: no quiet hours, the contacts list's language.
    await officer.post("/notifications/preferences", language="", quiet_from="", quiet_until="")
    cleared = await officer.get("/notifications/preferences")
    assert 'value="22:00"' not in cleared.text and '<option value="" selected>' in cleared.text
    # The state cell has no messages, so no preferences either.
    state = await desk.browser(Role.STATE_CELL, {"district": "SJP"})
    assert (await state.get("/notifications/preferences")).status_code == 403


async def test_an_officer_turns_email_off_for_messages_that_are_not_urgent_and_a_bad_channel_is_refused(
    desk: Desk,
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    page = await officer.get("/notifications/preferences", lang="hi")
    assert "ई-मेल और एसएमएस बंद करें" in page.text and "हमेशा हर माध्यम पर जाते हैं" in page.text
    assert 'value="email">' in page.text and 'value="sms">' in page.text  # nothing ticked yet
    saved = await officer.post("/notifications/preferences", language="en", muted_channels=["email"])
    assert saved.status_code == 303, saved.text
    shown = (await officer.get("/notifications/preferences")).text
    assert "Danger now, a breached deadline and an escalation always go on every channel." in shown
    assert 'value="email" checked>' in shown and 'value="sms">' in shown
    assert (await officer.get("/api/notifications/preferences")).json()["muted_channels"] == ["email"]
    # The bell is not a channel she can turn off: refused in both languages, her choices kept in the form.
    refused = await officer.post(
        "/notifications/preferences", lang="hi", language="hi", quiet_from="22:00", quiet_until="07:00",
        muted_channels=["sms", "web"],
    )  # fmt: skip
    assert refused.status_code == 422 and "कुछ जानकारी छूटी है या गलत है" in refused.text
    assert 'value="sms" checked>' in refused.text and 'value="email">' in refused.text
    assert 'value="22:00"' in refused.text and '<option value="hi" selected>' in refused.text
    assert (await officer.get("/api/notifications/preferences")).json()["muted_channels"] == ["email"]
    # Both boxes cleared: every channel again.
    await officer.post("/notifications/preferences", language="en")
    assert (await officer.get("/api/notifications/preferences")).json()["muted_channels"] == []


# ---- the rest of a case's steps on its page: each done, each refused outside its roles

TILHAR = {"district": "SJP", "circle": "SJP-TILHAR"}


async def status_of(reader: Browser, case_id: str) -> str:
    return str((await reader.get(f"/api/intake/cases/{case_id}")).json()["status"])


async def becomes(reader: Browser, case_id: str, status: str) -> None:
    async def there() -> bool:
        return await status_of(reader, case_id) == status

    await eventually(there, timeout=30, what=f"the case is {status}")


async def test_an_officer_waits_for_the_complainant_adds_a_note_and_records_a_withdrawal(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    page = (await officer.get(f"/cases/{case_id}")).text
    for step in ("awaiting", "withdraw", "duplicate", "note"):
        form = page[page.index(f'action="/cases/{case_id}/{step}"') :].split("</form>")[0]
        assert 'name="csrf_token"' in form and re.search(r'name="key" value="[0-9a-f]{32}"', form), step
    waiting = await officer.post(
        f"/cases/{case_id}/awaiting", reason="not_reachable", remark="DEMO no answer"
    )
    assert waiting.status_code == 303 and waiting.headers["location"].endswith("?done=awaiting")
    await becomes(officer, case_id, "awaiting_complainant")
    page = (await officer.get(f"/cases/{case_id}")).text
    assert (
        f'action="/cases/{case_id}/responded"' in page and f'action="/cases/{case_id}/awaiting"' not in page
    )
    assert "Recorded." in (await officer.get(waiting.headers["location"])).text
    # Twice is refused by intake, in her language, and the page stays whole.
    again = await officer.post(f"/cases/{case_id}/awaiting", lang="hi", reason="other")
    assert again.status_code == 409 and "पहले से शिकायतकर्ता की प्रतीक्षा में है" in again.text
    assert (await officer.post(f"/cases/{case_id}/responded")).status_code == 303
    await becomes(officer, case_id, "in_progress")

    empty = await officer.post(f"/cases/{case_id}/note", lang="hi", text="")
    assert empty.status_code == 422 and 'role="alert"' in empty.text and "Traceback" not in empty.text
    noted = await officer.post(f"/cases/{case_id}/note", text="DEMO she will bring the medical report")
    assert noted.status_code == 303

    async def timeline_says(*words: str) -> bool:
        text = (await officer.get(f"/cases/{case_id}")).text
        return all(w in text for w in words)

    await eventually(
        lambda: timeline_says("Note added by", "responded"), timeout=30, what="the note on the timeline"
    )
    # Not confirmed: nothing recorded, what she chose and typed still in the form, opened.
    unconfirmed = await officer.post(
        f"/cases/{case_id}/withdraw", reason="settled_between_parties", remark="DEMO settled at home"
    )
    assert unconfirmed.status_code == 422 and "a withdrawn case cannot be reopened" in unconfirmed.text
    assert 'value="DEMO settled at home"' in unconfirmed.text
    assert '<option value="settled_between_parties" selected>' in unconfirmed.text
    assert await status_of(officer, case_id) == "in_progress"
    # A Circle Officer reads the case but records no withdrawal: the page refuses her role.
    co = await desk.browser(Role.CO, TILHAR)
    assert (await co.post(f"/cases/{case_id}/withdraw", reason="other", confirm="yes")).status_code == 403
    withdrawn = await officer.post(
        f"/cases/{case_id}/withdraw", reason="settled_between_parties", confirm="yes"
    )
    assert withdrawn.status_code == 303, withdrawn.text
    await becomes(officer, case_id, "withdrawn")
    page = (await officer.get(f"/cases/{case_id}")).text
    assert f'action="/cases/{case_id}/withdraw"' not in page and f'action="/cases/{case_id}/note"' not in page


async def test_an_officer_marks_a_case_a_duplicate_of_another_by_its_number(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    original = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    second = case_id_of((await register(officer, "SJP-KATRA", statement="DEMO again")).headers["location"])
    number = (await officer.get(f"/api/intake/cases/{original}")).json()["case_number"]
    own = (await officer.get(f"/api/intake/cases/{second}")).json()["case_number"]

    unknown = await officer.post(
        f"/cases/{second}/duplicate", lang="hi", duplicate_number="SJP-2026-999999", confirm="yes"
    )
    assert unknown.status_code == 422 and "इस संख्या का कोई मामला नहीं" in unknown.text
    assert 'value="SJP-2026-999999"' in unknown.text
    itself = await officer.post(f"/cases/{second}/duplicate", duplicate_number=own, confirm="yes")
    assert itself.status_code == 409 and "cannot be a duplicate of itself" in itself.text
    unconfirmed = await officer.post(f"/cases/{second}/duplicate", duplicate_number=number)
    assert unconfirmed.status_code == 422 and f'value="{number}"' in unconfirmed.text
    # Typed in small letters, as on a phone: the number is the same case.
    marked = await officer.post(f"/cases/{second}/duplicate", duplicate_number=number.lower(), confirm="yes")
    assert marked.status_code == 303, marked.text
    await becomes(officer, second, "duplicate")
    assert await status_of(officer, original) != "duplicate"
    # The SHO of another thana does not reach the case at all.
    away = await desk.browser(Role.SHO, {"district": "SJP", "circle": "SJP-NAGAR", "thana": "SJP-KOTWALI"})
    refused = await away.post(f"/cases/{original}/duplicate", duplicate_number=own, confirm="yes")
    assert refused.status_code == 404 and number not in refused.text


async def test_a_circle_officer_reassigns_within_the_kendra_and_transfers_to_another_thana(
    desk: Desk,
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])

    async def holder() -> str:
        return str((await officer.get(f"/api/intake/cases/{case_id}")).json()["assigned_officer"] or "")

    async def assigned() -> bool:
        return bool(await holder())

    await eventually(assigned, timeout=30, what="the case is assigned")
    first = await holder()
    co = await desk.browser(Role.CO, TILHAR)
    page = (await co.get(f"/cases/{case_id}")).text
    for step in ("reassign", "transfer", "note"):
        assert f'action="/cases/{case_id}/{step}"' in page, step
    reassign_form = page[page.index(f'action="/cases/{case_id}/reassign"') :].split("</form>")[0]
    offered = re.findall(r'<option value="(DEMO[0-9A-Z]+)"', reassign_form)
    # Routing's roster: the Kendra's officers on duty, never the one who holds the case.
    assert offered and first not in offered
    roster = (await co.get("/api/routing/roster?kendra=MSK-SJP-KATRA")).json()
    on_duty = {o["service_number"] for o in roster if o["status"]["code"] == "on_duty"}
    assert set(offered) == on_duty - {first}
    assert "Kotwali" in page[page.index(f'action="/cases/{case_id}/transfer"') :]

    # A reason no form offers: routing's refusal on the page, the officer she chose still chosen.
    bad = await co.post(f"/cases/{case_id}/reassign", officer=offered[-1], reason="whim")
    assert bad.status_code == 409 and 'role="alert"' in bad.text
    assert f'<option value="{offered[-1]}" selected>' in bad.text
    # A Kendra officer moves no case.
    assert (
        await officer.post(f"/cases/{case_id}/reassign", officer=offered[-1], reason="workload_balance")
    ).status_code == 403
    moved = await co.post(f"/cases/{case_id}/reassign", officer=offered[-1], reason="supervisor_decision")
    assert moved.status_code == 303 and moved.headers["location"].endswith("?done=reassign")

    async def reassigned() -> bool:
        return bool(await holder() == offered[-1])

    await eventually(reassigned, timeout=30, what="the case is the chosen officer's")

    unconfirmed = await co.post(
        f"/cases/{case_id}/transfer", thana="SJP-KOTWALI", reason="wrong_jurisdiction"
    )
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    assert '<option value="SJP-KOTWALI" selected>' in unconfirmed.text
    for outsider in (officer, await desk.browser(Role.STATE_CELL, {})):
        assert (
            await outsider.post(
                f"/cases/{case_id}/transfer", thana="SJP-KOTWALI", reason="wrong_jurisdiction", confirm="yes"
            )
        ).status_code == 403
    sent = await co.post(
        f"/cases/{case_id}/transfer", thana="SJP-KOTWALI", reason="wrong_jurisdiction", confirm="yes"
    )
    assert sent.status_code == 303, sent.text
    sp = await desk.browser(Role.SP, {"district": "SJP"})

    async def transferred() -> bool:
        return bool((await sp.get(f"/api/intake/cases/{case_id}")).json()["thana"] == "SJP-KOTWALI")

    await eventually(transferred, timeout=30, what="the case is at Kotwali")


async def test_a_referral_is_accepted_rejected_and_completed_from_the_case_page(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    for agency in ("one_stop_centre", "legal_services"):
        assert (await officer.post(f"/cases/{case_id}/referral", agency_kind=agency)).status_code == 303

    async def referrals() -> list[dict[str, Any]]:
        found = (await officer.get(f"/api/routing/cases/{case_id}")).json()
        return list(found["referrals"]) if found.get("referrals") else []

    async def issued() -> bool:
        return len(await referrals()) == 2

    await eventually(issued, timeout=30, what="routing issues both referrals")
    centre, dlsa = sorted(await referrals(), key=lambda r: r["kind"]["code"] != "one_stop_centre")
    page = (await officer.get(f"/cases/{case_id}")).text
    for answer in ("accept", "reject", "complete"):
        assert f'action="/cases/{case_id}/referrals/{centre["referral_id"]}/{answer}"' in page

    async def referral_status(referral_id: str, status: str) -> None:
        async def there() -> bool:
            return any(r["referral_id"] == referral_id and r["status"] == status for r in await referrals())

        await eventually(there, timeout=30, what=f"the referral is {status}")

    # The officer records the One Stop Centre's word, taken by phone: its clock is met.
    accepted = await officer.post(f"/cases/{case_id}/referrals/{centre['referral_id']}/accept")
    assert accepted.status_code == 303 and accepted.headers["location"].endswith("?done=accept")
    await referral_status(centre["referral_id"], "accepted")

    async def met() -> bool:
        clocks = (await officer.get(f"/api/escalation/cases/{case_id}")).json()["clocks"]
        return any(
            c.get("referral_id") == centre["referral_id"] and c["state"] == "stopped" and c["met"] is True
            for c in clocks
        )

    await eventually(met, timeout=30, what="the referral's deadline is met")
    twice = await officer.post(f"/cases/{case_id}/referrals/{centre['referral_id']}/accept", lang="hi")
    assert twice.status_code == 409 and 'role="alert"' in twice.text and "Traceback" not in twice.text
    page = (await officer.get(f"/cases/{case_id}")).text
    assert f'{centre["referral_id"]}/reject"' not in page and f'{centre["referral_id"]}/complete"' in page
    unconfirmed = await officer.post(f"/cases/{case_id}/referrals/{centre['referral_id']}/complete")
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    # A Circle Officer may record it too (the API admits every reader of the case).
    co = await desk.browser(Role.CO, TILHAR)
    done = await co.post(f"/cases/{case_id}/referrals/{centre['referral_id']}/complete", confirm="yes")
    assert done.status_code == 303, done.text
    await referral_status(centre["referral_id"], "completed")

    no_reason = await officer.post(f"/cases/{case_id}/referrals/{dlsa['referral_id']}/reject", confirm="yes")
    assert no_reason.status_code == 409 and 'role="alert"' in no_reason.text
    for outsider in (await desk.browser(Role.STATE_CELL, {}), await desk.browser(Role.OPERATOR, {})):
        refused = await outsider.post(
            f"/cases/{case_id}/referrals/{dlsa['referral_id']}/reject", reason="no_capacity", confirm="yes"
        )
        assert refused.status_code == 403
    rejected = await officer.post(
        f"/cases/{case_id}/referrals/{dlsa['referral_id']}/reject", reason="no_capacity", confirm="yes"
    )
    assert rejected.status_code == 303, rejected.text
    await referral_status(dlsa["referral_id"], "rejected")
    hindi = (await officer.get(f"/cases/{case_id}", lang="hi")).text
    assert "संस्था ने अस्वीकार किया" in hindi and "क्षमता उपलब्ध नहीं" in hindi and "पूर्ण" in hindi
    assert f"{dlsa['referral_id']}/" not in hindi  # answered: no more buttons


async def test_the_hindi_case_page_offers_every_step_in_hindi(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    await officer.post(f"/cases/{case_id}/referral", agency_kind="one_stop_centre")

    async def referral_shown() -> bool:
        return "/referrals/" in (await officer.get(f"/cases/{case_id}")).text

    await eventually(referral_shown, timeout=30, what="the referral's answer forms")
    sho = await desk.browser(Role.SHO, KATRA)
    page = (await sho.get(f"/cases/{case_id}", lang="hi")).text
    for words in (
        "शिकायत वापसी दर्ज करें", "दोहरी शिकायत चिह्नित करें", "मूल मामले की संख्या", "शिकायतकर्ता की प्रतीक्षा",
        "टिप्पणी जोड़ें", "दूसरे अधिकारी को सौंपें", "नियमों के अनुसार उपलब्ध अधिकारी", "पर्यवेक्षक का निर्णय",
        "दूसरे थाने को स्थानांतरित करें", "गलत क्षेत्राधिकार", "संस्था का उत्तर दर्ज करें", "स्वीकार दर्ज करें",
        "एजेंसी के दायित्व से बाहर", "पक्षों में समझौता", "दस्तावेज़ों की प्रतीक्षा",
    ):  # fmt: skip
        assert words in page, words
    for english in ("Reassign", "Transfer to", "Record the agency", "Mark as a duplicate", "Add a note"):
        assert english not in page, english
    # No label key left untranslated.
    assert not re.search(r">\s*(confirm_\w+|referral_\w+|done_\w+|withdraw_case|mark_duplicate)\b", page)


async def test_every_form_of_the_case_page_carries_its_key_so_a_step_sent_twice_is_recorded_once(
    desk: Desk,
) -> None:
    """A double click or a resent form (the network dropped the answer) must not record an action twice:
    every form of the page carries the key it was rendered with, and intake answers the second sending
    with the first one's events."""
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    page = (await officer.get(f"/cases/{case_id}")).text
    forms = re.findall(rf'<form method="post" action="/cases/{case_id}/.*?</form>', page, re.S)
    # Showing the identity is a reading, recorded each time it is shown: it carries no key.
    forms = [f for f in forms if f'action="/cases/{case_id}/identity"' not in f]
    assert len(forms) >= 8, forms
    for form in forms:
        assert re.search(r'name="key" value="[0-9a-f]{32}"', form), form[:120]
    action = next(f for f in forms if f'action="/cases/{case_id}/action"' in f)
    key = re.search(r'name="key" value="([0-9a-f]{32})"', action)
    assert key
    for _ in range(2):
        sent = await officer.post(f"/cases/{case_id}/action", kind="counselling", key=key.group(1))
        assert sent.status_code == 303, sent.text

    async def actions() -> list[str]:
        entries = (await officer.get(f"/api/intake/cases/{case_id}/timeline")).json()["entries"]
        return [e["event_type"] for e in entries if e["event_type"] == "ActionRecorded"]

    await eventually(lambda: actions_are(actions, 1), timeout=30, what="the action on the timeline")
    # A new page, a new key: the same action again is a second session, recorded.
    again = await officer.post(f"/cases/{case_id}/action", kind="counselling", key="f" * 32)
    assert again.status_code == 303
    await eventually(lambda: actions_are(actions, 2), timeout=30, what="the second action")


async def actions_are(read: Any, count: int) -> bool:
    return len(await read()) == count


async def test_the_sho_erases_the_complainants_identity_from_the_case_page_with_its_basis_after_confirming(
    desk: Desk,
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    assert f'action="/cases/{case_id}/erase"' not in (await officer.get(f"/cases/{case_id}")).text
    refused = await officer.post(f"/cases/{case_id}/erase", legal_basis="dpdp_request", confirm="yes")
    assert refused.status_code == 403
    sho = await desk.browser(Role.SHO, KATRA)
    page = (await sho.get(f"/cases/{case_id}", lang="hi")).text
    form = page[page.index(f'action="/cases/{case_id}/erase"') :].split("</form>")[0]
    assert 'name="key"' in form and 'name="confirm"' in form
    assert "डीपीडीपी अधिनियम 2023 के अंतर्गत शिकायतकर्ता का अनुरोध" in form
    # Not confirmed: nothing erased, the basis she chose still chosen, the form open.
    unconfirmed = await sho.post(f"/cases/{case_id}/erase", legal_basis="court_order")
    assert unconfirmed.status_code == 422 and "cannot be undone" in unconfirmed.text
    assert '<option value="court_order" selected>' in unconfirmed.text
    assert not (await sho.get(f"/api/intake/cases/{case_id}")).json()["identity_erased"]
    erased = await sho.post(f"/cases/{case_id}/erase", legal_basis="court_order", confirm="yes")
    assert erased.status_code == 303 and erased.headers["location"].endswith("?done=erase")

    async def gone() -> bool:
        return bool((await sho.get(f"/api/intake/cases/{case_id}")).json()["identity_erased"])

    await eventually(gone, timeout=30, what="the identity erased")
    page = (await sho.get(f"/cases/{case_id}")).text
    assert f'action="/cases/{case_id}/erase"' not in page
    shown = await sho.get(f"/api/intake/cases/{case_id}/identity?purpose=supervisory_review")
    assert shown.status_code >= 400 and NAME not in shown.text


PHOTO = b"\x89PNG\r\n\x1a\n" + b"DEMO photo" * 50


async def test_an_officer_attaches_a_file_from_the_case_page_and_opens_it_with_a_purpose(desk: Desk) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    page = (await officer.get(f"/cases/{case_id}")).text
    form = page[page.index(f'action="/cases/{case_id}/attachments"') :].split("</form>")[0]
    assert 'enctype="multipart/form-data"' in form and 'name="key"' in form and 'type="file"' in form
    key = re.search(r'name="key" value="([0-9a-f]{32})"', form)
    assert key

    async def send(content: bytes, lang: str = "en") -> httpx.Response:
        return await officer.client.post(
            f"/cases/{case_id}/attachments",
            data={"kind": "photo", "key": key.group(1), "csrf_token": csrf_token(officer.session)},
            files={"file": ("injury.png", content, "image/png")},
            headers=officer.cookies(lang),
        )

    refused = await send(b"GIF89a not taken", lang="hi")
    assert refused.status_code == 422 and "केवल PDF, JPEG या PNG" in refused.text
    sent = await send(PHOTO)
    assert sent.status_code == 303, sent.text
    assert (await send(PHOTO)).status_code == 303  # sent twice: one file
    page = (await officer.get(f"/cases/{case_id}")).text
    files = re.findall(rf'action="/cases/{case_id}/attachments/([0-9a-f]{{32}})"', page)
    assert len(files) == 1 and "Photo" in page
    opened = await officer.post(f"/cases/{case_id}/attachments/{files[0]}", purpose="contact_complainant")
    assert opened.status_code == 200 and opened.content == PHOTO
    assert (
        opened.headers["cache-control"] == "no-store"
        and "injury.png" in opened.headers["content-disposition"]
    )
    # A Circle Officer sees that there is a file, but it opens only for those who read the identity.
    co = await desk.browser(Role.CO, TILHAR)
    co_page = (await co.get(f"/cases/{case_id}")).text
    assert "Photo" in co_page and f'action="/cases/{case_id}/attachments/' not in co_page
    assert (
        await co.post(f"/cases/{case_id}/attachments/{files[0]}", purpose="supervisory_review")
    ).status_code == 403


async def test_the_registration_form_asks_her_consent_to_sms_saying_what_is_sent_and_records_it(
    desk: Desk, nats_client: NatsClient
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    for lang, words in (("en", "the case number, the Kendra"), ("hi", "मामला संख्या, केन्द्र")):
        form = (await officer.get("/kendra/register", lang=lang)).text
        assert 'name="consent_messages"' in form and words in form, form
    agreed = await register(officer, "SJP-KATRA", consent_messages="on")
    unasked = await register(officer, "SJP-KATRA")
    store = EventStore(nats_client, "intake")
    for response, consent in ((agreed, True), (unasked, False)):
        assert response.status_code == 303, response.text
        # Her receipt may follow on the case already (the platform sends it to the outbox).
        registered = (await store.load("case", case_id_of(response.headers["location"])))[0].event()
        assert isinstance(registered, CaseRegistered) and registered.consent_to_messages is consent


async def test_the_case_page_stops_sms_to_her_on_her_word_after_confirming(
    desk: Desk, nats_client: NatsClient
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    agreed = case_id_of((await register(officer, "SJP-KATRA", consent_messages="on")).headers["location"])
    unasked = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])
    stop = f'action="/cases/{agreed}/stop-sms"'

    async def offered() -> bool:
        return stop in (await officer.get(f"/cases/{agreed}")).text

    await eventually(offered, what="the button to stop SMS on the case page")
    page = (await officer.get(f"/cases/{agreed}", lang="hi")).text
    assert "एसएमएस" in page and "SMS" in (await officer.get(f"/cases/{agreed}")).text
    assert f'action="/cases/{unasked}/stop-sms"' not in (await officer.get(f"/cases/{unasked}")).text
    unconfirmed = await officer.post(f"/cases/{agreed}/stop-sms")
    assert unconfirmed.status_code == 422 and 'role="alert"' in unconfirmed.text
    stopped = await officer.post(f"/cases/{agreed}/stop-sms", confirm="yes")
    assert stopped.status_code == 303, stopped.text
    history = await EventStore(nats_client, "intake").load("case", agreed)
    assert history[-1].event_type == "MessagesConsentWithdrawn"

    async def gone() -> bool:
        return stop not in (await officer.get(f"/cases/{agreed}")).text

    await eventually(gone, what="the button gone once she said no")


async def test_an_officer_finds_the_complainants_earlier_cases_by_her_phone_and_no_page_shows_it(
    desk: Desk,
) -> None:
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    ids = []
    for _ in range(2):
        registered = await register(officer, "SJP-KATRA")
        assert registered.status_code == 303, registered.text
        ids.append(case_id_of(registered.headers["location"]))
    numbers = []
    for case_id in ids:
        page = await officer.get(f"/cases/{case_id}")
        assert 'action="/kendra/earlier-cases"' in page.text  # the case page offers the search
        found = re.search(r"SJP-\d{4}-\d{6}", page.text)
        assert found
        numbers.append(found.group(0))
    shown: dict[str, httpx.Response] = {}

    async def both_shown() -> bool:
        shown["en"] = await officer.post(
            "/kendra/earlier-cases", phone=f"+91 {PHONE[:5]}-{PHONE[5:]}", from_case=ids[0]
        )
        return shown["en"].status_code == 200 and all(n in shown["en"].text for n in numbers)

    await eventually(both_shown, what="both cases found by her number")
    hindi = await officer.post("/kendra/earlier-cases", lang="hi", phone=PHONE)
    assert "शिकायतकर्ता के पिछले मामले" in hindi.text and "कटरा" in hindi.text and "IST" in hindi.text
    assert "Earlier cases of the complainant" in shown["en"].text and "Katra" in shown["en"].text
    for page in (shown["en"], hindi):
        assert PHONE not in page.text and PHONE[:5] not in page.text and NAME not in page.text
    assert f'href="/cases/{ids[0]}"' in shown["en"].text  # back to the case she came from
    refused = await officer.post("/kendra/earlier-cases", phone="12-CALL-ME")
    assert refused.status_code == 422 and "CALL-ME" not in refused.text and "Indian phone" in refused.text
    # The state cell sees no case, and no search.
    state = await desk.browser(Role.STATE_CELL, {})
    assert (await state.post("/kendra/earlier-cases", phone=PHONE)).status_code == 403


async def test_the_case_page_names_its_thana_and_kendra_in_the_pages_language(desk: Desk) -> None:
    """Not their codes: a Hindi page says थाना कटरा, an English one Katra (the register keeps codes)."""
    officer = await desk.browser(Role.KENDRA_OFFICER, KATRA, desk.officer)
    case_id = case_id_of((await register(officer, "SJP-KATRA")).headers["location"])

    async def placed() -> bool:
        return "MSK-SJP-KATRA" in (await officer.get(f"/api/intake/cases/{case_id}")).text

    await eventually(placed, timeout=30, what="routing placed the case at Katra's Kendra")
    hindi = (await officer.get(f"/cases/{case_id}", lang="hi")).text
    where = hindi[hindi.index('id="place"') :].split("</div>")[0]
    assert "थाना कटरा" in where and "मिशन शक्ति केन्द्र, थाना कटरा" in where and "SJP-KATRA" not in where, where
    english = (await officer.get(f"/cases/{case_id}")).text
    where = english[english.index('id="place"') :].split("</div>")[0]
    assert "Katra" in where and "Mission Shakti Kendra, Katra" in where and "SJP-KATRA" not in where, where
