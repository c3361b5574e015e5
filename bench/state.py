"""A year of the state, loaded and measured: ``python -m bench.state [--scale 0.001] [--districts 5]``.

The whole platform runs in this process (the four services, their reactions and the web front, as
``shakti up`` runs them) on an embedded ``nats-server`` and SQLite, on a clock set to each moment of a
synthetic year (``bench/state_data.py``): the 75 districts' jurisdictions and rosters are imported, then
every complaint is registered and lived through, each at its own historical time. Everything goes in
through the services' own HTTP API (in process, no sockets), so the events in the streams are exactly the
ones the services append, their process managers' reactions and the escalation clocks' breaches included.

Then each service's read models are rebuilt from the streams (the projectors' own ``rebuild``, what
``POST /api/ops/rebuild/{service}`` runs), timed, and the pages people open are timed with the year
loaded. Figures are printed, then one JSON line; a figure this run does not measure is ``null``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import nats
from argon2 import PasswordHasher
from fastapi import FastAPI

from bench.state_data import (
    SAMPLE_DISTRICT,
    YEAR_START,
    Complaint,
    District,
    complaints,
    jurisdiction_sheet,
    read_districts,
    roster_sheet,
    service_number,
)
from shakti.config import PlatformSettings
from shakti.history import HistoryLoader
from shakti.platform import SERVICES, build_platform, runners
from shakti.users import CONSOLE, CONSOLE_SESSION_VERSION, ServicesReference, UserStore, user_record
from shared.auth import COOKIE, Role
from shared.clock import HistoricalClock
from shared.keys import init_keys
from shared.natsserver import EmbeddedNatsServer
from shared.observability import configure_logging
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
        super().__init__(client, clock, self.desk, key_prefix="state")
        self.app = app
        self.issuer = app.state.issuer
        self.users: UserStore = app.state.users
        self.operator = {"Authorization": f"Bearer {self.issuer.issue(CONSOLE, CONSOLE_SESSION_VERSION)}"}
        self.kendras: dict[str, dict[str, Any]] = {}
        """Each thana's Kendra as intake lists it (code, circle, thana)."""
        self.desks: dict[str, dict[str, str]] = {}
        self.timings: dict[str, float] = {}
        """Seconds of each part of loading the state's places and people."""

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


async def rebuild(app: FastAPI) -> dict[str, dict[str, float]]:
    """Each service's read models rebuilt from the streams, one projector after another as the ops API
    runs them: events applied, seconds of replay (until the last event is applied: the rebuild then
    waits ``OLD_GENERATION_GRACE_SECONDS`` for other processes to switch, counted in ``seconds``), and
    events/s of replay."""
    found: dict[str, ServiceRunner] = app.state.runners
    out: dict[str, dict[str, float]] = {}
    for service in SERVICES:
        ctx = found[service].context
        assert ctx is not None
        applied, replay, seconds = 0, 0.0, 0.0
        for projector in ctx.projectors.values():
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


async def timed(what: Callable[[int], Awaitable[httpx.Response]], samples: int = SAMPLES) -> dict[str, float]:
    """p50 and p99 (ms) of a request, after one untimed warm-up; any answer but 2xx stops the run."""
    times = []
    for i in range(samples + 1):
        started = time.perf_counter()
        answer = await what(i)
        elapsed = (time.perf_counter() - started) * 1000
        if answer.status_code >= 300:
            raise RuntimeError(f"bench.state: {answer.request.url.path} answered {answer.status_code}")
        if i:
            times.append(elapsed)
    return {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 99)}


async def pages(
    client: httpx.AsyncClient, loader: StateLoader, year: list[Complaint]
) -> dict[str, dict[str, float]]:
    """Time what people do with the year loaded: as a desk officer, her Kendra's queue and case pages;
    as the district's SP, the dashboard; as the state cell, its page; a registration."""
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
        "state_page": await timed(lambda i: client.get("/state", headers=cookie(state))),
    }
    return out


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


async def load_state_and_year(
    app: FastAPI,
    loader: StateLoader,
    districts: list[District],
    year: list[Complaint],
    result: dict[str, Any],
    say: Callable[[str], None],
) -> None:
    """Jurisdictions and rosters, then every complaint's life, through the API: timed into ``result``."""
    started = time.perf_counter()
    await loader.state(districts)
    result["state_load_s"] = time.perf_counter() - started
    result["state_load_parts_s"] = loader.timings
    parts = ", ".join(f"{what} {seconds:.1f} s" for what, seconds in loader.timings.items())
    say(f"jurisdictions and rosters: {result['state_load_s']:.1f} s ({parts})")

    started = time.perf_counter()
    requests = await loader.live(year, lambda done, n: say(f"  {done} requests ({n} complaints)"))
    await settled(app)
    result["year_load_s"] = seconds = time.perf_counter() - started
    result["load_requests_per_s"] = requests / seconds
    result["refused"] = loader.refused
    say(f"year: {requests} requests in {seconds:.1f} s ({requests / seconds:.0f}/s), "
        f"{len(loader.cases)} cases; refused: {loader.refused or 'none'}")  # fmt: skip

    for what, ms in sorted(loader.latency.items()):
        say(f"  load {what:<28} n {len(ms):>6} p50 {statistics.median(ms):>7.1f} ms "
            f"p99 {percentile(ms, 99):>7.1f} ms")  # fmt: skip


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
    for service, t in timings.items():
        say(
            f"rebuild {service:<14} {t['events']:>7.0f} events replayed in {t['replay_seconds']:>6.1f} s "
            f"({t['eps']:>6.0f} events/s); {t['seconds']:>6.1f} s with the switch-over waits"
        )
    if compare:
        result["live"], result["rebuilt"] = live, await read_models(client, loader, codes)


async def run(
    scale: float,
    root: Path,
    *,
    district_count: int = 75,
    seed: int = 19,
    measure: bool = True,
    compare: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Generate, load, rebuild and (``measure``) time the pages; with ``compare``, the read models'
    answers before and after the rebuild are returned too (``live``, ``rebuilt``)."""
    districts = chosen_districts(district_count)
    year = complaints(districts, scale, seed)
    say(f"state: {len(districts)} districts, {sum(d.thanas for d in districts)} Kendras, {len(year)} complaints "
        f"with {sum(len(c.steps) for c in year)} steps (scale {scale})")  # fmt: skip
    settings = PlatformSettings(data_dir=root / "var", keys_dir=root / "keys")
    init_keys(settings)
    result: dict[str, Any] = {"scale": scale, "districts": len(districts), "complaints": len(year)}
    with EmbeddedNatsServer(root / "nats") as server:
        clock = HistoricalClock(YEAR_START - timedelta(days=1))
        users = UserStore(f"sqlite+aiosqlite:///{root / 'web.db'}")
        # DEMO users only: argon2's cheapest settings, so that a desk officer per Kendra costs no minutes.
        users.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        app = build_platform(settings, runners(settings, server.url, clock=clock), users=users)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://platform", timeout=120
            ) as client:
                loader = StateLoader(app, client, clock)
                await load_state_and_year(app, loader, districts, year, result, say)
                await record_streams(server.url, result, say)
                await rebuild_and_compare(app, client, loader, year, compare, result, say)
                if measure:
                    result["pages"] = found = await pages(client, loader, year)
                    for what, figure in found.items():
                        say(f"{what:<20} p50 {figure['p50_ms']:>7.1f} ms   p99 {figure['p99_ms']:>7.1f} ms")
        result["rss_mb"] = {
            "platform": rss_mb(),
            "nats-server": rss_mb(str(server.pid)) if server.pid else 0.0,
        }
    return result


def summary(result: dict[str, Any]) -> dict[str, Any]:
    pages = result.get("pages", {})
    rates = [t["eps"] for t in result["rebuild"].values() if t["events"]]

    def p99(what: str) -> float | None:
        return round(pages[what]["p99_ms"], 1) if what in pages else None

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
        "rss_mb_max": round(max(result["rss_mb"].values())),
        "load_requests_per_s": round(result["load_requests_per_s"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scale", type=float, default=0.001, help="fraction of a state-year (1.0 = 1.5 M complaints)"
    )
    parser.add_argument(
        "--districts",
        type=int,
        default=5,
        help="load the first N of the 75 districts (SJP first); the default finishes in about 12 minutes here",
    )
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()
    configure_logging()  # as the launcher does: the services' own logs, FastStream's warnings only
    with tempfile.TemporaryDirectory(prefix="bench-state-") as folder:
        result = asyncio.run(run(args.scale, Path(folder), district_count=args.districts, seed=args.seed))
    print("not measured yet (null or absent): rebuild on PostgreSQL, partitions, CSV export, shakti status,")
    print("escalation and routing alone at state scale, aggregate load times; memory is this one process")
    print(json.dumps(summary(result)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
