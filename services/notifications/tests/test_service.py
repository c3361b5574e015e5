"""The notifications service on a real NATS server and database, intake, routing, escalation and the user
directory played by appending their contract events to their own streams: a danger-now case pages the
Kendra in-charge and the SHO within a second, again after the repeat interval, and no more once one of
them acknowledges; an escalation reaches whoever holds the level now; two replicas send nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from nats.aio.client import Client as NatsClient

from services.notifications.main import build_service
from services.notifications.messages import compose
from services.notifications.policy import DEFAULT_POLICY, load_policy
from shared.auth import Principal
from shared.clock import ManualClock
from shared.contracts.escalation import CaseEscalated
from shared.contracts.intake import (
    CaseRegistered,
    CaseResolved,
    FirstContactMade,
    IdentityErased,
    MessagesConsentWithdrawn,
)
from shared.contracts.notifications import (
    NotificationChannel,
    NotificationDeferred,
    NotificationFailed,
    NotificationRequested,
    NotificationRule,
    NotificationSent,
    notification_id,
)
from shared.contracts.routing import (
    CaseAssigned,
    CaseRouted,
    KendraDefined,
    OfficerDutyChanged,
    OfficerPosted,
    ThanaDefined,
)
from shared.contracts.training import TrainingOverdue
from shared.contracts.users import UserAdded
from shared.contracts.vocabulary import CaseStatus, Category, Channel, DutyStatus, LadderRole, Priority
from shared.directory import account_id
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, EventStore
from shared.roles import Role
from shared.runtime import ServiceRunner, build_app
from shared.settings import Settings
from tests.sessions import SignedCallers, keys_for_tests
from tests.waiting import eventually

from .conftest import Gateway, Mailbox, witness
from .identity import NAME, PHONE

START = datetime(2026, 1, 12, 4, 30, tzinfo=UTC)
KATRA = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}
INCHARGE = Principal(
    username="incharge.katra", role=Role.KENDRA_INCHARGE, service_number="PNO100001", **KATRA
)
SHO = Principal(username="sho.katra", role=Role.SHO, service_number="PNO300001", **KATRA)
OFFICER = Principal(username="officer.katra", role=Role.KENDRA_OFFICER, service_number="PNO100002", **KATRA)
API = "/api/notifications"


@dataclass
class World:
    nats_url: str
    nc: NatsClient
    database_url: str
    settings: Settings
    clock: ManualClock = field(default_factory=lambda: ManualClock(START))
    callers: SignedCallers = field(default_factory=SignedCallers)
    runners: list[ServiceRunner] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stores = {
            s: EventStore(self.nc, s) for s in ("intake", "routing", "escalation", "training", "users")
        }
        self.notifications = EventStore(self.nc, "notifications")

    def runner(self, policy_file: Path | None = None) -> ServiceRunner:
        runner = ServiceRunner(
            build_service(policy_file, poll_seconds=0.05, base_url="https://shakti.example"),
            self.settings,
            nats_url=self.nats_url,
            clock=self.clock,
            database_url=self.database_url,
        )
        self.runners.append(runner)
        return runner

    @contextlib.asynccontextmanager
    async def http(self) -> AsyncIterator[httpx.AsyncClient]:
        app = build_app([self.runner()], self.settings, directory=self.callers.directory)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                yield client

    async def append(self, service: str, aggregate: str, aggregate_id: str, event: Event) -> Envelope:
        store = self.stores[service]
        history = await store.load(aggregate, aggregate_id)
        last = history[-1] if history else None
        [stored] = await store.append(
            aggregate,
            aggregate_id,
            [event],
            expected_sequence=last.sequence if last else 0,
            expected_version=last.aggregate_version if last else 0,
            meta=CommandMeta(command_id=uuid.uuid4().hex, actor="test", occurred_at=self.clock.now()),
        )
        return stored

    async def append_own(self, notification: str, event: Event) -> None:
        """An event of this service's stream, as a process of it would have stored it."""
        await self.notifications.append(
            "notification",
            notification,
            [event],
            expected_sequence=0,
            expected_version=0,
            meta=CommandMeta(
                command_id=uuid.uuid4().hex, actor="notifications", occurred_at=self.clock.now()
            ),
        )

    async def katra(self) -> None:
        """The thana and its Kendra, the in-charge and an officer on duty, the SHO in the directory."""
        await self.append(
            "routing", "district", "SJP",
            ThanaDefined(code="SJP-KATRA", district="SJP", circle="SJP-TILHAR", name_hi="कटरा", name_en="Katra"),
        )  # fmt: skip
        await self.append(
            "routing", "district", "SJP",
            KendraDefined(
                code="MSK-SJP-KATRA", thana="SJP-KATRA", district="SJP", circle="SJP-TILHAR",
                name_hi="मिशन शक्ति केन्द्र कटरा", name_en="Mission Shakti Kendra Katra",
            ),
        )  # fmt: skip
        for who, incharge in ((INCHARGE, True), (OFFICER, False)):
            assert who.service_number
            await self.append(
                "routing", "officer", who.service_number,
                OfficerPosted(
                    service_number=who.service_number, kendra="MSK-SJP-KATRA", thana="SJP-KATRA",
                    circle="SJP-TILHAR", district="SJP", incharge=incharge,
                ),
            )  # fmt: skip
        await self.enrol(SHO)

    async def enrol(self, who: Principal) -> None:
        await self.append(
            "users", "user", account_id(who.username),
            UserAdded(
                username=who.username, role=who.role.value, service_number=who.service_number,
                district=who.district, circle=who.circle, thana=who.thana,
            ),
        )  # fmt: skip

    async def register(
        self, *, danger_now: bool, thana: str | None = "SJP-KATRA", consent_to_messages: bool = False
    ) -> str:
        case_id = uuid.uuid4().hex
        await self.append(
            "intake", "case", case_id,
            CaseRegistered(
                case_number=f"SJP-2026-{uuid.uuid4().int % 1_000_000:06d}", channel=Channel.EMERGENCY_112,
                category=Category.SEXUAL_ASSAULT, priority=Priority.P1, danger_now=danger_now, minor=False,
                district="SJP", thana=thana, registered_by="PNO100001", language="en",
                consent_to_messages=consent_to_messages, sealed_identity="WmFybmlnYXIgVnlvbWtlc2ggUXVpbGxmZWF0aGVy",
            ),
        )  # fmt: skip
        return case_id

    async def requested(self) -> list[NotificationRequested]:
        return [e for e in await self.own() if isinstance(e, NotificationRequested)]

    async def own(self) -> list[Event]:
        js = self.nc.jetstream()
        last = (await js.stream_info("NOTIFICATIONS")).state.last_seq
        found = []
        for seq in range(1, last + 1):
            message = await js.get_msg("NOTIFICATIONS", seq)
            envelope = Envelope.model_validate_json(message.data or b"{}")
            found.append(envelope.event())
        return found

    async def roster_known(self, runner: ServiceRunner, officers: int = 2, holders: int = 1) -> None:
        assert runner.context is not None
        board = runner.context.projector("notification_board")

        async def known() -> bool:
            async with board.sessions() as session:
                o = len((await session.execute(board.tables.officer.select())).all())
                h = len((await session.execute(board.tables.holder.select())).all())
                return o >= officers and h >= holders

        await eventually(known, 20, "the roster in the read model")


@pytest.fixture
async def world(
    nats_client: NatsClient, nats_url: str, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    found = World(nats_url, nats_client, sqlite_url, Settings(keys_dir=keys_for_tests(), data_dir=tmp_path))
    for store in (*found.stores.values(), found.notifications):
        await store.ensure_stream()
    try:
        yield found
    finally:
        for runner in found.runners:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.stop(), 30)


def mine(answer: httpx.Response) -> list[dict[str, object]]:
    assert answer.status_code == 200, answer.text
    found: list[dict[str, object]] = answer.json()["notifications"]
    for row in found:
        text = row["text"]
        assert isinstance(text, dict)
        witness("web", f"{text['en']}\n{text['hi']}")
    return found


async def test_danger_now_pages_incharge_and_sho_at_once_repeats_and_stops_on_acknowledgement(
    world: World,
) -> None:
    await world.katra()
    async with world.http() as client:
        await world.roster_known(world.runners[0])
        started = time.perf_counter()
        case_id = await world.register(danger_now=True)

        async def paged() -> bool:
            sent = {(r.recipient, r.channel.value) for r in await world.requested() if r.page_id == case_id}
            return {("officer:PNO100001", "web"), ("officer:PNO300001", "web")} <= sent

        await eventually(paged, 10, "the first round of the page")
        took = time.perf_counter() - started
        assert took < 1.0, f"paged after {took:.2f}s"
        first = [r for r in await world.requested() if r.page_id == case_id]
        assert {(r.recipient, r.channel.value, r.round) for r in first} == {
            (who, channel, 1)
            for who in ("officer:PNO100001", "officer:PNO300001")
            for channel in ("web", "sms", "email")
        }

        async def listed(who: Principal, count: int) -> list[dict[str, object]]:
            rows: list[dict[str, object]] = []

            async def there() -> bool:
                nonlocal rows
                rows = mine(await client.get(f"{API}/mine", headers=world.callers.headers(who)))
                return len(rows) >= count

            await eventually(there, 10, f"{count} notifications for {who.username}")
            return rows

        [sho_first] = await listed(SHO, 1)
        assert sho_first["urgent"] and sho_first["case_number"]
        text = sho_first["text"]
        assert (
            isinstance(text, dict)
            and "Mission Shakti Kendra Katra" in text["en"]
            and "तत्काल खतरा" in text["hi"]
        )
        assert (await client.get(f"{API}/unread", headers=world.callers.headers(SHO))).json() == {"unread": 1}
        # The e-mail and SMS went to the outbox (no channel configured): shown, sent nowhere.
        await eventually(lambda: _outboxed(client, world, 4), 10, "e-mail and SMS of both in the outbox")

        # Five minutes on, nobody has acknowledged: the second round.
        world.clock.advance(timedelta(minutes=5, seconds=1))

        async def second_round() -> bool:
            return any(r.round == 2 for r in await world.requested() if r.page_id == case_id)

        await eventually(second_round, 10, "the second round")
        assert len(await listed(INCHARGE, 2)) == 2

        # The SHO acknowledges the latest: the page stops.
        latest = (await listed(SHO, 2))[0]
        acked = await client.post(
            f"{API}/{latest['notification_id']}/acknowledge", headers=world.callers.headers(SHO)
        )
        assert acked.status_code == 200 and acked.json()["acknowledged"], acked.text
        # Someone else's notification cannot be acknowledged by the SHO.
        theirs = (await listed(INCHARGE, 2))[0]
        refused = await client.post(
            f"{API}/{theirs['notification_id']}/acknowledge", headers=world.callers.headers(SHO)
        )
        assert refused.status_code == 409 and refused.json()["detail"]["code"] == "not_yours"

        async def stopped() -> bool:
            runner = world.runners[0]
            assert runner.context is not None
            board = runner.context.projector("notification_board")
            async with board.sessions() as session:
                row = (await session.execute(board.tables.page.select())).first()
                return bool(row and row.acknowledged)

        await eventually(stopped, 10, "the page marked acknowledged")
        before = len(await world.requested())
        world.clock.advance(timedelta(minutes=10))
        await asyncio.sleep(0.5)  # ten page-worker polls
        assert len(await world.requested()) == before, "a round after the acknowledgement"
        assert (await client.get(f"{API}/unread", headers=world.callers.headers(SHO))).json() == {"unread": 1}


async def _outboxed(client: httpx.AsyncClient, world: World, count: int) -> bool:
    answer = await client.get(
        f"{API}/outbox", headers=world.callers.headers(Principal(username="ops", role=Role.OPERATOR))
    )
    messages = answer.json()["messages"]
    for m in messages:
        witness("outbox", f"{m['text']['en']}\n{m['text']['hi']}")
    return len(messages) >= count


async def test_an_escalation_reaches_whoever_holds_the_level_now_and_an_assignment_the_officer(
    world: World,
) -> None:
    await world.katra()
    relief = Principal(username="sho2.katra", role=Role.SHO, service_number="PNO300009", **KATRA)
    await world.enrol(relief)
    # The SHO is on leave (the roster knows their service number): the relieving SHO is told.
    await world.append(
        "routing",
        "officer",
        "PNO300001",
        OfficerDutyChanged(service_number="PNO300001", status=DutyStatus.ON_LEAVE),
    )
    async with world.http() as client:
        runner = world.runners[0]
        await world.roster_known(runner, officers=3, holders=2)
        case_id = await world.register(danger_now=False)
        await world.append(
            "routing", "case", case_id,
            CaseRouted(case_id=case_id, district="SJP", circle="SJP-TILHAR", thana="SJP-KATRA", kendra="MSK-SJP-KATRA", reason="thana"),
        )  # fmt: skip
        await world.append(
            "routing", "case", case_id,
            CaseAssigned(case_id=case_id, officer="PNO100002", kendra="MSK-SJP-KATRA", reason="on duty"),
        )  # fmt: skip
        await world.append(
            "escalation", "case", case_id,
            CaseEscalated(case_id=case_id, level=2, role=LadderRole.SHO, office_code="SJP-KATRA", reason="breach:first_contact"),
        )  # fmt: skip

        async def told() -> bool:
            rules = {(r.rule.value, r.recipient) for r in await world.requested() if r.channel.value == "web"}
            return {("assigned", "officer:PNO100002"), ("escalation", "officer:PNO300009")} <= rules

        await eventually(told, 10, "the officer and the relieving SHO told")
        assert not [r for r in await world.requested() if r.recipient == "officer:PNO300001"]
        assert not [r for r in await world.requested() if r.page_id], "a page for a case not in danger now"

        async def officer_sees_it() -> bool:
            rows = mine(await client.get(f"{API}/mine", headers=world.callers.headers(OFFICER)))
            return [r["rule"]["code"] for r in rows] == ["assigned"]  # type: ignore[index]

        await eventually(officer_sees_it, 10, "the assignment in the officer's list")


async def test_two_replicas_send_nothing_twice(
    world: World,
    gateway: Gateway,
    smtp_server: Mailbox,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Counted where it matters, at the channels: a real SMS gateway and SMTP server shared by both
    replicas receive each message once (the stream alone would not show a message sent twice: the
    second ``NotificationSent`` is refused by the aggregate)."""
    contacts = {
        "officer:PNO100001": {"email": "incharge.katra@up.example", "phone": "+919800000001"},
        "officer:PNO300001": {"email": "sho.katra@up.example", "phone": "+919800000003"},
    }
    (tmp_path / "contacts.yaml").write_text(yaml.safe_dump({"contacts": contacts}))
    monkeypatch.setenv("SHAKTI_NOTIFICATIONS_CONTACTS", str(tmp_path / "contacts.yaml"))
    monkeypatch.setenv("SHAKTI_NOTIFICATIONS_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("SHAKTI_NOTIFICATIONS_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv("SHAKTI_NOTIFICATIONS_SMS_URL", gateway.url)
    await world.katra()
    first, second = world.runner(), world.runner()
    await first.start()
    await second.start()
    await world.roster_known(first)
    await world.roster_known(second)
    cases = [await world.register(danger_now=True) for _ in range(5)]

    async def all_sent() -> bool:
        sent = {e.notification_id for e in await world.own() if isinstance(e, NotificationSent)}
        wanted = {r.notification_id for r in await world.requested() if r.page_id in cases}
        return len(wanted) == 5 * 6 and wanted <= sent

    await eventually(all_sent, 20, "every notification of five pages sent")
    events = await world.own()
    requested = [e.notification_id for e in events if isinstance(e, NotificationRequested)]
    sent = [e.notification_id for e in events if isinstance(e, NotificationSent)]
    assert len(requested) == len(set(requested)) and len(sent) == len(set(sent))
    # Both replicas' page workers look at the same due pages: the second round is asked for once.
    world.clock.advance(timedelta(minutes=5, seconds=1))

    async def second_rounds() -> bool:
        return len([r for r in await world.requested() if r.round == 2]) == 5 * 6

    await eventually(second_rounds, 20, "second rounds")
    await asyncio.sleep(0.3)
    again = [e.notification_id for e in await world.own() if isinstance(e, NotificationRequested)]
    assert len(again) == len(set(again)) == 5 * 6 * 2

    async def all_handed_over() -> bool:
        return len(gateway.requests) >= 5 * 2 * 2 and len(smtp_server.mails) >= 5 * 2 * 2

    await eventually(all_handed_over, 20, "both rounds' SMS and e-mails at their servers")
    await asyncio.sleep(0.3)
    texts = [r["reference"] for r in gateway.requests]
    mails = [str(m["Message-ID"]) for m in smtp_server.mails]
    assert len(texts) == len(set(texts)) == 5 * 2 * 2, "an SMS was handed to the gateway twice"
    assert len(mails) == len(set(mails)) == 5 * 2 * 2, "an e-mail was handed to the SMTP server twice"
    assert all(NAME not in str(e) and PHONE not in str(e) for e in await world.own())


async def test_a_request_whose_process_stopped_before_sending_is_sent_by_a_running_replica(
    world: World, tmp_path: Path
) -> None:
    """Stored by a process that died before it handed the message over: the read model shows it
    waiting; once it has waited longer than a delivery can take (a policy of one 0.5-s try: 1.6 s), a
    running replica records the try as interrupted and sends it."""
    policy = load_policy(DEFAULT_POLICY).model_dump(mode="json")
    policy["delivery"] = {"attempts": 1, "first_backoff": "0.1s", "backoff_factor": 1, "timeout": "0.5s"}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy, allow_unicode=True))
    await world.katra()
    runner = world.runner(tmp_path / "policy.yaml")
    await runner.start()
    recipient, channel = "officer:PNO100001", NotificationChannel.EMAIL
    wanted = NotificationRequested(
        notification_id=notification_id("cause-of-a-dead-process", recipient, channel),
        rule=NotificationRule.ASSIGNED, channel=channel, recipient=recipient,
        cause_id="cause-of-a-dead-process", case_id="c1", case_number="SJP-2026-000042", district="SJP",
        thana="SJP-KATRA", kendra="MSK-SJP-KATRA", at=world.clock.now(),
    )  # fmt: skip
    await world.append_own(wanted.notification_id, wanted)
    await asyncio.sleep(1.0)  # two of the worker's looks: not cut short yet, left to its process
    assert not [e for e in await world.own() if isinstance(e, NotificationSent | NotificationFailed)]

    async def sent() -> bool:
        return any(isinstance(e, NotificationSent) for e in await world.own())

    await eventually(sent, 20, "the message sent by the running replica")
    after = [e for e in await world.own() if not isinstance(e, NotificationRequested)]
    assert [type(e).__name__ for e in after] == ["NotificationFailed", "NotificationSent"]
    assert isinstance(after[0], NotificationFailed) and after[0].reason == "interrupted"


async def test_a_danger_now_case_registered_without_a_thana_is_paged_once_routing_places_it(
    world: World,
) -> None:
    await world.katra()
    async with world.http():
        await world.roster_known(world.runners[0])
        case_id = await world.register(danger_now=True, thana=None)
        await asyncio.sleep(0.5)
        assert not [r for r in await world.requested() if r.page_id == case_id], "paged without a place"
        await world.append(
            "routing", "case", case_id,
            CaseRouted(case_id=case_id, district="SJP", circle="SJP-TILHAR", thana="SJP-KATRA", kendra="MSK-SJP-KATRA", reason="locality"),
        )  # fmt: skip

        async def paged() -> bool:
            found = {(r.recipient, r.kendra) for r in await world.requested() if r.page_id == case_id}
            return {("officer:PNO100001", "MSK-SJP-KATRA"), ("officer:PNO300001", "MSK-SJP-KATRA")} <= found

        await eventually(paged, 10, "the page once routed")


async def test_quiet_hours_hold_an_assignment_email_until_they_end_but_never_a_danger_now_page(
    world: World,
) -> None:
    await world.katra()
    async with world.http() as client:
        await world.roster_known(world.runners[0])
        # 10:00 IST now. The officer and the in-charge are both in quiet hours (09:00-11:00 IST).
        for who in (OFFICER, INCHARGE):
            chosen = await client.put(
                f"{API}/preferences",
                json={"language": "en", "quiet_from": "09:00", "quiet_until": "11:00"},
                headers=world.callers.headers(who),
            )
            assert chosen.status_code == 200, chosen.text
        assert chosen.json() == {
            "recipient": "officer:PNO100001", "language": "en",
            "quiet_hours": {"from": "09:00", "until": "11:00", "timezone": "IST"}, "muted_channels": [],
        }  # fmt: skip
        read = await client.get(f"{API}/preferences", headers=world.callers.headers(OFFICER))
        assert read.json()["quiet_hours"]["until"] == "11:00"
        half = await client.put(
            f"{API}/preferences", json={"quiet_from": "09:00"}, headers=world.callers.headers(OFFICER)
        )
        assert half.status_code == 422 and half.json()["detail"]["code"] == "quiet_hours_incomplete"
        assert half.json()["detail"]["hi"]
        wrong = await client.put(
            f"{API}/preferences", json={"quiet_from": "25:00", "quiet_until": "07:00"},
            headers=world.callers.headers(OFFICER),
        )  # fmt: skip
        assert wrong.status_code == 422

        quiet_case = await world.register(danger_now=False)
        await world.append(
            "routing", "case", quiet_case,
            CaseAssigned(case_id=quiet_case, officer="PNO100002", kendra="MSK-SJP-KATRA", reason="on duty"),
        )  # fmt: skip
        urgent_case = await world.register(danger_now=True)

        def of(events: list[Event], case_id: str, channel: str) -> list[str]:
            wanted = {
                e.notification_id for e in events
                if isinstance(e, NotificationRequested) and e.case_id == case_id and e.channel.value == channel
            }  # fmt: skip
            return [type(e).__name__ for e in events if getattr(e, "notification_id", None) in wanted]

        async def settled() -> bool:
            events = await world.own()
            return of(events, quiet_case, "email")[-1:] == ["NotificationDeferred"] and all(
                of(events, urgent_case, channel).count("NotificationSent") == 2
                for channel in ("email", "sms")
            )

        await eventually(settled, 10, "the assignment's e-mail held, the page's sent at once")
        events = await world.own()
        assert of(events, quiet_case, "web") == ["NotificationRequested", "NotificationSent"]  # the bell
        [held] = [e for e in events if isinstance(e, NotificationDeferred)]
        assert held.until == datetime(2026, 1, 12, 5, 30, tzinfo=UTC)  # 11:00 IST

        world.clock.advance(timedelta(minutes=59))
        await asyncio.sleep(0.3)  # six polls of the release worker: still quiet
        assert of(await world.own(), quiet_case, "email")[-1] == "NotificationDeferred"
        world.clock.advance(timedelta(minutes=1, seconds=1))

        async def sent_after() -> bool:
            return of(await world.own(), quiet_case, "email")[-2:] == [
                "NotificationReleased",
                "NotificationSent",
            ]

        await eventually(sent_after, 10, "the held e-mail sent when the quiet hours ended")
        await asyncio.sleep(0.3)
        assert of(await world.own(), quiet_case, "email").count("NotificationSent") == 1


async def test_a_muted_email_is_not_sent_for_an_assignment_but_is_for_a_danger_now_page(
    world: World, smtp_server: Mailbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    incharge_mail, sho_mail = "incharge.katra@up.example", "sho.katra@up.example"
    contacts = {
        "officer:PNO100001": {"email": incharge_mail, "phone": "+919800000001"},
        "officer:PNO300001": {"email": sho_mail, "phone": "+919800000003"},
    }
    (tmp_path / "contacts.yaml").write_text(yaml.safe_dump({"contacts": contacts}))
    monkeypatch.setenv("SHAKTI_NOTIFICATIONS_CONTACTS", str(tmp_path / "contacts.yaml"))
    monkeypatch.setenv("SHAKTI_NOTIFICATIONS_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("SHAKTI_NOTIFICATIONS_SMTP_PORT", str(smtp_server.port))
    await world.katra()
    async with world.http() as client:
        await world.roster_known(world.runners[0])
        mine = world.callers.headers(INCHARGE)
        muted = await client.put(f"{API}/preferences", json={"muted_channels": ["email"]}, headers=mine)
        assert muted.status_code == 200, muted.text
        assert muted.json()["muted_channels"] == ["email"] and muted.json()["quiet_hours"] is None
        # The bell cannot be turned off, nor a channel that does not exist.
        for wrong in (["web"], ["fax"], "email"):
            refused = await client.put(f"{API}/preferences", json={"muted_channels": wrong}, headers=mine)
            assert refused.status_code == 422, wrong
        assert (await client.get(f"{API}/preferences", headers=mine)).json()["muted_channels"] == ["email"]

        assigned_case = await world.register(danger_now=False)
        await world.append(
            "routing", "case", assigned_case,
            CaseAssigned(case_id=assigned_case, officer="PNO100001", kendra="MSK-SJP-KATRA", reason="on duty"),
        )  # fmt: skip
        urgent_case = await world.register(danger_now=True)

        def to(address: str) -> list[object]:
            return [m for m in smtp_server.mails if m["To"] == address]

        async def told() -> bool:
            bell = any(r.case_id == assigned_case for r in await world.requested())
            return bell and len(to(incharge_mail)) == 1 and len(to(sho_mail)) == 1

        await eventually(told, 10, "the assignment in the bell, the page's e-mails sent")
        await asyncio.sleep(0.3)
        requested = await world.requested()
        channels = {(r.case_id, r.channel.value) for r in requested if r.recipient == "officer:PNO100001"}
        assert (assigned_case, "web") in channels and (assigned_case, "email") not in channels
        assert {(urgent_case, c) for c in ("web", "sms", "email")} <= channels
        assert len(to(incharge_mail)) == 1  # the page's, and nothing for the assignment


async def test_overdue_training_reaches_the_officer_and_the_incharge_with_a_link_to_the_record(
    world: World,
) -> None:
    await world.katra()
    async with world.http() as client:
        await world.roster_known(world.runners[0])
        due = START - timedelta(days=1)
        await world.append(
            "training", "officer", "PNO100002",
            TrainingOverdue(service_number="PNO100002", modules=["MSK-SOP"], due_at=due),
        )  # fmt: skip

        async def told() -> bool:
            found = {(r.rule.value, r.recipient, r.channel.value) for r in await world.requested()}
            return {
                ("training_overdue", who, channel)
                for who in ("officer:PNO100002", "officer:PNO100001")
                for channel in ("web", "email")
            } <= found

        await eventually(told, 10, "the officer and the in-charge told of overdue training")
        for who in (OFFICER, INCHARGE):

            async def listed(who: Principal = who) -> bool:
                rows = mine(await client.get(f"{API}/mine", headers=world.callers.headers(who)))
                return bool(rows) and rows[0]["service_number"] == "PNO100002"

            await eventually(listed, 10, f"the training notice in {who.username}'s list")
        [row] = mine(await client.get(f"{API}/mine", headers=world.callers.headers(OFFICER)))
        assert row["case_id"] is None and row["link"] == "https://shakti.example/training/officers/PNO100002"
        text = row["text"]
        assert isinstance(text, dict) and "Modules MSK-SOP were due by 11-01-2026 10:00 IST" in text["en"]
        assert "प्रशिक्षण की समय-सीमा पार" in text["hi"]
        # The outbox shows the e-mails (no SMTP configured); the SHO is not told of a Kendra's training.
        await eventually(lambda: _outboxed(client, world, 2), 10, "the two e-mails in the outbox")
        assert not [r for r in await world.requested() if r.recipient == "officer:PNO300001"]


async def test_a_complainant_is_sent_sms_only_with_her_consent_and_never_after_withdrawal_or_erasure(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Issue 17, done when: consent off means no message to the complainant. On: one receipt with the
    case number and the Kendra's phone, then status changes; none after she withdraws or is erased.
    The request names her only as ``complainant:<case id>``: no phone, no name anywhere in the stream."""
    contacts = {"kendra:MSK-SJP-KATRA": {"phone": "+915842000111"}}
    (tmp_path / "contacts.yaml").write_text(yaml.safe_dump({"contacts": contacts}))
    monkeypatch.setenv("SHAKTI_NOTIFICATIONS_CONTACTS", str(tmp_path / "contacts.yaml"))
    await world.katra()
    async with world.http():
        await world.roster_known(world.runners[0])
        unasked = await world.register(danger_now=False)
        agreed = await world.register(danger_now=False, consent_to_messages=True)
        erased = await world.register(danger_now=False, consent_to_messages=True)

        async def to_her() -> list[NotificationRequested]:
            return [r for r in await world.requested() if r.recipient.startswith("complainant:")]

        async def receipts() -> bool:
            return len(await to_her()) == 2

        await eventually(receipts, 10, "the receipts of the two who agreed")
        [receipt] = [r for r in await to_her() if r.case_id == agreed]
        assert receipt.recipient == f"complainant:{agreed}" and receipt.channel.value == "sms"
        assert receipt.rule.value == "complainant_receipt" and receipt.kendra_phone == "+915842000111"
        assert receipt.kendra == "MSK-SJP-KATRA" and receipt.language == "en"

        # Her status changes, while she consents; the erased one is told nothing more.
        await world.append(
            "intake", "case", erased, IdentityErased(by="PNO100001", legal_basis="dpdp_request")
        )
        for case_id in (unasked, agreed, erased):
            await world.append(
                "intake", "case", case_id, FirstContactMade(by="PNO100002", at=START, mode="phone")
            )

        async def in_progress() -> bool:
            return any(r.case_status is CaseStatus.IN_PROGRESS for r in await to_her())

        await eventually(in_progress, 10, "her status message")
        await world.append("intake", "case", agreed, MessagesConsentWithdrawn(by="PNO100002"))
        await world.append(
            "intake", "case", agreed, CaseResolved(outcome="counselled_reconciled", by="PNO100002")
        )
        await world.append(
            "intake", "case", unasked, CaseResolved(outcome="counselled_reconciled", by="PNO100002")
        )
        await asyncio.sleep(1.0)  # twenty polls: long enough for the resolutions to be decided
        told = [(r.case_id, r.rule.value, r.case_status) for r in await to_her()]
        assert sorted(told, key=str) == sorted(
            [
                (agreed, "complainant_receipt", None),
                (erased, "complainant_receipt", None),
                (agreed, "complainant_status", CaseStatus.IN_PROGRESS),
            ],
            key=str,
        )
        # What the outbox would show of them names her case, the Kendra and its phone, never her.
        for request in await to_her():
            text = compose(request, {"MSK-SJP-KATRA": ("मिशन शक्ति केन्द्र कटरा", "Mission Shakti Kendra Katra")})
            assert request.case_number and request.case_number in text.text_en
            assert "+915842000111" in text.text_hi
            witness("sms", text.both())
        assert all(NAME not in str(e) and PHONE not in str(e) for e in await world.own())
