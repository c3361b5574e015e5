"""The channels against real servers started by the tests: e-mail over SMTP to aiosmtpd, SMS to a local
HTTP gateway that fails, times out, then accepts; the delivery loop's retries, parking and retry, on
the in-memory store (the bus is not what these tests are about)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from functools import partial

from services.notifications.channels import Adapter, Contact, Outbox, SmsGateway, Smtp, Web
from services.notifications.domain import Notification, Preferences, Roster
from services.notifications.handlers import CaseEvents, Delivery, DeliveryFigures, InterruptedDeliveries
from services.notifications.messages import Names
from services.notifications.policy import DEFAULT_POLICY, Policy, load_policy, parse_policy
from shared.aggregate import Repository
from shared.clock import ManualClock
from shared.contracts.notifications import (
    NotificationChannel,
    NotificationFailed,
    NotificationRequested,
    NotificationRule,
    NotificationSent,
    PreferencesChanged,
    notification_id,
    preferences_id,
)
from shared.contracts.vocabulary import LadderRole
from shared.eventstore import CommandMeta
from shared.testing import MemoryEventStore, MemoryStreams

from .conftest import Gateway, Mailbox

AT = datetime(2026, 1, 12, 4, 30, tzinfo=UTC)
NAMES: Names = {"MSK-SJP-KATRA": ("केन्द्र कटरा", "Kendra Katra"), "SJP-KATRA": ("कटरा", "Katra")}
OFFICER = "officer:PNO100001"
CONTACTS = {OFFICER: Contact(email="incharge.katra@up.example", phone="+919000000001", language="hi")}


async def no_roster() -> Roster:
    return Roster()


def fast(attempts: int = 4, timeout: str = "1s") -> Policy:
    document = load_policy(DEFAULT_POLICY).model_dump(mode="json")
    document["delivery"] = {
        "attempts": attempts,
        "first_backoff": "0.01s",
        "backoff_factor": 2,
        "timeout": timeout,
    }
    return parse_policy(document)


def requested(channel: NotificationChannel, recipient: str = OFFICER) -> NotificationRequested:
    return NotificationRequested(
        notification_id=notification_id("cause-1", recipient, channel),
        rule=NotificationRule.DANGER_NOW,
        channel=channel,
        recipient=recipient,
        cause_id="cause-1",
        case_id="c1",
        case_number="SJP-2026-000042",
        district="SJP",
        thana="SJP-KATRA",
        kendra="MSK-SJP-KATRA",
        at=AT,
        urgent=True,
        role=LadderRole.KENDRA_INCHARGE,
        page_id="c1",
    )


class World:
    def __init__(self, policy: Policy, **adapters: Adapter) -> None:
        self.store = MemoryEventStore(MemoryStreams(), "notifications")
        self.figures: list[DeliveryFigures] = []
        self.clock = ManualClock(AT)
        self.seconds = 1000.0
        """The process's own clock (``time.monotonic`` in the service)."""
        channels: dict[NotificationChannel, Adapter] = {
            NotificationChannel.WEB: Web(),
            NotificationChannel.EMAIL: Outbox(),
            NotificationChannel.SMS: Outbox(),
        }
        channels |= {NotificationChannel(k): v for k, v in adapters.items()}

        async def names() -> Names:
            return NAMES

        self.delivery = Delivery(
            self.store,
            policy,
            channels,
            CONTACTS,
            names,
            self.clock,
            base_url="https://shakti.example",
            observe=self.figures.append,
            monotonic=lambda: self.seconds,
        )

    async def request(self, wanted: NotificationRequested) -> str:
        await Repository(self.store, Notification).execute(
            wanted.notification_id,
            lambda n: n.request(wanted, AT),
            CommandMeta(command_id=f"r:{wanted.notification_id}", actor="test"),
        )
        return wanted.notification_id

    async def events(self, notification: str) -> list[object]:
        return [e.event() for e in await self.store.load("notification", notification)]


async def test_email_goes_over_smtp_in_both_languages_with_a_stable_message_id(smtp_server: Mailbox) -> None:
    smtp = Smtp(smtp_server.host, smtp_server.port, "alerts@shakti.example", timeout=2)
    world = World(fast(), email=smtp)
    sent = await world.request(requested(NotificationChannel.EMAIL))
    assert await world.delivery.deliver(sent)
    [mail] = smtp_server.mails
    assert mail["To"] == "incharge.katra@up.example"
    assert mail["Message-ID"] == f"<{sent}@shakti.example>"
    assert "SJP-2026-000042" in str(mail["Subject"]) and "तत्काल खतरा" in str(mail["Subject"])
    body = mail.get_content()
    assert "मामला SJP-2026-000042, केन्द्र कटरा, थाना कटरा" in body
    assert "Case SJP-2026-000042, Kendra Katra, thana Katra" in body
    assert "12-01-2026 10:00 IST" in body and "https://shakti.example/cases/c1" in body
    [*_, last] = await world.events(sent)
    assert isinstance(last, NotificationSent) and last.via == "smtp" and last.attempts == 1
    # Asked again (a redelivered request), nothing goes out twice.
    assert await world.delivery.deliver(sent)
    assert len(smtp_server.mails) == 1


async def test_a_gateway_that_fails_3_times_then_accepts_delivers_exactly_once(gateway: Gateway) -> None:
    gateway.failures = 3
    sms = SmsGateway(gateway.url, "MSHAKT", timeout=1)
    world = World(fast(attempts=4), sms=sms)
    try:
        sent = await world.request(requested(NotificationChannel.SMS))
        assert await world.delivery.deliver(sent)
        assert await world.delivery.deliver(sent)  # a redelivery of the request changes nothing
    finally:
        await sms.close()
    assert len(gateway.requests) == 4 and len(gateway.accepted) == 1
    [accepted] = gateway.accepted
    assert accepted["reference"] == sent and accepted["to"] == "+919000000001"
    assert accepted["template_id"] == "1007000000000000002" and accepted["unicode"] is True
    assert "तत्काल खतरा" in accepted["text"]  # her language: Hindi, in Unicode
    history = await world.events(sent)
    failures = [e for e in history if isinstance(e, NotificationFailed)]
    assert [(f.attempt, f.reason, f.parked) for f in failures] == [
        (1, "http_503", False),
        (2, "http_503", False),
        (3, "http_503", False),
    ]
    assert [e.attempts for e in history if isinstance(e, NotificationSent)] == [4]
    assert [(f.channel, f.outcome) for f in world.figures] == [("sms", "sent")]


async def test_a_delivery_cut_short_is_taken_up_once_by_one_of_two_replicas_after_the_longest_try(
    gateway: Gateway,
) -> None:
    """A request stored by a process that stopped before handing it over (nobody sends it): once the
    read model has shown it unchanged for longer than any delivery runs, on the process's own clock,
    one replica records the try as interrupted and sends it; the other, looking at once, sends nothing.
    The service's clock leaping by days (a historical load) takes nothing for cut short."""
    sms = SmsGateway(gateway.url, "MSHAKT", timeout=1)
    world = World(fast(), sms=sms)
    stalled = await world.request(requested(NotificationChannel.SMS))

    async def waiting() -> list[tuple[str, str, int]]:
        history = await world.events(stalled)
        sent = any(isinstance(e, NotificationSent) for e in history)
        return [] if sent else [(stalled, "requested", len(history) - 1)]

    replicas = [InterruptedDeliveries(world.delivery, waiting) for _ in range(2)]
    try:
        assert [await r.resume_due() for r in replicas] == [0, 0]  # first seen now
        world.clock.advance(timedelta(days=2))
        world.seconds += world.delivery.cut_short_after - 1  # a running delivery may still be trying
        assert [await r.resume_due() for r in replicas] == [0, 0]
        world.seconds += 2
        assert sorted(await asyncio.gather(*(r.resume_due() for r in replicas))) == [0, 1]
        await world.delivery.settle()
        world.seconds += world.delivery.cut_short_after + 1
        assert [await r.resume_due() for r in replicas] == [0, 0]  # sent: nothing left to take up
    finally:
        await sms.close()
    assert [r["reference"] for r in gateway.accepted] == [stalled]
    history = await world.events(stalled)
    failures = [(e.attempt, e.reason, e.parked) for e in history if isinstance(e, NotificationFailed)]
    assert failures == [(1, "interrupted", False)]
    assert [e.attempts for e in history if isinstance(e, NotificationSent)] == [2]


async def test_a_delivery_held_up_past_its_time_leaves_the_message_and_a_stopping_one_starts_none() -> None:
    """A delivery whose try could end after the moment it would be taken for cut short sends nothing
    (the sweep takes it up, alone); once the service is stopping, nothing new is handed over."""
    world = World(fast())
    late = await world.request(requested(NotificationChannel.SMS))
    held_up_since = world.seconds - world.delivery.cut_short_after
    assert not await world.delivery.deliver(late, since=held_up_since)
    assert not [e for e in await world.events(late) if isinstance(e, NotificationSent | NotificationFailed)]
    await world.delivery.close(within=1)
    world.delivery.hand_over(late)
    assert not world.delivery.handing


async def test_a_request_stored_by_this_process_is_handed_over_and_a_repeat_is_not() -> None:
    """One sender per message: the process whose append stored the request delivers it; a redelivered
    cause, or another replica's identical page round, stores nothing and hands nothing over."""
    world = World(fast())
    handed: list[str] = []
    decisions = CaseEvents(
        world.store, fast(), no_roster, world.delivery.clock, hand_over=lambda i, _: handed.append(i)
    )
    wanted = [requested(NotificationChannel.SMS), requested(NotificationChannel.EMAIL)]
    await asyncio.gather(decisions.record(wanted), decisions.record(wanted))
    await decisions.record(wanted)
    assert sorted(handed) == sorted(w.notification_id for w in wanted)


async def test_a_gateway_that_hangs_is_a_timeout_and_the_next_try_goes_through(gateway: Gateway) -> None:
    gateway.failures, gateway.hang = 1, 2.0
    sms = SmsGateway(gateway.url, "MSHAKT", timeout=5)
    world = World(fast(attempts=2, timeout="0.3s"), sms=sms)
    try:
        sent = await world.request(requested(NotificationChannel.SMS))
        assert await world.delivery.deliver(sent)
    finally:
        await sms.close()
    reasons = [e.reason for e in await world.events(sent) if isinstance(e, NotificationFailed)]
    assert reasons == ["timeout"] and len(gateway.accepted) == 1


async def test_after_the_last_try_the_message_is_parked_and_a_retry_sends_it(gateway: Gateway) -> None:
    gateway.failures = 3
    sms = SmsGateway(gateway.url, "MSHAKT", timeout=1)
    world = World(fast(attempts=2), sms=sms)
    try:
        sent = await world.request(requested(NotificationChannel.SMS))
        assert not await world.delivery.deliver(sent)
        parked = [e for e in await world.events(sent) if isinstance(e, NotificationFailed)]
        assert [(f.attempt, f.parked) for f in parked] == [(1, False), (2, True)]
        assert [(f.channel, f.outcome) for f in world.figures] == [("sms", "parked")]
        # Parked, it is not sent again by a redelivery; the operator's retry (recorded first, by one
        # caller) gives it a fresh round of tries, the tries counted on.
        assert not await world.delivery.deliver(sent) and len(gateway.requests) == 2
        retried = CommandMeta(command_id=f"retry:{sent}", actor="ops")
        retry = partial(Notification.retry, by="ops", at=AT)
        assert await Repository(world.store, Notification).execute_once(sent, retry, retried)
        assert await world.delivery.deliver(sent)
    finally:
        await sms.close()
    assert len(gateway.accepted) == 1
    assert [e.attempts for e in await world.events(sent) if isinstance(e, NotificationSent)] == [4]


async def test_no_address_parks_at_once_and_unconfigured_channels_go_to_the_outbox(gateway: Gateway) -> None:
    sms = SmsGateway(gateway.url, "MSHAKT", timeout=1)
    world = World(fast(attempts=1), sms=sms)
    try:
        stranger = await world.request(requested(NotificationChannel.SMS, "officer:PNO999999"))
        assert not await world.delivery.deliver(stranger)
    finally:
        await sms.close()
    [failed] = [e for e in await world.events(stranger) if isinstance(e, NotificationFailed)]
    assert (failed.reason, failed.parked) == ("no_address", True) and gateway.requests == []
    outbox = World(fast())
    mailed = await outbox.request(requested(NotificationChannel.EMAIL))
    assert await outbox.delivery.deliver(mailed)
    [*_, last] = await outbox.events(mailed)
    assert isinstance(last, NotificationSent) and last.via == "outbox"


async def test_a_reader_who_chose_english_gets_english_first_by_email_and_english_by_sms(
    smtp_server: Mailbox, gateway: Gateway
) -> None:
    smtp = Smtp(smtp_server.host, smtp_server.port, "alerts@shakti.example", timeout=2)
    sms = SmsGateway(gateway.url, "MSHAKT", timeout=1)
    world = World(fast(), email=smtp, sms=sms)
    try:
        await Repository(world.store, Preferences).execute(
            preferences_id(OFFICER),
            lambda p: p.change(PreferencesChanged(recipient=OFFICER, language="en")),
            CommandMeta(command_id="prefs", actor="test"),
        )
        assert await world.delivery.deliver(await world.request(requested(NotificationChannel.EMAIL)))
        assert await world.delivery.deliver(await world.request(requested(NotificationChannel.SMS)))
    finally:
        await sms.close()
    [mail] = smtp_server.mails
    assert str(mail["Subject"]).startswith("URGENT: Danger now: SJP-2026-000042 / अति आवश्यक")
    body = mail.get_content()
    assert body.index("Case SJP-2026-000042") < body.index("मामला SJP-2026-000042")
    [text] = [m["text"] for m in gateway.accepted]
    assert text.startswith("URGENT: Danger now. Case SJP-2026-000042") and "मामला" not in text
    assert [m["unicode"] for m in gateway.accepted] == [False]
