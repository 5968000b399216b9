"""The schema revision this code expects, without importing alembic.

``open_database`` compares the revision stored in the database with :data:`HEAD_REVISION` and
imports alembic only when they differ, which keeps the CLI's cold start fast. A test checks that
this constant equals the head of ``ennio/db/migrations/versions``; bump it with every migration.
"""

from __future__ import annotations

HEAD_REVISION = "0002_spawn_queue_webhooks"

#: Table alembic keeps the applied revision in.
VERSION_TABLE = "alembic_version"
