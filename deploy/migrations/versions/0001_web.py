"""The web front's users and sign-in attempts (as shakti/users.py creates them).

Revision ID: web_0001
Revises:
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "web_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("web",)
depends_on: Sequence[str] | None = None


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if _missing("web_user"):
        op.create_table(
            "web_user",
            sa.Column("username", sa.String(64), primary_key=True),
            sa.Column("password_hash", sa.String(200), nullable=False),
            sa.Column("role", sa.String(32), nullable=False),
            sa.Column("service_number", sa.String(32)),
            sa.Column("district", sa.String(64)),
            sa.Column("circle", sa.String(64)),
            sa.Column("thana", sa.String(64)),
            sa.Column("demo", sa.Boolean, nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )
    if _missing("web_signin_attempt"):
        op.create_table(
            "web_signin_attempt",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("username", sa.String(64), nullable=False),
            sa.Column("client", sa.String(64), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("outcome", sa.String(16), nullable=False),
        )
        op.create_index("ix_web_signin_attempt_username", "web_signin_attempt", ["username"])
        op.create_index("ix_web_signin_attempt_client", "web_signin_attempt", ["client"])
        op.create_index("ix_web_signin_attempt_at", "web_signin_attempt", ["at"])


def downgrade() -> None:
    op.drop_table("web_signin_attempt")
    op.drop_table("web_user")
