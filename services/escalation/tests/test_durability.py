"""Timers that survive: a restart while breaches are due, two replicas, duplicate and out-of-order
events, and a policy file that is wrong. Real NATS; both databases where the timer table matters."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from nats.aio.msg import Msg
from sqlalchemy import func, select

from services.escalation.main import Escalation, build_service
from services.escalation.policy import DEFAULT_POLICY, PolicyError, load_policy
from shared.contracts.escalation import (
    CaseEscalated,
    CaseWatched,
    ClockStarted,
    ClockStopped,
    DeadlineApproaching,
    SlaBreached,
)
from shared.contracts.intake import AwaitingComplainant, FirstContactMade
from shared.contracts.routing import CaseAssigned
from shared.events import HEADER_TYPE
from shared.runtime import ServiceRunner
from shared.subscriber import ProcessManager
from tests.waiting import eventually

from .conftest import START, World

HOUR = timedelta(hours=1)
CASES = 30


async def nothing_due(world: World, runner: ServiceRunner) -> None:
    """Wait until the timer table holds no check that has come due: all fired and projected."""
    board = world.board(runner)
    now = world.clock.now()

    async def done() -> bool:
        async with board.sessions() as session:
            due = await session.scalar(
                select(func.count())
                .select_from(board.tables.next_check)
                .where(board.tables.next_check.c.at <= now)
            )
            return bool(due == 0)

    await eventually(done, 30.0, "no due checks left in the timer table")


async def assigned_cases(world: World, runner: ServiceRunner, count: int) -> list[str]:
    cases = [await world.register(assigned=True) for _ in range(count)]
    for case_id in cases:
        await world.wait_for(case_id, ClockStopped)  # acknowledged: first contact is the next deadline
    await world.projected(runner)
    return cases


async def test_a_service_killed_while_breaches_are_due_fires_each_once_late_never_skipped(
    world_on_each_database: World,
) -> None:
    world = world_on_each_database
    await world.define_jurisdiction()
    first = await world.start()
    cases = await assigned_cases(world, first, CASES)
    await world.stop(first)

    world.clock.advance(25 * HOUR)  # first contact was due at 24 hours, while nothing ran
    # Start again, and kill it the moment it has fired its first breach (mid-way through the due ones).
    fired = asyncio.Event()

    async def on_event(msg: Msg) -> None:
        if (msg.headers or {}).get(HEADER_TYPE) == "SlaBreached":
            fired.set()

    watcher = await world.nc.subscribe("shakti.escalation.case.*", cb=on_event)
    second = await world.start()
    await asyncio.wait_for(fired.wait(), 20)
    await world.stop(second)
    await watcher.unsubscribe()

    runner = await world.start(build_service(DEFAULT_POLICY, poll_seconds=0.05))
    assert isinstance(runner.instance, Escalation)
    for case_id in cases:
        await world.wait_for(case_id, CaseEscalated)
    # Every case has fired: let the worker sweep the whole timer table twice more, so that a second
    # breach, if anything could cause one, would have been appended by now.
    worker = runner.instance.deadline_worker
    swept = worker.sweeps
    await eventually(lambda: worker.sweeps >= swept + 2, 20.0, "two more sweeps")
    for case_id in cases:
        [breach] = await world.facts(case_id, SlaBreached)
        assert breach.clock == "first_contact"
        assert breach.due_at == START + 24 * HOUR and breach.breached_at == START + 25 * HOUR
        [climbed] = await world.facts(case_id, CaseEscalated)
        assert (climbed.level, climbed.office_code) == (1, "MSK-SJP-KATRA")
        # The 50% and 80% warnings were overtaken by the breach while the service was down.
        assert await world.facts(case_id, DeadlineApproaching) == []


async def test_two_replicas_fire_every_breach_once(world_on_each_database: World) -> None:
    """Both replicas run the process managers and the deadline worker on the shared read model; the
    read model's projection runs in one (the foundation's projector does not yet take two followers
    on one consumer safely: a partial batch lets the second take the next events)."""
    world = world_on_each_database
    await world.define_jurisdiction()
    one = await world.start()
    await world.start(run_projections=False)
    cases = await assigned_cases(world, one, CASES)
    world.clock.advance(12 * HOUR)  # half of first contact's 24 hours
    for case_id in cases:
        await world.wait_for(case_id, DeadlineApproaching)
    world.clock.advance(12 * HOUR)
    for case_id in cases:
        await world.wait_for(case_id, CaseEscalated)
    await nothing_due(world, one)
    for case_id in cases:
        assert [w.threshold_pct for w in await world.facts(case_id, DeadlineApproaching)] == [50]
        assert len(await world.facts(case_id, SlaBreached)) == 1
        assert len(await world.facts(case_id, CaseEscalated)) == 1


async def test_routing_ahead_of_intake_and_repeated_events_change_nothing(world: World) -> None:
    case_id = await world.register(routed=True)
    await world.on_routing(
        case_id, CaseAssigned(case_id=case_id, officer="PNO100002", kendra="MSK-SJP-KATRA", reason="on duty")
    )

    # Only routing's consumer runs: it meets a case it has not watched, and reads intake's registration.
    class RoutingOnly(Escalation):
        def process_managers(self) -> list[ProcessManager]:
            return [pm for pm in super().process_managers() if pm.stream == "ROUTING"]

    routing_only = dataclasses.replace(
        build_service(), instance=lambda ctx: RoutingOnly(ctx, load_policy(DEFAULT_POLICY), 0.05)
    )
    early = await world.start(routing_only)
    [stopped] = await world.wait_for(case_id, ClockStopped)
    assert (stopped.clock, stopped.met, stopped.reason) == ("acknowledge", True, "CaseAssigned")
    await world.stop(early)

    runner = await world.start()
    contact = await world.on_intake(
        case_id, FirstContactMade(by="PNO100002", at=world.clock.now(), mode="phone")
    )
    await world.wait_for(case_id, ClockStopped, count=2)
    await world.on_intake(case_id, AwaitingComplainant(reason="not_reachable", by="PNO100002"))
    # The same event stored twice (a producer's retry outside the dedup window)...
    js = world.nc.jetstream()
    await js.publish(
        f"shakti.intake.case.{case_id}",
        contact.model_dump_json().encode(),
        headers={HEADER_TYPE: contact.event_type},
    )
    await world.on_intake(case_id, AwaitingComplainant(reason="not_reachable", by="PNO100002"))
    await consumed(world, "INTAKE", "escalation_on_intake")
    before = [e.event_id for e in await world.history(case_id)]
    # ...and every event delivered again from the start, to a consumer that has forgotten them all.
    await world.stop(runner)
    await js.delete_consumer("INTAKE", "escalation_on_intake")
    await js.delete_consumer("ROUTING", "escalation_on_routing")
    await world.start()
    await consumed(world, "INTAKE", "escalation_on_intake")
    await consumed(world, "ROUTING", "escalation_on_routing")
    assert [e.event_id for e in await world.history(case_id)] == before
    assert len(await world.facts(case_id, CaseWatched)) == 1
    assert len(await world.facts(case_id, ClockStarted)) == 4
    assert sorted(s.clock for s in await world.facts(case_id, ClockStopped)) == [
        "acknowledge",
        "first_contact",
    ]


async def consumed(world: World, stream: str, consumer: str) -> None:
    js = world.nc.jetstream()
    last = (await js.stream_info(stream)).state.last_seq

    async def caught_up() -> bool:
        info = await js.consumer_info(stream, consumer)
        return bool(info.ack_floor and info.ack_floor.stream_seq >= last)

    await eventually(caught_up, 20.0, f"{consumer} acknowledged {stream} up to #{last}")


async def test_a_bad_policy_file_stops_the_start_naming_the_field(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    document: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY.read_text(encoding="utf-8"))
    document["priorities"]["P2"]["limits"]["first_contact"] = "four hours"
    bad = tmp_path / "policy.yaml"
    bad.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("SHAKTI_ESCALATION_POLICY", str(bad))
    runner = ServiceRunner(
        build_service(), world.settings, nats_url=world.nats_url, database_url=world.database_url
    )
    try:
        with pytest.raises(
            PolicyError, match=r"priorities\.P2\.limits\.first_contact: 'four hours' is not a limit"
        ):
            await runner.start()
    finally:
        await runner.stop()
