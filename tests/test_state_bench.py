"""The parts of ``python -m bench.state`` that need no year loaded: its arguments, the table of scales
side by side, the longest-lived aggregates' loads, the PostgreSQL rebuild with its scratch
databases (made for the run, dropped after), the CSV export's check and ``shakti status`` run as an
operator runs it. The full run is ``tests/test_state_scale.py``; no figure
is asserted here."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from nats.aio.client import Client as NatsClient

from bench.state import (
    OpenAtOnce,
    aggregate_loads,
    arguments,
    dealt,
    open_at_once,
    operator_status,
    partition_settings,
    rebuild_elsewhere,
    rebuild_in_a_process,
    register_rows,
    running_platform,
    scratch_databases,
    served_on_a_port,
    side_by_side,
    summary,
    timed,
)
from bench.state_data import YEAR_START, Complaint, read_districts
from shakti.basics import SERVICES
from shakti.config import PlatformSettings
from shakti.web.queues import CSV_COLUMNS
from shared import projection
from shared.clock import HistoricalClock
from shared.contracts.routing import OfficerDutyChanged, OfficerEnrolled
from shared.contracts.vocabulary import Category, DutyStatus
from shared.events import Event
from shared.eventstore import CommandMeta, EventStore
from shared.keys import init_keys
from tests.sessions import keys_for_tests

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def test_three_scales_in_one_invocation() -> None:
    args = arguments(["--scales", "0.002,0.0005,0.001", "--districts", "3", "--postgres", POSTGRES])
    assert args.scales == [0.002, 0.0005, 0.001]
    assert (args.districts, args.postgres) == (3, POSTGRES)
    plain = arguments([])
    assert (plain.scale, plain.scales, plain.districts, plain.postgres) == (0.001, None, 5, "")
    assert (plain.partitions, arguments(["--districts", "1"]).partitions) == (2, 1)


@pytest.mark.parametrize(
    "given",
    [
        ["--scales", "0.001,a lot"],
        ["--scales", "0.001,0"],
        ["--scales", "0.001,0.001"],
        ["--scales", ""],
        ["--scale", "0.001", "--scales", "0.001,0.002"],
        ["--districts", "2", "--partitions", "3"],
        ["--partitions", "0"],
    ],
)
def test_scales_that_cannot_be_measured_are_refused(given: list[str]) -> None:
    with pytest.raises(SystemExit):
        arguments(given)


def test_the_table_puts_each_figure_of_each_scale_side_by_side() -> None:
    small = {"scale": 0.0005, "events": 1000, "state_page_p99_ms": 100.0, "rebuild_eps": {"intake": 200}}
    large = {"scale": 0.002, "events": 4000, "state_page_p99_ms": None, "rebuild_eps": {"intake": 180}}
    table = side_by_side([large, small]).splitlines()
    assert table[0].split() == ["figure", "scale", "0.0005", "scale", "0.002", "last/first"]
    rows = {line.split()[0]: line.split()[1:] for line in table[1:]}
    assert rows == {
        "events": ["1,000", "4,000", "4.00"],
        "state_page_p99_ms": ["100", "-", "-"],
        "rebuild_eps.intake": ["200", "180", "0.90"],
    }


async def officer_history(nats_client: NatsClient, service_number: str, changes: int) -> None:
    store = EventStore(nats_client, "routing")
    events: list[Event] = [
        OfficerEnrolled(service_number=service_number, name="Synthetic", rank="constable", gender="female")
    ]
    events += [
        OfficerDutyChanged(
            service_number=service_number, status=[DutyStatus.ON_LEAVE, DutyStatus.ON_DUTY][n % 2]
        )
        for n in range(changes)
    ]
    meta = CommandMeta(command_id=f"enrol-{service_number}", actor="test")
    await store.append("officer", service_number, events, expected_sequence=0, expected_version=0, meta=meta)


async def test_the_aggregate_with_the_longest_history_of_its_kind_is_loaded(
    nats_client: NatsClient, nats_url: str
) -> None:
    for service in SERVICES:
        await EventStore(nats_client, service).ensure_stream()
    await officer_history(nats_client, "SJP0001", changes=2)
    await officer_history(nats_client, "SJP0002", changes=6)
    loads = await aggregate_loads(nats_url, samples=3)
    # Nothing else stored: only the routing officer's kind has an aggregate to load.
    assert list(loads) == ["routing_officer"]
    assert (loads["routing_officer"]["id"], loads["routing_officer"]["events"]) == ("SJP0002", 7)
    assert loads["routing_officer"]["load_ms"] > 0


async def databases(server: str, prefix: str) -> list[str]:
    conn = await asyncpg.connect(server.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"{prefix}%")
    finally:
        await conn.close()
    return sorted(row["datname"] for row in rows)


async def test_read_models_rebuild_into_scratch_databases_dropped_after(
    nats_client: NatsClient,
    nats_url: str,
    postgres_server: str | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No other process reads these read models: no switch-over to wait for.
    monkeypatch.setattr(projection, "OLD_GENERATION_GRACE_SECONDS", 0.1)
    if postgres_server is None:
        pytest.skip("no PostgreSQL server (set SHAKTI_TEST_POSTGRES_URL)")
    server = f"{postgres_server}/postgres"
    for service in SERVICES:
        await EventStore(nats_client, service).ensure_stream()
    await officer_history(nats_client, "SJP0001", changes=3)
    settings = PlatformSettings(data_dir=tmp_path / "var", keys_dir=keys_for_tests())
    async with scratch_databases(server) as template:
        prefix = template.rsplit("/", 1)[1].removesuffix("{service}")
        assert await databases(server, prefix) == sorted(f"{prefix}{service}" for service in SERVICES)
        timings = await rebuild_elsewhere(settings, nats_url, template)
    assert list(timings) == list(SERVICES)
    # Routing's roster read model took in the officer's four events.
    assert timings["routing"]["events"] >= 4
    assert await databases(server, prefix) == []


async def test_a_store_is_rebuilt_by_a_process_of_its_own_into_fresh_files(
    nats_client: NatsClient, nats_url: str, tmp_path: Path
) -> None:
    for service in SERVICES:
        await EventStore(nats_client, service).ensure_stream()
    await officer_history(nats_client, "SJP0001", changes=3)
    init_keys(partition_settings(tmp_path))
    rebuilt = await rebuild_in_a_process(nats_url, tmp_path)
    assert list(rebuilt.timings) == list(SERVICES)
    assert rebuilt.timings["routing"]["events"] >= 4
    assert rebuilt.events == sum(t["events"] for t in rebuilt.timings.values())
    assert 0 < rebuilt.replay < rebuilt.wall
    # Into fresh files of its own, beside the partition's data, not into its read models.
    assert read_model_files(tmp_path) == ["rebuilt-*/routing.db"]


def test_partitions_are_dealt_nearly_equal_complaints_the_busiest_district_first() -> None:
    every = {d.code: d for d in read_districts()}
    chosen = [every[code] for code in ("SJP", "AGR", "ALG", "AMB")]
    busy = {"SJP": 10, "AGR": 6, "ALG": 5, "AMB": 1}
    year = [complaint(code) for code, n in busy.items() for _ in range(n)]
    parts = dealt(chosen, year, 2)
    assert [[d.code for d in part] for part in parts] == [["SJP", "AMB"], ["AGR", "ALG"]]
    assert [sum(busy[d.code] for d in part) for part in parts] == [11, 11]
    assert [len(part) for part in dealt(chosen, year, 4)] == [1, 1, 1, 1]


def test_clocks_open_at_once_are_counted_within_the_year() -> None:
    day = timedelta(days=1)

    def at(days: int) -> datetime:
        return YEAR_START + days * day

    spans = [
        (at(0), at(10)),
        (at(5), at(15)),
        (at(20), None),  # never stopped: open to the end
        (at(28), at(45)),  # stopped after the end: counted to it
        (at(-3), at(2)),  # started before the period: counted from it
        (at(8), at(6)),  # a stop before its start: no time
    ]
    found = open_at_once(spans, YEAR_START, at(30))
    # Two at once from day 5 to 10 (the early one was stopped on day 2), and from day 28 to the end.
    assert found.most == 2
    assert found.mean == (10 + 10 + 10 + 2 + 2) / 30
    assert found.at_end == 2
    assert open_at_once([], YEAR_START, at(30)) == OpenAtOnce(0, 0.0, 0)


def complaint(district: str) -> Complaint:
    at = YEAR_START + timedelta(days=1)
    return Complaint(1, district, f"{district}-01", at, Category.DOMESTIC_VIOLENCE, "walk_in", False, False)


def read_model_files(root: Path) -> list[str]:
    found = [path.relative_to(root).as_posix() for path in root.glob("**/routing.db")]
    return [f"rebuilt-*/{path.split('/', 1)[1]}" if path.startswith("rebuilt-") else path for path in found]


def register_sheet(*cases: list[str], header: list[str] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header or [f"{hi} / {en}" for _, hi, en in CSV_COLUMNS])
    writer.writerows(cases)
    return ("\ufeff" + out.getvalue()).encode()


def export(content: bytes, media_type: str = "text/csv; charset=utf-8") -> httpx.Response:
    request = httpx.Request("GET", "http://platform/dashboard.csv")
    return httpx.Response(200, content=content, headers={"Content-Type": media_type}, request=request)


def test_a_register_export_is_counted_in_bytes_and_cases() -> None:
    row = ["SJP/2026/1", "2026-01-02 10:00", *[""] * (len(CSV_COLUMNS) - 2)]
    content = register_sheet(row, row)
    assert register_rows(export(content)) == {"bytes": len(content), "rows": 2}


@pytest.mark.parametrize(
    "answer",
    [
        export(register_sheet()),
        export(
            "<html>Sign in / साइन इन</html>".encode(),
            "text/html",
        ),
        export(register_sheet(["SJP/2026/1"], header=["case"])),
        export(register_sheet(["SJP/2026/1", "2026-01-02 10:00"])),
    ],
    ids=["no cases", "a page, not a CSV", "other columns", "a short row"],
)
async def test_an_export_without_the_register_stops_the_run_instead_of_being_timed(
    answer: httpx.Response,
) -> None:
    async def download(_: int) -> httpx.Response:
        return answer

    with pytest.raises(RuntimeError, match=r"dashboard\.csv"):
        await timed(download, samples=2, check=register_rows)


def test_the_json_line_has_the_csv_export_and_shakti_status_or_null() -> None:
    measured = {"p50_ms": 10.0, "p99_ms": 20.0}
    result = {
        "scale": 0.001, "districts": 2, "complaints": 30, "events": 400,
        "rebuild": {"intake": {"eps": 100.0, "events": 400}}, "rss_mb": {"platform": 300.0},
        "load_requests_per_s": 50.0, "year_load_s": 12.0,
        "pages": {"csv_export": measured | {"bytes": 5000, "rows": 30}, "ops_status": measured},
        "status": {"p50_ms": 900.0, "p99_ms": 1100.0},
    }  # fmt: skip
    figures = summary(result)
    assert (figures["csv_export_p50_ms"], figures["csv_export_p99_ms"]) == (10.0, 20.0)
    assert (figures["csv_export_bytes"], figures["csv_export_rows"]) == (5000, 30)
    assert (figures["status_p50_ms"], figures["status_p99_ms"]) == (900.0, 1100.0)
    assert figures["ops_status_p99_ms"] == 20.0
    del result["pages"], result["status"]
    figures = summary(result)
    new = ["csv_export_p50_ms", "csv_export_p99_ms", "csv_export_bytes", "csv_export_rows"]
    new += ["status_p50_ms", "status_p99_ms", "ops_status_p99_ms"]
    assert [figures[key] for key in new] == [None] * len(new)


async def test_shakti_status_is_run_as_an_operator_runs_it_and_a_refusal_stops_the_run(
    nats_client: NatsClient, nats_url: str, tmp_path: Path
) -> None:
    settings = PlatformSettings(data_dir=tmp_path / "var", keys_dir=keys_for_tests())
    # Keys of another platform: the console's token is refused.
    stranger = settings.model_copy(update={"keys_dir": tmp_path / "other-keys"})
    init_keys(stranger)
    clock = HistoricalClock(YEAR_START - timedelta(days=1))
    async with (
        running_platform(settings, nats_url, clock, tmp_path) as (app, _),
        served_on_a_port(app, settings) as url,
    ):
        figures = await operator_status(settings, url, runs=1)
        assert figures["p50_ms"] > 0 and figures["runs"] == 1
        with pytest.raises(RuntimeError, match="shakti status"):
            await operator_status(stranger, url, runs=1)
