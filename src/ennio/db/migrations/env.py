"""Alembic environment: runs on the connection ``ennio.db.migrate`` hands over, inside its transaction."""

from __future__ import annotations

from alembic import context

from ennio.db.revision import VERSION_TABLE
from ennio.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Ennio's migrations run when the database is opened (ennio.db.open_database), not via alembic")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite can alter tables only by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
