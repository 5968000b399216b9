"""Bringing the schema to :data:`~ennio.db.revision.HEAD_REVISION` when the database is opened.

The usual case (schema already current) costs one or two small queries and never imports alembic.
Upgrades run in one transaction under a lock (SQLite's write lock, a PostgreSQL advisory lock), so
several processes starting at once upgrade exactly once.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ennio.core.errors import StorageError
from ennio.db.engine import translate_errors, writer_engine
from ennio.db.revision import HEAD_REVISION, VERSION_TABLE
from ennio.db.urls import DatabaseUrl

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: pg_advisory_xact_lock key serialising schema upgrades ("ennio" in ASCII).
_PG_LOCK_KEY = 0x656E6E696F


async def stored_revision(conn: AsyncConnection) -> str | None:
    """The revision recorded in the database, ``None`` for an empty database."""
    if conn.dialect.name == "sqlite":
        exists = await conn.scalar(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": VERSION_TABLE}
        )
    else:
        exists = await conn.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": VERSION_TABLE})
    if not exists:
        return None
    revision: str | None = await conn.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))  # noqa: S608
    return revision


async def ensure_schema(engine: AsyncEngine, db_url: DatabaseUrl, *, migrate: bool) -> None:
    with translate_errors(db_url):
        async with engine.connect() as conn:
            revision = await stored_revision(conn)
        if revision == HEAD_REVISION:
            return
        if not migrate:
            raise StorageError(
                f"the database schema is at revision {revision or '(empty)'}; this Ennio needs {HEAD_REVISION}",
                hint="open it once with migrations on (any `ennio` command that writes, e.g. `ennio start`)",
            )
        async with writer_engine(engine).begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
            await conn.run_sync(_upgrade, db_url)


def _upgrade(conn: Connection, db_url: DatabaseUrl) -> None:
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    scripts = ScriptDirectory.from_config(config)
    # re-read under the lock: another process may have upgraded meanwhile
    current = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    if current == HEAD_REVISION:
        return
    if current is not None and current not in {script.revision for script in scripts.walk_revisions()}:
        raise StorageError(
            f"the database {db_url.sqlite_path or db_url.display} has schema revision {current}, "
            "which this version of Ennio does not know (it was written by a newer Ennio)",
            hint="upgrade Ennio (pip install -U ennio-orchestrator), or point database_url at another database",
        )
    command.upgrade(config, "head")


def script_head() -> str:
    """The newest revision in ``migrations/versions`` (imports alembic; for tests and tools)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head
