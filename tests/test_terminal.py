"""The terminal as a person meets it: log lines, the start-up summary, a port in use, the CLI's output.

Where a process is involved it is the real one (``shakti up``) against real servers."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from rich.cells import cell_len
from typer.testing import CliRunner

import shared.subscriber  # noqa: F401  (loaded wherever process managers run, as in the platform)
from shakti.cli import app as cli
from shakti.config import PlatformSettings
from shakti.demo import JURISDICTION_FILE
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shared.natsserver import free_port


async def test_an_idle_pull_fetch_times_out_as_nats_documents_even_on_a_busy_loop(
    nats_client: NatsClient,
) -> None:
    """FastStream's pull loop retries a fetch on nats' own TimeoutError only. nats-py 2.15+ raises the
    builtin one when the server's expiry answer beats the client's timer, which a busy event loop (the
    platform at start) makes likely: FastStream then logged an error and restarted the task."""
    js = nats_client.jetstream()
    await js.add_stream(name="IDLE", subjects=["idle.>"])
    subscription = await js.pull_subscribe("idle.>", durable="idle", stream="IDLE")
    busy = True

    async def hog() -> None:
        while busy:
            time.sleep(0.02)  # noqa: ASYNC251  (the loop blocked, as by a burst of work)
            await asyncio.sleep(0)

    hogging = asyncio.create_task(hog())
    other_timeouts = documented = 0
    try:
        for _ in range(20):
            try:
                await subscription.fetch(16, timeout=0.1)
            except nats.errors.TimeoutError:
                documented += 1
            except TimeoutError:
                other_timeouts += 1
    finally:
        busy = False
        await hogging
        await subscription.unsubscribe()
    assert other_timeouts == 0 and documented > 0


# ---- the CLI's output ------------------------------------------------------------------------------


@dataclass
class Served:
    url: str
    env: dict[str, str]

    async def invoke(self, *args: str, columns: int = 200) -> tuple[int, str, str]:
        return await invoke(self.env, *args, columns=columns)


async def invoke(env: dict[str, str], *args: str, columns: int = 200) -> tuple[int, str, str]:
    """The CLI run as a person runs it (stdout and stderr apart), ``columns`` wide."""
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, list(args), env={**env, "COLUMNS": str(columns)}, catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
async def served(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    """Routing and training (the services the imports go to) behind the operator API."""
    env = {"SHAKTI_SECRET_KEY": "terminal-test-secret", "SHAKTI_DATA_DIR": str(tmp_path)}
    env["SHAKTI_HTTP_PORT"] = str(free_port())
    settings = PlatformSettings(
        secret_key=env["SHAKTI_SECRET_KEY"], data_dir=tmp_path, http_port=int(env["SHAKTI_HTTP_PORT"])
    )
    app = build_platform(settings, runners(settings, nats_url, ["routing", "training"]), web=False)
    async with running(settings, app) as url:
        yield Served(url, env)


def cells(table_output: str) -> list[list[str]]:
    """The rows of a table printed by rich: cells of each line, stripped."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in table_output.splitlines()
        if line.startswith("│")
    ]


BAD_JURISDICTION = """kind,code,parent,name_hi,name_en,pincodes,localities,agency_kind,control,basis
district,BAD,UP,बुरा,Bad,,,,,test
circle,BAD-ONE,BAD,एक,One,,,,,test
thana,BAD-T1,BAD-NOWHERE,थाना एक,T1,242001,,,,test
thana,bad code,BAD-ONE,थाना दो,T2,2420,,,,test
"""


@pytest.mark.parametrize("columns", [80, 200])
async def test_a_refused_jurisdiction_file_shows_every_problem_with_its_line(
    served: Served, tmp_path: Path, columns: int
) -> None:
    sheet = tmp_path / "bad.csv"
    sheet.write_text(BAD_JURISDICTION, encoding="utf-8")
    code, out, err = await served.invoke("routing", "import", str(sheet), columns=columns)
    assert code == 1, (out, err)
    assert "nothing was imported" in err and "कुछ भी आयात नहीं हुआ" in err
    assert "Traceback" not in err + out and "…" not in err
    rows = cells(err)
    lines = {row[0] for row in rows if row[0]}
    assert {"4", "5"} <= lines, err  # the unknown parent, the bad code and the bad PIN code
    problems = " ".join(" ".join(row[2:]) for row in rows)
    assert "BAD-NOWHERE" in problems.replace(" ", "") and "PIN" in problems
    assert max(cell_len(line) for line in err.splitlines()) <= columns


IGOT_WITH_THREE_BAD_LINES = """service_number,module_id,completed_at,score
PNO1001,MSK-SOP,2026-01-10,80
PNO1002,NO-SUCH-MODULE,2026-01-10,80
PNO1003,MSK-SOP,not a date,80
PNO1004,MSK-SOP,2026-01-10,180
"""


@pytest.mark.parametrize("columns", [80, 200])
async def test_a_refused_igot_file_shows_each_problem_with_line_and_column(
    served: Served, tmp_path: Path, columns: int
) -> None:
    export = tmp_path / "igot.csv"
    export.write_text(IGOT_WITH_THREE_BAD_LINES, encoding="utf-8")
    code, out, err = await served.invoke("training", "import", str(export), columns=columns)
    assert code == 1, (out, err)
    assert "422" in err and "कुछ भी आयात नहीं हुआ" in err and "…" not in err
    found = {(row[0], row[1].replace(" ", "")) for row in cells(err) if row[0]}
    assert {("3", "module_id"), ("4", "completed_at"), ("5", "score")} <= found, err
    assert max(cell_len(line) for line in err.splitlines()) <= columns


async def test_routing_import_prints_a_readable_summary_and_json_when_asked(
    served: Served, tmp_path: Path
) -> None:
    code, out, err = await served.invoke("routing", "import", str(JURISDICTION_FILE))
    assert code == 0, (out, err)
    assert "{" not in out and "SJP, version 2026-01-10.1" in out and "changes recorded" in out
    recorded = {row[0]: row[1] for row in cells(out)}
    assert recorded["ThanaDefined"] == "23", out
    code, out, _ = await served.invoke("routing", "import", str(JURISDICTION_FILE), "--json")
    assert code == 0 and json.loads(out)["unchanged"] is True
    code, out, _ = await served.invoke("routing", "import", str(JURISDICTION_FILE))
    assert code == 0 and "unchanged" in out and "{" not in out


async def test_a_bad_roster_shows_its_problems_and_a_missing_or_non_utf8_file_is_told_plainly(
    served: Served, tmp_path: Path
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "service_number,name,rank,gender,kendra\nPNO1,DEMO A,constable,female,MSK-NOWHERE\n", "utf-8"
    )
    code, out, err = await served.invoke("routing", "roster", str(roster))
    assert code == 1 and [row[0] for row in cells(err) if row[0]] == ["2"], err

    code, out, err = await served.invoke("routing", "import", str(tmp_path / "absent.csv"))
    assert code == 1 and "No file" in err and "नहीं मिली" in err and "Traceback" not in out + err

    latin = tmp_path / "latin1.csv"
    latin.write_bytes("kind,code\ndistrict,SJP,Shāhjahānpur\n".encode("latin-1", errors="replace") + b"\xe9\n")
    code, out, err = await served.invoke("training", "import", str(latin))
    assert code == 1 and "not UTF-8" in err and "UTF-8 नहीं" in err
    assert [row[0] for row in cells(err) if row[0]] == ["3"], err
