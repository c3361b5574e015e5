"""The web front keeps only password hashes: who a user is moved to the user directory (stream USERS).

``web_user`` (role, jurisdiction and service number beside the hash) gives way to ``web_credential``
(the hash alone). Its rows are not carried over: a user of the old table is not in the directory, so
add them again with ``shakti users add`` (nothing was deployed with the old table).

Revision ID: web_0002
Revises: web_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "web_0002"
down_revision: str | None = "web_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def _has(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if not _has("web_credential"):
        op.create_table(
            "web_credential",
            sa.Column("username", sa.String(64), primary_key=True),
            sa.Column("password_hash", sa.String(200), nullable=False),
            sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        )
    if _has("web_user"):
        op.drop_table("web_user")


def downgrade() -> None:
    op.drop_table("web_credential")
