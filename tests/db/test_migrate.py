from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from ennio.core.errors import StorageError
from ennio.db import Database, open_database
from ennio.db.migrate import script_head, stored_revision
from ennio.db.revision import HEAD_REVISION
from ennio.db.schema import metadata
from tests.helpers.processes import REPO_ROOT, run_released_together


def test_head_revision_constant_matches_the_migrations() -> None:
    assert script_head() == HEAD_REVISION


def _schema_diff(conn: Connection) -> list[object]:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_empty_database_is_migrated_to_exactly_the_declared_schema(db: Database) -> None:
    async with db.engine.connect() as conn:
        assert await stored_revision(conn) == HEAD_REVISION
        assert await conn.run_sync(_schema_diff) == []


async def test_reopening_at_head_keeps_data_and_revision(db: Database, reopen) -> None:  # type: ignore[no-untyped-def]
    await db.projects.ensure("app", "App")
    await db.close()
    again = await reopen()
    try:
        assert (await again.projects.get("app")).name == "App"
        async with again.engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
    finally:
        await again.close()


async def test_a_schema_from_a_newer_version_is_refused(db: Database, reopen) -> None:  # type: ignore[no-untyped-def]
    async with db.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    await db.close()
    with pytest.raises(StorageError) as info:
        await reopen()
    assert "newer Ennio" in info.value.message
    assert info.value.hint and "upgrade Ennio" in info.value.hint


async def test_without_migrate_an_empty_database_is_an_error_and_stays_empty(
    db_url: str | None, data_dir: Path
) -> None:
    with pytest.raises(StorageError, match=r"schema is at revision \(empty\)"):
        await open_database(db_url, data_dir, migrate=False)
    db = await open_database(db_url, data_dir)  # migrating now works from scratch
    async with db.engine.connect() as conn:
        assert await stored_revision(conn) == HEAD_REVISION
    await db.close()


async def test_opening_at_head_never_imports_alembic(db: Database, db_url: str | None, data_dir: Path) -> None:
    code = (
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from ennio.db import open_database\n"
        "async def main():\n"
        f"    db = await open_database({db_url!r}, Path({str(data_dir)!r}))\n"
        "    await db.sessions.list()\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
async def test_several_processes_opening_an_empty_database_migrate_it_once(db_url: str | None, data_dir: Path) -> None:
    results = await run_released_together("tests.helpers.db_worker", [[db_url or "", str(data_dir), "open"]] * 4)
    assert results == ["opened"] * 4
    db = await open_database(db_url, data_dir, migrate=False)
    try:
        async with db.engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            assert await conn.run_sync(_schema_diff) == []
    finally:
        await db.close()
