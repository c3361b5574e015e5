"""A case's files (issue 15): a PDF, JPEG or PNG of at most 10 MB, sealed with the case's key and kept in
JetStream's Object Store; opening one is a recorded identity reading; an erasure makes it unreadable and
deletes the bucket's copy. On a real NATS server and a real database."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient

from services.intake.attachments import MAX_BYTES, CaseFiles
from services.intake.tests.conftest import INCHARGE, OTHER_THANA, SP, Intake
from tests.waiting import eventually

PNG = b"\x89PNG\r\n\x1a\n" + b"DEMO photo of the injury" * 100
NAME = "bruises-DEMO.png"


async def attach(intake: Intake, case_id: str, key: str, content: bytes = PNG, **fields: Any) -> Any:
    body = {"kind": "photo", **fields, "file": (NAME, content, "image/png")}
    return await intake.command(case_id, "attachments", body, key=key)


async def test_a_file_is_kept_sealed_listed_and_opened_whole_with_the_reading_recorded(
    intake: Intake, nats_client: NatsClient
) -> None:
    case_id = (await intake.register())["case_id"]
    answer = await attach(intake, case_id, "photo-1")
    assert answer.status_code == 200, answer.text
    again = await attach(intake, case_id, "photo-1")  # the same request again: its first answer
    assert again.status_code == 200 and again.json() == answer.json()
    listed = (await intake.get(f"/cases/{case_id}/attachments")).json()["attachments"]
    assert [(f["kind"], f["size_bytes"], f["readable"]) for f in listed] == [("photo", len(PNG), True)]
    attachment_id = listed[0]["attachment_id"]
    # The bucket holds ciphertext only.
    sealed = await CaseFiles(nats_client).get(case_id, attachment_id)
    assert sealed is not None and b"DEMO photo" not in sealed and b"PNG" not in sealed[:16]
    # A supervisor sees that there is a file, but opens it only as those who may read the identity.
    assert (await intake.get(f"/cases/{case_id}/attachments", principal=SP)).status_code == 200
    path = f"/cases/{case_id}/attachments/{attachment_id}"
    assert (await intake.get(path, principal=SP, purpose="supervisory_review")).status_code == 403
    opened = await intake.get(path, principal=INCHARGE, purpose="supervisory_review")
    assert opened.status_code == 200, opened.text
    assert opened.content == PNG and opened.headers["content-type"] == "image/png"
    assert opened.headers["cache-control"] == "no-store"
    assert opened.headers["content-disposition"] == f"attachment; filename*=UTF-8''{NAME}"

    async def recorded() -> bool:
        answer = await intake.get(f"/cases/{case_id}/timeline")
        if answer.status_code == 404:
            return False  # the register has yet to apply the registration (as ``Intake.case`` waits)
        timeline = answer.json()["entries"]
        kinds = [e["event_type"] for e in timeline]
        return kinds.count("IdentityViewed") == 1 and kinds.count("AttachmentRecorded") == 1

    await eventually(recorded, timeout=30, what="the file and its reading on the timeline")


async def test_a_file_of_another_kind_empty_or_too_large_is_refused_in_both_languages(intake: Intake) -> None:
    case_id = (await intake.register())["case_id"]
    for content, status, words in [
        (b"MZ\x90\x00 an executable", 422, "केवल PDF, JPEG या PNG"),
        (b"", 422, "ख़ाली"),
        (b"%PDF-" + b"0" * MAX_BYTES, 413, "10 MB"),
    ]:
        refused = await attach(intake, case_id, f"bad-{status}-{len(content)}", content)
        assert refused.status_code == status, refused.text
        detail = refused.json()["detail"]
        assert words in detail["hi"] + detail["en"] and detail["fields"][0]["field"] == "file"
    assert (await intake.get(f"/cases/{case_id}/attachments")).json()["attachments"] == []


async def test_an_officer_of_another_thana_neither_adds_nor_lists_nor_opens_a_file(intake: Intake) -> None:
    case_id = (await intake.register())["case_id"]
    answer = await intake.command(
        case_id, "attachments", {"kind": "photo", "file": (NAME, PNG, "image/png")}, principal=OTHER_THANA
    )
    assert answer.status_code == 404
    assert (await intake.get(f"/cases/{case_id}/attachments", principal=OTHER_THANA)).status_code == 404
    assert (await attach(intake, case_id, "mine")).status_code == 200
    listed = (await intake.get(f"/cases/{case_id}/attachments")).json()["attachments"]
    path = f"/cases/{case_id}/attachments/{listed[0]['attachment_id']}"
    assert (await intake.get(path, principal=OTHER_THANA, purpose="contact_complainant")).status_code == 404


async def test_an_erasure_makes_the_file_unreadable_and_deletes_the_buckets_copy(
    intake: Intake, nats_client: NatsClient
) -> None:
    case_id = (await intake.register())["case_id"]
    assert (await attach(intake, case_id, "photo")).status_code == 200
    attachment_id = (await intake.get(f"/cases/{case_id}/attachments")).json()["attachments"][0][
        "attachment_id"
    ]
    erased = await intake.command(
        case_id, "erase-identity", {"legal_basis": "dpdp_request"}, principal=INCHARGE
    )
    assert erased.status_code == 200, erased.text
    path = f"/cases/{case_id}/attachments/{attachment_id}"
    assert (await intake.get(path, purpose="contact_complainant")).status_code == 410
    assert await CaseFiles(nats_client).get(case_id, attachment_id) is None
    # And no file is added to an erased case.
    assert (await attach(intake, case_id, "after")).status_code == 410
