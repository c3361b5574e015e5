"""A complainant's SMS end to end on a real NATS server (issue 17): intake registers her with her
consent, notifications decides the message (never holding her phone), intake alone opens the phone and
hands the SMS to the gateway (the tests' local HTTP server), exactly once through the gateway's
failures, records the outcome without the phone, and notifications shows it sent. Nothing after she
withdraws her consent, nothing once her identity is erased, nothing at all without consent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from nats.aio.client import Client as NatsClient

from services.intake.main import Intake as IntakeInstance
from services.intake.tests.conftest import (
    INCHARGE,
    OFFICER,
    Intake,
    import_jurisdiction,
    places_known,
    running_intake,
)
from services.notifications.main import build_service
from shared.auth import Principal
from shared.clock import ManualClock
from shared.contracts.intake import ComplainantMessageSent
from shared.contracts.notifications import NotificationFailed, NotificationRequested, NotificationSent
from shared.events import Envelope, Event
from shared.roles import Role
from shared.runtime import ServiceRunner, build_app
from shared.settings import Settings
from tests.sessions import SignedCallers, keys_for_tests
from tests.waiting import eventually

from .conftest import Gateway, witness
from .identity import ADDRESS, NAME, PHONE, STORY

KATRA_PHONE = "+915842000111"


@dataclass
class Platform:
    intake: Intake
    notifications: httpx.AsyncClient
    callers: SignedCallers


@contextlib.asynccontextmanager
async def intake_and_notifications(
    nc: NatsClient, nats_url: str, database_url: str, tmp_path: Path, env: pytest.MonkeyPatch
) -> AsyncIterator[Platform]:
    """Intake and notifications beside it (its own database and HTTP app); the Katra Kendra's phone in
    notifications' contacts file."""
    contacts = {"kendra:MSK-SJP-KATRA": {"phone": KATRA_PHONE}}
    (tmp_path / "contacts.yaml").write_text(yaml.safe_dump({"contacts": contacts}))
    env.setenv("SHAKTI_NOTIFICATIONS_CONTACTS", str(tmp_path / "contacts.yaml"))
    await import_jurisdiction(nc)
    clock, settings, callers = (
        ManualClock(),
        Settings(keys_dir=keys_for_tests(), data_dir=tmp_path),
        SignedCallers(),
    )
    notifications = ServiceRunner(
        build_service(poll_seconds=0.05),
        settings,
        nats_url=nats_url,
        clock=clock,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'notifications.db'}",
    )
    app = build_app([notifications], settings, directory=callers.directory)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://notifications.test") as client,
            running_intake(nc, nats_url, database_url, clock=clock) as intake,
        ):
            await places_known(intake)
            yield Platform(intake, client, callers)


@pytest.fixture
async def platform(
    nats_client: NatsClient,
    nats_url: str,
    sqlite_url: str,
    tmp_path: Path,
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Intake]:
    """Intake sending SMS through the gateway."""
    monkeypatch.setenv("SHAKTI_INTAKE_SMS_URL", gateway.url)
    async with intake_and_notifications(nats_client, nats_url, sqlite_url, tmp_path, monkeypatch) as both:
        yield both.intake


async def stream(nc: NatsClient, name: str) -> list[Envelope]:
    js = nc.jetstream()
    last = (await js.stream_info(name)).state.last_seq
    return [
        Envelope.model_validate_json((await js.get_msg(name, seq)).data or b"{}")
        for seq in range(1, last + 1)
    ]


async def events(nc: NatsClient, name: str) -> list[Event]:
    return [envelope.event() for envelope in await stream(nc, name)]


def identity() -> dict[str, str]:
    return {"name": NAME, "phone": PHONE, "address": ADDRESS, "statement": STORY}


async def test_intake_sends_her_sms_once_through_failures_and_nothing_after_withdrawal_or_erasure(
    platform: Intake, gateway: Gateway
) -> None:
    intake, nc = platform, platform.nc
    gateway.failures = 2  # the gateway fails twice, then takes it: sent exactly once
    agreed = (await intake.register(consent_to_messages=True, language="en", identity=identity()))["case_id"]
    unasked = (await intake.register(identity=identity()))["case_id"]

    async def receipt_taken() -> bool:
        return len(gateway.accepted) == 1

    await eventually(receipt_taken, 20, "her receipt accepted by the gateway")
    [receipt] = gateway.accepted
    assert receipt["to"] == PHONE and receipt["unicode"] is False  # her language: English
    assert KATRA_PHONE in receipt["text"] and "Mission Shakti Kendra Katra" in receipt["text"]
    assert receipt["template_id"] == "1007000000000000007"
    assert len(gateway.requests) == 3 and {r["reference"] for r in gateway.requests} == {receipt["reference"]}

    async def shown_sent() -> bool:
        return any(isinstance(e, NotificationSent) for e in await events(nc, "NOTIFICATIONS"))

    await eventually(shown_sent, 10, "notifications recording it sent from intake's outcome")
    [sent] = [e for e in await events(nc, "INTAKE") if isinstance(e, ComplainantMessageSent)]
    assert sent.notification_id == receipt["reference"] and sent.attempts == 3
    # The same request handed over again (a redelivery, another replica): nothing goes twice.
    [request] = [
        e for e in await events(nc, "NOTIFICATIONS")
        if isinstance(e, NotificationRequested) and e.notification_id == sent.notification_id
    ]  # fmt: skip
    instance = intake.runner.instance
    assert isinstance(instance, IntakeInstance)
    await instance.complainants.deliver(request)
    assert len(gateway.requests) == 3

    # A status change: told once more. Then she withdraws: nothing after.
    for case_id in (agreed, unasked):
        moved = await intake.command(case_id, "first-contact", {"mode": "phone"})
        assert moved.status_code == 200, moved.text
    await eventually(lambda: _count(gateway, 2), 20, "her status SMS")
    assert "In progress" in gateway.accepted[1]["text"]
    assert (await intake.command(agreed, "withdraw-messages-consent")).status_code == 200
    await intake.command(agreed, "resolve", {"outcome": "counselled_reconciled"})
    await intake.command(unasked, "resolve", {"outcome": "counselled_reconciled"})

    # Another who agreed, then had her identity erased: her receipt, and nothing after the erasure.
    erased = (await intake.register(consent_to_messages=True, identity=identity()))["case_id"]
    await eventually(lambda: _count(gateway, 3), 20, "the second receipt")
    assert gateway.accepted[2]["unicode"] is True  # Hindi
    erasure = {"legal_basis": "dpdp_request"}
    assert (await intake.command(erased, "erase-identity", erasure, principal=INCHARGE)).status_code == 200
    assert (
        await intake.command(erased, "first-contact", {"mode": "phone"}, principal=OFFICER)
    ).status_code == 200
    await asyncio.sleep(1.5)  # thirty polls of every reaction: time enough for a message that should not go
    assert len(gateway.accepted) == 3, gateway.accepted[3:]
    requested = [e for e in await events(nc, "NOTIFICATIONS") if isinstance(e, NotificationRequested)]
    assert {r.case_id for r in requested if r.recipient.startswith("complainant:")} == {agreed, erased}
    # Her phone reached the gateway only: no event of either stream holds it, her name or her story.
    for name in ("INTAKE", "NOTIFICATIONS"):
        for envelope in await stream(nc, name):
            raw = envelope.model_dump_json()
            assert PHONE not in raw and NAME not in raw and STORY not in raw, (name, envelope.event_type)


async def _count(gateway: Gateway, count: int) -> bool:
    return len(gateway.accepted) >= count


async def test_without_a_gateway_her_sms_goes_to_the_outbox_in_her_words_and_nowhere_else(
    nats_client: NatsClient, nats_url: str, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``make run``: no gateway configured; the outbox page shows what would have been sent to her."""
    monkeypatch.delenv("SHAKTI_INTAKE_SMS_URL", raising=False)
    async with intake_and_notifications(nats_client, nats_url, sqlite_url, tmp_path, monkeypatch) as both:
        intake = both.intake
        case_id = (await intake.register(consent_to_messages=True, identity=identity()))["case_id"]
        assert (await intake.command(case_id, "first-contact", {"mode": "phone"})).status_code == 200
        operator = both.callers.headers(Principal(username="ops", role=Role.OPERATOR))
        shown: list[dict[str, Any]] = []

        async def outboxed() -> bool:
            answer = await both.notifications.get("/api/notifications/outbox", headers=operator)
            shown[:] = [m for m in answer.json()["messages"] if m["recipient"] == f"complainant:{case_id}"]
            return len(shown) == 2

        await eventually(outboxed, 20, "her receipt and her status SMS in the outbox")
        texts = {m["rule"]["code"]: m["text"] for m in shown}
        for text in texts.values():
            witness("outbox", f"{text['en']}\n{text['hi']}")
            assert KATRA_PHONE in text["en"] and KATRA_PHONE in text["hi"] and "1090" in text["hi"]
        assert "registered" in texts["complainant_receipt"]["en"]
        assert "In progress" in texts["complainant_status"]["en"]
        assert "कार्यवाही जारी" in texts["complainant_status"]["hi"]

        # One who agreed but gave no phone: parked by intake with its reason; an operator's retry goes back
        # to intake (notifications holds no phone to send it to), which parks it again for that reason.
        phoneless = {"name": NAME, "address": ADDRESS, "statement": STORY}
        lost = (await intake.register(consent_to_messages=True, identity=phoneless))["case_id"]

        async def parked() -> list[NotificationFailed]:
            return [
                e
                for e in await events(nats_client, "NOTIFICATIONS")
                if isinstance(e, NotificationFailed) and e.parked
            ]

        async def any_parked() -> bool:
            return bool(await parked())

        await eventually(any_parked, 20, "her receipt parked")
        [failed] = await parked()
        assert failed.reason == "no_phone"
        retried = await both.notifications.post(
            f"/api/notifications/{failed.notification_id}/retry", headers=operator
        )
        assert retried.status_code == 200, retried.text
        assert retried.json()["outcome"] == "to_intake" and retried.json()["sent"] is False

        async def parked_again() -> bool:
            return len(await parked()) == 2

        await eventually(parked_again, 20, "her receipt parked again by intake")
        after = [
            type(e).__name__
            for e in await events(nats_client, "NOTIFICATIONS")
            if getattr(e, "notification_id", None) == failed.notification_id
        ]
        assert after == [
            "NotificationRequested",
            "NotificationFailed",
            "NotificationRetried",
            "NotificationFailed",
        ]
        assert (await parked())[-1].reason == "no_phone"
        timeline = (await intake.get(f"/cases/{lost}/timeline")).json()["entries"]
        assert any("no_phone" in entry["text_en"] for entry in timeline), timeline
        told = (await intake.get(f"/cases/{case_id}/timeline")).json()["entries"]
        assert any("handed to the outbox (no gateway" in e["text_en"] for e in told), told
        assert any("आउटबॉक्स" in e["text_hi"] for e in told), told


async def test_an_operator_s_retry_sends_her_parked_sms_once_through_intake(
    nats_client: NatsClient,
    nats_url: str,
    sqlite_url: str,
    tmp_path: Path,
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A gateway down through all of intake's tries parks her receipt; ``shakti notifications retry``
    (the operator's API) hands it back to intake, which alone can open her phone: sent once, shown sent."""
    gateway.failures = 4  # every try of the first round
    monkeypatch.setenv("SHAKTI_INTAKE_SMS_URL", gateway.url)
    async with intake_and_notifications(nats_client, nats_url, sqlite_url, tmp_path, monkeypatch) as both:
        intake, nc = both.intake, both.intake.nc
        await intake.register(consent_to_messages=True, language="en", identity=identity())
        operator = both.callers.headers(Principal(username="ops", role=Role.OPERATOR))
        parked: list[dict[str, Any]] = []

        async def shown_parked() -> bool:
            answer = await both.notifications.get("/api/notifications/parked", headers=operator)
            parked[:] = answer.json()["messages"]
            return bool(parked)

        await eventually(shown_parked, 40, "her receipt parked after the gateway's failures")
        assert gateway.accepted == [] and len(gateway.requests) == 4
        [message] = parked
        retried = await both.notifications.post(
            f"/api/notifications/{message['notification_id']}/retry", headers=operator
        )
        assert retried.status_code == 200, retried.text
        await eventually(lambda: _count(gateway, 1), 20, "her receipt taken on the operator's retry")

        async def shown_sent() -> bool:
            return any(isinstance(e, NotificationSent) for e in await events(nc, "NOTIFICATIONS"))

        await eventually(shown_sent, 10, "notifications recording it sent")

        async def none_parked() -> bool:
            answer = await both.notifications.get("/api/notifications/parked", headers=operator)
            return not answer.json()["messages"]

        await eventually(none_parked, 10, "her receipt no longer shown parked")
        # The same retry asked again: nothing goes twice.
        again = await both.notifications.post(
            f"/api/notifications/{message['notification_id']}/retry", headers=operator
        )
        assert again.status_code == 200, again.text
        await asyncio.sleep(1.0)
        assert len(gateway.accepted) == 1 and len(gateway.requests) == 5


NIGHT = datetime(2026, 1, 10, 17, 30, tzinfo=UTC)  # 23:00 IST
MORNING = datetime(2026, 1, 11, 2, 30, tzinfo=UTC)  # 08:00 IST


async def test_her_status_sms_at_night_goes_once_after_0800_ist_in_the_same_words_her_receipt_at_once(
    nats_client: NatsClient,
    nats_url: str,
    sqlite_url: str,
    tmp_path: Path,
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 23:00 IST: her receipt goes at once (a danger-now one too); her case's first contact is
    requested with ``not_before`` 08:00 IST, shown held until then (IST, labelled), not sent at 07:59,
    and sent once after 08:00 by intake, released by notifications' quiet-hours worker with nobody
    acting. Nothing ever for the complainant who did not consent."""
    monkeypatch.setenv("SHAKTI_INTAKE_SMS_URL", gateway.url)
    async with intake_and_notifications(nats_client, nats_url, sqlite_url, tmp_path, monkeypatch) as both:
        intake, nc, clock = both.intake, both.intake.nc, both.intake.clock
        clock.set(NIGHT)
        agreed = (await intake.register(consent_to_messages=True, language="en", identity=identity()))[
            "case_id"
        ]
        await intake.register(consent_to_messages=True, language="en", danger_now=True, identity=identity())
        unasked = (await intake.register(identity=identity()))["case_id"]
        await eventually(lambda: _count(gateway, 2), 20, "both receipts at once, at 23:00 IST")
        for case_id in (agreed, unasked):
            moved = await intake.command(case_id, "first-contact", {"mode": "phone"})
            assert moved.status_code == 200, moved.text
        operator = both.callers.headers(Principal(username="ops", role=Role.OPERATOR))
        shown: list[dict[str, Any]] = []

        async def shown_held() -> bool:
            answer = await both.notifications.get("/api/notifications/outbox", headers=operator)
            shown[:] = [m for m in answer.json()["messages"] if m["status"] == "held"]
            return bool(shown)

        await eventually(shown_held, 20, "her status SMS shown held")
        [held] = shown
        assert held["recipient"] == f"complainant:{agreed}"
        assert held["held_until"] == {
            "en": "Held until 11-01-2026 08:00 IST",
            "hi": "11-01-2026 08:00 IST तक रोका गया",
        }
        [request] = [
            e for e in await events(nc, "NOTIFICATIONS")
            if isinstance(e, NotificationRequested) and e.case_status is not None
        ]  # fmt: skip
        assert request.not_before == MORNING and request.case_id == agreed
        await asyncio.sleep(1.0)  # twenty polls of every reaction: time enough for a message that should wait
        assert len(gateway.accepted) == 2

        clock.set(MORNING - timedelta(minutes=1))
        await asyncio.sleep(0.5)
        assert len(gateway.accepted) == 2
        clock.set(MORNING + timedelta(seconds=1))
        await eventually(lambda: _count(gateway, 3), 20, "her status SMS after 08:00 IST")
        status = gateway.accepted[2]
        # The words decided at 23:00, the time in them the change's.
        assert status["text"] == held["text"]["en"] and "In progress" in status["text"]
        assert "(10-01-2026 23:00 IST)" in status["text"] and status["reference"] == request.notification_id
        await asyncio.sleep(1.0)
        assert len(gateway.accepted) == 3 and len(gateway.requests) == 3
        told = [e for e in await events(nc, "NOTIFICATIONS") if isinstance(e, NotificationRequested)]
        assert {r.case_id for r in told if r.recipient.startswith("complainant:")} == {
            agreed,
            *(r.case_id for r in told if r.rule.value == "complainant_receipt"),
        } and unasked not in {r.case_id for r in told}
        # Every record of her messages carries the service's time, not the wall clock's: a history loaded
        # on a historical clock was stamped with today (found by the fast load's comparison; failed first).
        for name in ("NOTIFICATIONS", "INTAKE"):
            assert {e.occurred_at.date() for e in await stream(nc, name)} <= {NIGHT.date(), MORNING.date()}, (
                name
            )
