"""Parts of the platform started as their own processes, the way they are deployed: the one place that
says what a started part needs.

Every test that starts ``shakti serve PART`` outside the test process (the wheel in a fresh virtual
environment, the image, the compose stack) takes the part's settings from ``Site``: a setting that every
part comes to need (NATS credentials per part, key files, TLS) is added here once, in ``Site.prepare``
and ``Site.environment``, and reaches all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.waiting import eventually

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("shared", "services", "shakti")
"""The packages the wheel ships (with pyproject.toml, all a build needs)."""
PARTS: tuple[str, ...] = ("intake", "routing", "escalation", "training", "notifications", "web")
"""What ``shakti serve`` runs, one part per process: the four services and the web front."""


def build_wheels(into: Path, python: str = sys.executable) -> None:
    """The project's wheel, built from a copy of the shipped files alone (nothing else of the work tree
    can leak in), and the wheels of its runtime dependencies without extras, into ``into``."""
    with tempfile.TemporaryDirectory() as source:
        shutil.copy(ROOT / "pyproject.toml", source)
        for package in SHIPPED:
            shutil.copytree(
                ROOT / package, Path(source) / package, ignore=shutil.ignore_patterns("__pycache__")
            )
        result = subprocess.run(
            [python, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--wheel-dir", str(into), source],
            capture_output=True, text=True,
        )  # fmt: skip
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}{result.stderr}"


async def postgres_admin(server: str, sql: str) -> None:
    """Run ``sql`` on ``server``'s ``postgres`` database (``server``: a URL without database)."""
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(server.replace("postgresql+asyncpg", "postgresql") + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def part_databases(server: str) -> Iterator[str]:
    """A new database per part on ``server`` for the block; yields the ``{service}`` URL template."""
    prefix = f"shakti_site_{uuid.uuid4().hex[:8]}"
    for part in PARTS:
        asyncio.run(postgres_admin(server, f'CREATE DATABASE "{prefix}_{part}"'))
    try:
        yield f"{server}/{prefix}_{{service}}"
    finally:
        for part in PARTS:
            asyncio.run(postgres_admin(server, f'DROP DATABASE IF EXISTS "{prefix}_{part}" WITH (FORCE)'))


@dataclass
class Site:
    """What the parts of one deployment share: its NATS, its databases, its folder."""

    nats_url: str
    database_url: str
    """A SQLAlchemy URL template, ``{service}`` replaced by the part's name."""
    home: Path
    """Where the parts keep their files (and, when they need them, their key files). A container sees it
    at the same path."""

    @property
    def keys(self) -> Path:
        """The site's key files (``shakti keys init``), shared by every part here; a deployment gives
        each part only the files it needs (deploy/README.md, "Keys and sessions")."""
        return self.home / "keys"

    def prepare(self, shakti: Sequence[str], environment: dict[str, str] | None = None) -> None:
        """Once, before any part starts, with the command that runs ``shakti`` there (a path, or
        ``docker run … shakti``): the key files, written by ``shakti keys init`` as the user that will
        read them (files 0600)."""
        self.home.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [*shakti, "keys", "init"],
            capture_output=True,
            text=True,
            env=(environment or {}) | {"SHAKTI_KEYS_DIR": str(self.keys)},
        )
        assert result.returncode == 0, f"shakti keys init failed:\n{result.stdout}{result.stderr}"

    def environment(self, part: str, http_port: int) -> dict[str, str]:
        """The settings of ``shakti serve PART`` on loopback at ``http_port``."""
        return {
            "SHAKTI_NATS_URL": self.nats_url,
            "SHAKTI_DATABASE_URL": self.database_url,
            "SHAKTI_DATA_DIR": str(self.home / part),
            "SHAKTI_HTTP_HOST": "127.0.0.1",
            "SHAKTI_HTTP_PORT": str(http_port),
            "SHAKTI_KEYS_DIR": str(self.keys),
        }


async def ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"{url}/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Started:
    """A part running as a process of its own (or as the client of a container), logging to a file."""

    part: str
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    async def until_ready(self, timeout: float = 120) -> None:
        async def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.part} exited with {self.process.returncode} before it was ready:\n{self.output()}"
                )
            return await ready(self.url)

        try:
            await eventually(answers, timeout, f"{self.part} answers /readyz with 200")
        except AssertionError as error:
            raise AssertionError(f"{error}\n{self.part}'s output:\n{self.output()}") from None

    def stop(self, timeout: float = 60) -> int:
        """SIGTERM, as Docker, Kubernetes and systemd stop it; the exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


def start(
    command: Sequence[str], part: str, env: dict[str, str], cwd: Path, port: int | None = None
) -> Started:
    """Run ``command`` (which runs ``shakti serve PART`` with ``env``) in ``cwd``; its output to a log."""
    log = cwd / f"{part}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(command), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Started(part, f"http://127.0.0.1:{port or env['SHAKTI_HTTP_PORT']}", log, process)


def bare_environment() -> dict[str, str]:
    """The environment of a process started as a user would on a clean machine: none of the test
    run's settings (``SHAKTI_*``, ``PYTHONPATH``, a virtual environment) leaks into it."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep}
