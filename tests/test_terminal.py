"""The terminal as a person meets it: log lines, the start-up summary, a port in use, the CLI's output.

Where a process is involved it is the real one (``shakti up``) against real servers."""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import logging
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from nats.aio.client import Client as NatsClient
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

import shared.subscriber  # noqa: F401  (loaded wherever process managers run, as in the platform)
from shakti.cli import Platform
from shakti.cli import app as cli
from shakti.config import PlatformSettings
from shakti.demo import JURISDICTION_FILE, PASSWORD
from shakti.launcher import running, summary
from shakti.platform import build_platform, runners
from shared.natsserver import free_port
from shared.observability import LogOutput, configure_logging
from shared.ports import port_holder
from shared.settings import Settings
from tests.sessions import keys_for_tests

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
    env = {"SHAKTI_KEYS_DIR": str(keys_for_tests()), "SHAKTI_DATA_DIR": str(tmp_path)}
    env["SHAKTI_HTTP_PORT"] = str(free_port())
    settings = PlatformSettings(
        keys_dir=keys_for_tests(), data_dir=tmp_path, http_port=int(env["SHAKTI_HTTP_PORT"])
    )
    # The web front's process too: the CLI calls as the operator console, a user of its directory.
    app = build_platform(settings, runners(settings, nats_url, ["routing", "training"]))
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
    found = {(row[0], row[1].replace(" ", "")) for row in cells(err) if row[0]}
    # the unknown parent, the bad code and the bad PIN code
    assert {("4", "parent"), ("5", "code"), ("5", "pincodes")} <= found, err
    problems = " ".join(" ".join(row[2:]) for row in cells(err))
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


async def test_the_igot_import_prints_every_problem_the_training_service_returns(
    served: Served, tmp_path: Path
) -> None:
    """Issue 16: the CLI printed only "422: The file has problems" and none of the problems. Every
    problem of the service's own answer is a row: its line, its column and its words, in both languages."""
    export = tmp_path / "igot.csv"
    export.write_text(IGOT_WITH_THREE_BAD_LINES, encoding="utf-8")
    console = Platform(
        PlatformSettings(keys_dir=keys_for_tests(), http_port=int(served.env["SHAKTI_HTTP_PORT"]))
    )
    answer = await asyncio.to_thread(  # a blocking client, as the CLI's: off the platform's event loop
        console.client.post,
        "/api/training/imports/igot",
        files={"file": ("igot.csv", export.read_bytes(), "text/csv")},
    )
    returned = answer.json()["detail"]["report"]["problems"]
    assert answer.status_code == 422 and len(returned) >= 3
    code, out, err = await served.invoke("training", "import", str(export), columns=250)
    assert code == 1, (out, err)
    printed = sorted((row[0], row[1], row[2], row[3]) for row in cells(err) if row[0])
    expected = sorted((str(p["line"]), p["field"], p["en"], p["hi"]) for p in returned)
    assert printed == expected, err


async def test_routing_import_prints_a_readable_summary_and_json_when_asked(
    served: Served, tmp_path: Path
) -> None:
    code, out, err = await served.invoke("routing", "import", str(JURISDICTION_FILE))
    assert code == 0, (out, err)
    assert "{" not in out and "SJP, version 2026-01-10.2" in out and "changes recorded" in out
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
    assert code == 1 and [(row[0], row[1]) for row in cells(err) if row[0]] == [("2", "kendra")], err

    code, out, err = await served.invoke("routing", "import", str(tmp_path / "absent.csv"))
    assert code == 1 and "No file" in err and "नहीं मिली" in err and "Traceback" not in out + err

    latin = tmp_path / "latin1.csv"
    latin.write_bytes(
        "kind,code\ndistrict,SJP,Shāhjahānpur\n".encode("latin-1", errors="replace") + b"\xe9\n"
    )
    code, out, err = await served.invoke("training", "import", str(latin))
    assert code == 1 and "not UTF-8" in err and "UTF-8 नहीं" in err
    assert [row[0] for row in cells(err) if row[0]] == ["3"], err


# ---- shakti up, as a person starts it ----------------------------------------------------------------

SHAKTI = str(Path(sys.executable).parent / "shakti")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
QUIET_FOR = 20.0
"""How long after start a clean ``shakti up --demo`` is watched for lines at warning or above."""


def up_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ, "SHAKTI_DATA_DIR": str(tmp_path / "data"), "SHAKTI_HTTP_PORT": str(free_port()),
        "SHAKTI_NATS_PORT": str(free_port()), "SHAKTI_KEYS_DIR": str(keys_for_tests()), "COLUMNS": "100",
        # A day of the demo's history (its 90 take a minute or more): the history's path, start to end.
        "SHAKTI_DEMO_HISTORY_DAYS": "1", **extra,
    }  # fmt: skip
    for name in ("SHAKTI_NATS_URL", "SHAKTI_LOG_FORMAT", "SHAKTI_LOG_LEVEL", "SHAKTI_ACCESS_LOG", "NO_COLOR"):
        env.pop(name, None)
    return env


def summary_shown(text: str) -> bool:
    return "Mission Shakti is running" in text and "Stop" in text.split("Mission Shakti is running")[-1]


async def test_a_clean_demo_start_logs_json_without_a_warning_and_ends_with_the_summary(
    tmp_path: Path,
) -> None:
    """Not on a terminal: JSON lines on standard error, the summary on standard output."""
    env = up_env(tmp_path)
    process = await asyncio.create_subprocess_exec(
        SHAKTI, "up", "--demo", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    started = time.monotonic()
    shown = ""
    err_task = asyncio.create_task(process.stderr.read())
    try:
        async with asyncio.timeout(120):
            while not summary_shown(shown):
                line = await process.stdout.readline()
                assert line, f"shakti up ended before its summary: {shown}"
                shown += line.decode()
        await asyncio.sleep(max(0.0, QUIET_FOR - (time.monotonic() - started)))
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C at a terminal signals the whole group
        rest = await asyncio.wait_for(process.stdout.read(), 60)
        await asyncio.wait_for(process.wait(), 60)
    err = (await err_task).decode()
    out = shown + rest.decode()
    assert process.returncode == 0, (out, err)

    url = f"http://127.0.0.1:{env['SHAKTI_HTTP_PORT']}/"
    for expected in (
        url, str(tmp_path / "data"), str(tmp_path / "data" / "keys"), "demo.officer", "demo.sp", "demo.operator",
        PASSWORD, "Ctrl-C", "DEMO", "मिशन शक्ति", "demo-policy.yaml",
    ):  # fmt: skip
        assert expected in out, (expected, out)
    assert out.rstrip().endswith("Mission Shakti stopped. / मिशन शक्ति रुक गया।")

    lines = [json.loads(line) for line in err.splitlines()]
    assert lines, "no log lines at all"
    loud = [line for line in lines if line["level"] not in ("debug", "info")]
    assert not loud, loud
    assert not [line for line in lines if line["logger"] in ("httpx", "uvicorn.access")]
    assert any(line["message"] == "service training started" for line in lines)
    # The demo's escalation policy, limits in minutes; the normal one is untouched.
    assert any("escalation policy 2026.1-demo" in line["message"] for line in lines)


class Terminal:
    """A pseudo-terminal a process writes to, as a person's terminal; its output collected."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        self.output = bytearray()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.output += chunk

    @property
    def text(self) -> str:
        return ANSI.sub("", bytes(self.output).decode(errors="replace")).replace("\r\n", "\n")

    def close(self) -> None:
        os.close(self.slave)
        self.reader.join(5)
        os.close(self.master)


async def test_on_a_terminal_start_up_shows_short_lines_then_the_summary_stays_in_view(
    tmp_path: Path,
) -> None:
    terminal = Terminal()
    env = up_env(tmp_path, TERM="xterm-256color")
    env.pop("COLUMNS")  # the terminal's own width
    try:
        process = await asyncio.create_subprocess_exec(
            SHAKTI, "up", "--demo", env=env, stdin=terminal.slave, stdout=terminal.slave,
            stderr=terminal.slave, start_new_session=True,
        )  # fmt: skip
        try:
            async with asyncio.timeout(120):
                while not summary_shown(terminal.text):
                    await asyncio.sleep(0.2)
            at_summary = len(terminal.text)
            # The demo keeps registering complaints meanwhile: none of it reaches the terminal.
            await asyncio.sleep(QUIET_FOR)
            after_summary = terminal.text[at_summary:]
        finally:
            os.killpg(process.pid, signal.SIGINT)
            await asyncio.wait_for(process.wait(), 60)
        await asyncio.sleep(0.5)
    finally:
        terminal.close()
    text = terminal.text
    assert process.returncode == 0, text
    assert b"\x1b[" in terminal.output  # coloured
    assert after_summary.strip() == "", after_summary

    before, summary = text.split("Mission Shakti is running", 1)
    log_lines = [line for line in before.splitlines() if line.strip() and "─" not in line]
    assert log_lines, before
    for line in log_lines:
        assert re.match(r"^\d\d:\d\d:\d\d IST  (info|warn)\s+\S+\s+\S", line), line
        assert not line.lstrip().startswith("{"), line
    assert any(re.search(r"IST  info\s+platform\s+service routing started", line) for line in log_lines)
    assert PASSWORD in summary and "demo.officer" in summary
    # After the summary: nothing but the word that it stopped.
    assert (
        summary.split("Ctrl-C", 2)[-1]
        .split("\n", 2)[-1]
        .strip()
        .splitlines()[-1]
        .startswith("Mission Shakti stopped.")
    ), summary


# ---- a port in use -------------------------------------------------------------------------------


@pytest.fixture
def port_holder_process() -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Another program listening on a port, as a second platform or any web server would."""
    port = free_port()
    holder = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == b"listening"
    try:
        yield port, holder
    finally:
        holder.kill()
        holder.wait()


LISTENER = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
time.sleep(600)
"""


def test_the_holder_of_a_port_is_found(port_holder_process: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, holder = port_holder_process
    found = port_holder(port)
    assert found is not None and found.pid == holder.pid and "python" in found.name
    assert port_holder(free_port()) is None


def test_up_on_a_port_in_use_says_which_setting_to_change_and_who_holds_it(
    tmp_path: Path, port_holder_process: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, holder = port_holder_process
    env = up_env(tmp_path, SHAKTI_HTTP_PORT=str(port))
    result = subprocess.run([SHAKTI, "up"], env=env, capture_output=True, text=True, timeout=60)
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert f"Port {port} on 127.0.0.1 is already in use" in said and f"पोर्ट {port}" in said
    assert "SHAKTI_HTTP_PORT" in said and "--port" in said
    assert f"pid {holder.pid}" in said
    assert "Traceback" not in said and "Errno" not in said
    assert not (tmp_path / "data" / "nats").exists()  # it stopped before starting anything


def test_up_on_a_nats_port_in_use_stops_and_names_the_setting(
    tmp_path: Path, port_holder_process: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, holder = port_holder_process
    env = up_env(tmp_path, SHAKTI_NATS_PORT=str(port))
    result = subprocess.run([SHAKTI, "up"], env=env, capture_output=True, text=True, timeout=60)
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert f"port {port} is already in use" in said and f"पोर्ट {port}" in said
    assert "SHAKTI_NATS_PORT" in said and f"pid {holder.pid}" in said
    assert "Traceback" not in said and "the embedded NATS server uses" not in said


def test_make_run_on_a_port_in_use_adds_only_makes_own_line(
    tmp_path: Path, port_holder_process: tuple[int, subprocess.Popen[bytes]]
) -> None:
    port, _ = port_holder_process
    root = Path(__file__).resolve().parent.parent
    venv = Path(sys.executable).parent.parent
    stamp = venv / ".installed-stamp"
    # make itself, as `make run` is typed; -o: the virtual environment counts as installed already.
    result = subprocess.run(
        ["make", "--no-print-directory", "-C", str(root), f"VENV={venv}", "-o", str(stamp), "run"],
        env=up_env(tmp_path, SHAKTI_HTTP_PORT=str(port)), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    said = result.stdout + result.stderr
    assert result.returncode != 0, said
    assert "SHAKTI_HTTP_PORT" in said and "Traceback" not in said
    make_lines = [line for line in said.splitlines() if line.startswith("make")]
    assert len(make_lines) == 1 and "Error 1" in make_lines[0], said


# ---- log lines --------------------------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """configure_logging changes the process's loggers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIETENED}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in levels.items():
            logging.getLogger(name).setLevel(was)


QUIETENED = ("faststream", "nats", "httpx", "httpcore", "uvicorn.access", "uvicorn.error")


def test_a_terminal_gets_short_human_lines_in_ist_and_a_pipe_gets_json(restored_logging: None) -> None:
    terminal = FakeTerminal()
    logs = configure_logging(Settings(), stream=terminal)
    assert logs.human and logs.quiet_once_started
    at = datetime(2026, 1, 10, 4, 30, 5, tzinfo=UTC).timestamp()  # 10:00:05 in India
    record = logging.LogRecord(
        "services.intake.commands", logging.WARNING, __file__, 1, "case %s", ("c1",), None
    )
    record.created = at
    line = ANSI.sub("", logs.handler.format(record))
    assert re.fullmatch(r"10:00:05 IST  warn\s+intake\s+case c1", line), line
    assert "\x1b[33m" in logs.handler.format(record)  # warnings in yellow
    logging.getLogger("services.intake.commands").info("shown while starting")
    logs.started()
    logging.getLogger("services.intake.commands").info("not shown once started")
    logging.getLogger("services.intake.commands").warning("a warning still is")
    shown = terminal.getvalue()
    assert "shown while starting" in shown and "not shown" not in shown and "a warning still is" in shown

    for settings, stream in ((Settings(log_format="json"), FakeTerminal()), (Settings(), io.StringIO())):
        logs = configure_logging(settings, stream=stream)
        assert not logs.human and not logs.quiet_once_started
        logging.getLogger("services.routing.handlers").info("case %s assigned", "c2")
        [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
        assert line["message"] == "case c2 assigned" and line["level"] == "info"

    asked = FakeTerminal()
    logs = configure_logging(Settings(log_level="INFO"), stream=asked)  # asked for: kept after start
    logs.started()
    logging.getLogger("services.intake.commands").info("every event")
    assert "every event" in asked.getvalue()


@pytest.mark.parametrize("asked", [False, True])
async def test_http_access_lines_only_when_asked(restored_logging: None, tmp_path: Path, asked: bool) -> None:
    stream = io.StringIO()
    settings = PlatformSettings(data_dir=tmp_path, http_port=free_port(), access_log=asked, log_format="json")
    configure_logging(settings, stream=stream)
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    async with running(settings, app) as url, httpx.AsyncClient() as client:
        assert (await client.get(f"{url}/hello")).status_code == 200
    access = [line for line in stream.getvalue().splitlines() if "GET /hello" in line]
    assert len(access) == (1 if asked else 0), stream.getvalue()
    assert '"logger": "httpx"' not in stream.getvalue()  # the client's own request lines, never


def test_the_summary_never_shows_a_nats_password(tmp_path: Path) -> None:
    settings = PlatformSettings(
        data_dir=tmp_path, nats_url="nats://ops:s3cret@n1:4222,nats://ops:s3cret@n2:4222"
    )
    logs = LogOutput(logging.StreamHandler(io.StringIO()), human=True, quiet_once_started=True)
    console = Console(record=True, width=100)
    console.print(summary(settings, "http://127.0.0.1:8000", settings.nats_url or "", None, logs))
    shown = console.export_text()
    assert "s3cret" not in shown and "nats://n1:4222,nats://n2:4222" in shown and str(tmp_path) in shown


async def test_the_cli_says_plainly_when_something_else_answers(tmp_path: Path) -> None:
    """A gateway's error page or another web server: a message, not a traceback."""
    settings = PlatformSettings(data_dir=tmp_path, http_port=free_port())
    app = FastAPI()

    @app.get("/api/ops/status")
    async def page() -> HTMLResponse:
        return HTMLResponse("<html>502 Bad Gateway</html>", status_code=502)

    async with running(settings, app):
        code, out, err = await invoke(
            {
                "SHAKTI_HTTP_PORT": str(settings.http_port),
                "SHAKTI_DATA_DIR": str(tmp_path),
                "SHAKTI_KEYS_DIR": str(keys_for_tests()),
            },
            "status",
        )
    assert code == 1 and "other than JSON" in err and "SHAKTI_PLATFORM_URL" in err and out == ""
