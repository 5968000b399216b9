"""Initial schema: projects, sessions, status history, events, reaction state, plugin store.

Revision ID: 0001_initial
Revises:
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# Migrations are snapshots: they spell their types out instead of importing today's schema module.
ID = sa.String(64)


def UTCDateTime() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def json_type() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _seq() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("next_session_number", sa.Integer(), server_default="1", nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("activity", sa.String(32)),
        sa.Column("agent", sa.String(100), nullable=False),
        sa.Column("runtime", sa.String(100), nullable=False),
        sa.Column("workspace", sa.String(100), nullable=False),
        sa.Column("branch", sa.String(255)),
        sa.Column("base_branch", sa.String(255)),
        sa.Column("issue_id", sa.String(255)),
        sa.Column("issue_url", sa.Text()),
        sa.Column("workspace_path", sa.Text()),
        sa.Column("runtime_handle", json_type()),
        sa.Column("pr_number", sa.Integer()),
        sa.Column("pr_url", sa.Text()),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("prompt", sa.Text()),
        sa.Column("metadata", json_type(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("last_activity_at", UTCDateTime()),
        sa.Column("status_reason", sa.Text()),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_sessions_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_project_id_status", "sessions", ["project_id", "status"])
    op.create_index("ix_sessions_status", "sessions", ["status"])
    op.create_table(
        "session_status_history",
        sa.Column("id", _seq(), autoincrement=True, nullable=False),
        sa.Column("session_id", ID, nullable=False),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
            name="fk_session_status_history_session_id_sessions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_session_status_history"),
    )
    op.create_index("ix_session_status_history_session_id_id", "session_status_history", ["session_id", "id"])
    op.create_table(
        "events",
        sa.Column("seq", _seq(), autoincrement=True, nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("project_id", ID),
        sa.Column("session_id", ID),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", json_type(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("event_id", name="uq_events_event_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_session_id_seq", "events", ["session_id", "seq"])
    op.create_index("ix_events_project_id_seq", "events", ["project_id", "seq"])
    op.create_index("ix_events_type_seq", "events", ["type", "seq"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    op.create_table(
        "reaction_state",
        sa.Column("scope_kind", sa.String(16), nullable=False),
        sa.Column("scope_id", ID, nullable=False),
        sa.Column("reaction", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_fired_at", UTCDateTime()),
        sa.Column("last_fired_at", UTCDateTime()),
        sa.Column("escalate_at", UTCDateTime()),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("last_failure_signature", sa.Text()),
        sa.Column("data", json_type(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("scope_kind", "scope_id", "reaction", name="pk_reaction_state"),
    )
    op.create_index("ix_reaction_state_escalate_at", "reaction_state", ["escalate_at"])
    op.create_table(
        "plugin_store",
        sa.Column("namespace", sa.String(100), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", json_type(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("namespace", "key", name="pk_plugin_store"),
    )


def downgrade() -> None:
    for table in ("plugin_store", "reaction_state", "events", "session_status_history", "sessions", "projects"):
        op.drop_table(table)
