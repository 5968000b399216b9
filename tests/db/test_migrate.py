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


def _upgrade_to(conn: Connection, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from ennio.db.migrate import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def test_upgrading_a_database_with_data_from_the_first_revision_keeps_everything(
    db_url: str | None, data_dir: Path
) -> None:
    from ennio.db.engine import make_engine
    from ennio.db.urls import resolve_url

    engine = make_engine(resolve_url(db_url, data_dir))
    rows = {
        "projects": "INSERT INTO projects (id, name, next_session_number, created_at, updated_at) "
        "VALUES ('app', 'App', 3, :t, :t)",
        "sessions": "INSERT INTO sessions (id, project_id, status, agent, runtime, workspace, branch, issue_id, "
        "pr_number, role, metadata, created_at, updated_at) VALUES ('app-2', 'app', 'pr_open', 'codex', 'tmux', "
        "'worktree', 'feat/2-x', '2', 5, 'worker', :meta, :t, :t)",
        "session_status_history": "INSERT INTO session_status_history (session_id, from_status, to_status, reason, at) "
        "VALUES ('app-2', 'working', 'pr_open', 'PR #5 opened', :t)",
        "events": "INSERT INTO events (event_id, type, priority, project_id, session_id, occurred_at, message, data) "
        "VALUES ('0190a1b2c3d4e5f6a7b8c9d0e1f2a3b4', 'pr.created', 'info', 'app', 'app-2', :t, 'PR #5', :meta)",
        "reaction_state": "INSERT INTO reaction_state (scope_kind, scope_id, reaction, attempts, escalated, data, "
        "updated_at) VALUES ('session', 'app-2', 'ci-failed', 2, false, :meta, :t)",
        "plugin_store": "INSERT INTO plugin_store (namespace, key, value, updated_at) VALUES ('scm', 'pr/5', :meta, :t)",
    }
    from datetime import UTC, datetime

    when: object = "2026-01-02 03:04:05.000000" if db_url is None else datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade_to, "0001_initial")
            for sql in rows.values():
                await conn.execute(text(sql), {"t": when, "meta": '{"k": [1, "ü"]}'})
    finally:
        await engine.dispose()

    db = await open_database(db_url, data_dir)
    try:
        async with db.engine.connect() as conn:
            assert await stored_revision(conn) == HEAD_REVISION
            assert await conn.run_sync(_schema_diff) == []
            for table in rows:
                assert await conn.scalar(text(f"SELECT count(*) FROM {table}")) == 1, table
        session = await db.sessions.get("app-2")
        assert (session.status, session.pr_number, session.metadata) == ("pr_open", 5, {"k": [1, "ü"]})
        assert [h.reason for h in await db.sessions.history("app-2")] == ["PR #5 opened"]
        assert (await db.projects.get("app")).next_session_number == 3
        assert [s.event.message for s in await db.events.query()] == ["PR #5"]
        assert await db.store.get("scm", "pr/5") == {"k": [1, "ü"]}
        # and the new tables work
        queued = await db.queue.add("app", issue_id="9", issue_ref="#9", blockers=["2"], request={})
        assert [q.id for q in await db.queue.list()] == [queued.id]
        assert await db.deliveries.record("github", "abc") is True
    finally:
        await db.close()
