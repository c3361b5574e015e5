"""A service split over two processes' roles: one reacts without keeping read models
(``--no-projections``), the other keeps the read models without reacting (``--no-reactions``)."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from nats.aio.client import Client as NatsClient

from bench.routing import DATA, registration
from services.routing.jurisdiction import import_jurisdiction
from services.routing.main import routing_service
from services.routing.roster import import_roster
from shared.eventstore import CommandMeta, EventStore
from shared.runtime import READY_LAG, ServiceRunner
from shared.settings import Settings
from tests.waiting import eventually


async def test_the_keeper_keeps_the_read_model_and_only_the_decider_decides(
    nats_client: NatsClient, nats_url: str, tmp_path: Path
) -> None:
    keeper = ServiceRunner(
        routing_service(), Settings(data_dir=tmp_path / "keeper", reactions=False), nats_url=nats_url
    )
    decider = ServiceRunner(
        routing_service(), Settings(data_dir=tmp_path / "decider", projections=False), nats_url=nats_url
    )
    kept = await keeper.start()
    try:
        await import_jurisdiction(DATA / "shahjahanpur.csv", kept.store)
        await import_roster(DATA / "shahjahanpur-roster.csv", kept.store)
        intake = EventStore(nats_client, "intake")
        await intake.ensure_stream()
        event = registration(random.Random(7)).model_copy(update={"thana": "SJP-KOTWALI", "pincode": None})
        await intake.append(
            "case",
            "case-1",
            [event],
            expected_sequence=0,
            expected_version=0,
            meta=CommandMeta(command_id="c1", actor="t"),
        )

        async def decisions() -> list[str]:
            return [e.event_type for e in await kept.store.load("case", "case-1")]

        await asyncio.sleep(1.5)
        assert await decisions() == [], "a process with reactions off decided"
        assert "routing_on_cases" not in [
            c.name for c in await nats_client.jetstream().consumers_info("INTAKE")
        ]

        decided = await decider.start()
        try:
            await eventually(lambda: _has(decisions(), "CaseAssigned"), 20, "the decider assigns the case")
            # The keeper's read model takes the decision in; the decider's own database is left alone.
            await eventually(lambda: _no_lag(keeper), 20, "the keeper's read model caught up")
            assert await decided.projectors["routing"].checkpoint("ROUTING") == 0
        finally:
            await decider.stop()
    finally:
        await keeper.stop()


async def _has(decisions: object, event_type: str) -> bool:
    return event_type in await decisions  # type: ignore[misc]


async def _no_lag(runner: ServiceRunner) -> bool:
    assert runner.context is not None
    for projector in runner.context.projectors.values():
        if any((await projector.lag()).values()) or await projector.checkpoint("ROUTING") == 0:
            return False
    return True


async def test_a_process_without_projections_stays_ready_when_the_keeper_is_behind(
    nats_client: NatsClient, nats_url: str, tmp_path: Path
) -> None:
    replica = ServiceRunner(
        routing_service(),
        Settings(data_dir=tmp_path),
        nats_url=nats_url,
        run_projections=False,
        run_reactions=False,
    )
    await replica.start()
    try:
        # More events than READY_LAG that no process has taken into the read model.
        intake = EventStore(nats_client, "intake")
        rng = random.Random(3)
        await asyncio.gather(*(
            intake.append("case", f"c{i}", [registration(rng)], expected_sequence=0, expected_version=0, meta=CommandMeta(command_id=f"c{i}", actor="t"))
            for i in range(READY_LAG + 50)
        ))  # fmt: skip
        report = await replica.readiness()
        assert report["lag"]["routing"]["INTAKE"] > READY_LAG
        assert report["ready"], "a replica that keeps no read model was taken out for another's lag"
        replica.run_projections = True  # the same lag in a process whose job is to keep the read model
        assert not (await replica.readiness())["ready"]
    finally:
        await replica.stop()
