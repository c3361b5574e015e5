"""The tables of routing's read model (each generation of the projection gets its own, by ``prefix``)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text


@dataclass
class RoutingTables:
    unit: Table
    jurisdiction_import: Table
    officer: Table
    certificate: Table
    case: Table
    referral: Table
    assignment: Table
    certified_spell: Table


def routing_tables(metadata: MetaData, prefix: str) -> RoutingTables:
    return RoutingTables(
        **_jurisdiction_tables(metadata, prefix),
        **_roster_tables(metadata, prefix),
        **_case_tables(metadata, prefix),
        **_compliance_tables(metadata, prefix),
    )


def _jurisdiction_tables(metadata: MetaData, prefix: str) -> dict[str, Table]:
    """Every unit routing defined, in full (what ``shared.places`` projects for the other services is
    the names and the tree; the pincodes, localities and basis are routing's alone), and each import."""
    return dict(
        unit=Table(
            f"{prefix}unit",
            metadata,
            Column("level", String(10), primary_key=True),
            Column("code", String(80), primary_key=True),
            Column("district", String(20), nullable=False, index=True),
            Column("circle", String(80)),
            Column("thana", String(80)),
            Column("name_hi", String(200), nullable=False),
            Column("name_en", String(200), nullable=False),
            Column("agency_kind", String(40)),
            Column("control", Boolean, nullable=False, default=False),
            Column("basis", Text, nullable=False, default=""),
            Column("pincodes", Text, nullable=False, default="[]"),
            Column("localities", Text, nullable=False, default="[]"),
            Column("active", Boolean, nullable=False, default=True),
        ),
        jurisdiction_import=Table(
            f"{prefix}jurisdiction_import",
            metadata,
            Column("sequence", Integer, primary_key=True, autoincrement=False),
            Column("district", String(20), nullable=False, index=True),
            Column("version", String(100), nullable=False),
            Column("source", String(300), nullable=False),
            Column("checksum", String(64), nullable=False),
            Column("counts", Text, nullable=False),
            Column("actor", String(200), nullable=False),
            Column("imported_at", DateTime(timezone=True), nullable=False),
        ),
    )


def _roster_tables(metadata: MetaData, prefix: str) -> dict[str, Table]:
    """The officers, where each is posted and on duty, and the certificates assignment asks for."""
    return dict(
        officer=Table(
            f"{prefix}officer",
            metadata,
            Column("service_number", String(20), primary_key=True),
            Column("name", String(200), nullable=False, default=""),
            Column("rank", String(40), nullable=False, default=""),
            Column("gender", String(10), nullable=False, default=""),
            Column("kendra", String(80), index=True),
            Column("thana", String(80), index=True),
            Column("circle", String(80)),
            Column("district", String(20)),
            Column("incharge", Boolean, nullable=False, default=False),
            Column("status", String(20), nullable=False, default="on_duty"),
            Column("status_since", DateTime(timezone=True)),
        ),
        certificate=Table(
            f"{prefix}certificate",
            metadata,
            Column("certificate_id", String(80), primary_key=True),
            Column("service_number", String(20), nullable=False, index=True),
            Column("endorsements", Text, nullable=False),
            Column("valid_until", DateTime(timezone=True), nullable=False),
            Column("lapsed", Boolean, nullable=False, default=False),
        ),
    )


def _case_tables(metadata: MetaData, prefix: str) -> dict[str, Table]:
    """Where each case went and who holds it, and its referrals to agencies."""
    return dict(
        case=Table(
            f"{prefix}case",
            metadata,
            Column("case_id", String(64), primary_key=True),
            Column("case_number", String(40)),
            Column("category", String(40)),
            Column("priority", String(4)),
            Column("minor", Boolean, nullable=False, default=False),
            Column("district", String(20), index=True),
            Column("circle", String(80)),
            Column("thana", String(80), index=True),
            Column("kendra", String(80), index=True),
            Column("officer", String(20), index=True),
            Column("state", String(20), nullable=False, default="open"),
            Column("routing_flagged", Boolean, nullable=False, default=False),
            Column("assignment_flagged", Boolean, nullable=False, default=False),
            Column("waiting", Boolean, nullable=False, default=False),
            Column("unroutable", Boolean, nullable=False, default=False),
            Column("why_en", Text),
            Column("why_hi", Text),
            Column("route_reason_en", Text),
            Column("route_reason_hi", Text),
            Column("assign_reason_en", Text),
            Column("assign_reason_hi", Text),
            Column("registered_at", DateTime(timezone=True)),
            Column("routed_at", DateTime(timezone=True)),
            Column("assigned_at", DateTime(timezone=True)),
        ),
        referral=Table(
            f"{prefix}referral",
            metadata,
            Column("referral_id", String(64), primary_key=True),
            Column("case_id", String(64), nullable=False, index=True),
            Column("agency_code", String(80), nullable=False, index=True),
            Column("agency_kind", String(40), nullable=False),
            Column("status", String(20), nullable=False),
            Column("reason_en", Text, nullable=False),
            Column("reason_hi", Text, nullable=False),
            Column("rejection", String(40)),
            Column("by", String(200)),
            Column("issued_at", DateTime(timezone=True), nullable=False),
            Column("due_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
        ),
    )


def _compliance_tables(metadata: MetaData, prefix: str) -> dict[str, Table]:
    """Every assignment of a case to an officer (where the case was then), and every certificate as
    routing knew it (from when it was recorded until it expired or lapsed): what the compliance lists
    join to find cases given to an officer not certified for them at the time (``certified.py``)."""
    return dict(
        assignment=Table(
            f"{prefix}assignment",
            metadata,
            Column("event_id", String(36), primary_key=True),
            Column("case_id", String(64), nullable=False, index=True),
            Column("officer", String(20), nullable=False, index=True),
            Column("kendra", String(80)),
            Column("district", String(20), index=True),
            Column("circle", String(80), index=True),
            Column("thana", String(80), index=True),
            Column("assigned_at", DateTime(timezone=True), nullable=False, index=True),
        ),
        certified_spell=Table(
            f"{prefix}certified_spell",
            metadata,
            Column("certificate_id", String(80), primary_key=True),
            Column("service_number", String(20), nullable=False, index=True),
            Column("endorsements", Text, nullable=False),
            Column("recorded_at", DateTime(timezone=True), nullable=False),
            Column("valid_until", DateTime(timezone=True), nullable=False),
            Column("lapsed_at", DateTime(timezone=True)),
        ),
    )
