from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ennio.core.errors import StorageError
from ennio.db import Database, open_database
from tests.helpers.postgres import url_for


async def test_default_is_a_sqlite_file_in_the_data_dir_in_wal_mode(data_dir: Path) -> None:
    async with await open_database(None, data_dir) as db:
        assert db.dialect == "sqlite"
        assert db.sqlite_path == data_dir / "ennio.db"
        async with db.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() >= 1000
    assert (data_dir / "ennio.db").is_file()


async def test_missing_data_dir_is_created(tmp_path: Path) -> None:
    async with await open_database(None, tmp_path / "a" / "b") as db:
        assert db.sqlite_path == tmp_path / "a" / "b" / "ennio.db"
    assert (tmp_path / "a" / "b" / "ennio.db").is_file()


async def test_sqlite_url_and_postgres_url_forms(tmp_path: Path) -> None:
    async with await open_database(f"sqlite:///{tmp_path}/x.db", tmp_path / "unused") as db:
        assert db.sqlite_path == tmp_path / "x.db"
    assert not (tmp_path / "unused").exists()


async def test_foreign_keys_are_enforced(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    from ennio.db.schema import session_status_history

    with pytest.raises(IntegrityError):
        async with db.engine.begin() as conn:
            await conn.execute(
                session_status_history.insert().values(
                    session_id="ghost-1", to_status="working", reason="", at=db.clock.now()
                )
            )


async def test_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError) as info:
        await open_database(None, blocker / "data")
    assert "cannot create the data directory" in info.value.message
    assert info.value.hint and "data_dir" in info.value.hint


async def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "ennio.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError) as info:
        await open_database(None, tmp_path)
    assert str(tmp_path / "ennio.db") in info.value.message
    assert "\n" not in info.value.message


_OPEN_AND_REPORT = """
import asyncio, sys
from pathlib import Path
from ennio.core.errors import StorageError
from ennio.db import open_database

async def main() -> None:
    try:
        await open_database(None, Path(sys.argv[1]))
    except StorageError as exc:
        print(exc.message)
        return
    print("OPENED")

asyncio.run(main())
"""


async def test_read_only_database_file() -> None:
    """A database file Ennio may read but not write is refused clearly (as an unprivileged user)."""
    folder = Path(tempfile.mkdtemp(prefix="ennio-ro-"))
    try:
        async with await open_database(None, folder):
            pass
        folder.chmod(0o755)
        (folder / "ennio.db").chmod(0o444)
        # root can write a read-only file, so the check runs as an ordinary user (nobody) when we are root
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
        result = subprocess.run(
            [*prefix, sys.executable, "-c", _OPEN_AND_REPORT, str(folder)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "HOME": str(folder)},
        )
        assert "not readable and writable" in result.stdout, result.stdout + result.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def test_unreachable_postgres_is_one_clear_line_without_the_password(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        await open_database("postgresql://ennio:s3cret@127.0.0.1:1/ennio", tmp_path)
    error = info.value
    assert error.message.startswith("cannot reach the database at postgresql+asyncpg://ennio:***@127.0.0.1:1/ennio")
    assert "s3cret" not in error.message + (error.hint or "")
    assert "\n" not in error.message
    assert error.hint and "PostgreSQL is running" in error.hint


@pytest.mark.postgres
async def test_missing_postgres_database(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as info:
        await open_database(url_for("ennio_no_such_database_here"), tmp_path)
    assert "does not exist" in info.value.message
    assert info.value.hint and "createdb" in info.value.hint


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("mysql://root@localhost/ennio", "not supported"),
        ("ennio.db", "not a URL"),
        ("sqlite:///:memory:", "in-memory"),
        ("sqlite://host/x.db", "three slashes"),
    ],
)
async def test_bad_urls(tmp_path: Path, url: str, fragment: str) -> None:
    with pytest.raises(StorageError, match=fragment):
        await open_database(url, tmp_path)
