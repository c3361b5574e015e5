"""Alembic environment for the tables of Mission Shakti that are not projections.

Projection tables are disposable: a rebuild creates a new generation of them from the events
(``shared.projection``), so a changed projection needs a rebuild, never a migration. What must be
migrated is what a rebuild cannot recreate or what it relies on; each is a branch of its own, because
each lives in a different database:

- ``bookkeeping``: the projections' generations, checkpoints and parked events (every service's
  read-model database);
- ``keystore``: intake's per-case identity keys (intake's database, or ``SHAKTI_KEY_STORE_URL``);
- ``web``: the web front's users and sign-in attempts (the ``web`` database).

The database: ``-x url=...``, else the service's from the environment (``-x service=NAME``, as the
service itself finds it through ``shared.settings.Settings``; ``-x store=keys`` for intake's key
store). Several replicas may start at once: on PostgreSQL an advisory lock lets one migrate at a time.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from shared.readmodel import create_engine
from shared.settings import Settings

MIGRATION_LOCK = 7_405_113_090
"""The advisory lock id every Mission Shakti migration takes on PostgreSQL (any constant will do)."""


def database_url() -> str:
    args = context.get_x_argument(as_dictionary=True)
    if url := args.get("url"):
        return url
    service = args.get("service")
    if not service:
        raise SystemExit(
            "say which database: -x service=<intake|routing|escalation|training|notifications|web>"
            " or -x url=..."
        )
    settings = Settings()
    if args.get("store") == "keys" and settings.key_store_url:
        return settings.key_store_url
    return settings.database_for(service)


def migrate(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def migrate_online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                # Held until this connection closes, so a second replica waits, then finds nothing to do.
                await connection.execute(text(f"SELECT pg_advisory_lock({MIGRATION_LOCK})"))
            await connection.run_sync(migrate)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run against the database")
asyncio.run(migrate_online(database_url()))
