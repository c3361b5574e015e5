"""Identity protection: sealed in the events, read only by the roles allowed and every reading recorded,
erased by destroying the key, and found nowhere in clear: not in any stream, log line, metric, table
or answer."""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError
from sqlalchemy import inspect, text

from services.intake.commands import AddNote, Close, Identity, RecordAttachment, RegisterComplaint, Resolve
from services.intake.domain import Complaint
from services.intake.kek import load_kek_ring
from services.intake.keystore import KeyStore
from services.intake.phone_index import load_phone_index
from services.intake.tests.conftest import (
    INCHARGE,
    OFFICER,
    Intake,
    complaint,
    import_jurisdiction,
    places_known,
    routed_to_katra,
    running_intake,
)
from shared.contracts.escalation import CaseEscalated, ClockStarted, SlaBreached
from shared.contracts.routing import CaseAssigned
from shared.contracts.vocabulary import (
    AttachmentKind,
    Category,
    Channel,
    CloseReason,
    LadderRole,
    Language,
)
from shared.eventstore import EventStore
from shared.readmodel import create_engine
from shared.settings import Settings
from tests.waiting import eventually

NAME = "Zarnigar Vyomkesh Quillfeather"
PHONE = "9123487650"
ADDRESS = "House 7, Gali Nilgiri-Tarangpur"
NOTE = "Her brother Ishvaranand threatens her"
FILENAME = "Quillfeather-xray.pdf"
XRAY = f"%PDF-1.4 radiology report of {NAME}, phone {PHONE}".encode()
"""A file holding her name and phone: sealed before it is stored, so no stream holds it in clear."""
LOCALITY = "Behind the Vyomkesh dharamshala"
SECRETS = [NAME, "Quillfeather", PHONE, ADDRESS, "Nilgiri-Tarangpur", NOTE, "Ishvaranand", FILENAME, LOCALITY]


def identity() -> dict[str, str]:
    return {"name": NAME, "phone": PHONE, "address": ADDRESS, "statement": f"I, {NAME}, state that..."}


async def test_identity_readings_are_recorded_and_shown_in_the_audit_trail(intake: Intake) -> None:
    case = await intake.register(identity=identity())
    case_id = case["case_id"]
    await intake.command(case_id, "notes", {"text": NOTE})
    await intake.command(case_id, "close", {"reason": "other", "remark": f"Ring {PHONE} first"})
    response = await intake.get(f"/cases/{case_id}/identity", OFFICER, purpose="contact_complainant")
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    seen = response.json()
    assert seen["identity"]["name"] == NAME and seen["identity"]["phone"] == PHONE
    assert seen["identity"]["description"] == complaint()["description"]
    assert [(r["kind"], r["text"]) for r in seen["records"]] == [
        ("note", NOTE),
        ("remark", f"Ring {PHONE} first"),
    ]
    assert (
        await intake.get(f"/cases/{case_id}/identity", OFFICER)
    ).status_code == 422  # a purpose is required
    await intake.get(f"/cases/{case_id}/identity", INCHARGE, purpose="court_proceedings")

    history = await EventStore(intake.nc, "intake").load("case", case_id)
    views = [e for e in history if e.event_type == "IdentityViewed"]
    assert [(v.actor, v.payload["role"], v.payload["purpose"]) for v in views] == [
        ("PNO152301", "kendra_officer", "contact_complainant"),
        ("PNO152302", "kendra_incharge", "court_proceedings"),
    ]
    await intake.settled(case_id, lambda r: r["status"] == "closed")

    async def audited() -> bool:
        entries = (await intake.get(f"/cases/{case_id}/timeline")).json()["entries"]
        return sum(e["event_type"] == "IdentityViewed" for e in entries) == 2  # type: ignore[no-any-return]

    await eventually(audited, what="both readings in the timeline")
    entries = (await intake.get(f"/cases/{case_id}/timeline")).json()["entries"]
    reading = next(e for e in entries if e["event_type"] == "IdentityViewed")
    assert "PNO152301" in reading["text_en"] and "To contact the complainant" in reading["text_en"]
    assert "शिकायतकर्ता से संपर्क" in reading["text_hi"]


async def test_erasure_destroys_the_key_and_leaves_the_events(
    nats_client: NatsClient, nats_url: str, sqlite_url: str, tmp_path: Path
) -> None:
    """With the key store in a database of its own, as an operator may configure it."""
    key_store_url = f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"
    await import_jurisdiction(nats_client)
    async with running_intake(nats_client, nats_url, sqlite_url, key_store_url=key_store_url) as intake:
        await places_known(intake)
        case_id = (await intake.register(identity=identity()))["case_id"]
        await intake.command(case_id, "notes", {"text": NOTE})
        assert (await intake.get(f"/cases/{case_id}/identity", purpose="record_statement")).json()[
            "identity"
        ]["name"] == NAME
        keys = KeyStore.open(key_store_url, load_kek_ring(Settings()))
        try:
            assert await keys.find(case_id) is not None
            erased = await intake.command(
                case_id, "erase-identity", {"legal_basis": "dpdp_request"}, principal=INCHARGE, key="erase-1"
            )
            assert erased.status_code == 200
            assert await keys.find(case_id) is None
        finally:
            await keys.close()
        again = await intake.command(
            case_id, "erase-identity", {"legal_basis": "dpdp_request"}, principal=INCHARGE, key="erase-1"
        )
        assert again.json() == erased.json()  # repeating the erasure returns its first answer

        gone = await intake.get(f"/cases/{case_id}/identity", purpose="record_statement")
        assert (
            gone.status_code == 410
            and gone.json()["detail"]["code"] == "identity_erased"
            and gone.json()["detail"]["hi"]
        )
        note = await intake.command(case_id, "notes", {"text": "more"})
        assert note.status_code == 410
        row = await intake.settled(case_id, lambda r: r["identity_erased"])
        assert row["identity"] == {"en": "erased", "hi": "मिटाया गया"}
        # The case itself goes on: its events are all still there, sealed fields and all.
        history = await EventStore(nats_client, "intake").load("case", case_id)
        assert [e.event_type for e in history] == [
            "CaseRegistered",
            "NoteAdded",
            "IdentityViewed",
            "IdentityErased",
        ]
        assert history[0].payload["sealed_identity"]
        assert (await intake.command(case_id, "actions", {"kind": "counselling"})).status_code == 200
        # The read-model database never held a key.
        engine = create_engine(sqlite_url)
        try:
            async with engine.connect() as conn:
                tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
            assert "intake_identity_key" not in tables
        finally:
            await engine.dispose()


async def stream_bytes(nc: NatsClient) -> list[tuple[str, bytes]]:
    """Every message of every stream on the server: subject, headers and body."""
    js = nc.jetstream()
    found: list[tuple[str, bytes]] = []
    for info in await js.streams_info():
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            with contextlib.suppress(NotFoundError):
                msg = await js.get_msg(str(info.config.name), seq)
                found.append(
                    (f"{info.config.name}#{seq}", f"{msg.subject} {msg.headers}".encode() + (msg.data or b""))
                )
    return found


async def table_rows(database_url: str) -> dict[str, str]:
    """Every row of every table of intake's database, the key store included (it holds only keys)."""
    engine = create_engine(database_url)
    dumps: dict[str, str] = {}
    try:
        async with engine.connect() as conn:
            for table in await conn.run_sync(lambda c: inspect(c).get_table_names()):
                rows = (await conn.execute(text(f'SELECT * FROM "{table}"'))).all()
                dumps[table] = repr(rows)
    finally:
        await engine.dispose()
    return dumps


def hits(where: str, blob: str | bytes) -> list[str]:
    folded = blob.lower() if isinstance(blob, str) else blob.decode("utf-8", "replace").lower()
    return [f"{secret!r} in {where}" for secret in SECRETS if secret.lower() in folded]


async def test_no_identity_anywhere_in_clear(
    intake: Intake,
    nats_client: NatsClient,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")  # every SQL statement and its parameters
    answers: list[str] = []

    case = await intake.register(
        identity=identity() | {"locality": LOCALITY},
        category="sexual_assault",
        minor=True,
        locality_code="SJP-KATRA-01",
    )
    case_id = case["case_id"]
    steps: list[tuple[str, dict[str, Any] | None]] = [
        ("first-contact", {"mode": "phone"}),
        ("notes", {"text": NOTE}),
        ("attachments", {"kind": "medical_report", "file": (FILENAME, XRAY, "application/pdf")}),
        ("awaiting-complainant", {"reason": "not_reachable", "remark": f"{PHONE} switched off"}),
        ("complainant-responded", None),
        ("resolve", {"outcome": "legal_aid_given", "feedback_rating": 5, "feedback": f"{NAME} is grateful"}),
    ]
    for command, body in steps:
        response = await intake.command(case_id, command, body)
        assert response.status_code == 200, response.text
        answers.append(response.text)
    # Refusals of requests full of identity data: they must not repeat it.
    for body in [
        complaint(identity=identity() | {"phone": f"{PHONE}-{NAME}"}),
        complaint(identity=identity() | {"name": NAME * 5}),
        complaint(district="NOWHERE", identity=identity()),
    ]:
        refused = await intake.client.post(
            "/api/intake/cases", json=body, headers=intake.as_(OFFICER, "leak")
        )
        assert refused.status_code == 422
        answers.append(refused.text)
    await intake.publish(
        "routing",
        "case",
        case_id,
        [
            routed_to_katra(case_id, "thana given"),
            CaseAssigned(
                case_id=case_id, officer="PNO152301", kendra="MSK-SJP-KATRA", reason="woman officer on duty"
            ),
        ],
        actor="routing",
    )
    due = intake.clock.now() + timedelta(hours=4)
    await intake.publish(
        "escalation",
        "case",
        case_id,
        [
            ClockStarted(
                case_id=case_id,
                clock="disposal",
                started_at=intake.clock.now(),
                due_at=due,
                policy_version="v1",
            ),
            SlaBreached(case_id=case_id, clock="disposal", due_at=due, breached_at=due),
            CaseEscalated(
                case_id=case_id, level=1, role=LadderRole.SHO, office_code="SJP-KATRA", reason="late"
            ),
        ],
        actor="escalation",
    )
    await intake.settled(case_id, lambda r: r["escalation_level"] == 1 and r["status"] == "resolved")

    # Before erasure the identity is there for an officer who may read it...
    shown = await intake.get(f"/cases/{case_id}/identity", purpose="contact_complainant")
    assert shown.json()["identity"]["name"] == NAME and shown.json()["identity"]["phone"] == PHONE
    assert shown.json()["identity"]["locality"] == LOCALITY  # her words about the place: sealed, not lost
    for path in [
        f"/cases/{case_id}",
        f"/cases/{case_id}/timeline",
        "/cases",
        "/counts",
        f"/cases/by-number/{case['case_number']}",
    ]:
        answers.append((await intake.get(path)).text)
    # Her earlier cases by her number, written three ways (the number goes in the body, never the URL).
    for written in (PHONE, f"+91 {PHONE[:5]}-{PHONE[5:]}", f"0{PHONE}"):
        searched = await intake.client.post(
            "/api/intake/cases/by-phone", json={"phone": written}, headers=intake.as_(OFFICER)
        )
        assert [c["case_id"] for c in searched.json()["cases"]] == [case_id], searched.text
        answers.append(searched.text)
    answers.append((await intake.client.get("/metrics")).text)

    # ...and nowhere else.
    found = [h for n, a in enumerate(answers) for h in hits(f"answer {n}", a)]
    raw = await stream_bytes(nats_client)
    assert {"INTAKE", "ROUTING", "ESCALATION"} <= {where.split("#")[0] for where, _ in raw}
    found += [h for where, blob in raw for h in hits(where, blob)]
    await intake.settled(case_id, lambda r: r["escalation_level"] == 1)
    tables = await table_rows(intake.database_url)
    assert any(t.endswith("_case") for t in tables) and any(t.endswith("_timeline") for t in tables)
    assert "intake_identity_key" in tables
    found += [h for table, dump in tables.items() for h in hits(f"table {table}", dump)]
    # Her number's blind index is in the register's own table, and in no stream.
    index = load_phone_index(Settings()).of(PHONE)
    assert (
        [t for t, dump in tables.items() if index in dump]
        == [t for t in tables if t.endswith("_phone_index") and case_id in tables[t]]
        != []
    )
    assert not [where for where, blob in raw if index.encode() in blob]
    captured = capsys.readouterr()
    assert "INSERT INTO" in caplog.text  # the SQL log really was captured
    found += hits("log records", caplog.text) + hits("stdout", captured.out) + hits("stderr", captured.err)
    found += hits("log records", json.dumps([r.getMessage() for r in caplog.records], ensure_ascii=False))
    assert found == []

    # After erasure, the sealed fields in the stream are unreadable by anyone.
    await intake.command(case_id, "erase-identity", {"legal_basis": "dpdp_request"}, principal=INCHARGE)
    assert (await intake.get(f"/cases/{case_id}/identity", purpose="contact_complainant")).status_code == 410
    files = (await intake.get(f"/cases/{case_id}/attachments")).json()["attachments"]
    assert len(files) == 1 and not files[0]["readable"]
    opened = await intake.get(
        f"/cases/{case_id}/attachments/{files[0]['attachment_id']}", purpose="contact_complainant"
    )
    assert opened.status_code == 410 and NAME not in opened.text
    desk_keys = KeyStore.open(intake.database_url, load_kek_ring(Settings()))
    try:
        assert await desk_keys.find(case_id) is None
    finally:
        await desk_keys.close()
    assert not [h for where, blob in await stream_bytes(nats_client) for h in hits(where, blob)]

    # Nothing links the case to her number any more: not a search, not a table, not a rebuild.
    async def unlinked() -> bool:
        dumps = await table_rows(intake.database_url)
        return not [t for t, dump in dumps.items() if index in dump]

    await eventually(unlinked, what="her number's index gone from every table")
    searched = await intake.client.post(
        "/api/intake/cases/by-phone", json={"phone": PHONE}, headers=intake.as_(OFFICER)
    )
    assert searched.json()["cases"] == []
    assert intake.runner.context is not None
    await intake.runner.context.projector("intake_cases").rebuild()
    assert await unlinked()


def test_a_command_carrying_her_words_shows_none_of_them_in_its_repr() -> None:
    """A command may reach a log or a traceback: her name, phone, statement, a note's or a remark's
    text and a file's name stay out of its repr and str."""
    words = ["Sunita Devi", "9876543210", "Mohalla Khirni Bagh", "he followed me", "a note", "scan.pdf"]
    complaint = Complaint(
        channel=Channel.WALK_IN, category=Category.DOMESTIC_VIOLENCE, district="SJP", circle=None,
        thana="SJP-KATRA", pincode=None, locality_code=None, minor=False, danger_now=False,
        language=Language.HINDI, consent_to_share=False,
    )  # fmt: skip
    case_id = "0" * 32
    commands = [
        RegisterComplaint(
            complaint=complaint,
            description=words[3],
            identity=Identity(
                name=words[0], phone=words[1], address=words[2], locality=words[2], statement=words[3]
            ),
        ),
        AddNote(case_id=case_id, text=words[4]),
        RecordAttachment(
            case_id=case_id, kind=AttachmentKind.OTHER, filename=words[5], content=f"%PDF-{words[3]}".encode()
        ),
        Close(case_id=case_id, reason=CloseReason.OTHER, remark=words[4]),
        Resolve(case_id=case_id, outcome=None, rating=None, feedback=words[4]),
    ]
    for command in commands:
        shown = repr(command) + str(command)
        assert type(command).__name__ in shown
        assert not [w for w in words if w in shown], shown
