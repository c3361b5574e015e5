"""The escalation service end to end on a real NATS server: intake's and routing's events in,
escalation's clocks, warnings, breaches and escalations out, with time moved by a manual clock."""

from __future__ import annotations

from datetime import timedelta

from services.escalation.main import build_service
from services.escalation.policy import DEMO_POLICY, load_policy
from shared.contracts.escalation import (
    CaseEscalated,
    CaseWatchReopened,
    ClockPaused,
    ClockResumed,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    SlaBreached,
)
from shared.contracts.intake import (
    ActionRecorded,
    AwaitingComplainant,
    CaseReopened,
    CaseResolved,
    ComplainantResponded,
    FirstContactMade,
)
from shared.contracts.routing import CaseAssigned, ReferralAccepted, ReferralIssued
from shared.contracts.vocabulary import AgencyKind

from .conftest import World

HOUR, DAY = timedelta(hours=1), timedelta(days=1)
CLOCKS = {"acknowledge", "first_contact", "referral_acknowledged", "action_taken", "disposal"}


async def test_each_clock_warns_breaches_and_climbs_or_stops_when_its_step_is_done(
    world_on_each_database: World,
) -> None:
    world = world_on_each_database
    await world.define_jurisdiction()
    runner = await world.start()
    t0 = world.clock.now()
    idle = await world.register()
    busy = await world.register()
    for case_id in (idle, busy):
        await world.on_routing(
            case_id,
            ReferralIssued(
                case_id=case_id,
                referral_id="R1",
                agency_code="OSC-SJP",
                agency_kind=AgencyKind.ONE_STOP_CENTRE,
                reason="medical",
                due_at=t0 + DAY,
            ),
        )
    # Every step of the busy case is done in time. Intake's and routing's streams are not ordered with
    # each other: let routing's steps land before intake resolves the case (a referral issued after
    # the case was closed starts no clock).
    await world.on_routing(
        busy, CaseAssigned(case_id=busy, officer="PNO100002", kendra="MSK-SJP-KATRA", reason="on duty")
    )
    await world.on_routing(busy, ReferralAccepted(case_id=busy, referral_id="R1", by="OSC-1"))
    await world.wait_for(busy, ClockStopped, count=2)
    await world.on_intake(busy, FirstContactMade(by="PNO100002", at=t0 + HOUR, mode="phone"))
    await world.on_intake(busy, ActionRecorded(kind="counselling", by="PNO100002", at=t0 + 2 * HOUR))
    await world.on_intake(busy, CaseResolved(outcome="counselled", feedback_rating=4, by="PNO100002"))
    stopped = await world.wait_for(busy, ClockStopped, count=len(CLOCKS))
    assert {s.clock for s in stopped} == CLOCKS and all(s.met for s in stopped)
    assert {s.clock for s in await world.facts(idle, ClockStarted)} == CLOCKS
    await world.scheduled(runner, [idle])

    world.clock.advance(2 * HOUR)  # half of the acknowledgement's 4 hours
    [warning] = await world.wait_for(idle, DeadlineApproaching)
    assert (warning.clock, warning.threshold_pct, warning.due_at) == ("acknowledge", 50, t0 + 4 * HOUR)

    world.clock.advance(60 * DAY)  # every deadline and every rung of the ladder has passed
    breaches = await world.wait_for(idle, SlaBreached, count=len(CLOCKS))
    assert {b.clock for b in breaches} == CLOCKS
    escalations = await world.wait_for(idle, CaseEscalated, count=6)
    assert [(e.level, e.office_code) for e in escalations] == [
        (1, "MSK-SJP-KATRA"),
        (2, "SJP-KATRA"),
        (3, "SJP-TILHAR"),
        (4, "SJP"),
        (5, "SJP"),
        (6, "UP"),
    ]
    # Fired once each, late (the clock jumped), never twice; the busy case never breached.
    await world.projected(runner)
    assert len(await world.facts(idle, SlaBreached)) == len(CLOCKS)
    assert len(await world.facts(idle, CaseEscalated)) == 6
    assert await world.facts(busy, SlaBreached) == [] and await world.facts(busy, CaseEscalated) == []


async def test_awaiting_the_complainant_pauses_and_a_reopen_restarts(world: World) -> None:
    runner = await world.start()
    t0 = world.clock.now()
    case_id = await world.register(assigned=True)
    await world.on_intake(case_id, FirstContactMade(by="PNO100002", at=t0 + HOUR, mode="visit"))
    await world.wait_for(case_id, ClockStopped, count=2)
    world.clock.advance(DAY)
    await world.on_intake(case_id, AwaitingComplainant(reason="not_reachable", by="PNO100002"))
    paused = await world.wait_for(case_id, ClockPaused, count=2)
    assert {p.clock for p in paused} == {"action_taken", "disposal"}

    world.clock.advance(9 * DAY)  # action taken (7 days) would have breached by now, were it running
    await world.on_intake(case_id, ComplainantResponded(by="PNO100002"))
    resumed = {r.clock: r for r in await world.wait_for(case_id, ClockResumed, count=2)}
    assert resumed["action_taken"].due_at == t0 + 16 * DAY
    await world.projected(runner)
    assert await world.facts(case_id, SlaBreached) == []

    world.clock.advance(6 * DAY)
    [breach] = await world.wait_for(case_id, SlaBreached)
    assert (breach.clock, breach.due_at) == ("action_taken", t0 + 16 * DAY)

    await world.on_intake(
        case_id,
        ActionRecorded(kind="fir_registered", by="PNO100002", at=world.clock.now(), fir_number="12/2026"),
    )
    await world.on_intake(case_id, CaseResolved(outcome="fir_registered", by="PNO100002"))
    await world.on_intake(case_id, CaseReopened(reason="complainant_request", by="PNO100003"))
    [reopened] = await world.wait_for(case_id, CaseWatchReopened)
    assert reopened.round == 2
    restarted = [s for s in await world.wait_for(case_id, ClockStarted, count=6) if s.round == 2]
    assert {s.clock for s in restarted} == {"action_taken", "disposal"}
    world.clock.advance(7 * DAY)
    late = await world.wait_for(case_id, SlaBreached, count=2)
    assert [(b.clock, b.round) for b in late] == [("action_taken", 1), ("action_taken", 2)]
    # The reopened case's ladder starts again from the Kendra in-charge.
    escalations = await world.wait_for(case_id, CaseEscalated, count=2)
    assert [(e.level, e.round) for e in escalations][-1] == (1, 2)


async def test_the_demo_policy_breaches_and_escalates_within_three_minutes(world: World) -> None:
    """`shakti up --demo` runs demo-policy.yaml: a case nobody acknowledges breaches and goes to the
    Kendra in-charge within three minutes, and climbs to the SP while one watches."""
    assert load_policy(DEMO_POLICY).version.endswith("-demo")
    await world.define_jurisdiction()
    runner = await world.start(build_service(DEMO_POLICY, poll_seconds=0.05))
    idle = await world.register()
    await world.scheduled(runner, [idle])
    world.clock.advance(timedelta(minutes=3))
    [breach, *_] = await world.wait_for(idle, SlaBreached)
    assert breach.clock == "acknowledge"
    [first, *_] = await world.wait_for(idle, CaseEscalated)
    assert (first.level, first.office_code) == (1, "MSK-SJP-KATRA")
    for _ in range(4):  # a rung each three minutes (P3)
        world.clock.advance(timedelta(minutes=3))
    escalations = await world.wait_for(idle, CaseEscalated, count=5)
    assert escalations[-1].role.value == "sp"
