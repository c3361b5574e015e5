"""The whole platform (four services and its NATS server, ``shakti up``) killed with SIGKILL at
random points while complaints arrive over HTTP, and started again on the same data.

Every complaint the API acknowledged is registered exactly once (a client retrying with its
Idempotency-Key after the crash gets the same case), routed and assigned exactly once, its SOP clocks
started once each, and every service's read models equal a rebuild from its events.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from functools import partial
from pathlib import Path

import httpx

from bench.e2e import Load, Platform
from shakti.basics import SERVICES
from shakti.platform import definition
from shared.consistency import check_service
from shared.events import Envelope
from shared.settings import Settings
from tests.test_cluster import stored_events
from tests.waiting import eventually

CASES = 60


async def register_until_acknowledged(load: Load, n: int) -> str | None:
    """One complaint, sent again with the same Idempotency-Key until the API says 201 (None while the
    platform is down: the caller retries later)."""
    try:
        response = await load.post_complaint(n, f"crash-case-{n}", timeout=10.0)
    except httpx.HTTPError:
        return None
    if response.status_code != 201:
        return None
    case_id: str = response.json()["case_id"]
    return case_id


async def lag_is_zero(load: Load) -> bool:
    try:
        response = await load.client.get("/readyz")
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and await load.lag() == 0


async def test_killing_the_platform_under_load_loses_nothing_and_doubles_nothing(tmp_path: Path) -> None:
    rng = random.Random()
    kill_after = sorted(rng.sample(range(5, CASES - 5), 2))
    target = Platform(tmp_path).start()
    load = Load(target)
    acknowledged: dict[int, str] = {}
    try:
        await load.ready()
        await load.prepare()
        n = 0
        while n < CASES:
            sending = asyncio.create_task(register_until_acknowledged(load, n))
            if kill_after and n == kill_after[0]:
                # While this complaint is in flight and earlier ones are being routed and clocked.
                kill_after.pop(0)
                await asyncio.sleep(rng.uniform(0, 0.05))
                target.kill()
                target.start()
            case_id = await sending
            if case_id is None:
                await load.ready()
                continue  # the same complaint again, with the same Idempotency-Key
            acknowledged[n] = case_id
            n += 1
        await each_case_once(target, load, acknowledged, tmp_path / "var")
    finally:
        await load.client.aclose()
        target.stop()


async def each_case_once(target: Platform, load: Load, acknowledged: dict[int, str], data_dir: Path) -> None:
    """Every acknowledged case registered, routed and assigned exactly once, its clocks started once
    each, no event stored twice, and every service's read models equal to a rebuild from its events."""
    nc = await target.nats_connect("test-crash")  # as the operators
    cases = set(acknowledged.values())
    try:

        async def every_case_has(stream: str, event_type: str) -> bool:
            stored = await stored_events(nc, stream, f"shakti.{stream.lower()}.case.>")
            return {e.aggregate_id for e in stored if e.event_type == event_type} >= cases

        # What a killed process had fetched and not acknowledged comes again after the consumers'
        # ack wait (30 s): recovery is that slow, not lossy.
        for stream, event_type in (
            ("ROUTING", "CaseRouted"),
            ("ROUTING", "CaseAssigned"),
            ("ESCALATION", "ClockStarted"),
        ):
            await eventually(partial(every_case_has, stream, event_type), 90, f"{event_type} for every case")
        await eventually(lambda: lag_is_zero(load), 60, "every read model caught up")
        intake = await stored_events(nc, "INTAKE", "shakti.intake.case.>")
        routing = await stored_events(nc, "ROUTING", "shakti.routing.case.>")
        escalation = await stored_events(nc, "ESCALATION", "shakti.escalation.case.>")
    finally:
        await nc.close()

    registered = Counter(e.aggregate_id for e in intake if e.event_type == "CaseRegistered")
    assert set(registered) == cases, "a case is lost, or one nobody acknowledged"
    assert max(registered.values()) == 1
    for kind in ("CaseRouted", "CaseAssigned"):
        per_case = Counter(e.aggregate_id for e in routing if e.event_type == kind)
        assert set(per_case) == cases, f"a case has no {kind}"
        assert max(per_case.values()) == 1, f"a case has two {kind}"
    clocks = Counter(_clock_key(e) for e in escalation if e.event_type == "ClockStarted")
    assert max(clocks.values()) == 1, "a clock was started twice"
    for events in (intake, routing, escalation):
        assert len({e.event_id for e in events}) == len(events), "an event was stored twice"

    settings = Settings(data_dir=data_dir, keys_dir=target.keys)  # the platform's keys, as `shakti check` has
    reports = {
        name: await check_service(definition(name), settings, nats_url=target.nats_url) for name in SERVICES
    }
    for name in SERVICES:
        assert reports[name].consistent, "\n".join(reports[name].lines())


def _clock_key(envelope: Envelope) -> tuple[str, str, str, int]:
    payload = envelope.payload
    return (envelope.aggregate_id, payload["clock"], str(payload.get("referral_id")), payload.get("round", 1))
