"""The fast load (``shakti.fastload``) appends what the platform appends: a slice of the synthetic year
(one thana's complaints with their lives: first contacts in time and late, actions, a referral accepted
and one rejected, disposals, a case never contacted that breaches and climbs the ladder) is loaded once
through the platform's HTTP API on NATS and once through the services on memory, on two fresh servers,
and their streams must hold the same events.

Compared: each subject's events in order, with their envelopes (ids, versions, times, correlation and
causation, actor, command id, payload) and stored headers. Random by design, and so left out: an
event's ``recorded_at`` (the wall clock of its append), the server's ``Nats-Time-Stamp``, an atomic
batch's ``Nats-Batch-Id``, what is sealed under a case's key (a fresh random key per platform, and a
nonce per value) and the fingerprints keyed under it (``request_hash`` of a registration and of a
person's words), the token a command run once carries as its fingerprint (notifications' requests and
releases: ``Repository.execute_once``), a direct get's headers about where a message sits in its stream (the stream interleaves
aggregates as they come; an expected last subject sequence is compared as "the subject's last"). Every
``occurred_at`` is the service's clock's, so it is compared as it is (intake's case numbers and
notifications' requests and deliveries were stamped with the wall clock, and differed). The USERS stream (the desk officers, made by each run's own user store on the wall clock) is not compared;
every identity the fast load sealed must open with the platform's own key store.

For the platform's side to be repeatable, its loader waits after each move of the clock and each step
until the platform is quiet and the escalation timers have looked at the new moment (on its own the
platform would go on meanwhile, and a reaction's moment could differ), and the timers' checks and
routing's reactions go one at a time (see the test)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from fastapi import FastAPI

from bench.state import StateLoader, chosen_districts, running_platform, settled
from bench.state_data import YEAR_START, Complaint, complaints, year_happenings
from services.intake.commands import IDENTITY
from services.intake.kek import load_kek_ring
from services.intake.keystore import KeyStore, unseal
from services.routing import handlers as routing_handlers
from shakti import fastload
from shakti.basics import SERVICES
from shakti.config import PlatformSettings
from shakti.fastload import STREAMS, mark_reacted, memory_platform, publish
from shakti.history import Happening, HistoryLoader, Settle
from shared.clock import HistoricalClock
from shared.events import Envelope
from shared.eventstore import EventStore
from shared.keys import init_keys
from shared.natsserver import EmbeddedNatsServer
from shared.subscriber import ProcessManager

SEALED = ("sealed_identity", "sealed_text", "sealed_remark", "sealed_feedback", "sealed_filename")
KEYED_FINGERPRINTS = ("register", "note", "awaiting", "close", "reopen", "withdraw", "resolve")
RANDOM_HEADERS = ("Nats-Time-Stamp", "Nats-Batch-Id")
WHERE_READ = ("Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Last-Sequence", "Nats-Num-Pending")
"""What a direct get adds about where the message sits in the stream: an aggregate's events keep their
order, the stream interleaves aggregates as they come."""
EXPECTED = "Nats-Expected-Last-Subject-Sequence"


def the_slice() -> list[Complaint]:
    """Four complaints of one thana of Shahjahanpur, chosen for the lives they have."""
    year = complaints(chosen_districts(1), 0.01, seed=19)

    def paths(c: Complaint) -> list[str]:
        return [s.path for s in c.steps]

    wanted: list[Callable[[Complaint], bool]] = [
        lambda c: "referral-accept" in paths(c),
        lambda c: "referral-reject" in paths(c),
        lambda c: not c.steps,
        lambda c: bool(c.steps) and c.steps[0].after > timedelta(hours=24),
    ]
    chosen: list[Complaint] = []
    for wants in wanted:
        chosen.append(next(c for c in year if wants(c) and c not in chosen))
    thana = chosen[0].thana
    return sorted((replace(c, thana=thana) for c in chosen), key=lambda c: c.at)


def the_happenings() -> list[Happening]:
    """Of Shahjahanpur's roster and training year: the first programme (scheduled, attended, completed),
    the first iGOT import, the first spell of leave with the return, and the first posting."""
    every = year_happenings(chosen_districts(1), seed=19)
    first = {
        what: next(h for h in every if h.what == what)
        for what in ("programme", "igot import", "leave", "posting")
    }
    programme = first["programme"].key.removesuffix("-plan")
    officer = first["leave"].path
    chosen = [
        h
        for h in every
        if h in first.values()
        or h.key.startswith(programme)
        or (h.what == "back on duty" and h.path == officer and h.at > first["leave"].at)
    ]
    back = [h for h in chosen if h.what == "back on duty"][1:]
    return [h for h in chosen if h not in back]


@asynccontextmanager
async def platform(
    root: Path, keys: Path, url: str, clock: HistoricalClock
) -> AsyncIterator[tuple[FastAPI, StateLoader]]:
    """A platform on the server at ``url`` with Shahjahanpur's jurisdiction and roster imported."""
    settings = PlatformSettings(data_dir=root / "var", keys_dir=keys)
    async with running_platform(settings, url, clock, root) as (app, client):
        loader = StateLoader(app, client, clock)
        await loader.state(chosen_districts(1))
        yield app, loader


def quiet_after_the_timers(app: FastAPI, clock: HistoricalClock) -> Settle:
    """Once the clock moved, wait until the escalation timers have swept twice (so once wholly at the new
    moment); then until the platform is quiet: no projection behind, no reaction waiting."""
    escalation = app.state.runners["escalation"].instance
    seen = [clock.now()]

    async def settle() -> None:
        if clock.now() != seen[0]:
            seen[0] = clock.now()
            swept = escalation.deadline_worker.sweeps
            while escalation.deadline_worker.sweeps < swept + 2:
                await asyncio.sleep(0.02)
        quiet = 0
        while quiet < 2:
            busy = False
            for runner in app.state.runners.values():
                report = await runner.readiness()
                busy |= any(n for per in report.get("lag", {}).values() for n in per.values())
                busy |= any(n for n in report.get("reactions", {}).values())
            quiet = 0 if busy else quiet + 1
            await asyncio.sleep(0.05)

    return settle


async def identities_open_on_the_platform(
    settings: PlatformSettings, appended: list[tuple[str, Envelope]]
) -> None:
    """Every identity the fast load sealed opens with the platform's own key store (intake's database)."""
    keys = KeyStore.open(settings.database_for("intake"), load_kek_ring(settings))
    await keys.setup()
    try:
        registered = [e for _, e in appended if e.event_type == "CaseRegistered"]
        assert registered
        for envelope in registered:
            key = await keys.find(envelope.aggregate_id)
            assert key is not None, envelope.aggregate_id
            sealed = envelope.payload["sealed_identity"]
            opened = json.loads(unseal(key, envelope.aggregate_id, IDENTITY, sealed))
            assert opened["name"].startswith("DEMO ")
    finally:
        await keys.close()


async def last_sequences(url: str) -> dict[str, int]:
    nc = await nats.connect(url)
    try:
        return {i.config.name or "": i.state.last_seq for i in await nc.jetstream().streams_info()}
    finally:
        await nc.close()


async def stored(url: str, after: dict[str, int]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Each stream's events after ``after`` (the jurisdiction and roster, imported alike in both runs, on
    the wall clock), by subject, in order, with their stored headers; what is random left out."""
    nc = await nats.connect(url)
    store = EventStore(nc, "users")
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    try:
        for stream in STREAMS:
            if stream == "USERS":
                continue
            subjects: dict[str, list[dict[str, Any]]] = {}
            last: dict[str, int] = {}
            async for msg in store.messages(stream):
                body = json.loads(msg.data)
                body.pop("recorded_at")
                for sealed in SEALED:
                    if sealed in body["payload"]:
                        body["payload"][sealed] = "(sealed)" if body["payload"][sealed] else None
                if body["command_id"].split(":")[0] in KEYED_FINGERPRINTS and body["actor"] != "routing":
                    body["request_hash"] = "(keyed)" if body["request_hash"] else None
                if body["actor"] == "notifications" and body["request_hash"]:
                    body["request_hash"] = "(claim)"  # a command run once: a token of the call
                headers = dict(msg.headers or {})
                subject, sequence = headers["Nats-Subject"], int(headers["Nats-Sequence"])
                for name in (*RANDOM_HEADERS, *WHERE_READ):
                    headers.pop(name, None)
                # The sequence an append expected is the stream's: named by what it pointed at instead.
                if EXPECTED in headers:
                    previous = last.get(subject, 0)
                    if headers[EXPECTED] == str(previous):
                        headers[EXPECTED] = "the subject's last" if previous else "none"
                last[subject] = sequence
                if sequence <= after.get(stream, 0):
                    continue
                subjects.setdefault(subject, []).append(body | {"headers": headers})
            out[stream] = subjects
    finally:
        await store.close()
    return out


# 121–157 s in full runs on a quiet 2-core machine; a loaded one takes twice that. The bound is for a
# hang, never for speed.
@pytest.mark.timeout(480)
async def test_a_slice_loaded_fast_holds_the_events_the_platform_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Routing's reactions one at a time, in their streams' order (as on the memory platform): handled at
    # once, two cases escalated at one sweep take the Kendra's workload in either order, and the officer
    # and the "fewest open cases" of the reassignments follow that order.
    monkeypatch.setattr(routing_handlers, "ProcessManager", partial(ProcessManager, concurrency=1))
    keys = tmp_path / "keys"
    init_keys(PlatformSettings(data_dir=tmp_path / "var", keys_dir=keys))
    year = the_slice()
    thana = year[0].thana
    happenings = the_happenings()
    assert {h.what for h in happenings} == {
        "programme", "attendance", "programme complete", "igot import", "leave", "back on duty", "posting"
    }  # fmt: skip

    with EmbeddedNatsServer(tmp_path / "api" / "nats") as server:
        clock = HistoricalClock(YEAR_START - timedelta(days=1))
        async with platform(tmp_path / "api", keys, server.url, clock) as (app, loader):
            await loader.desk(thana)
            for who in sorted({h.who for h in happenings}):
                await loader.staff(who)
            loader.settle = quiet_after_the_timers(app, clock)
            # Checks falling due at one sweep go one after another, in the order the timer table lists
            # them (as on the memory platform): run at once, their appends race, and so would routing's
            # choices of officer after the escalations they make.
            app.state.runners["escalation"].instance.deadline_worker._slots = asyncio.Semaphore(1)
            await settled(app)
            before = await last_sequences(server.url)
            await loader.live(year, lambda done, n: None, happenings=happenings)
            await settled(app)
        through_api = await stored(server.url, before)

    with EmbeddedNatsServer(tmp_path / "fast" / "nats") as server:
        clock = HistoricalClock(YEAR_START - timedelta(days=1))
        async with platform(tmp_path / "fast", keys, server.url, clock) as (app, loader):
            await loader.desk(thana)
            for who in sorted({h.who for h in happenings}):
                await loader.staff(who)
            await settled(app)
            assert await last_sequences(server.url) == before
        # The platform is stopped while the memory platform lives the slice and its events are appended.
        settings = PlatformSettings(data_dir=tmp_path / "fast" / "var", keys_dir=keys)
        async with memory_platform(settings, clock, server.url, tmp_path / "memory") as memory:
            transport = httpx.ASGITransport(app=await memory.app())
            async with httpx.AsyncClient(transport=transport, base_url="http://memory", timeout=60) as client:
                fast = HistoryLoader(
                    client, clock, loader.desk, "state", settle=memory.settle, staff=loader.staff
                )
                await fast.live(year, lambda done, n: None, happenings=happenings)
            appended = await publish(server.url, memory.streams)
            await identities_open_on_the_platform(settings, memory.streams.new("INTAKE"))
        await mark_reacted(server.url)
        loaded_fast = await stored(server.url, before)

    assert appended["INTAKE"] > 6 and appended["TRAINING"] > 100 and not fast.refused
    assert not loader.refused
    found = differences(through_api, loaded_fast)
    assert not found, f"{len(found)} differences:\n" + "\n".join(found[:60])


def differences(
    want: dict[str, dict[str, list[dict[str, Any]]]], got: dict[str, dict[str, list[dict[str, Any]]]]
) -> list[str]:
    """Each field that differs, named by stream, subject, event and field."""
    out: list[str] = []
    for stream in want:
        if sorted(got.get(stream, {})) != sorted(want[stream]):
            out.append(f"{stream}: subjects {sorted(set(got.get(stream, {})) ^ set(want[stream]))}")
        for subject, events in want[stream].items():
            theirs = got.get(stream, {}).get(subject, [])
            if [e["event_type"] for e in theirs] != [e["event_type"] for e in events]:
                out.append(
                    f"{subject}: {[e['event_type'] for e in events]} != {[e['event_type'] for e in theirs]}"
                )
                continue
            for w, g in zip(events, theirs, strict=True):
                for key in sorted(set(w) | set(g)):
                    parts = (w.get(key), g.get(key))
                    if isinstance(parts[0], dict) and isinstance(parts[1], dict):
                        for k in sorted(set(parts[0]) | set(parts[1])):
                            if parts[0].get(k) != parts[1].get(k):
                                out.append(
                                    f"{subject} {w['event_type']} {key}.{k}: {parts[0].get(k)!r} != {parts[1].get(k)!r}"
                                )
                    elif parts[0] != parts[1]:
                        out.append(f"{subject} {w['event_type']} {key}: {parts[0]!r} != {parts[1]!r}")
    return out


async def test_the_services_start_on_memory_streams(nats_url: str, nats_client: Any, tmp_path: Path) -> None:
    """The memory platform builds every service as ``shakti up`` does, on a copy of the (here empty)
    streams: a service that asks its connection for JetStream with options finds it there too."""
    settings = PlatformSettings(data_dir=tmp_path / "var", keys_dir=tmp_path / "keys")
    init_keys(settings)
    clock = HistoricalClock(YEAR_START)
    async with memory_platform(settings, clock, nats_url, tmp_path / "memory") as memory:
        assert [part.name for part in memory.parts] == list(SERVICES)
        await memory.settle()


async def test_a_stream_that_fails_to_publish_stops_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    """The streams are published side by side: when one fails (an acknowledgement naming another
    sequence), the load has failed, and no other stream goes on appending after it."""
    finished: list[str] = []

    class Connection:
        async def drain(self) -> None:
            return None

    async def connect(url: str) -> Connection:
        return Connection()

    async def publishing(nc: Any, stream: str, streams: Any) -> int:
        if stream == "INTAKE":
            await asyncio.sleep(0.05)
            raise RuntimeError("INTAKE: #7 answered a wrong sequence")
        await asyncio.sleep(0.5)
        finished.append(stream)
        return 1

    monkeypatch.setattr(nats, "connect", connect)  # fastload calls nats.connect
    monkeypatch.setattr(fastload, "_publish_stream", publishing)
    with pytest.raises(RuntimeError, match="INTAKE: #7"):
        await publish("nats://unused", fastload.IndexedStreams())
    await asyncio.sleep(0.7)
    assert finished == []
