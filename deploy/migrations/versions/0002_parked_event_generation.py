"""Parked events are kept per generation of a projection (shared/projection.py, foundation hardening).

A database made before that change has parked_event without the column; every parked event there
belonged to the generation that was active, and the first generation is 1, hence the default.

Revision ID: bookkeeping_0002
Revises: bookkeeping_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bookkeeping_0002"
down_revision: str | None = "bookkeeping_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("parked_event")}
    if "generation" in columns:
        return  # created by a projector that already knew the column
    with op.batch_alter_table("parked_event") as table:  # SQLite alters a table by copying it
        table.add_column(sa.Column("generation", sa.Integer, nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("parked_event") as table:
        table.drop_column("generation")
