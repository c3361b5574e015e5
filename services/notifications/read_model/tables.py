"""The tables of the notifications read model."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table

from shared.contracts.vocabulary import DutyStatus
from shared.rows import UtcDateTime


@dataclass
class BoardTables:
    notification: Table
    page: Table
    held: Table
    officer: Table
    holder: Table


def board_tables(metadata: MetaData, prefix: str) -> BoardTables:
    return BoardTables(
        notification=Table(
            f"{prefix}notification",
            metadata,
            Column("notification_id", String(40), primary_key=True),
            Column("recipient", String(140), nullable=False),
            Column("channel", String(10), nullable=False),
            Column("rule", String(30), nullable=False),
            Column("urgent", Boolean, nullable=False, default=False),
            Column("cause_id", String(64), nullable=False),
            # A message about an officer's training has no case: its officer and modules instead.
            Column("case_id", String(64)),
            Column("case_number", String(40)),
            Column("service_number", String(40)),
            Column("modules", String(400)),
            Column("district", String(60)),
            Column("thana", String(60)),
            Column("kendra", String(70)),
            Column("role", String(20)),
            Column("clock", String(40)),
            Column("due_at", UtcDateTime()),
            Column("threshold_pct", Integer),
            Column("agency_code", String(70)),
            # A complainant's SMS (what the outbox shows of it): never her phone, the Kendra's.
            Column("case_status", String(30)),
            Column("language", String(2)),
            Column("kendra_phone", String(16)),
            Column("at", UtcDateTime(), nullable=False),
            Column("round", Integer, nullable=False, default=1),
            Column("page_id", String(64), index=True),
            Column("requested_at", UtcDateTime(), nullable=False),
            Column("status", String(10), nullable=False, default="requested"),
            Column("via", String(20)),
            Column("tries", Integer, nullable=False, default=0),
            Column("reason", String(80)),
            Column("sent_at", UtcDateTime()),
            Column("acknowledged_at", UtcDateTime()),
            Column("acknowledged_by", String(80)),
            Index(f"{prefix}notification_recipient", "recipient", "channel", "requested_at"),
            Index(f"{prefix}notification_status", "status"),
        ),
        page=Table(
            f"{prefix}page",
            metadata,
            Column("page_id", String(64), primary_key=True),
            Column("round", Integer, nullable=False),
            Column("repeat_at", UtcDateTime(), index=True),
            Column("acknowledged", Boolean, nullable=False, default=False),
        ),
        held=Table(
            f"{prefix}held",
            metadata,
            Column("notification_id", String(40), primary_key=True),
            Column("until", UtcDateTime(), nullable=False, index=True),
        ),
        officer=Table(
            f"{prefix}officer",
            metadata,
            Column("service_number", String(40), primary_key=True),
            Column("kendra", String(70), nullable=False, default=""),
            Column("thana", String(60), nullable=False, default=""),
            Column("incharge", Boolean, nullable=False, default=False),
            Column("status", String(10), nullable=False, default=DutyStatus.ON_DUTY.value),
        ),
        holder=Table(
            f"{prefix}holder",
            metadata,
            Column("account", String(120), primary_key=True),
            Column("username", String(120), nullable=False, default=""),
            Column("role", String(20), nullable=False),
            Column("service_number", String(40)),
            Column("district", String(60)),
            Column("circle", String(60)),
            Column("thana", String(60)),
            Column("enabled", Boolean, nullable=False, default=True),
        ),
    )
