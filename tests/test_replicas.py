"""Two replicas of routing and of escalation as separate processes, on one NATS server and one set of
read models, sharing their durable consumers; one replica of each is killed (SIGKILL) mid-load and the
other takes over.

The whole platform (``shakti up``) holds the first replicas; ``shakti serve routing`` and ``shakti serve
escalation`` are the second. No case is assigned twice, no clock started twice, each case's events are
reacted to in their order whichever replica took them, and the shared read models equal a rebuild.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter, defaultdict
from functools import partial
from pathlib import Path

import httpx
from nats.aio.client import Client as NatsClient

from bench.e2e import Load, Platform
from shakti.platform import definition
from shared.bus import OPS
from shared.consistency import check_service
from tests.test_cluster import stored_events
from tests.test_cluster_crash import lag_is_zero, register_until_acknowledged
from tests.test_nats_accounts import Bus, authenticated_bus
from tests.waiting import eventually

CASES = 80
KILL_AT = 40


async def reactions(client: httpx.AsyncClient, replica: Platform, manager: str) -> float:
    text = (await client.get(f"{replica.url}/metrics")).text
    found = re.search(rf'shakti_reactions_total{{manager="{manager}",outcome="done"}} ([0-9.e+]+)', text)
    return float(found.group(1)) if found else 0.0


async def test_a_second_replica_shares_the_work_and_the_first_takes_over_when_it_dies(tmp_path: Path) -> None:
    # Every process connects to the shared server as its parts' users (as a deployment does).
    with authenticated_bus(tmp_path / "bus") as bus:
        nats_client = await bus.connect(OPS)
        try:
            await replicas_share_the_work(bus, nats_client, tmp_path)
        finally:
            await nats_client.close()


async def replicas_share_the_work(bus: Bus, nats_client: NatsClient, tmp_path: Path) -> None:
    env = {"SHAKTI_NATS_URL": bus.url, "SHAKTI_NATS_CREDENTIALS_FILE": str(bus.credentials_file)}
    # All started at the same moment, as compose starts replicas: they create the shared read models'
    # tables (SQLite files here, as one PostgreSQL database would be) at once.
    first = Platform(tmp_path, env).start()
    second = {
        service: Platform(tmp_path, env, ("serve", service), f"{service}-second").start()
        for service in ("routing", "escalation")
    }
    load = Load(first)
    client = httpx.AsyncClient(timeout=10.0)
    try:
        await load.ready()
        for replica in second.values():

            async def ready(replica: Platform = replica) -> bool:
                try:
                    return (await client.get(f"{replica.url}/readyz")).status_code == 200
                except httpx.HTTPError:
                    return False

            await eventually(ready, 60, f"{replica.command} ready")
        await load.prepare()

        acknowledged: list[str | None] = [None] * CASES
        handled_by_second: dict[str, float] = {}

        async def register(n: int) -> None:
            acknowledged[n] = await register_until_acknowledged(load, n)

        sending = []
        for n in range(CASES):
            if n == KILL_AT:
                handled_by_second = {
                    "routing_on_cases": await reactions(client, second["routing"], "routing_on_cases"),
                    "escalation_on_intake": await reactions(
                        client, second["escalation"], "escalation_on_intake"
                    ),
                }
                for replica in second.values():
                    replica.kill()
            sending.append(asyncio.create_task(register(n)))
            await asyncio.sleep(0.1)
        await asyncio.gather(*sending)
        cases = {case for case in acknowledged if case is not None}
        assert len(cases) == CASES

        async def every_case_has(stream: str, event_type: str) -> bool:
            stored = await stored_events(nats_client, stream, f"shakti.{stream.lower()}.case.>")
            return {e.aggregate_id for e in stored if e.event_type == event_type} >= cases

        # What the killed replicas had fetched and not acknowledged comes to the survivor after the
        # consumers' ack wait (30 s).
        for stream, event_type in (("ROUTING", "CaseAssigned"), ("ESCALATION", "ClockStarted")):
            await eventually(partial(every_case_has, stream, event_type), 120, f"{event_type} for every case")
        await eventually(lambda: lag_is_zero(load), 60, "every read model caught up")
        intake = await stored_events(nats_client, "INTAKE", "shakti.intake.case.>")
        routing = await stored_events(nats_client, "ROUTING", "shakti.routing.case.>")
        escalation = await stored_events(nats_client, "ESCALATION", "shakti.escalation.case.>")

        assert all(count > 0 for count in handled_by_second.values()), handled_by_second
        for kind in ("CaseRouted", "CaseAssigned"):
            per_case = Counter(e.aggregate_id for e in routing if e.event_type == kind)
            assert set(per_case) == cases and max(per_case.values()) == 1, (
                f"a case without or with two {kind}"
            )
        started = Counter(
            (e.aggregate_id, e.payload["clock"], str(e.payload.get("referral_id")))
            for e in escalation
            if e.event_type == "ClockStarted"
        )
        assert max(started.values()) == 1, "a clock was started twice"
        # Per-case order: escalation reacted to each case's events in the order its source recorded them.
        source = {
            e.event_id: (stream, e.sequence)
            for stream, events in (("INTAKE", intake), ("ROUTING", routing))
            for e in events
        }
        causes: dict[tuple[str, str], list[int]] = defaultdict(list)
        for e in escalation:
            if e.causation_id in source:
                stream, seq = source[e.causation_id]
                if not causes[(e.aggregate_id, stream)] or causes[(e.aggregate_id, stream)][-1] != seq:
                    causes[(e.aggregate_id, stream)].append(seq)
        assert any(stream == "ROUTING" and len(seqs) > 1 for (_, stream), seqs in causes.items())
        for (case, stream), seqs in causes.items():
            assert seqs == sorted(seqs), f"case {case}: {stream} events reacted to out of order"

        settings = bus.settings(data_dir=tmp_path / "var")
        for name in ("routing", "escalation"):
            report = await check_service(definition(name), settings, nats_url=bus.url)
            assert report.consistent, "\n".join(report.lines())
    finally:
        await client.aclose()
        await load.client.aclose()
        for replica in (first, *second.values()):
            replica.stop()
