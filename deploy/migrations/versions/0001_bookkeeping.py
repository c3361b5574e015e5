"""Projection bookkeeping: generations, checkpoints, parked events (as shared/projection.py creates them).

A database a service already started on has these tables (the projector creates what is missing):
they are adopted as they are, so this baseline can be applied to a running system.

Revision ID: bookkeeping_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "bookkeeping_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("bookkeeping",)
depends_on: Sequence[str] | None = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("projection_generation"):
        op.create_table(
            "projection_generation",
            sa.Column("projection", sa.String(100), primary_key=True),
            sa.Column("active", sa.Integer, nullable=False),
        )
    if _missing("projection_checkpoint"):
        op.create_table(
            "projection_checkpoint",
            sa.Column("projection", sa.String(100), primary_key=True),
            sa.Column("generation", sa.Integer, primary_key=True),
            sa.Column("stream", sa.String(50), primary_key=True),
            sa.Column("sequence", sa.Integer, nullable=False),
        )
    if _missing("parked_event"):
        op.create_table(
            "parked_event",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("projection", sa.String(100), nullable=False),
            sa.Column("stream", sa.String(50), nullable=False),
            sa.Column("sequence", sa.Integer, nullable=False),
            sa.Column("event_type", sa.String(100), nullable=False),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False),
            sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index("ix_parked_event_projection", "parked_event", ["projection"])


def downgrade() -> None:
    op.drop_table("parked_event")
    op.drop_table("projection_checkpoint")
    op.drop_table("projection_generation")
