"""The tables of escalation's read model.

``next_check`` is the timer table: one row per case that the escalation service must look at again,
and when. It is written only from ``NextCheckScheduled`` events, so it always says what the case's
aggregate decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table

from shared.rows import UtcDateTime


@dataclass
class BoardTables:
    case: Table
    clock: Table
    escalation: Table
    next_check: Table
    thana: Table


def board_tables(metadata: MetaData, prefix: str) -> BoardTables:
    return BoardTables(**_case_tables(metadata, prefix), **_clock_tables(metadata, prefix))


def _case_tables(metadata: MetaData, prefix: str) -> dict[str, Table]:
    """Each case where it is and how far up the ladder, every escalation, and the thanas' circles."""
    return dict(
        case=Table(
            f"{prefix}case",
            metadata,
            Column("case_id", String(64), primary_key=True),
            Column("case_number", String(40)),
            Column("district", String(60), index=True),
            Column("circle", String(60), index=True),
            Column("thana", String(60), index=True),
            Column("kendra", String(70)),
            Column("priority", String(4)),
            Column("category", String(40)),
            Column("danger_now", Boolean, nullable=False, default=False),
            Column("registered_at", UtcDateTime()),
            Column("round", Integer, nullable=False, default=1),
            Column("closed", Boolean, nullable=False, default=False),
            Column("closed_at", UtcDateTime()),
            Column("first_contact_at", UtcDateTime()),
            Column("disposed_at", UtcDateTime()),
            Column("level", Integer, nullable=False, default=0),
            Column("role", String(20)),
            Column("office_code", String(70)),
            Column("escalated_at", UtcDateTime()),
            Column("climbing", Boolean, nullable=False, default=False),
            Column("acknowledged_at", UtcDateTime()),
        ),
        escalation=Table(
            f"{prefix}escalation",
            metadata,
            Column("case_id", String(64), primary_key=True),
            Column("round", Integer, primary_key=True),
            Column("level", Integer, primary_key=True),
            Column("role", String(20), nullable=False),
            Column("office_code", String(70), nullable=False),
            Column("reason", String(80), nullable=False),
            Column("escalated_at", UtcDateTime(), nullable=False),
            Column("next_due_at", UtcDateTime()),
            Column("acknowledged_at", UtcDateTime()),
            Column("acknowledged_by", String(40)),
            # "What is escalated to me" looks rows up by role and office.
            Index(f"{prefix}escalation_office", "role", "office_code"),
        ),
        thana=Table(
            f"{prefix}thana",
            metadata,
            # Only which circle a thana is in, for a case watched without one (the names, the Kendras
            # and the ladder's offices are read from ``shared.places``). Kept here, in the board's own
            # batches, so that the case's circle comes out the same in whichever order the streams come.
            Column("code", String(60), primary_key=True),
            Column("circle", String(60), nullable=False),
        ),
    )


def _clock_tables(metadata: MetaData, prefix: str) -> dict[str, Table]:
    """The SOP clocks of each case, and when the timer worker must look at each case again."""
    return dict(
        clock=Table(
            f"{prefix}clock",
            metadata,
            Column("case_id", String(64), primary_key=True),
            Column("clock", String(40), primary_key=True),
            Column("referral_id", String(64), primary_key=True),
            Column("round", Integer, primary_key=True),
            Column("basis", String(20), nullable=False),
            Column("limit_seconds", Float, nullable=False),
            Column("policy_version", String(40), nullable=False),
            Column("started_at", UtcDateTime(), nullable=False),
            Column("due_at", UtcDateTime(), index=True),
            Column("state", String(10), nullable=False, index=True),
            Column("remaining_seconds", Float),
            Column("warned_pct", Integer, nullable=False, default=0),
            Column("breached_at", UtcDateTime()),
            Column("stopped_at", UtcDateTime()),
            Column("met", Boolean),
            Column("stop_reason", String(40)),
        ),
        next_check=Table(
            f"{prefix}next_check",
            metadata,
            Column("case_id", String(64), primary_key=True),
            Column("at", UtcDateTime(), nullable=False, index=True),
            Column("what", String(80), nullable=False),
        ),
    )
