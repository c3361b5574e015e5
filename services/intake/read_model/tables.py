"""The tables of intake's read models (each generation of a projection gets its own, by ``prefix``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)


@dataclass
class CaseTables:
    cases: Table
    timeline: Table
    deadlines: Table
    """Each case's running clocks (escalation's); the soonest is on the case's row."""
    phones: Table


def _case_table(metadata: MetaData, prefix: str) -> Table:
    """A row a case: what the register, the queue and the dashboards read."""
    cases = Table(
        f"{prefix}case",
        metadata,
        Column("case_id", String(64), primary_key=True),
        Column("case_number", String(40), unique=True),
        Column("channel", String(32)),
        Column("category", String(32), index=True),
        Column("priority", String(4), index=True),
        Column("danger_now", Boolean),
        Column("minor", Boolean),
        Column("flags", String(100), nullable=False, default=""),
        Column("district", String(64), index=True),
        Column("circle", String(64), index=True),
        Column("thana", String(64), index=True),
        Column("kendra", String(64), index=True),
        Column("routed", Boolean, nullable=False, default=False),
        Column("pincode", String(6)),
        Column("locality", String(100)),
        Column("language", String(8)),
        Column("consent_to_share", Boolean),
        Column("consent_to_messages", Boolean),
        Column("registered_by", String(64)),
        Column("registered_at_thana", String(64)),
        Column("registered_at", DateTime(timezone=True), index=True),
        Column("status", String(32), index=True),
        Column("first_contact_at", DateTime(timezone=True)),
        Column("outcome", String(64)),
        Column("feedback_rating", Integer),
        Column("resolved_at", DateTime(timezone=True)),
        Column("closed_at", DateTime(timezone=True)),
        Column("duplicate_of", String(64)),
        Column("duplicate_of_number", String(40)),
        Column("identity_erased", Boolean, nullable=False, default=False),
        Column("assigned_officer", String(64)),
        Column("escalation_level", Integer, nullable=False, default=0),
        Column("escalation_role", String(32)),
        Column("escalation_office", String(64)),
        Column("overdue", Boolean, nullable=False, default=False, index=True),
        Column("overdue_clocks", String(200), nullable=False, default=""),
        Column("due_soon_clocks", String(200), nullable=False, default=""),
        Column("next_clock", String(40)),
        Column("next_due_at", DateTime(timezone=True)),
        Column("urgency", String(120), nullable=False, default=""),
        Column("updated_at", DateTime(timezone=True)),
    )
    # A place's queue, most urgent first, read off an index in that order: no sorting of every case of a
    # district to show twenty (``queries.urgency_key``).
    for column in ("kendra", "thana", "circle", "district"):
        Index(f"ix_{prefix}case_{column}_urgency", cases.c[column], cases.c.urgency)
    Index(f"ix_{prefix}case_urgency", cases.c.urgency)
    return cases


def case_tables(metadata: MetaData, prefix: str) -> CaseTables:
    cases = _case_table(metadata, prefix)
    timeline = Table(
        f"{prefix}timeline",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("case_id", String(64), nullable=False, index=True),
        Column("stream", String(50), nullable=False),
        Column("sequence", Integer, nullable=False),
        Column("occurred_at", DateTime(timezone=True), nullable=False),
        Column("event_type", String(100), nullable=False),
        Column("actor", String(200), nullable=False),
        Column("text_en", Text, nullable=False),
        Column("text_hi", Text, nullable=False),
        UniqueConstraint("stream", "sequence"),
    )
    deadlines = Table(
        f"{prefix}deadline",
        metadata,
        Column("case_id", String(64), primary_key=True),
        # clock key (clock, referral, round) -> [clock, due at in ISO 8601 UTC]; a paused clock is not here
        Column("running", Text, nullable=False, default="{}"),
    )
    # The blind index of the complainant's phone (``services/intake/phone_index.py``), apart from the
    # case row so that nothing that reads or shows a case (the register, its CSV) carries it; a row
    # only while the case has an identity (an erasure deletes it).
    phones = Table(
        f"{prefix}phone_index",
        metadata,
        Column("case_id", String(64), primary_key=True),
        Column("phone_index", String(64), nullable=False, index=True),
    )
    return CaseTables(cases, timeline, deadlines, phones)
