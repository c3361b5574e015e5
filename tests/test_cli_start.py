"""The ``shakti`` command loads only what the command it runs needs, so that an operator at a terminal
does not wait for the whole platform on every command: ``--help`` and importing the CLI (which every
command does first) load none of it, and a command that only calls the platform's HTTP API (``status``)
loads no service, no read-model database, no bus, no web framework and no web server.

Read from a fresh interpreter's ``sys.modules``: the structure, not a timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from shared.natsserver import free_port
from tests.sessions import keys_for_tests

PLATFORM = (
    "services",
    "shakti.platform",
    "shakti.launcher",
    "shakti.operations",
    "shakti.users",
    "shakti.backup",
    "shakti.demo",
    "faststream",
    "nats",
    "sqlalchemy",
    "uvicorn",
)
"""What runs the platform: only the commands that start it, or open its stores, need these."""
EVERY_COMMAND_SKIPS = (*PLATFORM, "fastapi", "httpx", "pydantic_settings", "shakti.config", "shared.auth")
"""Nothing but the command line itself: settings, HTTP and the web framework wait for a command (pydantic
is not here: typer itself loads it to read the commands' parameters)."""
API_COMMAND_SKIPS = (*PLATFORM, "fastapi", "shared.auth")
"""A command that calls the API signs its token without the web framework (``shared.tokens``)."""

RUN_THE_CLI = """
import json, sys
from shakti.cli import app
try:
    app(sys.argv[1:], prog_name="shakti")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def among(modules: Iterable[str], packages: Sequence[str]) -> list[str]:
    """The modules that are one of ``packages`` or inside one."""
    return sorted(m for m in modules if any(m == p or m.startswith(f"{p}.") for p in packages))


def loaded_by(code: str, *args: str, env: dict[str, str] | None = None, cwd: Path) -> list[str]:
    """Every module a fresh interpreter holds after ``code`` (which prints them as its last line)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=60,
        check=True,
    )
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def test_among_finds_packages_and_their_modules_only() -> None:
    assert among(["sqlalchemy", "sqlalchemy.orm", "sqlalchemy_utils", "services"], ["sqlalchemy"]) == [
        "sqlalchemy",
        "sqlalchemy.orm",
    ]


def test_importing_the_cli_loads_nothing_of_the_platform(tmp_path: Path) -> None:
    modules = loaded_by("import json, sys, shakti.cli; print(json.dumps(sorted(sys.modules)))", cwd=tmp_path)
    assert "shakti.cli" in modules
    assert among(modules, EVERY_COMMAND_SKIPS) == []


@pytest.mark.parametrize(
    "args", [["--help"], ["serve", "--help"], ["users", "add", "--help"], ["rebuild", "--help"]]
)
def test_help_loads_nothing_of_the_platform(tmp_path: Path, args: list[str]) -> None:
    modules = loaded_by(RUN_THE_CLI, *args, cwd=tmp_path)
    assert "typer" in modules
    assert among(modules, EVERY_COMMAND_SKIPS) == []


def test_status_loads_only_what_calling_the_api_needs(tmp_path: Path) -> None:
    """Against a port nobody answers on: settings read, the key loaded, a token signed, the call made."""
    env = {
        "SHAKTI_KEYS_DIR": str(keys_for_tests()),
        "SHAKTI_PLATFORM_URL": f"http://127.0.0.1:{free_port()}",
    }
    modules = loaded_by(RUN_THE_CLI, "status", env=env, cwd=tmp_path)
    assert {"httpx", "shakti.config", "shared.keys", "shared.tokens"} <= set(modules)
    assert among(modules, API_COMMAND_SKIPS) == []
