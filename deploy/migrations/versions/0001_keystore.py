"""Intake's per-case identity keys (as services/intake/keystore.py creates them).

Never a projection: a destroyed key is an erased identity, and no rebuild may bring one back, so this
table is migrated in place, never dropped and recreated. An existing table is adopted as it is.

Revision ID: keystore_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "keystore_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("keystore",)
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("intake_identity_key"):
        return
    op.create_table(
        "intake_identity_key",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.LargeBinary(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    raise NotImplementedError("dropping the key store would erase every complainant's identity: refused")
