"""Intake's key store keeps only wrapped keys (keys: services/intake/kek.py, services/intake/keystore.py).

Adds the id of the KEK that wrapped each key, the tombstones of erased cases and how far intake's
stream has been read for erasures. Keys stored in clear by earlier code are wrapped here when the KEK
is at hand (``SHAKTI_KEK_FILE``, as intake finds it); otherwise intake wraps them at its next start,
once. Either way the store is then rewritten (SQLite ``VACUUM``, PostgreSQL ``VACUUM FULL`` by intake)
so that no clear key is left in its files.

Revision ID: keystore_0002
Revises: keystore_0001
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "keystore_0002"
down_revision: str | None = "keystore_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _wrap_clear_keys(bind: sa.Connection) -> int:
    from services.intake.kek import KekUnavailable, load_kek_ring
    from shared.settings import Settings

    try:
        ring = load_kek_ring(Settings())
    except KekUnavailable:
        return 0  # intake wraps them at its next start
    rows = bind.execute(sa.text("SELECT case_id, key FROM intake_identity_key WHERE kek_id IS NULL")).all()
    if not rows:
        return 0

    async def wrap_all() -> list[tuple[str, bytes]]:
        return [(case_id, await ring.wrap(bytes(key), case_id)) for case_id, key in rows]

    # A KEK provider is asynchronous (a KMS answers over the network); migrations run inside a loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        wrapped = pool.submit(asyncio.run, wrap_all()).result()
    for case_id, key in wrapped:
        bind.execute(
            sa.text("UPDATE intake_identity_key SET key = :key, kek_id = :kek WHERE case_id = :case"),
            {"key": key, "kek": ring.key_id, "case": case_id},
        )
    return len(wrapped)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    if "kek_id" not in {c["name"] for c in inspector.get_columns("intake_identity_key")}:
        with op.batch_alter_table("intake_identity_key") as table:
            table.add_column(sa.Column("kek_id", sa.String(64)))
    if not inspector.has_table("intake_erased_case"):
        op.create_table(
            "intake_erased_case",
            sa.Column("case_id", sa.String(64), primary_key=True),
            sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        )
    if not inspector.has_table("intake_key_store_progress"):
        op.create_table(
            "intake_key_store_progress",
            sa.Column("name", sa.String(64), primary_key=True),
            sa.Column("sequence", sa.BigInteger, nullable=False),
        )
    if bind.dialect.name == "sqlite":
        bind.exec_driver_sql("PRAGMA secure_delete=ON")
    _wrap_clear_keys(bind)


def downgrade() -> None:
    raise NotImplementedError("unwrapping the key store would put every case key in clear: refused")
