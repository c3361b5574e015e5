"""Benchmark of the event store and projections, against the embedded NATS server.

Runs, in one process and one run, the same workloads three ways:

* **ours**: ``Repository.execute`` (load, decide, append with optimistic concurrency, retry on
  conflict) and the ``Projector`` (checkpointed batches into SQLite through SQLAlchemy);
* **raw**: plain ``nats-py`` with no framework doing the same protocol work (a batched direct get of
  the aggregate's subject, a publish with ``Nats-Expected-Last-Subject-Sequence``; a pull consumer
  applying the same rows with ``sqlite3`` and the same per-batch checkpoint): the ceiling;
* **peer**: the ``eventsourcing`` library (9.x) on SQLite: its ``Application`` and ``Aggregate``,
  and its notification log read into a ``TrackingRecorder`` view.

Each timed workload runs ``--rounds`` times, alternating ours and raw so that a noisy neighbour on
the machine hurts both alike; the best round counts. Figures are noisy on a shared machine: compare
the ratios, not the absolute rates, across runs.

    python -m bench.eventstore           # full run (about 1.5 minutes on 2 cores)
    python -m bench.eventstore --quick   # a small run (seconds)

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial, singledispatchmethod
from pathlib import Path
from typing import Any, ClassVar, cast
from uuid import UUID

import nats
from eventsourcing import application as es_application
from eventsourcing import domain as es_domain
from eventsourcing import projection as es_projection
from eventsourcing import sqlite as es_sqlite
from eventsourcing.persistence import Tracking
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError
from sqlalchemy import MetaData, Table

from shared.aggregate import Repository
from shared.dispatch import handles
from shared.events import Envelope, Event
from shared.eventstore import CommandMeta, EventStore
from shared.natsserver import EmbeddedNatsServer
from shared.projection import Projection, Projector
from shared.readmodel import create_engine
from shared.rows import Rows
from tests.sample import Tally, TallyCounted, TallyOpened, TallyProjection

WRONG_LAST_SEQUENCE = 10071
REPLAY_BATCH = 256


@dataclass(frozen=True)
class Workload:
    aggregates: int
    events_per_aggregate: int
    concurrency: int
    rounds: int
    load_repeats_10: int
    load_repeats_1000: int

    @property
    def commands(self) -> int:
        return self.aggregates * self.events_per_aggregate


FULL = Workload(
    aggregates=600,
    events_per_aggregate=10,
    concurrency=32,
    rounds=2,
    load_repeats_10=300,
    load_repeats_1000=40,
)
QUICK = Workload(
    aggregates=60, events_per_aggregate=5, concurrency=16, rounds=1, load_repeats_10=30, load_repeats_1000=5
)


# --- ours: the foundation's sample aggregate (tests/sample.py), projected the services' way ---------


@dataclass
class TallyTables:
    tallies: Table


class TallyBoard(Projection[TallyTables]):
    """Written as the services' read models are (``shared/rows.py``): the batch's tallies read in one
    query, changed in memory event by event, and written as one set with the checkpoint."""

    name = "bench_tallies"
    sources: ClassVar[dict[str, str]] = {"BENCH": "shakti.bench.tally.*"}

    def define(self, metadata: MetaData, prefix: str) -> TallyTables:
        return TallyTables(TallyProjection().define(metadata, prefix).tallies)

    async def prefetch(self, rows: Rows, tables: TallyTables, envelopes: list[Envelope]) -> None:
        await rows.prefetch(tables.tallies, [(envelope.aggregate_id,) for envelope in envelopes])

    @handles(TallyOpened)
    async def opened(self, rows: Rows, tables: TallyTables, event: TallyOpened, envelope: Envelope) -> None:
        row = {"id": envelope.aggregate_id, "label": event.label, "total": 0, "events": 1}
        rows.put(tables.tallies, row)

    @handles(TallyCounted)
    async def counted(self, rows: Rows, tables: TallyTables, event: TallyCounted, envelope: Envelope) -> None:
        tally = await rows.get(tables.tallies, id=envelope.aggregate_id)
        if tally is not None:
            rows.put(
                tables.tallies,
                tally | {"total": tally["total"] + event.amount, "events": tally["events"] + 1},
            )


def command_order(w: Workload) -> list[tuple[int, int]]:
    """(aggregate, step) pairs, round-robin over the aggregates: many aggregates busy at once."""
    return [(a, step) for step in range(w.events_per_aggregate) for a in range(w.aggregates)]


def reached(done: dict[int, int], aggregate: int, step: int) -> bool:
    return done.get(aggregate, 0) >= step


async def run_concurrently(
    commands: list[tuple[int, int]], concurrency: int, run: Callable[[int, int], Awaitable[None]]
) -> float:
    """Run every command, ``concurrency`` at a time; returns the seconds taken."""
    queue: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    for c in commands:
        queue.put_nowait(c)
    # A command for step k of an aggregate must wait for step k-1 (it needs the aggregate to exist).
    done: dict[int, int] = {}
    progressed = asyncio.Condition()

    async def worker() -> None:
        while not queue.empty():
            aggregate, step = queue.get_nowait()
            async with progressed:
                await progressed.wait_for(partial(reached, done, aggregate, step))
            await run(aggregate, step)
            async with progressed:
                done[aggregate] = max(done.get(aggregate, 0), step + 1)
                progressed.notify_all()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


async def ours_commands(store: EventStore, w: Workload, tag: str) -> float:
    repo = Repository(store, Tally)

    async def run(aggregate: int, step: int) -> None:
        meta = CommandMeta(command_id=f"{tag}-{aggregate}-{step}", actor="bench")
        key = f"{tag}{aggregate}"
        if step == 0:
            await repo.execute(key, lambda t: t.open(key), meta)
        else:
            await repo.execute(key, lambda t: t.count(step), meta)

    return await run_concurrently(command_order(w), w.concurrency, run)


async def ours_appends(store: EventStore, w: Workload, tag: str) -> float:
    """EventStore.append alone, the caller knowing the expected sequence (no load per command)."""
    last: dict[int, int] = {}

    async def run(aggregate: int, step: int) -> None:
        event: Event = TallyOpened(label="x") if step == 0 else TallyCounted(amount=step, note="")
        [stored] = await store.append(
            "tally",
            f"{tag}{aggregate}",
            [event],
            expected_sequence=last.get(aggregate, 0),
            expected_version=step,
            meta=CommandMeta(command_id=f"{tag}-{aggregate}-{step}", actor="bench"),
        )
        last[aggregate] = stored.sequence

    return await run_concurrently(command_order(w), w.concurrency, run)


async def ours_replay(nc: NatsClient, database: Path) -> tuple[float, int]:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        projector: Projector[TallyTables] = Projector(TallyBoard(), engine, nc)
        await projector.setup()
        started = time.perf_counter()
        await projector.catch_up(timeout=600)
        elapsed = time.perf_counter() - started
        return elapsed, await projector.checkpoint("BENCH")
    finally:
        await engine.dispose()


async def ours_and_raw_load(
    store: EventStore, raw: RawJetStream, aggregate_id: str, repeats: int
) -> tuple[float, float]:
    """Median milliseconds to load (and fold) one aggregate: ours, raw; taken in turns, so that
    a busy moment on the machine falls on both alike."""
    repo = Repository(store, Tally)
    subject = store.subject("tally", aggregate_id)
    ours, ceiling = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        await repo.get(aggregate_id)
        ours.append(time.perf_counter() - started)
        started = time.perf_counter()
        total = 0
        for _, body in await raw.read(subject, store.stream):
            total += body["payload"].get("amount", 0)
        ceiling.append(time.perf_counter() - started)
    return statistics.median(ours) * 1000, statistics.median(ceiling) * 1000


# --- raw: nats-py with no framework (the ceiling) -------------------------------------------------


class RawJetStream:
    """The protocol our store speaks, written out by hand: a batched direct get and a publish."""

    def __init__(self, nc: NatsClient, stream: str) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.stream = stream
        self.prefix = f"_INBOX.raw.{uuid.uuid4().hex}"
        self.pending: dict[str, asyncio.Queue[Msg]] = {}

    async def start(self) -> None:
        async def route(msg: Msg) -> None:
            self.pending[msg.subject].put_nowait(msg)

        await self.nc.subscribe(f"{self.prefix}.*", cb=route)

    async def read(self, subject: str, stream: str = "") -> list[tuple[int, dict[str, Any]]]:
        inbox = f"{self.prefix}.{uuid.uuid4().hex}"
        queue: asyncio.Queue[Msg] = asyncio.Queue()
        self.pending[inbox] = queue
        out: list[tuple[int, dict[str, Any]]] = []
        start = 1
        try:
            while True:
                request = {"seq": start, "next_by_subj": subject, "batch": 500}
                await self.nc.publish(
                    f"$JS.API.DIRECT.GET.{stream or self.stream}", json.dumps(request).encode(), reply=inbox
                )
                page = 0
                while True:
                    msg = await queue.get()
                    headers = msg.headers or {}
                    if headers.get("Status"):
                        break
                    out.append((int(headers["Nats-Sequence"]), json.loads(msg.data)))
                    page += 1
                if page < 500:
                    return out
                start = out[-1][0] + 1
        finally:
            del self.pending[inbox]

    async def publish(self, subject: str, body: dict[str, Any], expected: int, msg_id: str) -> int | None:
        headers = {
            "Shakti-Event-Type": body["event_type"],
            "Nats-Msg-Id": msg_id,
            "Nats-Expected-Last-Subject-Sequence": str(expected),
        }
        try:
            ack = await self.js.publish(subject, json.dumps(body).encode(), headers=headers)
        except APIError as error:
            if error.err_code == WRONG_LAST_SEQUENCE:
                return None
            raise
        seq: int = ack.seq
        return seq


def raw_body(aggregate_id: str, version: int, step: int, command_id: str) -> dict[str, Any]:
    now = time.time()
    return {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, command_id)),
        "event_type": "TallyOpened" if step == 0 else "TallyCounted",
        "schema_version": 1 if step == 0 else 2,
        "aggregate_type": "tally",
        "aggregate_id": aggregate_id,
        "aggregate_version": version,
        "occurred_at": now,
        "recorded_at": now,
        "actor": "bench",
        "command_id": command_id,
        "payload": {"label": aggregate_id} if step == 0 else {"amount": step, "note": ""},
    }


async def raw_commands(raw: RawJetStream, w: Workload, tag: str, read_first: bool) -> float:
    last: dict[int, int] = {}

    async def run(aggregate: int, step: int) -> None:
        key = f"{tag}{aggregate}"
        subject = f"shakti.benchraw.tally.{key}"
        command_id = f"{tag}-{aggregate}-{step}"
        if read_first:
            history = await raw.read(subject)
            if any(body["command_id"] == command_id for _, body in history):
                return
            if (step == 0) == bool(history):
                raise RuntimeError("the raw fold disagrees with the workload")
            expected, version = (history[-1][0] if history else 0), len(history)
        else:
            expected, version = last.get(aggregate, 0), step
        seq = await raw.publish(subject, raw_body(key, version + 1, step, command_id), expected, command_id)
        if seq is None:
            # Commands on one aggregate run one after another here, so nobody else moved it.
            raise RuntimeError(f"unexpected conflict on {subject}")
        last[aggregate] = seq

    return await run_concurrently(command_order(w), w.concurrency, run)


RAW_SCHEMA = (
    "CREATE TABLE tally (id TEXT PRIMARY KEY, label TEXT, total INTEGER NOT NULL, events INTEGER NOT NULL)",
    "CREATE TABLE checkpoint (stream TEXT PRIMARY KEY, sequence INTEGER NOT NULL)",
)


def tallies(database: Path) -> list[tuple[Any, ...]]:
    """Every tally of a replayed database (ours prefixes its table's name), so that the two are compared."""
    with contextlib.closing(sqlite3.connect(database)) as db:
        [table] = db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%tally'").fetchone()
        return db.execute(f"SELECT id, label, total, events FROM {table} ORDER BY id").fetchall()


async def raw_replay(nc: NatsClient, database: Path) -> tuple[float, int]:
    """A pull consumer applying each batch in one sqlite3 transaction with its checkpoint, then acking."""
    db = sqlite3.connect(database, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for statement in RAW_SCHEMA:
        db.execute(statement)
    js = nc.jetstream()
    target = (await js.stream_info("BENCH")).state.last_seq
    durable = f"raw_{uuid.uuid4().hex[:8]}"
    await js.add_consumer(
        "BENCH",
        ConsumerConfig(
            durable_name=durable,
            filter_subject="shakti.bench.tally.*",
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.ALL,
            max_ack_pending=REPLAY_BATCH,
        ),
    )
    sub = await js.pull_subscribe_bind(durable=durable, stream="BENCH")
    checkpoint = 0
    started = time.perf_counter()
    while checkpoint < target:
        msgs = await sub.fetch(REPLAY_BATCH, timeout=1.0)
        db.execute("BEGIN")
        for msg in msgs:
            body = json.loads(msg.data)
            if body["event_type"] == "TallyOpened":
                db.execute(
                    "INSERT INTO tally VALUES (?, ?, 0, 1)", (body["aggregate_id"], body["payload"]["label"])
                )
            else:
                db.execute(
                    "UPDATE tally SET total = total + ?, events = events + 1 WHERE id = ?",
                    (body["payload"]["amount"], body["aggregate_id"]),
                )
        checkpoint = msgs[-1].metadata.sequence.stream
        db.execute("INSERT OR REPLACE INTO checkpoint VALUES ('BENCH', ?)", (checkpoint,))
        db.execute("COMMIT")
        await msgs[-1].ack()
    elapsed = time.perf_counter() - started
    await sub.unsubscribe()
    await js.delete_consumer("BENCH", durable)
    db.close()
    return elapsed, checkpoint


# --- peer: the eventsourcing library on SQLite ---------------------------------------------------


class PeerTally(es_domain.Aggregate):
    @es_domain.event("Opened")
    def __init__(self, label: str) -> None:
        self.label = label
        self.total = 0

    @es_domain.event("Counted")
    def count(self, amount: int) -> None:
        self.total += amount


class PeerTallies(es_application.Application[UUID]):
    def open(self, label: str) -> Any:
        tally = PeerTally(label)
        self.save(tally)
        return tally.id

    def count(self, tally_id: Any, amount: int) -> None:
        tally: PeerTally = self.repository.get(tally_id)
        tally.count(amount)
        self.save(tally)


class PeerView(es_sqlite.SQLiteTrackingRecorder):
    """The read model with the library's tracking record, one transaction per event as it does."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS tally (id TEXT PRIMARY KEY, label TEXT, "
            "total INTEGER NOT NULL, events INTEGER NOT NULL)",
        ]

    def opened(self, tally_id: str, label: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute("INSERT INTO tally VALUES (?, ?, 0, 1)", (tally_id, label))
            self._insert_tracking(c, tracking)

    def counted(self, tally_id: str, amount: int, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                "UPDATE tally SET total = total + ?, events = events + 1 WHERE id = ?", (amount, tally_id)
            )
            self._insert_tracking(c, tracking)


class PeerBoard(es_projection.Projection[PeerView]):
    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    # The library's decorators make the event classes at run time, out of a type checker's sight.
    @process_event.register(PeerTally.Opened)  # type: ignore[attr-defined]
    def _(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.opened(str(domain_event.originator_id), domain_event.label, tracking)

    @process_event.register(PeerTally.Counted)  # type: ignore[attr-defined]
    def _(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.counted(str(domain_event.originator_id), domain_event.amount, tracking)


def peer_env(folder: Path, name: str) -> dict[str, str]:
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(folder / name)}


def peer_commands(app: PeerTallies, w: Workload) -> float:
    """The library is synchronous: one command after another, the way its Application is used."""
    ids: dict[int, Any] = {}
    started = time.perf_counter()
    for aggregate, step in command_order(w):
        if step == 0:
            ids[aggregate] = app.open(f"p{aggregate}")
        else:
            app.count(ids[aggregate], step)
    return time.perf_counter() - started


def peer_long_aggregate(app: PeerTallies, length: int) -> Any:
    tally = PeerTally(f"L{length}")
    for _ in range(length - 1):
        tally.count(1)
    app.save(tally)
    return tally.id


def peer_replay(folder: Path, app: PeerTallies, view_name: str) -> tuple[float, int]:
    """The notification log, page by page, through the library's Projection into its tracking view."""
    view = es_sqlite.SQLiteFactory(peer_env(folder, view_name)).tracking_recorder(PeerView)
    board = PeerBoard(view=cast(PeerView, view))
    position = 0
    started = time.perf_counter()
    while True:
        page = app.recorder.select_notifications(start=position + 1, limit=REPLAY_BATCH)
        if not page:
            break
        for notification in page:
            board.process_event(app.mapper.to_domain_event(notification), Tracking(app.name, notification.id))
        position = page[-1].id
    return time.perf_counter() - started, position


def peer_load(app: PeerTallies, tally_id: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        app.repository.get(tally_id)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Results:
    figures: dict[str, float]

    def rate(self, key: str, count: int, seconds: float) -> None:
        self.figures[key] = max(self.figures.get(key, 0.0), count / seconds)


async def long_aggregate(store: EventStore, aggregate_id: str, length: int) -> None:
    seq = 0
    version = 0
    while version < length:
        size = min(100, length - version)
        new: list[Event] = [TallyOpened(label=aggregate_id)] if version == 0 else []
        new += [TallyCounted(amount=1, note="") for _ in range(size - len(new))]
        stored = await store.append(
            "tally",
            aggregate_id,
            new,
            expected_sequence=seq,
            expected_version=version,
            meta=CommandMeta(command_id=f"{aggregate_id}-{version}", actor="bench"),
        )
        seq, version = stored[-1].sequence, stored[-1].aggregate_version


@contextlib.asynccontextmanager
async def embedded_server(folder: Path) -> AsyncIterator[str]:
    server = EmbeddedNatsServer(folder / "nats").start()
    try:
        yield server.url
    finally:
        server.stop()


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def measure(w: Workload, folder: Path) -> dict[str, float]:
    r = Results({})
    async with embedded_server(folder) as url:
        nc = await nats.connect(url)
        store = EventStore(nc, "bench")
        await store.ensure_stream()
        await store.ensure_stream("benchraw")
        raw = RawJetStream(nc, "BENCHRAW")
        await raw.start()

        say(f"commands: {w.commands} over {w.aggregates} aggregates, {w.concurrency} at a time")
        for n in range(w.rounds):
            say(f"  round {n + 1}: raw read+publish, ours Repository.execute, raw publish, ours append")
            r.rate("raw_command_eps", w.commands, await raw_commands(raw, w, f"rc{n}x", read_first=True))
            r.rate("append_eps", w.commands, await ours_commands(store, w, f"oc{n}x"))
            r.rate("raw_publish_eps", w.commands, await raw_commands(raw, w, f"rp{n}x", read_first=False))
            r.rate("store_append_eps", w.commands, await ours_appends(store, w, f"oa{n}x"))

        say("load: aggregates of 10 and 1,000 events")
        await long_aggregate(store, "L10", 10)
        await long_aggregate(store, "L1000", 1000)
        for length, repeats in ((10, w.load_repeats_10), (1000, w.load_repeats_1000)):
            ours, ceiling = await ours_and_raw_load(store, raw, f"L{length}", repeats)
            r.figures[f"load_{length}_ms"], r.figures[f"raw_load_{length}_ms"] = ours, ceiling

        events = await store.last_sequence()
        say(f"replay: {events} events into SQLite")
        for n in range(w.rounds):
            elapsed, reached = await raw_replay(nc, folder / f"raw{n}.db")
            r.rate("raw_replay_eps", reached, elapsed)
            elapsed, reached = await ours_replay(nc, folder / f"ours{n}.db")
            if reached != events:
                raise RuntimeError(f"projection stopped at {reached} of {events}")
            if tallies(folder / f"ours{n}.db") != tallies(folder / f"raw{n}.db"):
                raise RuntimeError("ours and raw replayed the stream into different tallies")
            r.rate("replay_eps", reached, elapsed)
        r.figures["replay_events"] = events
        await nc.drain()

    say("peer: eventsourcing on SQLite")
    app = PeerTallies(env=peer_env(folder, "peer.db"))
    for _ in range(w.rounds):
        r.rate("peer_append_eps", w.commands, peer_commands(app, w))
    long_id = peer_long_aggregate(app, 1000)
    short_id = peer_long_aggregate(app, 10)
    r.figures["peer_load_10_ms"] = peer_load(app, short_id, w.load_repeats_10)
    r.figures["peer_load_1000_ms"] = peer_load(app, long_id, w.load_repeats_1000)
    # The peer replays as many events as ours did: its log is topped up to the same length.
    while (missing := int(r.figures["replay_events"]) - (app.recorder.max_notification_id() or 0)) > 0:
        peer_long_aggregate(app, min(1000, missing))
    for n in range(w.rounds):
        elapsed, reached = peer_replay(folder, app, f"peer_view{n}.db")
        r.rate("peer_replay_eps", reached, elapsed)
    r.figures["peer_replay_events"] = reached
    return r.figures


def report(f: dict[str, float], w: Workload, seconds: float) -> dict[str, float]:
    summary = {
        "append_eps": round(f["append_eps"]),
        "append_vs_raw": round(f["append_eps"] / f["raw_command_eps"], 2),
        "append_vs_eventsourcing": round(f["append_eps"] / f["peer_append_eps"], 2),
        "store_append_eps": round(f["store_append_eps"]),
        "store_append_vs_raw": round(f["store_append_eps"] / f["raw_publish_eps"], 2),
        "replay_eps": round(f["replay_eps"]),
        "replay_vs_raw": round(f["replay_eps"] / f["raw_replay_eps"], 2),
        "replay_vs_eventsourcing": round(f["replay_eps"] / f["peer_replay_eps"], 2),
        "load_10_ms": round(f["load_10_ms"], 3),
        "load_1000_ms": round(f["load_1000_ms"], 2),
        "load_10_vs_raw": round(f["raw_load_10_ms"] / f["load_10_ms"], 2),
        "load_1000_vs_raw": round(f["raw_load_1000_ms"] / f["load_1000_ms"], 2),
        "seconds": round(seconds, 1),
    }
    rows = [
        ("commands/s (load, decide, append)", f["append_eps"], f["raw_command_eps"], f["peer_append_eps"]),
        ("appends/s (sequence known)", f["store_append_eps"], f["raw_publish_eps"], None),
        ("replay into SQLite, events/s", f["replay_eps"], f["raw_replay_eps"], f["peer_replay_eps"]),
        ("load 10 events, ms", f["load_10_ms"], f["raw_load_10_ms"], f["peer_load_10_ms"]),
        ("load 1,000 events, ms", f["load_1000_ms"], f["raw_load_1000_ms"], f["peer_load_1000_ms"]),
    ]
    print(
        f"workload: {w.commands} commands on {w.aggregates} aggregates, {w.concurrency} concurrent; "
        f"replay of {int(f['replay_events'])} events (peer: {int(f['peer_replay_events'])}); "
        f"best of {w.rounds} round(s); {os.cpu_count()} CPUs"
    )
    print(f"{'':38}{'ours':>12}{'raw nats-py':>14}{'eventsourcing':>15}{'ours/raw':>10}{'ours/peer':>11}")
    for label, ours, ceiling, peer in rows:
        faster_is_lower = label.endswith("ms")
        vs_raw = ceiling / ours if faster_is_lower else ours / ceiling
        vs_peer = "" if peer is None else f"{(peer / ours if faster_is_lower else ours / peer):.2f}"
        print(
            f"{label:38}{ours:>12,.2f}{ceiling:>14,.2f}{'' if peer is None else f'{peer:,.2f}':>15}"
            f"{vs_raw:>10.2f}{vs_peer:>11}"
        )
    print("(ratios: above 1 means ours is faster; for load times, the ratio is raw time / our time)")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for a smoke check")
    parser.add_argument("--rounds", type=int, help="rounds of each timed workload (best counts)")
    args = parser.parse_args()
    w = QUICK if args.quick else FULL
    if args.rounds:
        w = Workload(**{**w.__dict__, "rounds": args.rounds})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="shakti-bench-") as folder:
        figures = asyncio.run(measure(w, Path(folder)))
    summary = report(figures, w, time.perf_counter() - started)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
