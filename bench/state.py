"""A year of the state, loaded and measured: ``python -m bench.state [--scale 0.001] [--districts 5]``.

The whole platform runs in this process (the four services, their reactions and the web front, as
``shakti up`` runs them) on an embedded ``nats-server`` and SQLite, on a clock set to each moment of a
synthetic year (``bench/state_data.py``). The 75 districts' jurisdictions and rosters are imported
through the API. Then the year: by default the platform is stopped and the services live it on the
in-memory event store (``shakti.fastload``: the same routes, command handlers, reactions, read models
and timers, each step at its own historical moment), and what they appended goes to the streams in
large batches, with the envelopes, headers, ids and order the platform would have stored
(``tests/test_fastload.py`` compares a slice loaded both ways). With ``--through-api`` every complaint
is registered and lived through the running platform's HTTP API instead, step by step.

Then the platform starts on the loaded streams, each service's read models are rebuilt from the streams
(the projectors' own ``rebuild``, what ``POST /api/ops/rebuild/{service}`` runs), timed; with
``--postgres URL`` they are rebuilt once more, from the same streams, into fresh PostgreSQL databases
(one per service, made for the run and dropped after). The longest-lived aggregates (an officer on the
roster, an officer's training record, a district's jurisdiction, a numbering series: the one of each
kind with the most events) are loaded and timed, and the pages people open are timed with the year
loaded, with a district's register downloaded as CSV (``/dashboard.csv``, as its SP downloads it; an
export that is not the register with cases stops the run) and ``shakti status`` run as an operator
runs it (the venv's command, a process of its own, against the platform served on a free port).
Figures are printed, then one JSON line; a figure this run does not measure is ``null``.
Last, partitioning by district (``--partitions N``, 2 by default where two districts or more are
loaded): the year's whole store is rebuilt by a process alone (before the pages add to it), then the
districts are dealt into N partitions, each loaded into a store of its own, and all N are rebuilt at
once, each by a process of its own (``partitioned``).
``--scales 0.0005,0.001,0.002`` runs the whole measurement at each scale, each in a process of its
own, and prints every figure side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from argon2 import PasswordHasher
from fastapi import FastAPI
from nats.js.errors import NotFoundError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bench.state_data import (
    OPERATOR,
    SAMPLE_DISTRICT,
    YEAR_COMPLAINTS,
    YEAR_END,
    YEAR_START,
    Complaint,
    District,
    complaints,
    jurisdiction_sheet,
    read_districts,
    roster_sheet,
    service_number,
    year_happenings,
)
from services.routing.domain import DistrictJurisdiction, Officer
from services.training.domain import OfficerRecord
from shakti.basics import CONSOLE, CONSOLE_SESSION_VERSION, SERVICES
from shakti.config import PlatformSettings
from shakti.fastload import mark_reacted, memory_platform, publish
from shakti.history import Happening, HistoryLoader
from shakti.launcher import running
from shakti.platform import build_platform, definition, runners
from shakti.users import ServicesReference, UserStore, user_record
from shakti.web.queues import CSV_COLUMNS
from shared import projection
from shared.aggregate import Aggregate
from shared.auth import COOKIE
from shared.clock import HistoricalClock
from shared.contracts.intake import SERIES
from shared.eventstore import EventStore, stream_name
from shared.keys import init_keys
from shared.natsserver import EmbeddedNatsServer, free_port
from shared.observability import configure_logging
from shared.projection import Projection, Projector
from shared.readmodel import create_engine
from shared.roles import Role
from shared.runtime import ServiceRunner

PASSWORD = "bench-state-demo-2026"
WINDOW = timedelta(minutes=5)
CONCURRENCY = 32
SAMPLES = 40
"""Timed requests per kind of page: enough for a p99 that is the slowest but one or two, on 2 cores."""
Answers = dict[str, Any]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def rss_mb(pid: str = "self") -> float:
    """The peak resident memory of a process (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class StateLoader(HistoryLoader):
    """Loads the synthetic state through the HTTP API, moving the clock to each historical moment."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, clock: HistoricalClock) -> None:
        super().__init__(client, clock, self.desk, key_prefix="state", staff=self.staff)
        self.app = app
        self.issuer = app.state.issuer
        self.users: UserStore = app.state.users
        self.operator = {"Authorization": f"Bearer {self.issuer.issue(CONSOLE, CONSOLE_SESSION_VERSION)}"}
        self.kendras: dict[str, dict[str, Any]] = {}
        """Each thana's Kendra as intake lists it (code, circle, thana)."""
        self.desks: dict[str, dict[str, str]] = {}
        self.staffs: dict[str, dict[str, str]] = {}
        self.timings: dict[str, float] = {}
        """Seconds of each part of loading the state's places and people."""

    def moved_to(self, app: FastAPI, client: httpx.AsyncClient) -> StateLoader:
        """This loader on another run of the platform (the same keys, users and streams): what it made
        and learned is kept."""
        moved = StateLoader(app, client, self.clock)
        moved.kendras, moved.desks, moved.timings = self.kendras, self.desks, self.timings
        moved.staffs = self.staffs
        moved.cases, moved.case_districts = self.cases, self.case_districts
        moved.refused, moved.latency = self.refused, self.latency
        return moved

    async def call(self, method: str, path: str, headers: dict[str, str], **kwargs: Any) -> Any:
        answer = await self.client.request(method, path, headers=headers, **kwargs)
        if answer.status_code >= 400:
            raise RuntimeError(
                f"bench.state: {method} {path} answered {answer.status_code}: {answer.text[:300]}"
            )
        return answer.json()

    async def header(self, username: str) -> dict[str, str]:
        account = await self.users.get(username)
        return {"Authorization": f"Bearer {self.issuer.issue(account.username, account.session_version)}"}

    async def state(self, districts: list[District]) -> None:
        """Every district's jurisdiction, then its roster (checked against the jurisdiction's record)."""
        started = time.perf_counter()
        for district in districts:
            sheet = jurisdiction_sheet(district)
            await self.call(
                "POST", "/api/routing/jurisdiction/import", self.operator,
                files={"file": (f"{district.code}.csv", sheet, "text/csv")},
            )  # fmt: skip
        self.timings["jurisdiction import"] = time.perf_counter() - started
        started = time.perf_counter()
        for district in districts:
            await self.call(
                "POST", "/api/routing/roster/import", self.operator,
                files={"file": (f"{district.code}-roster.csv", roster_sheet(district), "text/csv")},
            )  # fmt: skip
        for district in districts:
            for _ in range(1200):
                places = await self.call(
                    "GET", "/api/intake/places", self.operator, params={"district": district.code}
                )
                kendras = [p for p in places["places"] if p["kind"] == "kendra"]
                if len(kendras) == district.thanas:
                    self.kendras.update({k["thana"]: k for k in kendras})
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError(f"bench.state: intake never learned {district.code}'s Kendras")
        self.timings["roster import"] = time.perf_counter() - started
        officers = 3 * len(self.kendras)
        for _ in range(1200):
            if len(await self.call("GET", "/api/routing/roster", self.operator)) >= officers:
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("bench.state: routing never listed the roster")

    async def person(self, username: str, role: Role, **where: str | None) -> dict[str, str]:
        record = user_record(username, role, **where)
        if not (await self.users.get(username)).exists:
            await self.users.add(
                record, PASSWORD, actor=CONSOLE, demo=True, reference=ServicesReference(self.found)
            )
        return await self.header(username)

    async def staff(self, who: str) -> dict[str, str]:
        """The headers of whoever a happening of the year names: the operator console, or a district's SP
        (``sp:<district>``, made on first need, the SP the read models are asked as), kept: the year on
        memory is lived while the platform, and its user store, are stopped."""
        if who == OPERATOR:
            return self.operator
        role, _, district = who.partition(":")
        if role != "sp" or not district:
            raise ValueError(f"bench.state: nobody is {who!r}")
        if who not in self.staffs:
            self.staffs[who] = await self.person(f"syn.sp.{district.lower()}", Role.SP, district=district)
        return self.staffs[who]

    async def found(self, path: str, params: dict[str, str]) -> Any:
        answer = await self.client.get(path, headers=self.operator, params=params)
        return None if answer.status_code == 404 else answer.json()

    async def desk(self, thana: str) -> dict[str, str]:
        """The DEMO desk officer of a thana's Kendra (its first constable), made on first need."""
        if thana not in self.desks:
            kendra = self.kendras[thana]
            self.desks[thana] = await self.person(
                f"syn.{thana.lower()}", Role.KENDRA_OFFICER, district=thana.split("-")[0],
                circle=kendra["circle"], thana=thana, service_number=service_number(thana, 1),
            )  # fmt: skip
        return self.desks[thana]


async def settled(app: FastAPI, timeout: float = 600) -> None:
    """Every projection caught up and every reaction made, three looks in a row."""
    found: dict[str, ServiceRunner] = app.state.runners
    quiet, deadline = 0, time.monotonic() + timeout
    while quiet < 3:
        if time.monotonic() > deadline:
            raise RuntimeError("bench.state: the platform did not settle")
        busy = False
        for runner in found.values():
            report = await runner.readiness()
            busy |= any(n for per in report.get("lag", {}).values() for n in per.values())
            busy |= any(n for n in report.get("reactions", {}).values())
        quiet = 0 if busy else quiet + 1
        await asyncio.sleep(0.15)


@dataclass(frozen=True)
class OpenAtOnce:
    most: int
    """The most open at any moment of the period."""
    mean: float
    """The mean number open over the period."""
    at_end: int
    """Open at its last moment."""


def open_at_once(
    spans: Sequence[tuple[datetime, datetime | None]], begin: datetime, end: datetime
) -> OpenAtOnce:
    """Of spans (start, stop; None: never stopped), how many were open at once from ``begin`` to ``end``:
    each span clipped to the period (a stop before its start counts as no time)."""
    clipped = [(max(start, begin), min(stop or end, end)) for start, stop in spans if start < end]
    clipped = [(start, stop) for start, stop in clipped if stop > start]
    changes = sorted([(start, 1) for start, _ in clipped] + [(stop, -1) for _, stop in clipped if stop < end])
    held = most = 0
    for _, change in changes:
        held += change
        most = max(most, held)
    length = (end - begin).total_seconds()
    open_seconds = sum((stop - start).total_seconds() for start, stop in clipped)
    return OpenAtOnce(most, open_seconds / length if length > 0 else 0.0, held)


async def open_clocks(app: FastAPI, year: list[Complaint]) -> dict[str, float]:
    """How many SOP clocks were open at once (started, not yet stopped) over the calendar year, from
    escalation's read model (``open_at_once``), and the same for the whole state: times a state-year's
    complaints over the year's (``YEAR_COMPLAINTS`` / complaints loaded: the complaints are spread
    over the whole year at any scale, so the clocks open at a moment grow with them). A clock that
    never stops (a case never disposed of) stays open to the year's end."""
    ctx = app.state.runners["escalation"].context
    assert ctx is not None
    board = ctx.projectors["escalation_board"]
    clock = board.tables.clock
    async with board.sessions() as session:
        rows = (await session.execute(select(clock.c.started_at, clock.c.stopped_at))).all()
    found = open_at_once([(row.started_at, row.stopped_at) for row in rows], YEAR_START, YEAR_END)
    state = YEAR_COMPLAINTS / len(year) if year else 0.0
    return {
        "clocks": len(rows),
        "open_at_once_max": found.most,
        "open_at_once_mean": round(found.mean, 1),
        "open_at_year_end": found.at_end,
        "state_open_at_once_max": round(found.most * state),
        "state_open_at_once_mean": round(found.mean * state),
        "state_open_at_year_end": round(found.at_end * state),
    }


async def rebuild(app: FastAPI) -> dict[str, dict[str, float]]:
    """Each service's read models on the running platform rebuilt from the streams, as the ops API runs
    them (see ``timed_rebuild``)."""
    found: dict[str, ServiceRunner] = app.state.runners
    kept: dict[str, list[Projector[Any]]] = {}
    for service in SERVICES:
        ctx = found[service].context
        assert ctx is not None
        kept[service] = list(ctx.projectors.values())
    return await timed_rebuild(kept)


async def timed_rebuild(kept: dict[str, list[Projector[Any]]]) -> dict[str, dict[str, float]]:
    """Each service's projectors rebuilt from the streams, one after another: events applied, seconds
    of replay (until the last event is applied: the rebuild then waits ``OLD_GENERATION_GRACE_SECONDS``
    for other processes to switch, counted in ``seconds``), and events/s of replay."""
    out: dict[str, dict[str, float]] = {}
    for service, projectors in kept.items():
        applied, replay, seconds = 0, 0.0, 0.0
        for projector in projectors:
            started = time.perf_counter()
            seen = {"total": 0, "at": started}

            def report(done: int, total: int, seen: dict[str, float] = seen) -> None:
                if total and done >= total and seen["total"] < total:
                    seen["total"], seen["at"] = total, time.perf_counter()

            await projector.rebuild(report)
            seconds += time.perf_counter() - started
            replay += seen["at"] - started
            applied += int(seen["total"])
        out[service] = {
            "events": applied,
            "replay_seconds": replay,
            "seconds": seconds,
            "eps": applied / replay if replay else 0.0,
        }
    return out


@asynccontextmanager
async def scratch_databases(server: str) -> AsyncIterator[str]:
    """A new PostgreSQL database per service on ``server`` (a URL naming any database there, e.g.
    ``postgresql+asyncpg://postgres@127.0.0.1:5432/postgres``) for the block, dropped after it; yields
    the ``{service}`` URL template, as ``SHAKTI_DATABASE_URL`` takes it."""
    prefix = f"bench_state_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(server, isolation_level="AUTOCOMMIT")
    made: list[str] = []
    try:
        async with admin.connect() as connection:
            for service in SERVICES:
                await connection.execute(text(f'CREATE DATABASE "{prefix}_{service}"'))
                made.append(f"{prefix}_{service}")
        yield f"{server.rsplit('/', 1)[0]}/{prefix}_{{service}}"
    finally:
        async with admin.connect() as connection:
            for database in made:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        await admin.dispose()


async def rebuild_elsewhere(
    settings: PlatformSettings, url: str, database_url: str
) -> dict[str, dict[str, float]]:
    """Every service's read models rebuilt from the streams at ``url`` into the databases
    ``database_url`` names (a ``{service}`` template), as ``shakti rebuild`` would with that setting,
    timed as ``timed_rebuild`` times them. Intake's case keys stay in the platform's own key store."""
    moved = settings.model_copy(
        update={
            "database_url": database_url,
            "key_store_url": settings.key_store_url or settings.database_for("intake"),
        }
    )
    nc = await nats.connect(url)
    engines: list[AsyncEngine] = []
    opened: list[Projection[Any]] = []
    try:
        kept: dict[str, list[Projector[Any]]] = {}
        for service in SERVICES:
            engines.append(engine := create_engine(moved.database_for(service)))
            kept[service] = []
            for kept_model in definition(service).projections():
                await kept_model.open(moved, engine)
                opened.append(kept_model)
                projector: Projector[Any] = Projector(kept_model, engine, nc)
                await projector.setup()
                kept[service].append(projector)
        return await timed_rebuild(kept)
    finally:
        for kept_model in opened:
            await kept_model.close()
        for engine in engines:
            await engine.dispose()
        await nc.drain()


@dataclass(frozen=True)
class LongLived:
    """A kind of aggregate that lives as long as the platform: the one of its kind with the most events
    is loaded and timed."""

    label: str
    service: str
    aggregate_type: str
    kind: type[Aggregate] | None
    """What its history is replayed into; None: the history alone (numbering reads only a series' last
    number, one direct get: the full history is what it would cost a reader that folds it)."""


LONG_LIVED = (
    LongLived("routing_officer", "routing", "officer", Officer),
    LongLived("training_officer", "training", "officer", OfficerRecord),
    LongLived("district_jurisdiction", "routing", "district", DistrictJurisdiction),
    LongLived("numbering_series", "intake", SERIES, None),
)
AGGREGATE_SAMPLES = 15


async def aggregate_loads(url: str, samples: int = AGGREGATE_SAMPLES) -> dict[str, dict[str, Any]]:
    """For each ``LONG_LIVED`` kind, its aggregate with the most events: which one, its events, and the
    median ms of loading its history from the stream and replaying it (``samples`` loads after one
    untimed)."""
    nc = await nats.connect(url)
    store = EventStore(nc, "routing")
    out: dict[str, dict[str, Any]] = {}
    try:
        for long_lived in LONG_LIVED:
            stream = stream_name(long_lived.service)
            every = f"shakti.{long_lived.service}.{long_lived.aggregate_type}.*"
            try:
                held = (await store.js.stream_info(stream, subjects_filter=every)).state.subjects or {}
            except NotFoundError:
                continue
            if not held:
                continue
            subject, events = max(held.items(), key=lambda item: (item[1], item[0]))
            aggregate_id = subject.rsplit(".", 1)[1]
            times = []
            for i in range(samples + 1):
                started = time.perf_counter()
                history = await store.load(
                    long_lived.aggregate_type, aggregate_id, service=long_lived.service
                )
                if long_lived.kind is not None:
                    long_lived.kind.replay(aggregate_id, history)
                if i:
                    times.append((time.perf_counter() - started) * 1000)
            out[long_lived.label] = {
                "id": aggregate_id,
                "events": events,
                "load_ms": statistics.median(times),
            }
    finally:
        await store.close()
    return out


async def read_models(client: httpx.AsyncClient, loader: StateLoader, districts: list[str]) -> Answers:
    """What the read models answer the state cell, each district's SP and the operator: the register,
    counts, breach rates, step times, workloads, compliance and a sample of case records."""
    state = await loader.person("syn.state", Role.STATE_CELL)
    seen: Answers = {}

    async def ask(label: str, path: str, who: dict[str, str], **params: Any) -> Any:
        answer = await client.get(path, headers=who, params=params)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        seen[f"{label} {path} {sorted(params.items())}"] = body = answer.json()
        return body

    await ask("state", "/api/intake/counts", state)
    for by in ("thana", "circle", "district"):
        await ask("state", "/api/escalation/breach-rates", state, by=by)
    await ask("state", "/api/escalation/step-times", state)
    await ask("state", "/api/escalation/escalations/summary", state)
    await ask("state", "/api/training/compliance", state)
    await ask("operator", "/api/routing/attention", loader.operator)
    await ask("operator", "/api/routing/referrals/outstanding", loader.operator)
    await ask("operator", "/api/routing/workloads", loader.operator)
    sps: dict[str, dict[str, str]] = {}
    for district in districts:
        sps[district] = sp = await loader.person(f"syn.sp.{district.lower()}", Role.SP, district=district)
        await ask(district, "/api/intake/cases", sp, size=200)
        await ask(district, f"/api/routing/jurisdiction/{district}", sp)
    # A sample of cases, each read by its district's SP (the operator may not read a case).
    sample = sorted(c for c, d in loader.case_districts.items() if d in sps)[:60]
    for case_id in sample:
        sp = sps[loader.case_districts[case_id]]
        for path in (f"/api/intake/cases/{case_id}", f"/api/intake/cases/{case_id}/timeline"):
            await ask("sp", path, sp)
        await ask("sp", f"/api/routing/cases/{case_id}", sp)
        await ask("sp", f"/api/escalation/cases/{case_id}", sp)
    return seen


def no_check(answer: httpx.Response) -> dict[str, float]:
    return {}


async def timed(
    what: Callable[[int], Awaitable[httpx.Response]],
    samples: int = SAMPLES,
    check: Callable[[httpx.Response], dict[str, float]] = no_check,
) -> dict[str, float]:
    """p50 and p99 (ms) of a request, after one untimed warm-up; any answer but 2xx stops the run, and
    so does one ``check`` refuses (raising; checked after the clock stops). What ``check`` found of the
    last answer is returned beside the times."""
    times, found = [], {}
    for i in range(samples + 1):
        started = time.perf_counter()
        answer = await what(i)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code >= 300:
            raise RuntimeError(f"bench.state: {answer.request.url.path} answered {answer.status_code}")
        found = check(answer)
        if i:
            times.append(elapsed)
    return {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 99), **found}


REGISTER_HEADER = [f"{hi} / {en}" for _, hi, en in CSV_COLUMNS]


def register_rows(answer: httpx.Response) -> dict[str, float]:
    """Bytes and cases of a register exported as CSV (``/dashboard.csv``); an answer that is not the
    register with at least one case (a page, other columns, a short row, no case) stops the run: the
    time of an error is no figure."""
    path = answer.request.url.path
    if not answer.headers.get("content-type", "").startswith("text/csv"):
        raise RuntimeError(f"bench.state: {path} answered {answer.headers.get('content-type')}, not a CSV")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    if not rows or rows[0] != REGISTER_HEADER:
        raise RuntimeError(f"bench.state: {path} has other columns than the register's: {rows[:1]}")
    cases = rows[1:]
    if not cases:
        raise RuntimeError(f"bench.state: {path} exported no case")
    if short := [n for n, row in enumerate(cases, 2) if len(row) != len(REGISTER_HEADER)]:
        raise RuntimeError(
            f"bench.state: {path} line {short[0]} has not the register's {len(REGISTER_HEADER)} cells"
        )
    return {"bytes": len(answer.content), "rows": len(cases)}


async def pages(
    client: httpx.AsyncClient, loader: StateLoader, year: list[Complaint]
) -> dict[str, dict[str, float]]:
    """Time what people do with the year loaded: as a desk officer, her Kendra's queue and case pages;
    as the district's SP, the dashboard and its register downloaded as CSV (the whole district; the
    state cell has no CSV export); as the state cell, its page; a registration; as the operator console,
    the status ``shakti status`` asks for (the API alone, without the command's own start)."""
    busiest = max(loader.desks, key=lambda t: sum(1 for c in year if c.thana == t))
    district = busiest.split("-")[0]
    desk = await loader.desk(busiest)
    sp = await loader.person(f"syn.sp.{district.lower()}", Role.SP, district=district)
    state = await loader.person("syn.state", Role.STATE_CELL)

    def cookie(who: dict[str, str]) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={who['Authorization'].removeprefix('Bearer ')}"}

    cases = [loader.cases[c.n] for c in year if c.thana == busiest and c.n in loader.cases] or list(
        loader.cases.values()
    )
    last = year[-1]
    out = {
        "register": await timed(
            lambda i: client.post(
                "/api/intake/cases",
                json=last.registration() | {"thana": busiest, "district": district},
                headers={**desk, "Idempotency-Key": f"bench-register-{i}"},
            )
        ),
        "case_page": await timed(
            lambda i: client.get(f"/cases/{cases[i % len(cases)]}", headers=cookie(desk))
        ),
        "officer_queue": await timed(lambda i: client.get("/kendra/queue", headers=cookie(desk))),
        "district_dashboard": await timed(lambda i: client.get("/dashboard", headers=cookie(sp))),
        "csv_export": await timed(
            lambda i: client.get("/dashboard.csv", headers=cookie(sp)), check=register_rows
        ),
        "state_page": await timed(lambda i: client.get("/state", headers=cookie(state))),
        "ops_status": await timed(lambda i: client.get("/api/ops/status", headers=loader.operator)),
    }
    return out


STATUS_RUNS = 5
"""Timed runs of ``shakti status``: each is a process of its own (about a second of Python starting)."""


@asynccontextmanager
async def served_on_a_port(app: FastAPI, settings: PlatformSettings) -> AsyncIterator[str]:
    """The platform running in this process (its lifespan already entered) served over HTTP on a free
    port of 127.0.0.1 for the block, as ``shakti up`` serves it: what the operator's CLI calls."""
    where = settings.model_copy(
        update={"http_host": "127.0.0.1", "http_port": free_port(), "access_log": False}
    )
    async with running(where, app, lifespan=False) as url:
        yield url


def status_checked(command: str, code: int | None, out: str) -> None:
    """``shakti status`` answered as a platform that is up answers: exit code 0, every service listed
    and the reactions' line; anything else stops the run."""
    missing = [service for service in SERVICES if service not in out]
    if code != 0 or missing or "reactions parked:" not in out:
        raise RuntimeError(
            f"bench.state: {command} exited {code} (services missing: {missing or 'none'}):\n{out[-2000:]}"
        )


async def operator_status(settings: PlatformSettings, url: str, runs: int = STATUS_RUNS) -> dict[str, float]:
    """p50 and p99 (ms) of ``shakti status`` run as an operator runs it: the venv's own ``shakti``
    command, a process of its own (its start counted: that is what the operator waits for), with the
    platform's keys and ``SHAKTI_PLATFORM_URL`` set to ``url``; one untimed run first. Its answer is
    checked (``status_checked``)."""
    command = [str(Path(sys.executable).parent / "shakti"), "status"]
    environment = os.environ | {
        "SHAKTI_PLATFORM_URL": url,
        "SHAKTI_KEYS_DIR": str(settings.keys_dir),
        "SHAKTI_DATA_DIR": str(settings.data_dir),
        "COLUMNS": "200",
    }
    times = []
    for i in range(runs + 1):
        started = time.perf_counter()
        child = await asyncio.create_subprocess_exec(
            *command, env=environment, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await child.communicate()
        elapsed = (time.perf_counter() - started) * 1000
        status_checked(" ".join(command), child.returncode, out.decode(errors="replace"))
        if i:
            times.append(elapsed)
    return {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 99), "runs": runs}


async def stream_figures(url: str) -> dict[str, dict[str, int]]:
    nc = await nats.connect(url)
    try:
        infos = await nc.jetstream().streams_info()
        return {i.config.name or "?": {"events": i.state.messages, "bytes": i.state.bytes} for i in infos}
    finally:
        await nc.close()


def chosen_districts(count: int) -> list[District]:
    """The first ``count`` districts, Shahjahanpur (the sample with real thanas) always among them."""
    every = read_districts()
    return sorted(every, key=lambda d: d.code != SAMPLE_DISTRICT)[:count]


async def load_state(
    loader: StateLoader, districts: list[District], result: dict[str, Any], say: Callable[[str], None]
) -> None:
    """Jurisdictions and rosters through the API: timed into ``result``."""
    started = time.perf_counter()
    await loader.state(districts)
    result["state_load_s"] = time.perf_counter() - started
    result["state_load_parts_s"] = loader.timings
    parts = ", ".join(f"{what} {seconds:.1f} s" for what, seconds in loader.timings.items())
    say(f"jurisdictions and rosters: {result['state_load_s']:.1f} s ({parts})")


async def load_year_through_api(
    app: FastAPI,
    loader: StateLoader,
    year: list[Complaint],
    happenings: list[Happening],
    result: dict[str, Any],
    say: Callable[[str], None],
) -> None:
    """Every complaint's life, and the roster's and training's year, through the platform's API, as it
    happens: timed into ``result``."""
    started = time.perf_counter()
    requests = await loader.live(
        year, lambda done, n: say(f"  {done} requests ({n} complaints)"), happenings=happenings
    )
    await settled(app)
    result["year_load_s"] = seconds = time.perf_counter() - started
    result["load_requests_per_s"] = requests / seconds
    result["refused"] = loader.refused
    say(f"year through the API: {requests} requests in {seconds:.1f} s ({requests / seconds:.0f}/s), "
        f"{len(loader.cases)} cases; refused: {loader.refused or 'none'}")  # fmt: skip
    say_latencies(loader, say)


async def load_year_fast(
    settings: PlatformSettings,
    clock: HistoricalClock,
    url: str,
    root: Path,
    loader: StateLoader,
    year: list[Complaint],
    happenings: list[Happening],
    result: dict[str, Any],
    say: Callable[[str], None],
) -> None:
    """Every complaint's life, and the roster's and training's year, through the services on memory
    (``shakti.fastload``), then appended to the streams, while the platform is stopped: timed into
    ``result``."""
    started = time.perf_counter()
    async with memory_platform(settings, clock, url, root / "memory") as memory:
        transport = httpx.ASGITransport(app=await memory.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://memory", timeout=120) as client:
            fast = HistoryLoader(
                client, clock, loader.desk, loader.key_prefix, settle=memory.settle, staff=loader.staff
            )
            requests = await fast.live(
                year, lambda done, n: say(f"  {done} requests ({n} complaints)"), happenings=happenings
            )
        lived = time.perf_counter() - started
        appended = await publish(url, memory.streams)
    await mark_reacted(url)
    seconds = time.perf_counter() - started
    events = sum(appended.values())
    loader.cases, loader.case_districts = fast.cases, fast.case_districts
    loader.refused, loader.latency = fast.refused, fast.latency
    result |= {
        "year_load_s": seconds,
        "load_requests_per_s": requests / seconds,
        "load_events": events,
        "load_events_per_s": events / seconds,
        "refused": fast.refused,
    }
    say(f"year on memory: {requests} requests, {events} events in {seconds:.1f} s ({events / seconds:.0f} "
        f"events/s; lived {lived:.1f} s, appended {seconds - lived:.1f} s), {len(loader.cases)} cases; "
        f"refused: {fast.refused or 'none'}")  # fmt: skip
    say_latencies(loader, say)


def say_latencies(loader: HistoryLoader, say: Callable[[str], None]) -> None:
    for what, ms in sorted(loader.latency.items()):
        say(f"  load {what:<28} n {len(ms):>6} p50 {statistics.median(ms):>7.1f} ms "
            f"p99 {percentile(ms, 99):>7.1f} ms")  # fmt: skip


OFFICER_SUBJECTS = (("ROUTING", "shakti.routing.officer.*"), ("TRAINING", "shakti.training.>"))


async def officer_events(url: str) -> list[dict[str, Any]]:
    """Every event of routing's officers and of training (programmes, officers' records, modules) as
    stored, each with its type, aggregate, time and payload: what the year's happenings made."""
    nc = await nats.connect(url)
    store = EventStore(nc, "routing")
    out: list[dict[str, Any]] = []
    try:
        for stream, subject in OFFICER_SUBJECTS:
            async for msg in store.messages(stream, subject):
                body = json.loads(msg.data)
                out.append({k: body[k] for k in ("event_type", "aggregate_id", "occurred_at", "payload")})
    finally:
        await store.close()
    return out


async def record_streams(url: str, result: dict[str, Any], say: Callable[[str], None]) -> None:
    """The streams' events and bytes once the year is loaded."""
    streams = await stream_figures(url)
    result["events"] = sum(s["events"] for s in streams.values())
    result["streams"] = streams
    for name, s in sorted(streams.items()):
        per = s["bytes"] / s["events"] if s["events"] else 0
        say(f"  stream {name:<24} {s['events']:>9} events {s['bytes'] / 1e6:>9.1f} MB {per:>6.0f} B/event")


async def rebuild_and_compare(
    app: FastAPI,
    client: httpx.AsyncClient,
    loader: StateLoader,
    year: list[Complaint],
    compare: bool,
    result: dict[str, Any],
    say: Callable[[str], None],
) -> None:
    """Every read model rebuilt from the streams, timed; with ``compare``, what five districts' read models
    answered live and after the rebuild."""
    codes = sorted({c.district for c in year})[:5] if compare else []
    live = await read_models(client, loader, codes) if compare else {}
    timings = await rebuild(app)
    await settled(app)
    result["rebuild"] = timings
    say_rebuild("SQLite", timings, say)
    if compare:
        result["live"], result["rebuilt"] = live, await read_models(client, loader, codes)


def say_rebuild(database: str, timings: dict[str, dict[str, float]], say: Callable[[str], None]) -> None:
    for service, t in timings.items():
        say(
            f"rebuild {service:<14} {database:<10} {t['events']:>7.0f} events replayed in "
            f"{t['replay_seconds']:>6.1f} s ({t['eps']:>6.0f} events/s); {t['seconds']:>6.1f} s with the "
            "switch-over waits"
        )


@asynccontextmanager
async def running_platform(
    settings: PlatformSettings, url: str, clock: HistoricalClock, root: Path
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The whole platform in this process, on the server at ``url``, and a client of its HTTP API."""
    users = UserStore(f"sqlite+aiosqlite:///{root / 'web.db'}")
    # DEMO users only: argon2's cheapest settings, so that a desk officer per Kendra costs no minutes.
    users.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    app = build_platform(settings, runners(settings, url, clock=clock), users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=120) as client:
            yield app, client


async def load_districts(
    settings: PlatformSettings,
    url: str,
    clock: HistoricalClock,
    root: Path,
    districts: list[District],
    lived: tuple[list[Complaint], list[Happening]],
    result: dict[str, Any],
    say: Callable[[str], None],
    through_api: bool = False,
) -> StateLoader:
    """The districts' jurisdictions and rosters, then the year (``lived``: the complaints and the other
    happenings), into the streams at ``url``: through the running platform's API, or on memory and
    appended (the platform stopped). Timed into ``result``."""
    year, happenings = lived
    async with running_platform(settings, url, clock, root) as (app, client):
        loader = StateLoader(app, client, clock)
        await load_state(loader, districts, result, say)
        if through_api:
            await load_year_through_api(app, loader, year, happenings, result, say)
            return loader
        # Every desk officer and SP before the streams are copied: the memory platform reads the users.
        for thana in sorted({c.thana for c in year}):
            await loader.desk(thana)
        for who in sorted({h.who for h in happenings}):
            await loader.staff(who)
        await settled(app)
    await load_year_fast(settings, clock, url, root, loader, year, happenings, result, say)
    return loader


async def run(
    scale: float,
    root: Path,
    *,
    district_count: int = 75,
    seed: int = 19,
    measure: bool = True,
    compare: bool = False,
    through_api: bool = False,
    postgres: str = "",
    partitions: int = 1,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate, load, rebuild and (``measure``) time the pages; with ``compare``, the read models'
    answers before and after the rebuild are returned too (``live``, ``rebuilt``). The year is lived by
    the services on memory and appended to the streams (``shakti.fastload``), or, ``through_api``, sent
    to the running platform's API step by step. With ``postgres`` (a server's URL), the read models are
    rebuilt once more into fresh databases there (``rebuild_postgres``), made and dropped for the run."""
    districts = chosen_districts(district_count)
    year = complaints(districts, scale, seed)
    happenings = year_happenings(districts, seed)
    say(f"state: {len(districts)} districts, {sum(d.thanas for d in districts)} Kendras, {len(year)} complaints "
        f"with {sum(len(c.steps) for c in year)} steps (scale {scale}); the roster's and training's whole "
        f"year: {len(happenings)} requests")  # fmt: skip
    settings = partition_settings(root)
    init_keys(settings)
    result: dict[str, Any] = {
        "scale": scale, "districts": len(districts), "complaints": len(year), "happenings": len(happenings),
    }  # fmt: skip
    with EmbeddedNatsServer(root / "nats") as server:
        clock = HistoricalClock(YEAR_START - timedelta(days=1))
        loader = await load_districts(
            settings, server.url, clock, root, districts, (year, happenings), result, say, through_api
        )
        # The year alone, the platform stopped: before the pages add their registrations to it.
        whole = await rebuild_in_a_process(server.url, root) if partitions > 1 else None
        async with running_platform(settings, server.url, clock, root) as (app, client):
            started = time.perf_counter()
            await settled(app)
            result["start_s"] = time.perf_counter() - started
            say(f"platform started on the loaded streams, read models caught up: {result['start_s']:.1f} s")
            loader = loader.moved_to(app, client)
            await record_streams(server.url, result, say)
            result["open_clocks"] = clocks = await open_clocks(app, year)
            say_clocks(clocks, say)
            if compare:
                result["officer_events"] = await officer_events(server.url)
            await rebuild_and_compare(app, client, loader, year, compare, result, say)
            if postgres:
                # The same streams as the rebuild on SQLite: before the pages' registrations add to them.
                async with scratch_databases(postgres) as database_url:
                    result["rebuild_postgres"] = timings = await rebuild_elsewhere(
                        settings, server.url, database_url
                    )
                say_rebuild("PostgreSQL", timings, say)
            if measure:
                result["aggregates"] = loads = await aggregate_loads(server.url)
                for what, load in loads.items():
                    say(f"load {what:<28} {load['events']:>6} events  {load['load_ms']:>7.2f} ms (median)")
                result["pages"] = found = await pages(client, loader, year)
                async with served_on_a_port(app, settings) as url:
                    result["status"] = await operator_status(settings, url)
                say_pages(found, result["status"], say)
        # Before the partitions are loaded, in this process too: the platform's memory, not theirs.
        result["rss_mb"] = {
            "platform": rss_mb(),
            "nats-server": rss_mb(str(server.pid)) if server.pid else 0.0,
        }
        if whole is not None:
            result["partitions"] = await partitioned(whole, root, districts, (year, seed), partitions, say)
    return result


def say_clocks(clocks: dict[str, float], say: Callable[[str], None]) -> None:
    say(f"SOP clocks: {clocks['clocks']}; open at once over the year: at most {clocks['open_at_once_max']}, "
        f"{clocks['open_at_once_mean']:.1f} on average, {clocks['open_at_year_end']} at its end; the whole "
        f"state: ≈{clocks['state_open_at_once_max']:,.0f} at most, ≈{clocks['state_open_at_once_mean']:,.0f} "
        f"on average, ≈{clocks['state_open_at_year_end']:,.0f} at the end (four a case: `bench.escalation "
        f"--cases {clocks['state_open_at_once_max'] / 4:.0f}`)")  # fmt: skip


def partition_settings(root: Path) -> PlatformSettings:
    return PlatformSettings(data_dir=root / "var", keys_dir=root / "keys")


async def rebuild_in_a_process(url: str, root: Path) -> Rebuilt:
    """Every read model of the store at ``url`` rebuilt into fresh SQLite files, by a process of its own
    (``--rebuild-from``), as ``rebuild_elsewhere`` times it; with the process's wall time, start-up
    included. The process is killed if this is cancelled or fails."""
    started = time.perf_counter()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.state", "--rebuild-from", url, "--root", str(root),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, _ = await child.communicate()
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    lines = out.decode().strip().splitlines()
    if child.returncode or not lines:
        raise RuntimeError(f"bench.state: the rebuild of {url} failed ({child.returncode})")
    timings: dict[str, dict[str, float]] = json.loads(lines[-1])
    return Rebuilt(timings, time.perf_counter() - started)


@dataclass(frozen=True)
class Rebuilt:
    timings: dict[str, dict[str, float]]
    """Per service, as ``timed_rebuild`` gives them."""
    wall: float
    """Seconds of the rebuilding process, start-up included."""

    @property
    def events(self) -> int:
        return int(sum(t["events"] for t in self.timings.values()))

    @property
    def replay(self) -> float:
        """Seconds of replay, the services one after another; without start-up and the switch-over
        waits, which do not grow with the streams."""
        return sum(t["replay_seconds"] for t in self.timings.values())


async def partitioned(
    whole: Rebuilt,
    root: Path,
    districts: list[District],
    year_and_seed: tuple[list[Complaint], int],
    count: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """Partitioning by district, measured against ``whole``, the whole store rebuilt by a process alone.
    The districts are dealt into ``count`` partitions of nearly equal complaints (``dealt``), each loaded
    into a store of its own (its own ``nats-server``, keys and read models: what a deployment of those
    districts alone would hold: the year's complaints of its districts, its districts' roster and
    training), and every partition is rebuilt at the same time, each by a process of its own. A
    partition's training year is drawn for its districts alone, so the partitions' events need not add
    up to the whole's exactly: the speed-ups compare events per second (all partitions' events over the
    slowest one's seconds, against the whole's)."""
    say(f"partitions: the whole store rebuilt by one process: {whole.events} events, {whole.replay:.1f} s of "
        f"replay, {whole.wall:.1f} s in all")  # fmt: skip
    year, seed = year_and_seed
    parts = dealt(districts, year, count)
    with contextlib.ExitStack() as servers:
        urls: list[str] = []
        for i, part in enumerate(parts):
            where = root / f"partition-{i}"
            settings = partition_settings(where)
            init_keys(settings)
            server = servers.enter_context(EmbeddedNatsServer(where / "nats"))
            codes = {d.code for d in part}
            lived = ([c for c in year if c.district in codes], year_happenings(part, seed))
            loaded: dict[str, Any] = {}
            clock = HistoricalClock(YEAR_START - timedelta(days=1))
            await load_districts(settings, server.url, clock, where, part, lived, loaded, lambda _: None)
            urls.append(server.url)
            say(f"partition {i}: {', '.join(sorted(codes))}: {len(lived[0])} complaints loaded in "
                f"{loaded['year_load_s']:.1f} s")  # fmt: skip
        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(rebuild_in_a_process(u, root / f"partition-{i}"))
                for i, u in enumerate(urls)
            ]
        wall = time.perf_counter() - started
    rebuilt = [task.result() for task in tasks]
    events = sum(r.events for r in rebuilt)
    slowest = max(r.replay for r in rebuilt)
    whole_rate = whole.events / whole.replay if whole.replay else 0.0
    whole_wall_rate = whole.events / whole.wall if whole.wall else 0.0
    figures: dict[str, Any] = {
        "count": count,
        "whole": {"events": whole.events, "replay_s": whole.replay, "wall_s": whole.wall},
        "each": [{"districts": [d.code for d in part], "events": r.events, "replay_s": r.replay,
                  "wall_s": r.wall} for part, r in zip(parts, rebuilt, strict=True)],
        "wall_s": wall,
        "replay_speedup": events / slowest / whole_rate if slowest and whole_rate else 0.0,
        "wall_speedup": events / wall / whole_wall_rate if wall and whole_wall_rate else 0.0,
    }  # fmt: skip
    for i, each in enumerate(figures["each"]):
        say(f"partition {i}: {each['events']} events, {each['replay_s']:.1f} s of replay, "
            f"{each['wall_s']:.1f} s in all (at the same time as the others)")  # fmt: skip
    say(f"partitions: {count} at once on this machine, events/s against the whole store's: replay "
        f"{figures['replay_speedup']:.2f}x, wall {figures['wall_speedup']:.2f}x")  # fmt: skip
    return figures


def dealt(districts: list[District], year: list[Complaint], count: int) -> list[list[District]]:
    """The districts dealt into ``count`` partitions of nearly the same number of complaints: the busiest
    district first, each to the partition with the fewest so far (a partition's rebuild is as long as
    its streams)."""
    complaints_of = Counter(c.district for c in year)
    parts: list[list[District]] = [[] for _ in range(count)]
    held = [0] * count
    for district in sorted(districts, key=lambda d: (-complaints_of[d.code], d.code)):
        lightest = min(range(count), key=lambda i: (held[i], len(parts[i])))
        parts[lightest].append(district)
        held[lightest] += complaints_of[district.code]
    return parts


async def rebuild_from(url: str, root: Path) -> dict[str, dict[str, float]]:
    """``--rebuild-from``: the store at ``url`` rebuilt into fresh SQLite files under ``root``, with the
    keys of the platform whose data is under ``root``."""
    # No other process reads the fresh read models: no switch-over to wait for.
    projection.OLD_GENERATION_GRACE_SECONDS = 0
    settings = partition_settings(root)
    rebuilt = root / f"rebuilt-{uuid.uuid4().hex[:8]}"
    rebuilt.mkdir(parents=True)
    return await rebuild_elsewhere(settings, url, f"sqlite+aiosqlite:///{rebuilt}/{{service}}.db")


def say_pages(
    found: dict[str, dict[str, float]], status: dict[str, float], say: Callable[[str], None]
) -> None:
    for what, figure in found.items():
        say(f"{what:<20} p50 {figure['p50_ms']:>7.1f} ms   p99 {figure['p99_ms']:>7.1f} ms")
    export = found["csv_export"]
    say(f"  csv_export: one district's register, {export['rows']:.0f} cases, {export['bytes'] / 1e3:.0f} kB")
    say(f"{'shakti status':<20} p50 {status['p50_ms']:>7.1f} ms   p99 {status['p99_ms']:>7.1f} ms"
        f"   ({status['runs']:.0f} runs, each a process of its own)")  # fmt: skip


def summary(result: dict[str, Any]) -> dict[str, Any]:
    pages = result.get("pages", {})
    rates = [t["eps"] for t in result["rebuild"].values() if t["events"]]
    postgres = result.get("rebuild_postgres")
    postgres_rates = [t["eps"] for t in (postgres or {}).values() if t["events"]]
    aggregates = result.get("aggregates")
    split = result.get("partitions")
    export = pages.get("csv_export", {})
    status = result.get("status", {})

    def p99(what: str) -> float | None:
        return round(pages[what]["p99_ms"], 1) if what in pages else None

    def shown(figures: dict[str, float], key: str) -> float | None:
        return round(figures[key], 1) if key in figures else None

    return {
        "scale": result["scale"],
        "districts": result["districts"],
        "complaints": result["complaints"],
        "events": result["events"],
        "rebuild_eps_min": round(min(rates)) if rates else None,
        "register_p99_ms": p99("register"),
        "case_page_p99_ms": p99("case_page"),
        "officer_queue_p99_ms": p99("officer_queue"),
        "district_dashboard_p99_ms": p99("district_dashboard"),
        "state_page_p99_ms": p99("state_page"),
        "csv_export_p50_ms": shown(export, "p50_ms"),
        "csv_export_p99_ms": shown(export, "p99_ms"),
        "csv_export_rows": round(export["rows"]) if export else None,
        "csv_export_bytes": round(export["bytes"]) if export else None,
        "status_p50_ms": shown(status, "p50_ms"),
        "status_p99_ms": shown(status, "p99_ms"),
        "ops_status_p99_ms": p99("ops_status"),
        "rss_mb_max": round(max(result["rss_mb"].values())),
        "load_requests_per_s": round(result["load_requests_per_s"]),
        "year_load_s": round(result["year_load_s"], 1),
        "load_events_per_s": round(result["load_events_per_s"]) if "load_events_per_s" in result else None,
        "rebuild_eps": {service: round(t["eps"]) for service, t in result["rebuild"].items()},
        "rebuild_postgres_eps_min": round(min(postgres_rates)) if postgres_rates else None,
        "rebuild_postgres_eps": {service: round(t["eps"]) for service, t in postgres.items()}
        if postgres
        else None,
        "state_open_clocks_max": result["open_clocks"]["state_open_at_once_max"]
        if "open_clocks" in result
        else None,
        "partition_replay_speedup": round(split["replay_speedup"], 2) if split else None,
        "partition_wall_speedup": round(split["wall_speedup"], 2) if split else None,
        "aggregate_events": {what: a["events"] for what, a in aggregates.items()} if aggregates else None,
        "aggregate_load_ms": {what: round(a["load_ms"], 2) for what, a in aggregates.items()}
        if aggregates
        else None,
    }


def flat(figures: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a.b": 1}``: a figure per row of the table."""
    out: dict[str, Any] = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def side_by_side(summaries: list[dict[str, Any]]) -> str:
    """One row per figure, one column per scale (smallest first), and the largest scale's figure over
    the smallest's: what grows with history shows there."""
    ordered = sorted(summaries, key=lambda figures: figures["scale"])
    rows: dict[str, list[Any]] = {}
    for n, figures in enumerate(ordered):
        for key, value in flat(figures).items():
            if key != "scale":
                rows.setdefault(key, [None] * len(ordered))[n] = value

    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 10 else f"{value:,.0f}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    def growth(values: list[Any]) -> str:
        first, last = values[0], values[-1]
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (first, last))
        return f"{last / first:.2f}" if numbers and first else "-"

    table = [["figure", *(f"scale {f['scale']:g}" for f in ordered), "last/first"]]
    table += [[key, *(cell(v) for v in values), growth(values)] for key, values in rows.items()]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join(
        "  ".join(
            text.ljust(w) if i == 0 else text.rjust(w)
            for i, (text, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in table
    )


def scale_list(given: str) -> list[float]:
    """``0.0005,0.001,0.002`` as scales, each a positive fraction of a state-year."""
    try:
        scales = [float(part) for part in given.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {given!r}") from None
    if not scales or any(scale <= 0 for scale in scales) or len(set(scales)) != len(scales):
        raise argparse.ArgumentTypeError(f"each scale once, each above 0: {given!r}")
    return scales


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    scales = parser.add_mutually_exclusive_group()
    scales.add_argument(
        "--scale", type=float, default=0.001, help="fraction of a state-year (1.0 = 1.5 M complaints)"
    )
    scales.add_argument(
        "--scales",
        type=scale_list,
        help="e.g. 0.0005,0.001,0.002: the whole measurement at each scale (each in a process of its own, "
        "one after another), then one table of every figure side by side; the JSON line is the largest "
        "scale's figures with every scale's under \"scales\"",
    )
    parser.add_argument(
        "--districts",
        type=int,
        default=5,
        help="load the first N of the 75 districts (SJP first); the default finishes in about 3 minutes here",
    )
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument(
        "--through-api",
        action="store_true",
        help="send the year to the running platform's API step by step (about 6 requests/s) instead of "
        "living it on the services in memory and appending it to the streams",
    )
    parser.add_argument(
        "--postgres",
        default="",
        metavar="URL",
        help="also rebuild every read model into fresh PostgreSQL databases on this server (made for the "
        "run, dropped after), e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        help="after the measurement, deal the districts into N partitions, load each into a store of its "
        "own and rebuild them all at once, each by a process of its own, against the whole store rebuilt "
        "alone (default 2 where there are two districts or more; 1: not measured)",
    )
    parser.add_argument("--rebuild-from", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.partitions is None:
        args.partitions = min(2, args.districts)
    if not 1 <= args.partitions <= args.districts:
        parser.error(f"--partitions {args.partitions}: from 1 to the number of districts ({args.districts})")
    return args


def one_scale(args: argparse.Namespace, scale: float) -> dict[str, Any]:
    """The measurement at ``scale`` in a process of its own (its memory its own), its output passed
    through; its figures from its JSON line."""
    command = [
        sys.executable,
        "-m",
        "bench.state",
        "--scale",
        repr(scale),
        "--districts",
        str(args.districts),
    ]
    command += ["--seed", str(args.seed), *(["--through-api"] if args.through_api else [])]
    command += ["--postgres", args.postgres] if args.postgres else []
    command += ["--partitions", str(args.partitions)]
    last = ""
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        for line in child.stdout:
            print(line, end="", flush=True)
            last = line if line.strip() else last
    if child.returncode:
        raise SystemExit(f"bench.state: the run at scale {scale} failed ({child.returncode})")
    figures: dict[str, Any] = json.loads(last)
    return figures


NOT_MEASURED = (
    "measured elsewhere: escalation with the state's open clocks (python -m bench.escalation --cases, "
    "sized by the SOP clocks line) and routing with the state's roster (python -m bench.routing --state); "
    "not measured yet (null or absent): the state cell's CSV export (it has none: /dashboard.csv is a "
    "supervisor's, timed for one district's SP); memory is this one process"
)


def main() -> None:
    args = arguments()
    if args.rebuild_from:
        print(json.dumps(asyncio.run(rebuild_from(args.rebuild_from, args.root))))
        return
    if args.scales:
        every = [one_scale(args, scale) for scale in args.scales]
        print(side_by_side(every))
        print(NOT_MEASURED)
        largest = max(every, key=lambda figures: figures["scale"])
        print(json.dumps(largest | {"scales": sorted(every, key=lambda figures: figures["scale"])}))
        return
    configure_logging()  # as the launcher does: the services' own logs, FastStream's warnings only
    with tempfile.TemporaryDirectory(prefix="bench-state-") as folder:
        result = asyncio.run(
            run(
                args.scale,
                Path(folder),
                district_count=args.districts,
                seed=args.seed,
                through_api=args.through_api,
                postgres=args.postgres,
                partitions=args.partitions,
            )
        )
    print(NOT_MEASURED)
    print(json.dumps(summary(result)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
