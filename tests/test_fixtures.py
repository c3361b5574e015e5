"""The shared fixtures (conftest.py) on a machine whose Docker engine answers but cannot pull images.

That is any machine without a registry (as here) or behind a broken mirror: testcontainers' first pull
(its ``ryuk`` reaper) fails. The fixtures must then use the ``nats-server`` binary and the local
PostgreSQL, whether or not containers were asked for, and never fail a test for it.

The engine is a stand-in that answers ``/_ping`` and ``/version`` like Docker and refuses everything
else, as an engine that cannot reach its registry refuses a pull; NATS and PostgreSQL stay real.
"""

from __future__ import annotations

import http.server
import json
import os
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import asyncpg

async def test_probe(nats_client, postgres_url):
    await nats_client.jetstream().add_stream(name="PROBE", subjects=["probe.>"])
    ack = await nats_client.jetstream().publish("probe.one", b"x")
    assert ack.seq == 1
    conn = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
    assert await conn.fetchval("SELECT 1") == 1
    await conn.close()
"""


class _EngineThatCannotPull(http.server.BaseHTTPRequestHandler):
    def _answer(self, status: int, body: dict[str, str]) -> None:
        content = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", "1.41")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/_ping"):
            self.send_response(200)
            self.send_header("Api-Version", "1.41")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
        elif path.endswith("/version"):
            self._answer(200, {"ApiVersion": "1.41", "Version": "20.10.24", "Os": "linux", "Arch": "amd64"})
        else:
            self._answer(500, {"message": "Get https://registry-1.docker.io/v2/: dial tcp: no route to host"})

    do_POST = do_DELETE = do_HEAD = do_GET

    def address_string(self) -> str:  # a unix socket has no client address
        return "engine"

    def log_message(self, format: str, *args: object) -> None:
        pass


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def engine_that_cannot_pull(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "docker.sock"
    server = _UnixServer(str(path), _EngineThatCannotPull)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}"
    finally:
        server.shutdown()
        server.server_close()


def run_probe(tmp_path: Path, docker_host: str, **settings: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_probe.py").write_text(PROBE)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SHAKTI_TEST_NATS_URL", "SHAKTI_TEST_POSTGRES_URL", "SHAKTI_TEST_CONTAINERS")
    }
    env |= {"DOCKER_HOST": docker_host, "PYTHONPATH": str(ROOT), "SHAKTI_REQUIRE_POSTGRES": "1", **settings}
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
            "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function", "-W", "default", str(tmp_path / "test_probe.py"),
        ],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_the_engine_stand_in_answers_like_docker_and_refuses_the_pull(engine_that_cannot_pull: str) -> None:
    import docker  # type: ignore[import-untyped]

    client = docker.DockerClient(base_url=engine_that_cannot_pull, timeout=5)
    assert client.ping()
    with pytest.raises(docker.errors.APIError):
        client.images.pull("testcontainers/ryuk", tag="0.8.1")


def test_an_engine_that_cannot_pull_does_not_matter_by_default(
    tmp_path: Path, engine_that_cannot_pull: str
) -> None:
    result = run_probe(tmp_path, engine_that_cannot_pull)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_containers_asked_for_but_not_pullable_fall_back_with_a_warning(
    tmp_path: Path, engine_that_cannot_pull: str
) -> None:
    result = run_probe(tmp_path, engine_that_cannot_pull, SHAKTI_TEST_CONTAINERS="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert "the NATS container did not start" in result.stdout
    assert "the PostgreSQL container did not start" in result.stdout
