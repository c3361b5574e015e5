"""Who is told what, without I/O: the decisions from other services' events, the danger-now page, the
notification aggregate (exactly once, acknowledgement only by its recipient) and the words sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.domain import (
    CaseFacts,
    Cause,
    Holder,
    Notification,
    Officer,
    Preferences,
    Roster,
    decide,
    decide_training,
    leave_out_muted,
    page,
    tell_complainant,
)
from services.notifications.messages import compose
from services.notifications.policy import DEFAULT_POLICY, PolicyError, load_policy, parse_policy
from shared.contracts.escalation import CaseEscalated, DeadlineApproaching, SlaBreached
from shared.contracts.intake import CaseClosed, CaseRegistered, CaseResolved, NoteAdded
from shared.contracts.notifications import (
    NotificationAcknowledged,
    NotificationChannel,
    NotificationDeferred,
    NotificationFailed,
    NotificationReleased,
    NotificationRequested,
    NotificationRule,
    NotificationSent,
    PreferencesChanged,
    notification_id,
)
from shared.contracts.routing import CaseAssigned, CaseRouted, ReferralIssued
from shared.contracts.training import CertificationLapsed, TrainingAssigned, TrainingOverdue
from shared.contracts.vocabulary import (
    AgencyKind,
    CaseStatus,
    Category,
    Channel,
    DutyStatus,
    LadderRole,
    Priority,
)
from shared.events import Event
from shared.testing import Scenario

from .identity import hits

POLICY = load_policy(DEFAULT_POLICY)
AT = datetime(2026, 1, 12, 4, 30, tzinfo=UTC)  # 10:00 IST
CASE = CaseFacts(
    case_id="c1",
    case_number="SJP-2026-000042",
    district="SJP",
    circle="SJP-TILHAR",
    thana="SJP-KATRA",
    kendra="MSK-SJP-KATRA",
    officer="PNO100002",
    danger_now=True,
    registration_id="reg-1",
    thana_at_registration=True,
)
ROSTER = Roster(
    officers={
        "PNO100001": Officer("PNO100001", "MSK-SJP-KATRA", "SJP-KATRA", incharge=True),
        "PNO100002": Officer("PNO100002", "MSK-SJP-KATRA", "SJP-KATRA"),
        "PNO200001": Officer("PNO200001", "MSK-SJP-SADAR", "SJP-SADAR", incharge=True),
    },
    holders=[
        Holder("sho.katra", "sho", "PNO300001", "SJP", "SJP-TILHAR", "SJP-KATRA"),
        Holder("sho.sadar", "sho", "PNO300002", "SJP", "SJP-NAGAR", "SJP-SADAR"),
        Holder("co.tilhar", "co", None, "SJP", "SJP-TILHAR"),
    ],
    kendra_thana={"MSK-SJP-KATRA": "SJP-KATRA", "MSK-SJP-SADAR": "SJP-SADAR"},
)


def requested(events: list[NotificationRequested]) -> list[tuple[str, str, str]]:
    return [(e.rule, e.recipient, e.channel) for e in events]


def registered(danger_now: bool = True) -> CaseRegistered:
    return CaseRegistered(
        case_number=CASE.case_number,
        channel=Channel.EMERGENCY_112,
        category=Category.SEXUAL_ASSAULT,
        priority=Priority.P1,
        danger_now=danger_now,
        minor=False,
        district="SJP",
        thana="SJP-KATRA",
        registered_by="PNO100001",
        sealed_identity="c2VhbGVk",
    )


def test_assignment_tells_the_officer_on_the_rules_channels() -> None:
    event = CaseAssigned(case_id="c1", officer="PNO100002", kendra="MSK-SJP-KATRA", reason="on duty")
    out = decide(event, Cause("ev-1", AT), CASE, ROSTER, POLICY)
    assert requested(out) == [
        ("assigned", "officer:PNO100002", "web"),
        ("assigned", "officer:PNO100002", "email"),
    ]
    # The id derives from (cause, recipient, channel): the same event decided again asks for the same ones.
    again = decide(event, Cause("ev-1", AT), CASE, ROSTER, POLICY)
    assert [e.notification_id for e in out] == [e.notification_id for e in again]


def test_danger_now_pages_the_incharge_and_the_sho_on_duty() -> None:
    out = decide(registered(), Cause("reg-1", AT), CASE, ROSTER, POLICY)
    assert {(r, c) for _, r, c in requested(out)} == {
        (who, channel)
        for who in ("officer:PNO100001", "officer:PNO300001")
        for channel in ("web", "sms", "email")
    }
    first = out[0]
    assert isinstance(first, NotificationRequested)
    assert first.urgent and first.page_id == "c1" and first.round == 1
    assert first.repeat_at == AT + timedelta(minutes=5)
    assert decide(registered(danger_now=False), Cause("reg-1", AT), CASE, ROSTER, POLICY) == []


def test_a_page_round_goes_to_whoever_is_on_duty_then_and_stops_after_the_last_round() -> None:
    away = Roster(
        officers={
            **ROSTER.officers,
            "PNO100001": Officer("PNO100001", "MSK-SJP-KATRA", "SJP-KATRA", True, DutyStatus.ON_LEAVE),
        },
        holders=ROSTER.holders,
        kendra_thana=ROSTER.kendra_thana,
    )
    second = page(CASE, away, POLICY, round=2, at=AT + timedelta(minutes=5))
    recipients = {e.recipient for e in second if isinstance(e, NotificationRequested)}
    # Nobody holds the Kendra's in-charge level now: its office is told, in the web front only.
    assert recipients == {"office:kendra_incharge:MSK-SJP-KATRA", "officer:PNO300001"}
    assert ("danger_now", "office:kendra_incharge:MSK-SJP-KATRA", "web") in requested(second)
    assert ("danger_now", "office:kendra_incharge:MSK-SJP-KATRA", "sms") not in requested(second)
    # Every round has its own ids, and the first round's cause: the registration.
    first_ids = {e.notification_id for e in page(CASE, away, POLICY, round=1, at=AT)}
    assert first_ids.isdisjoint({e.notification_id for e in second})
    # Once escalation's ladder has climbed to the CO, every later round pages the CO too.
    at_co = CaseFacts(**{**CASE.__dict__, "level": (LadderRole.CO, "SJP-TILHAR")})
    third = {e.recipient for e in page(at_co, ROSTER, POLICY, round=3, at=AT + timedelta(minutes=10))}
    assert third == {"officer:PNO100001", "officer:PNO300001", "user:co.tilhar"}
    at_sho = CaseFacts(**{**CASE.__dict__, "level": (LadderRole.SHO, "SJP-KATRA")})
    assert {e.recipient for e in page(at_sho, ROSTER, POLICY, round=3, at=AT)} == {
        "officer:PNO100001", "officer:PNO300001",
    }  # fmt: skip
    last = page(CASE, ROSTER, POLICY, round=POLICY.danger_now.max_rounds, at=AT)
    assert last and all(e.repeat_at is None for e in last)
    assert page(CASE, ROSTER, POLICY, round=POLICY.danger_now.max_rounds + 1, at=AT) == []
    # No place yet (routing has not routed it): no page until it has one.
    assert (
        page(
            CaseFacts("c2", "SJP-2026-1", "SJP", registration_id="r", danger_now=True),
            ROSTER,
            POLICY,
            round=1,
            at=AT,
        )
        == []
    )


def test_warning_at_80_percent_tells_the_officer_or_the_incharge_when_the_officer_is_away() -> None:
    warning = DeadlineApproaching(
        case_id="c1", clock="first_contact", threshold_pct=80, due_at=AT + timedelta(hours=1)
    )
    assert requested(decide(warning, Cause("w", AT), CASE, ROSTER, POLICY)) == [
        ("deadline_warning", "officer:PNO100002", "web")
    ]
    half = warning.model_copy(update={"threshold_pct": 50})
    assert decide(half, Cause("w", AT), CASE, ROSTER, POLICY) == []
    off = Roster(
        officers={
            **ROSTER.officers,
            "PNO100002": Officer("PNO100002", "MSK-SJP-KATRA", "SJP-KATRA", False, DutyStatus.OFF_DUTY),
        },
        holders=ROSTER.holders,
        kendra_thana=ROSTER.kendra_thana,
    )
    assert requested(decide(warning, Cause("w", AT), CASE, off, POLICY)) == [
        ("deadline_warning", "officer:PNO100001", "web")
    ]


def test_escalation_and_breach_reach_whoever_holds_the_level_now() -> None:
    to_sho = CaseEscalated(
        case_id="c1", level=2, role=LadderRole.SHO, office_code="SJP-KATRA", reason="breach:first_contact"
    )
    assert {r for _, r, _ in requested(decide(to_sho, Cause("e", AT), CASE, ROSTER, POLICY))} == {
        "officer:PNO300001"
    }
    to_co = to_sho.model_copy(update={"level": 3, "role": LadderRole.CO, "office_code": "SJP-TILHAR"})
    assert {r for _, r, _ in requested(decide(to_co, Cause("e", AT), CASE, ROSTER, POLICY))} == {
        "user:co.tilhar"
    }
    # The SHO on leave (the roster knows their service number): the office is told instead.
    sho_away = Roster(
        officers={**ROSTER.officers, "PNO300001": Officer("PNO300001", status=DutyStatus.ON_LEAVE)},
        holders=ROSTER.holders,
        kendra_thana=ROSTER.kendra_thana,
    )
    assert {r for _, r, _ in requested(decide(to_sho, Cause("e", AT), CASE, sho_away, POLICY))} == {
        "office:sho:SJP-KATRA"
    }
    # The state cell reads figures, never a named case.
    to_state = to_sho.model_copy(update={"level": 6, "role": LadderRole.STATE_CELL, "office_code": "UP"})
    assert decide(to_state, Cause("e", AT), CASE, ROSTER, POLICY) == []
    # A danger-now climb to a level the page already tells (the SHO): no second message...
    danger = to_sho.model_copy(update={"reason": "danger_now:first_contact"})
    assert decide(danger, Cause("e", AT), CASE, ROSTER, POLICY) == []
    # ...but the ladder climbing past the page's levels tells the CO at once, urgently.
    climbed = to_co.model_copy(update={"reason": "danger_now:first_contact"})
    told = decide(climbed, Cause("e", AT), CASE, ROSTER, POLICY)
    assert {(r, rule) for rule, r, _ in requested(told)} == {("user:co.tilhar", "escalation")}
    assert all(t.urgent for t in told)
    breach = SlaBreached(case_id="c1", clock="first_contact", due_at=AT, breached_at=AT)
    escalated = CaseFacts(**{**CASE.__dict__, "level": (LadderRole.SHO, "SJP-KATRA")})
    assert {r for _, r, _ in requested(decide(breach, Cause("b", AT), escalated, ROSTER, POLICY))} == {
        "officer:PNO300001"
    }
    assert {r for _, r, _ in requested(decide(breach, Cause("b", AT), CASE, ROSTER, POLICY))} == {
        "officer:PNO100002"
    }


def test_referral_goes_to_the_agency_desk_in_her_bell_and_by_email() -> None:
    """Her agency's staff sign in as its desk (role agency_desk): the bell, and the desk's e-mail."""
    issued = ReferralIssued(
        case_id="c1",
        referral_id="r1",
        agency_code="OSC-SJP",
        agency_kind=AgencyKind.ONE_STOP_CENTRE,
        reason="medical",
        due_at=AT + timedelta(hours=4),
    )
    assert requested(decide(issued, Cause("x", AT), CASE, ROSTER, POLICY)) == [
        ("referral", "agency:OSC-SJP", "web"),
        ("referral", "agency:OSC-SJP", "email"),
    ]


def wanted(**changes: object) -> NotificationRequested:
    base = {
        "notification_id": notification_id("cause", "officer:PNO100002", NotificationChannel.WEB),
        "rule": NotificationRule.ASSIGNED,
        "channel": NotificationChannel.WEB,
        "recipient": "officer:PNO100002",
        "cause_id": "cause",
        "case_id": "c1",
        "case_number": CASE.case_number,
        "district": "SJP",
        "thana": "SJP-KATRA",
        "kendra": "MSK-SJP-KATRA",
        "at": AT,
    }
    return NotificationRequested.model_validate(base | changes)


def test_a_notification_is_requested_once_sent_once_and_acknowledged_only_by_its_recipient() -> None:
    first = wanted()
    Scenario(Notification, first.notification_id).when(lambda n: n.request(first, AT)).then(
        first, lambda e: isinstance(e, NotificationSent) and e.via == "web" and e.attempts == 1
    )
    mail = wanted(channel=NotificationChannel.EMAIL)
    Scenario(Notification).when(lambda n: n.request(mail, AT)).then(mail)
    Scenario(Notification).given(first).when(lambda n: n.request(first, AT)).then_nothing()
    sent = NotificationSent(
        notification_id=first.notification_id, channel=NotificationChannel.WEB, via="web", attempts=1, at=AT
    )
    Scenario(Notification).given(first, sent).when(lambda n: n.deliver("web", AT)).then_nothing()
    Scenario(Notification).given(first).when(
        lambda n: n.acknowledge("PNO100001", frozenset({"officer:PNO100001"}), AT)
    ).refused("not_yours")
    mine = frozenset({"officer:PNO100002", "user:kendra.officer"})
    Scenario(Notification, first.notification_id).given(first).when(
        lambda n: n.acknowledge("PNO100002", mine, AT)
    ).then(NotificationAcknowledged(notification_id=first.notification_id, by="PNO100002", at=AT))
    ack = NotificationAcknowledged(notification_id=first.notification_id, by="PNO100002", at=AT)
    Scenario(Notification).given(first, ack).when(
        lambda n: n.acknowledge("PNO100002", mine, AT)
    ).then_nothing()
    Scenario(Notification).when(lambda n: n.acknowledge("x", mine, AT)).refused("not_found")


def test_failures_count_tries_and_park() -> None:
    first = wanted(channel=NotificationChannel.SMS)
    failed = (
        Scenario(Notification)
        .given(first)
        .when(lambda n: n.fail("timeout", AT, park=False))
        .then(lambda e: isinstance(e, NotificationFailed) and e.attempt == 1 and not e.parked)
    )
    Scenario(Notification).given(first, *failed).when(lambda n: n.fail("http_503", AT, park=True)).then(
        lambda e: isinstance(e, NotificationFailed) and e.attempt == 2 and e.parked
    )
    Scenario(Notification).given(first, *failed).when(lambda n: n.deliver("sms_gateway", AT)).then(
        lambda e: isinstance(e, NotificationSent) and e.attempts == 2
    )


def test_a_delivery_cut_short_is_a_failed_try_and_one_cut_short_every_time_is_parked() -> None:
    sms = wanted(channel=NotificationChannel.SMS)
    mail = wanted(channel=NotificationChannel.EMAIL, recipient="officer:PNO100001")

    def cut(n: Notification, tries: int = 0) -> list[Event]:
        return n.interrupt(AT, tries_seen=tries, attempts=2)

    once = (
        Scenario(Notification)
        .given(sms)
        .when(cut)
        .then(lambda e: isinstance(e, NotificationFailed) and e.reason == "interrupted" and not e.parked)
    )
    # Seen with fewer tries than it has now: it moved since, and is left to whoever moves it.
    Scenario(Notification).given(sms, *once).when(cut).then_nothing()
    twice = (
        Scenario(Notification)
        .given(sms, *once)
        .when(lambda n: cut(n, 1))
        .then(lambda e: isinstance(e, NotificationFailed) and not e.parked)
    )
    Scenario(Notification).given(sms, *once, *twice).when(lambda n: cut(n, 2)).then(
        lambda e: isinstance(e, NotificationFailed) and e.attempt == 3 and e.parked
    )  # cut short more often than the policy's two tries
    # The bell's is sent as recorded, a complainant's is intake's: nothing of theirs is cut short here.
    Scenario(Notification).given(wanted()).when(cut).then_nothing()
    hers = wanted(channel=NotificationChannel.SMS, recipient="complainant:c1")
    Scenario(Notification).given(hers).when(cut).then_nothing()
    sent = NotificationSent(
        notification_id=mail.notification_id, channel=NotificationChannel.EMAIL, via="smtp", attempts=1, at=AT
    )
    Scenario(Notification).given(mail, sent).when(cut).then_nothing()


def test_the_words_name_the_case_place_and_time_in_ist_in_both_languages_and_nothing_else() -> None:
    names = {
        "MSK-SJP-KATRA": ("मिशन शक्ति केन्द्र कटरा", "Mission Shakti Kendra Katra"),
        "SJP-KATRA": ("कटरा", "Katra"),
    }
    message = compose(
        wanted(rule=NotificationRule.DANGER_NOW, urgent=True, role=LadderRole.SHO, round=2),
        names,
        "https://shakti.example",
    )
    assert "SJP-2026-000042" in message.text_en and "SJP-2026-000042" in message.text_hi
    assert "Mission Shakti Kendra Katra, thana Katra" in message.text_en
    assert "थाना कटरा" in message.text_hi and "अति आवश्यक" in message.text_hi
    assert "12-01-2026 10:00 IST" in message.text_en and "12-01-2026 10:00 IST" in message.text_hi
    assert message.link == "https://shakti.example/cases/c1" and message.link in message.text_en
    assert "Reminder 2" in message.text_en and "SHO" in message.text_en
    assert hits("message", message.both() + message.subject_en + message.subject_hi) == []


def test_the_policy_is_validated_field_by_field() -> None:
    document = POLICY.model_dump(mode="json")
    document["danger_now"]["repeat_every"] = "soon"
    document["delivery"]["attempts"] = 0
    with pytest.raises(PolicyError) as error:
        parse_policy(document, "bad.yaml")
    assert "danger_now.repeat_every: 'soon' is not a span" in str(error.value)
    assert "delivery.attempts" in str(error.value)
    document = POLICY.model_dump(mode="json")
    document["rules"].pop("referral")
    document["sms_templates"]["breach"] = "12ab"
    with pytest.raises(PolicyError) as error:
        parse_policy(document, "bad.yaml")
    for field in ("rules.referral: missing", "sms_templates.breach: '12ab' is not a DLT template id"):
        assert field in str(error.value), str(error.value)
    document = POLICY.model_dump(mode="json")
    document["delivery"] |= {"attempts": 6, "timeout": "5s"}
    with pytest.raises(PolicyError, match="keep it under 25s"):
        parse_policy(document)


def quiet(start: str | None, end: str | None) -> Preferences:
    return (
        Scenario(Preferences, "p")
        .given(PreferencesChanged(recipient="officer:PNO1", quiet_from=start, quiet_until=end))
        .aggregate
    )


IST_NIGHT = datetime(2026, 1, 12, 17, 30, tzinfo=UTC)  # 23:00 IST on 12 January


@pytest.mark.parametrize(
    ("start", "end", "now", "until"),
    [
        # Across midnight, 22:00-07:00 IST: at 23:00 quiet until 07:00 the next morning...
        ("22:00", "07:00", IST_NIGHT, datetime(2026, 1, 13, 1, 30, tzinfo=UTC)),
        # ...at 02:00 until 07:00 the same morning...
        ("22:00", "07:00", IST_NIGHT + timedelta(hours=3), datetime(2026, 1, 13, 1, 30, tzinfo=UTC)),
        # ...at 07:00 not quiet any more, nor at 21:59.
        ("22:00", "07:00", datetime(2026, 1, 13, 1, 30, tzinfo=UTC), None),
        ("22:00", "07:00", datetime(2026, 1, 12, 16, 29, tzinfo=UTC), None),
        # Within a day, 13:00-14:00 IST (lunch): at 13:30 until 14:00; at 12:00 not.
        ("13:00", "14:00", datetime(2026, 1, 12, 8, 0, tzinfo=UTC), datetime(2026, 1, 12, 8, 30, tzinfo=UTC)),
        ("13:00", "14:00", datetime(2026, 1, 12, 6, 30, tzinfo=UTC), None),
        (None, None, IST_NIGHT, None),
    ],
)
def test_quiet_hours_are_read_in_ist_and_may_pass_midnight(
    start: str | None, end: str | None, now: datetime, until: datetime | None
) -> None:
    assert quiet(start, end).quiet_until(now) == until


def test_quiet_hours_need_both_ends_that_differ() -> None:
    scenario = Scenario(Preferences, "p")
    half = PreferencesChanged(recipient="officer:PNO1", quiet_from="22:00")
    assert scenario.when(lambda p: p.change(half)).error is not None
    assert (
        scenario.error is not None and scenario.error.code == "quiet_hours_incomplete" and scenario.error.hi
    )
    same = PreferencesChanged(recipient="officer:PNO1", quiet_from="22:00", quiet_until="22:00")
    refused = Scenario(Preferences, "p").when(lambda p: p.change(same)).error
    assert refused is not None and refused.code == "quiet_hours_empty"
    wanted = PreferencesChanged(
        recipient="officer:PNO1", language="en", quiet_from="22:00", quiet_until="07:00"
    )
    Scenario(Preferences, "p").when(lambda p: p.change(wanted)).then(wanted)
    assert Scenario(Preferences, "p").given(wanted).when(lambda p: p.change(wanted)).then() == []


EMAIL, SMS, WEB = NotificationChannel.EMAIL, NotificationChannel.SMS, NotificationChannel.WEB


def test_a_muted_channel_is_left_out_of_a_message_that_is_not_urgent_but_never_of_an_urgent_one() -> None:
    cause = Cause("ev-1", AT)
    muted = {"officer:PNO100002": frozenset({EMAIL}), "officer:PNO100001": frozenset({EMAIL, SMS})}
    # An assignment: the bell only, for the officer who turned e-mail off.
    assignment = CaseAssigned(case_id="c1", officer="PNO100002", kendra="MSK-SJP-KATRA", reason="on duty")
    assigned = decide(assignment, cause, CASE, ROSTER, POLICY)
    assert requested(leave_out_muted(assigned, muted)) == [("assigned", "officer:PNO100002", "web")]
    assert leave_out_muted(assigned, {}) == assigned
    # A danger-now page goes on every channel to the in-charge who turned e-mail and SMS off.
    paged = page(CASE, ROSTER, POLICY, round=1, at=AT)
    assert {c for _, r, c in requested(paged) if r == "officer:PNO100001"} == {WEB, SMS, EMAIL}
    assert leave_out_muted(paged, muted) == paged
    # A rule without the bell keeps the muted channel: she would be told nothing at all otherwise.
    alone = [r for r in assigned if r.channel is EMAIL]
    assert leave_out_muted(alone, muted) == alone


def test_preferences_keep_the_muted_channels_and_a_change_of_them_alone_is_recorded() -> None:
    quiet_only = PreferencesChanged(recipient="officer:PNO1", quiet_from="22:00", quiet_until="07:00")
    muted = quiet_only.model_copy(update={"muted_channels": [SMS, EMAIL]})
    scenario = Scenario(Preferences, "p").given(quiet_only)
    assert scenario.aggregate.muted == frozenset()
    scenario.when(lambda p: p.change(muted)).then(muted)
    assert Scenario(Preferences, "p").given(muted).aggregate.muted == {EMAIL, SMS}
    same = muted.model_copy(update={"muted_channels": [EMAIL, SMS]})
    assert Scenario(Preferences, "p").given(muted).when(lambda p: p.change(same)).then() == []
    # The bell cannot be turned off: the contract refuses it.
    with pytest.raises(ValueError):
        PreferencesChanged(recipient="officer:PNO1", muted_channels=[WEB])


def test_only_a_message_that_is_not_urgent_is_held_and_it_is_released_once_when_the_hold_is_over() -> None:
    at = datetime(2026, 1, 12, 17, 30, tzinfo=UTC)
    until = at + timedelta(hours=8)

    def wanted(urgent: bool) -> NotificationRequested:
        return NotificationRequested(
            notification_id="n1", rule=NotificationRule.ASSIGNED, channel=NotificationChannel.EMAIL,
            recipient="officer:PNO1", cause_id="c", case_id="c1", case_number="SJP-2026-000001",
            district="SJP", at=at, urgent=urgent,
        )  # fmt: skip

    held = NotificationDeferred(notification_id="n1", until=until, at=at)
    Scenario(Notification, "n1").given(wanted(False)).when(lambda n: n.defer(until, at)).then(held)
    Scenario(Notification, "n1").given(wanted(True)).when(lambda n: n.defer(until, at)).then()
    Scenario(Notification, "n1").given(wanted(False), held).when(lambda n: n.defer(until, at)).then()
    # Not before the end of the hold; once after it.
    Scenario(Notification, "n1").given(wanted(False), held).when(lambda n: n.release(at)).then()
    released = NotificationReleased(notification_id="n1", at=until)
    Scenario(Notification, "n1").given(wanted(False), held).when(lambda n: n.release(until)).then(released)
    Scenario(Notification, "n1").given(wanted(False), held, released).when(lambda n: n.release(until)).then()


def test_training_assigned_tells_the_officer_and_overdue_or_lapsed_her_incharge_too() -> None:
    due = AT + timedelta(days=30)
    assigned = TrainingAssigned(
        service_number="PNO100002", modules=["MSK-SOP", "MSK-RECEIPT"], due_at=due, kendra="MSK-SJP-KATRA"
    )
    out = decide_training(assigned, Cause("ev-t1", AT), ROSTER, POLICY, AT)
    assert requested(out) == [
        ("training_due", "officer:PNO100002", "web"),
        ("training_due", "officer:PNO100002", "email"),
    ]
    first = out[0]
    assert first.case_id is None and first.service_number == "PNO100002" and first.kendra == "MSK-SJP-KATRA"
    assert first.modules == ["MSK-SOP", "MSK-RECEIPT"] and first.due_at == due and not first.urgent
    message = compose(first, {}, "https://shakti.example")
    assert message.link == "https://shakti.example/training/officers/PNO100002"
    assert "Modules MSK-SOP, MSK-RECEIPT are to be completed by 11-02-2026 10:00 IST" in message.text_en
    assert "प्रशिक्षण निर्धारित" in message.text_hi and "11-02-2026 10:00 IST" in message.text_hi
    # Overdue and lapsed: the Kendra from the roster (the events do not name it).
    overdue = TrainingOverdue(service_number="PNO100002", modules=["MSK-SOP"], due_at=due)
    assert {r[0:2] for r in requested(decide_training(overdue, Cause("ev-t2", due), ROSTER, POLICY, due))} == {
        ("training_overdue", "officer:PNO100002"), ("training_overdue", "officer:PNO100001"),
    }  # fmt: skip
    lapsed = CertificationLapsed(service_number="PNO100002", certificate_id="CERT-1", why="expired")
    [web, *_] = decide_training(lapsed, Cause("ev-t3", due), ROSTER, POLICY, due)
    assert web.rule == "certification_lapsed" and "no longer valid" in compose(web, {}).text_en
    # An officer the roster does not know (posted nowhere yet) is told alone.
    stranger = TrainingOverdue(service_number="PNO999999", modules=["MSK-SOP"], due_at=due)
    assert {r[1] for r in requested(decide_training(stranger, Cause("ev-t4", due), ROSTER, POLICY, due))} == {
        "officer:PNO999999"
    }
    # A training event read long after (a reaction that starts on an existing platform reads the whole
    # history): no news, nothing sent.
    assert decide_training(overdue, Cause("ev-t2", due), ROSTER, POLICY, due + timedelta(days=4)) == []


KATRA_PHONE = "+915842000111"
PHONES = {"MSK-SJP-KATRA": KATRA_PHONE}
NAMES = {
    "MSK-SJP-KATRA": ("मिशन शक्ति केन्द्र कटरा", "Mission Shakti Kendra Katra"),
    "SJP-KATRA": ("कटरा", "Katra"),
}
AGREED = replace(CASE, danger_now=False, messages_consent=True, language="en")


def to_her(out: list[NotificationRequested]) -> list[NotificationRequested]:
    return [r for r in out if r.recipient.startswith("complainant:")]


def test_a_complainant_who_agreed_is_sent_one_receipt_by_sms_and_nobody_else_is() -> None:
    out = tell_complainant(registered(danger_now=False), Cause("reg-1", AT), AGREED, ROSTER, POLICY, PHONES)
    assert requested(out) == [("complainant_receipt", "complainant:c1", "sms")]
    [receipt] = out
    assert receipt.notification_id == notification_id("reg-1", "complainant:c1", NotificationChannel.SMS)
    assert receipt.kendra == "MSK-SJP-KATRA" and receipt.kendra_phone == KATRA_PHONE
    assert receipt.language == "en" and receipt.case_status is None and not receipt.urgent
    # Her consent is off (never given, or withdrawn), or her identity was erased: nothing to her.
    for case in (replace(AGREED, messages_consent=False), replace(AGREED, identity_erased=True)):
        assert tell_complainant(registered(), Cause("reg-1", AT), case, ROSTER, POLICY, PHONES) == []
    # A case registered without a thana is told once routing has placed it, under the same id.
    unplaced = replace(AGREED, thana_at_registration=False)
    assert tell_complainant(registered(), Cause("reg-1", AT), unplaced, ROSTER, POLICY, PHONES) == []
    routed = CaseRouted(
        case_id="c1",
        district="SJP",
        circle="SJP-TILHAR",
        thana="SJP-KATRA",
        kendra="MSK-SJP-KATRA",
        reason="x",
    )
    [late] = tell_complainant(routed, Cause("route-1", AT), unplaced, ROSTER, POLICY, PHONES)
    assert late.notification_id == receipt.notification_id
    assert tell_complainant(routed, Cause("route-1", AT), AGREED, ROSTER, POLICY, PHONES) == []


def test_a_complainant_who_agreed_is_told_of_status_changes_in_words_and_of_nothing_else() -> None:
    resolved = CaseResolved(outcome="counselled_reconciled", by="PNO100002")
    [told] = tell_complainant(resolved, Cause("ev-9", AT), AGREED, ROSTER, POLICY, PHONES)
    assert (told.rule, told.case_status, told.channel) == ("complainant_status", CaseStatus.RESOLVED, "sms")
    closed = CaseClosed(reason="disposed", by="PNO100002")
    assert [
        r.case_status for r in tell_complainant(closed, Cause("e", AT), AGREED, ROSTER, POLICY, PHONES)
    ] == [CaseStatus.CLOSED]
    note = NoteAdded(by="PNO100002", sealed_text="c2VhbGVk")
    assert tell_complainant(note, Cause("ev-10", AT), AGREED, ROSTER, POLICY, PHONES) == []
    withdrawn = replace(AGREED, messages_consent=False)
    assert tell_complainant(resolved, Cause("ev-9", AT), withdrawn, ROSTER, POLICY, PHONES) == []
    # The decisions for officers never address her, whatever they are about.
    assert (
        to_her(decide(registered(), Cause("reg-1", AT), replace(AGREED, danger_now=True), ROSTER, POLICY))
        == []
    )


def test_her_sms_says_the_case_number_the_kendra_its_phone_the_helplines_and_the_status_only() -> None:
    [receipt] = tell_complainant(registered(), Cause("reg-1", AT), AGREED, ROSTER, POLICY, PHONES)
    message = compose(receipt, NAMES, "https://shakti.example")
    for text in (message.text_en, message.text_hi):
        assert "SJP-2026-000042" in text and KATRA_PHONE in text
        assert all(helpline in text for helpline in ("1090", "181", "112"))
        assert "https://" not in text  # the case page is for the police, not for her
    assert "Mission Shakti Kendra Katra" in message.text_en and "मिशन शक्ति केन्द्र कटरा" in message.text_hi
    assert "registered" in message.text_en and "दर्ज" in message.text_hi
    resolved = CaseResolved(outcome="counselled_reconciled", by="PNO100002")
    [told] = tell_complainant(resolved, Cause("ev-9", AT), AGREED, ROSTER, POLICY, {})
    status = compose(told, NAMES)
    assert "Disposed" in status.text_en and "निस्तारित" in status.text_hi
    assert "1090" in status.text_en and "+91" not in status.text_en  # no phone known: the helplines still
    assert hits("sms", message.both() + status.both()) == []


def test_the_policy_sends_her_sms_only() -> None:
    document = POLICY.model_dump(mode="json")
    document["rules"]["complainant_status"]["channels"] = ["sms", "email"]
    with pytest.raises(PolicyError, match=r"rules\.complainant_status\.channels: .*SMS only"):
        parse_policy(document, "bad.yaml")


def test_a_thana_named_with_its_word_is_not_named_twice_and_a_referral_uses_the_vocabulary_s_word() -> None:
    """Routing's sample names Katra's thana "थाना कटरा" in Hindi: the message says it once."""
    names = {
        "MSK-SJP-KATRA": ("मिशन शक्ति केन्द्र कटरा", "Mission Shakti Kendra Katra"),
        "SJP-KATRA": ("थाना कटरा", "Katra"),
    }
    message = compose(wanted(rule=NotificationRule.REFERRAL), names, "https://shakti.example")
    assert "थाना थाना" not in message.text_hi and "थाना कटरा" in message.text_hi
    assert "thana Katra" in message.text_en
    assert "संदर्भन" in message.subject_hi and "रेफरल" not in message.text_hi + message.subject_hi


def test_a_thana_whose_hindi_name_says_thana_is_not_called_thana_twice() -> None:
    """Routing's jurisdiction file names thanas in Hindi with the word already (``थाना कटरा``)."""
    names = {
        "MSK-SJP-KATRA": ("मिशन शक्ति केन्द्र, थाना कटरा", "Mission Shakti Kendra, Katra"),
        "SJP-KATRA": ("थाना कटरा", "Katra"),
    }
    message = compose(wanted(rule=NotificationRule.ASSIGNED), names, "https://shakti.example")
    assert "थाना थाना" not in message.text_hi, message.text_hi
    assert "मिशन शक्ति केन्द्र, थाना कटरा, थाना कटरा" in message.text_hi
    assert "Mission Shakti Kendra, Katra, thana Katra" in message.text_en
    # The complainant's SMS too (written in shared/, sent by this service).
    sms = compose(
        wanted(rule=NotificationRule.COMPLAINANT_RECEIPT, recipient="complainant:c1", channel="sms"),
        names,
        "https://shakti.example",
    )
    assert "थाना थाना" not in sms.text_hi and ", थाना कटरा" in sms.text_hi, sms.text_hi
    assert "Katra, thana Katra" in sms.text_en, sms.text_en


NIGHT = datetime(2026, 1, 12, 17, 30, tzinfo=UTC)  # 23:00 IST
MORNING = datetime(2026, 1, 13, 2, 30, tzinfo=UTC)  # 08:00 IST the next day


def test_her_status_sms_decided_at_night_waits_for_the_morning_and_her_receipt_never_waits() -> None:
    """The platform's quiet hours for complainants (21:00-08:00 IST in the default policy): a status
    change at 23:00 is requested with ``not_before`` 08:00 and held by its aggregate in the same command;
    her receipt answers what she has just done herself (she is awake, and it names 112): never held."""
    resolved = CaseResolved(outcome="counselled_reconciled", by="PNO100002")
    [night] = tell_complainant(resolved, Cause("ev-9", NIGHT), AGREED, ROSTER, POLICY, PHONES)
    assert night.not_before == MORNING
    [day] = tell_complainant(resolved, Cause("ev-9", AT), AGREED, ROSTER, POLICY, PHONES)
    assert day.not_before is None
    dawn = datetime(2026, 1, 12, 1, 0, tzinfo=UTC)  # 06:30 IST: the same morning's 08:00
    [early] = tell_complainant(resolved, Cause("ev-9", dawn), AGREED, ROSTER, POLICY, PHONES)
    assert early.not_before == datetime(2026, 1, 12, 2, 30, tzinfo=UTC)
    for danger_now in (False, True):
        case = replace(AGREED, danger_now=danger_now)
        [receipt] = tell_complainant(
            registered(danger_now), Cause("reg-1", NIGHT), case, ROSTER, POLICY, PHONES
        )
        assert receipt.rule is NotificationRule.COMPLAINANT_RECEIPT and receipt.not_before is None
    Scenario(Notification, night.notification_id).when(lambda n: n.request(night, NIGHT)).then(
        night, NotificationDeferred(notification_id=night.notification_id, until=MORNING, at=NIGHT)
    )
    # Decided late (the service was away until 09:00): nothing to wait for any more.
    late = MORNING + timedelta(hours=1)
    Scenario(Notification).when(lambda n: n.request(night, late)).then(night)
    # The release carries her request: intake, which sends it, reads no stream of this service's.
    held = NotificationDeferred(notification_id=night.notification_id, until=MORNING, at=NIGHT)
    Scenario(Notification, night.notification_id).given(night, held).when(lambda n: n.release(MORNING)).then(
        NotificationReleased(notification_id=night.notification_id, at=MORNING, request=night)
    )
    # The message she is sent is the one decided at 23:00: the time in it is the change's, not the send's.
    assert "23:00 IST" in compose(night, NAMES).text_en


def test_the_complainants_quiet_hours_need_both_ends_that_differ() -> None:
    document = POLICY.model_dump(mode="json")
    assert document["complainant"]["quiet_hours"] == {"from": "21:00", "until": "08:00"}
    document["complainant"]["quiet_hours"] = {"from": "21:00", "until": "21:00"}
    with pytest.raises(PolicyError, match=r"complainant\.quiet_hours"):
        parse_policy(document, "bad.yaml")
