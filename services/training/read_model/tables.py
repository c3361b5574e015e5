"""The tables of the training read model. Times are aware UTC on both databases (``UtcDateTime``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Column, Date, Float, Integer, MetaData, String, Table, Text

from shared.rows import UtcDateTime


@dataclass
class RecordTables:
    officer: Table
    module: Table
    outstanding: Table
    completion: Table
    certificate: Table
    programme: Table
    attendance: Table


def record_tables(metadata: MetaData, prefix: str) -> RecordTables:
    return RecordTables(**_learning_tables(metadata, prefix), **_certificate_tables(metadata, prefix))


def _learning_tables(metadata: MetaData, prefix: str) -> dict[str, Table]:
    """Who is posted where, what there is to learn, what each officer has still to do and has done."""
    return dict(
        officer=Table(
            f"{prefix}officer",
            metadata,
            Column("service_number", String(20), primary_key=True),
            Column("name", String(200), nullable=False, default=""),
            Column("rank", String(100), nullable=False, default=""),
            Column("kendra", String(80), index=True),
            Column("thana", String(80), index=True),
            Column("circle", String(80), index=True),
            Column("district", String(40), index=True),
            Column("incharge", Boolean, nullable=False, default=False),
            Column("duty", String(20), nullable=False, default="on_duty"),
        ),
        module=Table(
            f"{prefix}module",
            metadata,
            Column("module_id", String(40), primary_key=True),
            Column("kind", String(20), nullable=False),
            Column("version", Integer, nullable=False),
            Column("accepted_from_version", Integer, nullable=False),
            Column("title_hi", Text, nullable=False),
            Column("title_en", Text, nullable=False),
            Column("duration_minutes", Integer, nullable=False),
            Column("published_at", UtcDateTime(), nullable=False),
        ),
        outstanding=Table(
            f"{prefix}outstanding",
            metadata,
            Column("service_number", String(20), primary_key=True),
            Column("module_id", String(40), primary_key=True),
            Column("due_at", UtcDateTime(), index=True),
            Column("reason", String(20), nullable=False),
            Column("reported", Boolean, nullable=False, default=False),
        ),
        completion=Table(
            f"{prefix}completion",
            metadata,
            Column("event_id", String(36), primary_key=True),
            Column("service_number", String(20), nullable=False, index=True),
            Column("module_id", String(40), nullable=False),
            Column("version", Integer, nullable=False),
            Column("score", Float),
            Column("completed_at", UtcDateTime(), nullable=False),
            Column("source", String(120), nullable=False),
            Column("satisfies", Boolean, nullable=False),
        ),
    )


def _certificate_tables(metadata: MetaData, prefix: str) -> dict[str, Table]:
    """The certificates issued, and the programmes (classroom sessions) and who attended them."""
    return dict(
        certificate=Table(
            f"{prefix}certificate",
            metadata,
            Column("certificate_id", String(40), primary_key=True),
            Column("service_number", String(20), nullable=False, index=True),
            Column("issued_at", UtcDateTime(), nullable=False),
            Column("valid_until", UtcDateTime(), nullable=False, index=True),
            Column("endorsements", Text, nullable=False),
            Column("status", String(12), nullable=False, index=True),  # valid, lapsed, superseded
            Column("lapsed_why", String(40)),
        ),
        programme=Table(
            f"{prefix}programme",
            metadata,
            Column("programme_id", String(64), primary_key=True),
            Column("title_hi", Text, nullable=False),
            Column("title_en", Text, nullable=False),
            Column("ordered_by", Text, nullable=False),
            Column("directed_by", Text, nullable=False),
            Column("organised_by", Text, nullable=False),
            Column("venue", Text, nullable=False),
            Column("date", Date, nullable=False),
            Column("district", String(40), index=True),
            Column("modules", Text, nullable=False),
            Column("invited_kendras", Text, nullable=False),
            Column("invited_officers", Text, nullable=False),
            Column("completed", Boolean, nullable=False, default=False),
        ),
        attendance=Table(
            f"{prefix}attendance",
            metadata,
            Column("programme_id", String(64), primary_key=True),
            Column("service_number", String(20), primary_key=True),
            Column("present", Boolean, nullable=False),
            Column("score", Float),
        ),
    )
