"""The Alembic migrations of deploy/migrations, run for real on SQLite and PostgreSQL.

They must produce exactly the tables the code declares (so a changed table without a migration
fails here), adopt a database a service already created its tables in, and be harmless to repeat.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from argparse import Namespace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection

from services.intake.keystore import key_store
from shakti.users import metadata as web_metadata
from shared.projection import bookkeeping
from shared.readmodel import create_engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "deploy" / "migrations"
BRANCHES: dict[str, MetaData] = {"bookkeeping": bookkeeping, "keystore": key_store, "web": web_metadata}


def upgrade(url: str, target: str) -> None:
    config = Config(str(MIGRATIONS / "alembic.ini"), cmd_opts=Namespace(x=[f"url={url}"]))
    command.upgrade(config, target)


def differences(url: str, metadata: MetaData) -> list[Any]:
    """What Alembic's autogenerate would still change to make the database match ``metadata``."""

    def compare(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _: kind != "table" or name in metadata.tables,
            },
        )
        return list(compare_metadata(context, metadata))

    async def run() -> list[Any]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(compare)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def tables(url: str) -> set[str]:
    async def run() -> set[str]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.mark.parametrize("branch", BRANCHES)
def test_each_branch_creates_exactly_the_tables_the_code_declares(database_url: str, branch: str) -> None:
    upgrade(database_url, f"{branch}@head")
    assert tables(database_url) == {*BRANCHES[branch].tables, "alembic_version"}
    assert differences(database_url, BRANCHES[branch]) == []


def test_a_database_a_service_already_started_on_is_adopted(database_url: str) -> None:
    """The services create missing tables themselves (create_all); the baseline must not trip on them."""

    async def create_as_the_services_do() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.run_sync(bookkeeping.create_all)
            await conn.run_sync(key_store.create_all)
            await conn.execute(
                text("INSERT INTO projection_generation (projection, active) VALUES ('intake_cases', 2)")
            )
        await engine.dispose()

    asyncio.run(create_as_the_services_do())
    upgrade(database_url, "bookkeeping@head")
    upgrade(database_url, "keystore@head")
    upgrade(database_url, "keystore@head")  # again: nothing to do
    assert differences(database_url, bookkeeping) == []
    assert differences(database_url, key_store) == []

    async def heads() -> set[str]:
        engine = create_engine(database_url)
        async with engine.connect() as conn:
            found = {row[0] for row in await conn.execute(text("SELECT version_num FROM alembic_version"))}
            kept = await conn.scalar(text("SELECT active FROM projection_generation"))
        await engine.dispose()
        assert kept == 2, "the adopted table lost its rows"
        return found

    assert asyncio.run(heads()) == {"bookkeeping_0002", "keystore_0002"}


def test_parked_events_of_an_older_database_get_their_generation(database_url: str) -> None:
    """A database from before parked events were kept per generation: its rows stay, as generation 1."""
    upgrade(database_url, "bookkeeping_0001")

    async def park_one() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO parked_event (projection, stream, sequence, event_type, reason, attempts,"
                    " parked_at) VALUES ('routing_register', 'INTAKE', 7, 'CaseRegistered', 'KeyError', 3,"
                    " CURRENT_TIMESTAMP)"
                )
            )
        await engine.dispose()

    async def generations() -> list[tuple[int, int]]:
        engine = create_engine(database_url)
        async with engine.connect() as conn:
            found = [
                (r[0], r[1])
                for r in await conn.execute(text("SELECT sequence, generation FROM parked_event"))
            ]
        await engine.dispose()
        return found

    asyncio.run(park_one())
    upgrade(database_url, "bookkeeping@head")
    assert asyncio.run(generations()) == [(7, 1)]
    assert differences(database_url, bookkeeping) == []


def test_keys_stored_in_clear_are_wrapped_by_the_migration(database_url: str) -> None:
    """A key store of the code before wrapping (keystore_0001, keys in clear): the migration wraps every
    key under the KEK (SHAKTI_KEK_FILE, as intake finds it), and intake opens them."""
    from services.intake.kek import load_kek_ring
    from services.intake.keystore import KeyStore
    from shared.settings import Settings

    upgrade(database_url, "keystore_0001")
    clear = {f"case-{n}": bytes([n]) * 32 for n in range(1, 4)}

    async def store_clear() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            for case_id, key in clear.items():
                await conn.execute(
                    text("INSERT INTO intake_identity_key (case_id, key, created_at) VALUES (:c, :k, :t)"),
                    {"c": case_id, "k": key, "t": datetime.now(UTC)},
                )
        await engine.dispose()

    async def opened() -> tuple[dict[str, bytes | None], set[str]]:
        ring = load_kek_ring(Settings())
        keys = KeyStore.open(database_url, ring)
        try:
            rows = {k.kek_id for k in await keys.wrapped_keys()}
            return {c: await keys.find(c) for c in clear}, rows
        finally:
            await keys.close()

    asyncio.run(store_clear())
    upgrade(database_url, "keystore@head")
    found, kek_ids = asyncio.run(opened())
    assert found == clear and kek_ids == {load_kek_ring(Settings()).key_id}
    assert differences(database_url, key_store) == []


def test_the_key_store_is_never_dropped_by_a_downgrade(sqlite_url: str) -> None:
    upgrade(sqlite_url, "keystore@head")
    config = Config(str(MIGRATIONS / "alembic.ini"), cmd_opts=Namespace(x=[f"url={sqlite_url}"]))
    with pytest.raises(NotImplementedError, match="refused"):
        command.downgrade(config, "keystore@base")
    assert "intake_identity_key" in tables(sqlite_url)


def test_migrate_script_finds_each_database_as_the_service_does(tmp_path: Path) -> None:
    """deploy/migrations/migrate.sh with the services' own environment (SQLite files in a data folder)."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "SHAKTI_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(MIGRATIONS.parent.parent),
    }
    for part in ("intake", "routing", "web"):
        subprocess.run(["sh", str(MIGRATIONS / "migrate.sh"), part], env=env, check=True, capture_output=True)
    assert tables(f"sqlite+aiosqlite:///{tmp_path / 'intake.db'}") == {
        *bookkeeping.tables,
        *key_store.tables,
        "alembic_version",
    }
    assert tables(f"sqlite+aiosqlite:///{tmp_path / 'routing.db'}") == {
        *bookkeeping.tables,
        "alembic_version",
    }
    assert tables(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}") == {*web_metadata.tables, "alembic_version"}
