"""The assignment process manager on a real NATS server: routing and assignment with reasons, referrals,
duplicates and redelivery, two replicas, reassignment on leave, on escalation, and certifications."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import timedelta

import nats
from nats.aio.client import Client as NatsClient

from services.routing.decisions import Decisions
from services.routing.domain import CaseRouting
from services.routing.handlers import Dispatch
from services.routing.jurisdiction import import_jurisdiction
from services.routing.policy import RoutingPolicy
from services.routing.roster import Roster
from services.routing.tests.conftest import SAMPLE, Routing, case_fields, start_routing
from shared.clock import ManualClock
from shared.contracts.escalation import CaseEscalated
from shared.contracts.intake import CaseClosed, CaseRegistered, ReferralMade
from shared.contracts.routing import (
    CaseAssigned,
    CaseReassigned,
    CaseRouted,
    CaseUnroutable,
    ReferralIssued,
)
from shared.contracts.training import OfficerCertified
from shared.contracts.vocabulary import AgencyKind, Category, DutyStatus, LadderRole
from shared.events import HEADER_TYPE, HEADER_VERSION, Envelope
from shared.eventstore import CommandMeta, EventStore
from shared.roles import Role
from tests.waiting import eventually

KATRA = "MSK-SJP-KATRA"


def types(record: list[Envelope]) -> list[str]:
    return [e.event_type for e in record]


async def katra_staff(routing: Routing) -> None:
    """An in-charge and three constables, two of them women."""
    await routing.officer("PNO100", KATRA, incharge=True)
    await routing.officer("PNO101", KATRA)
    await routing.officer("PNO102", KATRA)
    await routing.officer("PNO103", KATRA, gender="male")


async def test_a_registered_case_is_routed_assigned_and_referred_with_its_reasons(routing: Routing) -> None:
    await katra_staff(routing)
    case_id = await routing.register(thana="SJP-KATRA", category=Category.SEXUAL_ASSAULT, minor=True)
    record = await routing.settled(case_id, "CaseRouted", "CaseAssigned", "ReferralIssued", "ReferralIssued")
    routed, assigned, *referrals = (e.event() for e in record)
    assert isinstance(routed, CaseRouted) and (routed.kendra, routed.circle, routed.flagged) == (
        KATRA,
        "SJP-TILHAR",
        False,
    )
    assert routed.reason == "thana SJP-KATRA was given at registration" and routed.reason_hi
    # A woman officer who is not the in-charge, the first by service number when workloads are equal.
    assert isinstance(assigned, CaseAssigned) and assigned.officer == "PNO101" and not assigned.flagged
    assert (
        "a woman officer" in assigned.reason
        and "fewest open cases (0)" in assigned.reason
        and assigned.reason_hi
    )
    due = routing.clock.now() + timedelta(hours=24)
    assert {(r.agency_code, r.agency_kind, r.due_at) for r in referrals if isinstance(r, ReferralIssued)} == {
        ("SJP-CWC", AgencyKind.CHILD_WELFARE_COMMITTEE, due),
        ("SJP-OSC", AgencyKind.ONE_STOP_CENTRE, due),
    }
    # The next case goes to the other woman: fewer open cases.
    second = await routing.register(thana="SJP-KATRA", category=Category.STALKING)
    [_, again] = (await routing.settled(second, "CaseRouted", "CaseAssigned"))[:2]
    assert again.payload["officer"] == "PNO102"


async def test_unresolvable_places_go_to_the_control_kendra_and_unknown_districts_are_unroutable(
    routing: Routing,
) -> None:
    await routing.officer("PNO200", "MSK-SJP-MAHILA-THANA", incharge=True)
    shared_pin = await routing.register(pincode="242001")
    by_locality = await routing.register(pincode="242001", locality_code="SJP-KOTWALI-01")
    elsewhere = await routing.register(district="LKO", pincode="226001")
    routed = (await routing.settled(shared_pin, "CaseRouted", "CaseAssigned"))[0].event()
    assert isinstance(routed, CaseRouted) and routed.kendra == "MSK-SJP-MAHILA-THANA" and routed.flagged
    assert "PIN code 242001 is shared by thanas" in routed.reason
    # Nobody but the in-charge at the control Kendra: she takes it, flagged.
    assigned = (await routing.record(shared_pin))[1].event()
    assert isinstance(assigned, CaseAssigned) and assigned.officer == "PNO200" and assigned.flagged
    # Kotwali has no officer at all: the case waits there for one, on the record.
    record = await routing.settled(by_locality, "CaseRouted", "CaseUnassigned")
    assert record[0].payload["kendra"] == "MSK-SJP-KOTWALI" and not record[0].payload["flagged"]
    [unroutable] = await routing.settled(elsewhere, "CaseUnroutable")
    event = unroutable.event()
    assert (
        isinstance(event, CaseUnroutable)
        and "district LKO has no jurisdiction" in event.why
        and event.district == "LKO"
    )


async def test_a_duplicate_delivery_or_a_second_registration_never_assigns_twice(
    routing: Routing, nats_client: NatsClient
) -> None:
    await katra_staff(routing)
    case_id = await routing.register(thana="SJP-KATRA")
    await routing.settled(case_id, "CaseRouted", "CaseAssigned")
    [registered] = await routing.intake.load("case", case_id)
    # The same event stored again (as after a publisher's retry past the dedup window) ...
    headers = {HEADER_TYPE: registered.event_type, HEADER_VERSION: str(registered.schema_version)}
    await nats_client.jetstream().publish(
        f"shakti.intake.case.{case_id}", registered.model_dump_json().encode(), headers=headers
    )
    # ... and a second registration of the same case under a new event id, for another thana.
    await routing.intake_event(case_id, CaseRegistered(**case_fields(thana="SJP-KALAN")))
    # The process manager keeps stream order: once a later case is routed, the duplicates were handled.
    later = await routing.register(thana="SJP-KATRA")
    await routing.settled(later, "CaseRouted", "CaseAssigned")
    assert types(await routing.record(case_id)) == ["CaseRouted", "CaseAssigned"]


async def test_two_replicas_route_each_case_exactly_once(
    nats_client: NatsClient, nats_url: str, sqlite_url: str, clock: ManualClock
) -> None:
    async with AsyncExitStack() as stack:
        first = await start_routing(stack, nats_url, sqlite_url, clock)
        second = await start_routing(stack, nats_url, sqlite_url.replace(".db", "-2.db"), clock)
        await import_jurisdiction(SAMPLE, first.store)
        await katra_staff(first)
        case_ids = [await first.register(thana="SJP-KATRA") for _ in range(12)]
        for case_id in case_ids:  # each registration delivered twice
            [registered] = await first.intake.load("case", case_id)
            headers = {HEADER_TYPE: registered.event_type, HEADER_VERSION: "1"}
            await nats_client.jetstream().publish(
                f"shakti.intake.case.{case_id}", registered.model_dump_json().encode(), headers=headers
            )
        for case_id in case_ids:
            await first.settled(case_id, "CaseRouted", "CaseAssigned")
        # Both replicas race on the same cause: one command id, one outcome.
        raced = await first.register(thana="SJP-KATRA")
        [cause] = await first.intake.load("case", raced)
        event = cause.event()
        assert isinstance(event, CaseRegistered)
        dispatches = []
        for n in range(2):
            nc = await nats.connect(nats_url)
            stack.push_async_callback(nc.drain)
            ctx = first.ctx if n == 0 else second.ctx
            decisions = Decisions(replace(ctx, store=EventStore(nc, "routing")), RoutingPolicy())
            dispatch = Dispatch(decisions, RoutingPolicy())
            feed = asyncio.create_task(decisions.feed.run())
            stack.callback(feed.cancel)
            dispatches.append(dispatch)
        outcomes = await asyncio.gather(*(d.route(event, cause) for d in dispatches))
        assert [e.event_id for e in outcomes[0]] == [e.event_id for e in outcomes[1]]
        for case_id in [*case_ids, raced]:
            await first.settled(case_id, "CaseRouted", "CaseAssigned")
            assert types(await first.record(case_id)) == ["CaseRouted", "CaseAssigned"]
        # The workload stayed balanced over the three officers although two processes decided. Each
        # process decides one case at a time and sees every assignment stored before it decides, so a
        # decision can miss at most the other process's one in flight: two may pick the same officer at
        # the same moment, and loads stay within two of each other (exactly even only by luck).
        loads = {o: 0 for o in ("PNO101", "PNO102", "PNO103")}
        for case_id in case_ids:
            loads[(await first.record(case_id))[1].payload["officer"]] += 1
        assert sum(loads.values()) == 12 and max(loads.values()) - min(loads.values()) <= 2, loads


async def test_an_officer_going_on_leave_hands_over_open_cases_and_waiting_cases_find_an_officer(
    routing: Routing,
) -> None:
    await katra_staff(routing)
    cases = [await routing.register(thana="SJP-KATRA", category=Category.STALKING) for _ in range(4)]
    for case_id in cases:
        await routing.settled(case_id, "CaseRouted", "CaseAssigned")
    held = {c: (await routing.record(c))[1].payload["officer"] for c in cases}
    assert sorted(held.values()) == ["PNO101", "PNO101", "PNO102", "PNO102"]
    leaving = [c for c in cases if held[c] == "PNO101"]
    await routing.intake_event(leaving[0], CaseClosed(reason="resolved", by="PNO101"))
    await routing.duty("PNO101", DutyStatus.ON_LEAVE)
    moved = (await routing.settled(leaving[1], "CaseRouted", "CaseAssigned", "CaseReassigned"))[-1].event()
    assert isinstance(moved, CaseReassigned) and (moved.from_officer, moved.officer) == ("PNO101", "PNO102")
    assert moved.trigger == "on_leave" and moved.reason.startswith("officer PNO101 went on leave")
    # The second woman goes off duty: her cases go to the in-charge, flagged (the man may not take them).
    await routing.duty("PNO102", DutyStatus.OFF_DUTY)
    open_cases = [c for c in cases if c != leaving[0]]
    await eventually(lambda: _held_by(routing, open_cases, "PNO100"), what="the cases with the in-charge")
    last = (await routing.record(open_cases[0]))[-1].event()
    assert isinstance(last, CaseReassigned) and last.flagged and "in-charge takes it" in last.reason
    # The in-charge goes on leave too: nobody is left, the cases wait on the record ...
    await routing.duty("PNO100", DutyStatus.ON_LEAVE)
    for case_id in open_cases:
        await routing.settled(case_id, "CaseUnassigned")
    # ... until a woman officer comes back on duty.
    await routing.duty("PNO102", DutyStatus.ON_DUTY)
    await eventually(lambda: _held_by(routing, open_cases, "PNO102"), what="the cases back with PNO102")
    back = (await routing.record(open_cases[0]))[-1].event()
    assert (
        isinstance(back, CaseReassigned) and back.trigger == "officer_available" and back.from_officer is None
    )
    # The closed case never moved.
    assert types(await routing.record(leaving[0])) == ["CaseRouted", "CaseAssigned"]


async def _held_by(routing: Routing, case_ids: list[str], officer: str) -> bool:
    for case_id in case_ids:
        if CaseRouting.replay(case_id, await routing.record(case_id)).officer != officer:
            return False
    return True


async def test_a_certification_after_the_case_changes_nothing_until_it_is_reassigned(
    routing: Routing,
) -> None:
    await katra_staff(routing)
    case_id = await routing.register(thana="SJP-KATRA", category=Category.SEXUAL_HARASSMENT)
    first = (await routing.settled(case_id, "CaseRouted", "CaseAssigned"))[1]
    assert first.payload["officer"] == "PNO101"
    training = EventStore(routing.store.nc, "training")
    await training.append(
        "officer",
        "PNO102",
        [
            OfficerCertified(
                service_number="PNO102",
                certificate_id="CERT-1",
                endorsements=[Category.SEXUAL_HARASSMENT],
                issued_at=routing.clock.now(),
                valid_until=routing.clock.now() + timedelta(days=365),
            )
        ],
        expected_sequence=0,
        expected_version=0,
        meta=CommandMeta(command_id="cert-1", actor="training"),
    )
    # A case registered after the certificate goes to the certified officer, though she has one case more ...
    after = await routing.register(thana="SJP-KATRA", category=Category.SEXUAL_HARASSMENT)
    assigned = (await routing.settled(after, "CaseRouted", "CaseAssigned"))[1]
    assert (
        assigned.payload["officer"] == "PNO102"
        and "certified for sexual harassment" in assigned.payload["reason"]
    )
    # ... while the earlier case stays where it was decided.
    assert types(await routing.record(case_id)) == ["CaseRouted", "CaseAssigned"]
    # Reassigned by hand, the rules pick again: now the certified officer.
    response = await routing.client.post(
        f"/api/routing/cases/{case_id}/reassign",
        json={"reason": "specialist_needed"},
        headers=routing.auth(Role.SHO, district="SJP", circle="SJP-TILHAR", thana="SJP-KATRA"),
    )
    assert response.status_code == 200, response.text
    [moved] = response.json()["recorded"]
    assert (moved["from_officer"], moved["officer"], moved["trigger"]) == ("PNO101", "PNO102", "by_hand")
    assert moved["reason"].startswith("Needs an officer with other skills (by PNO999001)")


async def test_an_escalation_from_the_set_level_moves_the_case_within_its_kendra(routing: Routing) -> None:
    await katra_staff(routing)
    case_id = await routing.register(thana="SJP-KATRA")
    assert (await routing.settled(case_id, "CaseRouted", "CaseAssigned"))[1].payload["officer"] == "PNO101"
    escalation = EventStore(routing.store.nc, "escalation")
    seq = 0
    for level, role in ((1, LadderRole.KENDRA_INCHARGE), (2, LadderRole.SHO)):
        [stored] = await escalation.append(
            "case",
            case_id,
            [
                CaseEscalated(
                    case_id=case_id,
                    level=level,
                    role=role,
                    office_code="SJP-KATRA",
                    reason="breach:first_contact" if level == 1 else "unanswered:first_contact",
                )
            ],
            expected_sequence=seq,
            expected_version=level - 1,
            meta=CommandMeta(command_id=f"esc-{level}", actor="escalation"),
        )
        seq = stored.sequence
    record = await routing.settled(case_id, "CaseRouted", "CaseAssigned", "CaseReassigned")
    assert types(record) == ["CaseRouted", "CaseAssigned", "CaseReassigned"]  # level 1 moved nothing
    moved = record[-1].event()
    assert isinstance(moved, CaseReassigned) and moved.trigger == "escalation"
    assert (
        moved.officer == "PNO102" and moved.kendra == KATRA and "escalated to level 2 (SHO)" in moved.reason
    )


async def test_a_danger_now_alert_at_registration_leaves_the_case_with_its_officer(routing: Routing) -> None:
    """Escalation alerts the in-charge and the SHO (level 2) the moment a danger-now case is registered;
    that alert must not move the case seconds after it was assigned. Lateness later still does."""
    await katra_staff(routing)
    case_id = await routing.register(thana="SJP-KATRA", danger_now=True)
    assert (await routing.settled(case_id, "CaseRouted", "CaseAssigned"))[1].payload["officer"] == "PNO101"
    escalation = EventStore(routing.store.nc, "escalation")
    alerts = [
        (1, LadderRole.KENDRA_INCHARGE, "danger_now:first_contact"),
        (2, LadderRole.SHO, "danger_now:first_contact"),
        (3, LadderRole.CO, "unanswered:first_contact"),
    ]
    seq = 0
    for version, (level, role, reason) in enumerate(alerts):
        [stored] = await escalation.append(
            "case",
            case_id,
            [CaseEscalated(case_id=case_id, level=level, role=role, office_code="SJP-KATRA", reason=reason)],
            expected_sequence=seq,
            expected_version=version,
            meta=CommandMeta(command_id=f"danger-{level}", actor="escalation"),
        )
        seq = stored.sequence
    # Routing handles escalations in order: the first move it makes is the one the lateness caused.
    record = await routing.settled(case_id, "CaseRouted", "CaseAssigned", "CaseReassigned")
    moved = record[2].event()
    assert isinstance(moved, CaseReassigned) and "escalated to level 3" in moved.reason, moved


async def test_legal_aid_on_request_is_referred_once_with_a_deadline(routing: Routing) -> None:
    await katra_staff(routing)
    case_id = await routing.register(thana="SJP-KATRA", category=Category.MAINTENANCE_PROPERTY)
    await routing.settled(case_id, "CaseRouted", "CaseAssigned")
    routing.clock.advance(timedelta(hours=3))
    asked = await routing.intake_event(
        case_id, ReferralMade(agency_kind=AgencyKind.LEGAL_SERVICES, by="PNO101")
    )
    await routing.intake_event(case_id, ReferralMade(agency_kind=AgencyKind.LEGAL_SERVICES, by="PNO101"))
    await routing.intake_event(
        case_id, ReferralMade(agency_kind=AgencyKind.SHELTER_HOME, agency_code="SJP-SHELTER", by="PNO101")
    )
    record = await routing.settled(case_id, "CaseRouted", "CaseAssigned", "ReferralIssued", "ReferralIssued")
    referrals = [e.event() for e in record if e.event_type == "ReferralIssued"]
    assert [(r.agency_code, r.due_at) for r in referrals if isinstance(r, ReferralIssued)] == [
        ("SJP-DLSA", asked.occurred_at + timedelta(hours=24)),
        ("SJP-SHELTER", asked.occurred_at + timedelta(hours=24)),
    ]
    assert "asked for at the Kendra by PNO101" in record[2].payload["reason"]


async def test_a_routing_interrupted_after_its_first_step_is_finished_not_repeated(
    nats_client: NatsClient, nats_url: str, sqlite_url: str, clock: ManualClock
) -> None:
    """As if a replica died after recording CaseRouted: the redelivered registration adds only what
    is missing (the assignment and the referral), under the same step ids."""
    intake = EventStore(nats_client, "intake")
    routing_store = EventStore(nats_client, "routing")
    for store in (intake, routing_store):
        await store.ensure_stream()
    await import_jurisdiction(SAMPLE, routing_store)
    roster = Roster(routing_store)
    for n, sn in enumerate(("PNO101", "PNO102")):
        await roster.enrol(sn, sn, "constable", "female", CommandMeta(command_id=f"enrol-{n}", actor="t"))
        await roster.post(sn, KATRA, False, CommandMeta(command_id=f"post-{n}", actor="t"))
    case_id = "0" * 31 + "1"
    [cause] = await intake.append(
        "case",
        case_id,
        [CaseRegistered(**case_fields(thana="SJP-KATRA", category=Category.DOMESTIC_VIOLENCE))],
        expected_sequence=0,
        expected_version=0,
        meta=CommandMeta(command_id="register-1", actor="intake"),
    )
    first_step = CommandMeta.reacting_to(cause, "routing", "route")
    await routing_store.append(
        "case",
        case_id,
        [
            CaseRouted(
                case_id=case_id,
                district="SJP",
                circle="SJP-TILHAR",
                thana="SJP-KATRA",
                kendra=KATRA,
                reason="r",
            )
        ],
        expected_sequence=0,
        expected_version=0,
        meta=first_step.model_copy(update={"command_id": f"{first_step.command_id}:place"}),
    )
    async with AsyncExitStack() as stack:
        service = await start_routing(stack, nats_url, sqlite_url, clock)
        record = await service.settled(case_id, "CaseRouted", "CaseAssigned", "ReferralIssued")
        assert types(record) == ["CaseRouted", "CaseAssigned", "ReferralIssued"]
        # The redelivered registration finishes the assignment, unless the duty board's own sweep of
        # cases waiting at the Kendra got there first; either way there is one, to the same officer.
        command = record[1].command_id
        assert command == f"{first_step.command_id}:assign" or command.endswith(f":give:{case_id}")
        assert record[1].payload["officer"] == "PNO101"


async def test_an_officer_posted_to_another_kendra_leaves_her_cases_behind(routing: Routing) -> None:
    await katra_staff(routing)
    case_id = await routing.register(thana="SJP-KATRA", category=Category.STALKING)
    assert (await routing.settled(case_id, "CaseRouted", "CaseAssigned"))[1].payload["officer"] == "PNO101"
    await routing.officer("PNO101", "MSK-SJP-KALAN")  # enrolled again unchanged, posted to Kalan
    moved = (await routing.settled(case_id, "CaseRouted", "CaseAssigned", "CaseReassigned"))[-1].event()
    assert isinstance(moved, CaseReassigned) and moved.trigger == "posted_away"
    assert (moved.officer, moved.kendra) == ("PNO102", KATRA)
    assert moved.reason.startswith("officer PNO101 was posted to MSK-SJP-KALAN")
