"""Attacks on a case's files (issue 15), kept as tests: what an erasure must leave unconfirmable, a reused
key, a file opened through another case, and the name and type a file is served under. On a real NATS
server and a real database."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote, unquote

import pytest
from nats.aio.client import Client as NatsClient

from services.intake.attachments import BUCKET, CaseFiles
from services.intake.tests.conftest import INCHARGE, OFFICER, Intake
from services.intake.tests.test_attachments import NAME, PNG, attach
from shared.commands import actor_of
from shared.contracts.intake import AttachmentRecorded
from shared.events import derived_id
from shared.eventstore import EventStore

POLYGLOT = b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>"


async def only_file(intake: Intake, case_id: str) -> str:
    listed = (await intake.get(f"/cases/{case_id}/attachments")).json()["attachments"]
    assert len(listed) == 1, listed
    attachment_id: str = listed[0]["attachment_id"]
    return attachment_id


async def erase(intake: Intake, case_id: str) -> None:
    erased = await intake.command(
        case_id, "erase-identity", {"legal_basis": "dpdp_request"}, principal=INCHARGE
    )
    assert erased.status_code == 200, erased.text


async def recorded(intake: Intake, case_id: str) -> AttachmentRecorded:
    history = await EventStore(intake.nc, "intake").load("case", case_id)
    events = [e.event() for e in history]
    return next(e for e in events if isinstance(e, AttachmentRecorded))


async def test_after_an_erasure_a_guessed_file_name_cannot_be_confirmed_from_the_attachment_id(
    intake: Intake,
) -> None:
    """The name is sealed with the identity; an id derived from it in the clear would confirm a guess
    (her name in the file's name) to any reader of the events, erased or not."""
    case_id = (await intake.register())["case_id"]
    assert (await attach(intake, case_id, "photo-1")).status_code == 200
    await erase(intake, case_id)
    event = await recorded(intake, case_id)
    guess = derived_id("attachment", actor_of(OFFICER), "photo-1", "photo", event.sha256, NAME).hex
    assert event.attachment_id != guess


async def test_after_an_erasure_the_event_does_not_confirm_a_copy_of_the_file(intake: Intake) -> None:
    case_id = (await intake.register())["case_id"]
    assert (await attach(intake, case_id, "photo")).status_code == 200
    await erase(intake, case_id)
    assert (await recorded(intake, case_id)).sha256 != hashlib.sha256(PNG).hexdigest()


async def test_a_reused_key_with_another_file_is_refused_and_the_first_file_stays_whole(
    intake: Intake, nats_client: NatsClient
) -> None:
    case_id = (await intake.register())["case_id"]
    assert (await attach(intake, case_id, "k")).status_code == 200
    other = b"\x89PNG\r\n\x1a\n" + b"another photo" * 50
    assert (await attach(intake, case_id, "k", other)).status_code == 409
    attachment_id = await only_file(intake, case_id)
    opened = await intake.get(f"/cases/{case_id}/attachments/{attachment_id}", purpose="contact_complainant")
    assert opened.status_code == 200 and opened.content == PNG
    # The refused file left no object behind: the case has one object in the bucket.
    bucket = await nats_client.jetstream().object_store(BUCKET)
    objects = await bucket.list(ignore_deletes=True)
    assert [o.name for o in objects if o.name.startswith(f"{case_id}/")] == [f"{case_id}/{attachment_id}"]


async def test_a_file_is_not_opened_through_another_case_that_the_officer_reaches(intake: Intake) -> None:
    theirs = (await intake.register())["case_id"]
    mine = (await intake.register())["case_id"]
    assert (await attach(intake, theirs, "theirs")).status_code == 200
    attachment_id = await only_file(intake, theirs)
    opened = await intake.get(f"/cases/{mine}/attachments/{attachment_id}", purpose="contact_complainant")
    assert opened.status_code == 404 and PNG not in opened.content


@pytest.mark.parametrize(
    "sent",
    [
        "statement.html",  # a PDF that would open as a page, scripts and all, once saved
        "x.svg",
        "a\r\nSet-Cookie: s=1",  # no header can be added
        '"; filename="evil.html',  # nor a second name
        "../../etc/passwd",
        "\u202egnp.html",  # shown right to left as "lmth.png"
    ],
)
async def test_a_file_is_served_as_its_own_kind_under_a_name_of_that_kind(intake: Intake, sent: str) -> None:
    case_id = (await intake.register())["case_id"]
    body = {"kind": "fir_copy", "file": (sent, POLYGLOT, "text/html")}
    assert (await intake.command(case_id, "attachments", body, key="poly")).status_code == 200
    attachment_id = await only_file(intake, case_id)
    opened = await intake.get(f"/cases/{case_id}/attachments/{attachment_id}", purpose="contact_complainant")
    assert opened.status_code == 200 and opened.content == POLYGLOT
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["x-content-type-options"] == "nosniff"
    disposition = opened.headers["content-disposition"]
    assert re.fullmatch(r"attachment; filename\*=UTF-8''[A-Za-z0-9%._~-]+", disposition), disposition
    name = unquote(disposition.split("''", 1)[1])
    assert name.endswith(".pdf") and "/" not in name and "\r" not in name, name


async def test_a_file_named_for_its_kind_keeps_its_name(intake: Intake) -> None:
    case_id = (await intake.register())["case_id"]
    body = {"kind": "fir_copy", "file": ("प्राथमिकी.PDF", POLYGLOT, "application/pdf")}
    assert (await intake.command(case_id, "attachments", body, key="fir")).status_code == 200
    attachment_id = await only_file(intake, case_id)
    opened = await intake.get(f"/cases/{case_id}/attachments/{attachment_id}", purpose="contact_complainant")
    assert opened.headers["content-disposition"] == f"attachment; filename*=UTF-8''{quote('प्राथमिकी.PDF')}"


async def test_a_withdrawn_case_takes_no_new_file_and_a_repeated_upload_keeps_the_first(
    intake: Intake, nats_client: NatsClient
) -> None:
    case_id = (await intake.register())["case_id"]
    first = await attach(intake, case_id, "k")
    assert first.status_code == 200
    withdrawn = await intake.command(case_id, "withdraw", {"reason": "moved_away"}, principal=INCHARGE)
    assert withdrawn.status_code == 200, withdrawn.text
    again = await attach(intake, case_id, "k")  # its object is stored over: the first answer, whole
    assert again.status_code == 200 and again.json() == first.json()
    other = b"\x89PNG\r\n\x1a\n" + b"a later photo" * 50
    refused = await attach(intake, case_id, "later", other)
    assert refused.status_code == 409, refused.text
    attachment_id = await only_file(intake, case_id)
    bucket = await nats_client.jetstream().object_store(BUCKET)
    objects = await bucket.list(ignore_deletes=True)
    assert [o.name for o in objects if o.name.startswith(f"{case_id}/")] == [f"{case_id}/{attachment_id}"]
    opened = await intake.get(f"/cases/{case_id}/attachments/{attachment_id}", purpose="contact_complainant")
    assert opened.status_code == 200 and opened.content == PNG


async def test_an_erasure_leaves_no_chunk_of_the_file_in_the_bucket_even_after_a_repeated_upload(
    intake: Intake, nats_client: NatsClient
) -> None:
    js = nats_client.jetstream()

    async def chunks() -> int:
        await CaseFiles(nats_client).bucket()  # there even before the first file
        info = await js.stream_info(f"OBJ_{BUCKET}", subjects_filter=f"$O.{BUCKET}.C.>")
        return sum((info.state.subjects or {}).values())

    case_id = (await intake.register())["case_id"]
    before = await chunks()
    assert (await attach(intake, case_id, "k")).status_code == 200
    assert (await attach(intake, case_id, "k")).status_code == 200  # stored over: the old chunks purged
    assert await chunks() == before + 1
    await erase(intake, case_id)
    assert await chunks() == before
