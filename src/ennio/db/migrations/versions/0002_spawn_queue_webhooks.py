"""Spawn queue (``ennio spawn --when-unblocked``) and recent webhook delivery ids (the replay guard).

Revision ID: 0002_spawn_queue_webhooks
Revises: 0001_initial
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_spawn_queue_webhooks"
down_revision = "0001_initial"
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
        "spawn_queue",
        sa.Column("id", _seq(), autoincrement=True, nullable=False),
        sa.Column("project_id", ID, nullable=False),
        sa.Column("issue_id", sa.String(255), nullable=False),
        sa.Column("issue_ref", sa.Text(), nullable=False),
        sa.Column("blockers", json_type(), nullable=False),
        sa.Column("request", json_type(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("session_id", ID),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name="fk_spawn_queue_project_id_projects"),
        sa.PrimaryKeyConstraint("id", name="pk_spawn_queue"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_spawn_queue_status_id", "spawn_queue", ["status", "id"])
    op.create_index("ix_spawn_queue_project_id_status", "spawn_queue", ["project_id", "status"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(100), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "delivery_id", name="pk_webhook_deliveries"),
    )
    op.create_index("ix_webhook_deliveries_received_at", "webhook_deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("spawn_queue")
