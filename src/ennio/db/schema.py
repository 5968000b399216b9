"""The tables, as SQLAlchemy Core metadata. Migrations in ``migrations/versions`` create exactly this
(a test compares them), and the repositories query through it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB

from ennio.core.ids import ID_MAX_LENGTH

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every backend.

    PostgreSQL stores ``timestamptz``; SQLite stores SQLAlchemy's fixed-width text form in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; Ennio stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def json_type() -> Any:
    """JSON text on SQLite, ``jsonb`` on PostgreSQL; SQL NULL for ``None``."""
    return JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _id(name: str, *args: Any, **kw: Any) -> Column[str]:
    return Column(name, String(ID_MAX_LENGTH), *args, **kw)


def _seq() -> Any:
    # INTEGER PRIMARY KEY is SQLite's rowid; BIGINT (identity) on PostgreSQL
    return BigInteger().with_variant(Integer(), "sqlite")


projects = Table(
    "projects",
    metadata,
    _id("id", primary_key=True),
    Column("name", String(200), nullable=False),
    Column("next_session_number", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    _id("id", primary_key=True),
    _id("project_id", ForeignKey("projects.id"), nullable=False),
    Column("status", String(32), nullable=False),
    Column("activity", String(32)),
    Column("agent", String(100), nullable=False),
    Column("runtime", String(100), nullable=False),
    Column("workspace", String(100), nullable=False),
    Column("branch", String(255)),
    Column("base_branch", String(255)),
    Column("issue_id", String(255)),
    Column("issue_url", Text),
    Column("workspace_path", Text),
    Column("runtime_handle", json_type()),
    Column("pr_number", Integer),
    Column("pr_url", Text),
    Column("role", String(32), nullable=False),
    Column("prompt", Text),
    Column("metadata", json_type(), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_activity_at", UTCDateTime),
    Column("status_reason", Text),
    Index(None, "project_id", "status"),
    Index(None, "status"),
)

session_status_history = Table(
    "session_status_history",
    metadata,
    Column("id", _seq(), primary_key=True, autoincrement=True),
    _id("session_id", ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("from_status", String(32)),
    Column("to_status", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index(None, "session_id", "id"),
)

events = Table(
    "events",
    metadata,
    Column("seq", _seq(), primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False, unique=True),
    Column("type", String(64), nullable=False),
    Column("priority", String(16), nullable=False),
    _id("project_id"),
    _id("session_id"),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("message", Text, nullable=False),
    Column("data", json_type(), nullable=False),
    Index(None, "session_id", "seq"),
    Index(None, "project_id", "seq"),
    Index(None, "type", "seq"),
    Index(None, "occurred_at"),
    sqlite_autoincrement=True,
)

reaction_state = Table(
    "reaction_state",
    metadata,
    Column("scope_kind", String(16), nullable=False),
    _id("scope_id", nullable=False),
    Column("reaction", String(64), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_fired_at", UTCDateTime),
    Column("last_fired_at", UTCDateTime),
    Column("escalate_at", UTCDateTime),
    Column("escalated", Boolean, nullable=False),
    Column("last_failure_signature", Text),
    Column("data", json_type(), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("scope_kind", "scope_id", "reaction"),
    Index(None, "escalate_at"),
)

plugin_store = Table(
    "plugin_store",
    metadata,
    Column("namespace", String(100), nullable=False),
    Column("key", String(255), nullable=False),
    Column("value", json_type(), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("namespace", "key"),
)

spawn_queue = Table(
    "spawn_queue",
    metadata,
    Column("id", _seq(), primary_key=True, autoincrement=True),
    _id("project_id", ForeignKey("projects.id"), nullable=False),
    Column("issue_id", String(255), nullable=False),
    Column("issue_ref", Text, nullable=False),
    Column("blockers", json_type(), nullable=False),
    Column("request", json_type(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    _id("session_id"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index(None, "status", "id"),
    Index(None, "project_id", "status"),
    sqlite_autoincrement=True,
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("provider", String(16), nullable=False),
    Column("delivery_id", String(100), nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("provider", "delivery_id"),
    Index(None, "received_at"),
)
