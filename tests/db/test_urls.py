from __future__ import annotations

from pathlib import Path

import pytest

from ennio.core.errors import StorageError
from ennio.core.redaction import redact
from ennio.db.urls import resolve_url


def test_default_is_the_sqlite_file_in_the_data_dir(tmp_path: Path) -> None:
    url = resolve_url(None, tmp_path)
    assert (url.dialect, url.sqlite_path) == ("sqlite", tmp_path / "ennio.db")
    assert url.url == f"sqlite+aiosqlite:///{tmp_path}/ennio.db"
    assert resolve_url("", tmp_path) == url


@pytest.mark.parametrize(
    "given",
    [
        "postgresql://u:p@db:5432/ennio",
        "postgres://u:p@db:5432/ennio",
        "postgresql+asyncpg://u:p@db:5432/ennio",
        "postgresql+psycopg://u:p@db:5432/ennio",
        "PostgreSQL://u:p@db:5432/ennio",
    ],
)
def test_postgres_urls_use_asyncpg(given: str) -> None:
    url = resolve_url(given, Path("/unused"))
    assert url.url == "postgresql+asyncpg://u:p@db:5432/ennio"
    assert (url.dialect, url.sqlite_path) == ("postgresql", None)
    assert url.display == "postgresql+asyncpg://u:***@db:5432/ennio"


def test_sqlite_urls(tmp_path: Path) -> None:
    assert resolve_url(f"sqlite:///{tmp_path}/a.db", Path("/x")).sqlite_path == tmp_path / "a.db"
    assert resolve_url(f"sqlite+aiosqlite:///{tmp_path}/a.db?x=1", Path("/x")).sqlite_path == tmp_path / "a.db"
    relative = resolve_url("sqlite:///rel/a.db", Path("/x")).sqlite_path
    assert relative is not None and relative.is_absolute() and relative.parts[-2:] == ("rel", "a.db")


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h/db", "postgresql://h/db"),
        ("postgresql://u:p@ss:w@rd@h/db", "postgresql://u:***@h/db"),
    ],
)
def test_redact(url: str, redacted: str) -> None:
    assert redact(url) == redacted


def test_error_messages_never_show_the_password() -> None:
    with pytest.raises(StorageError) as info:
        resolve_url("oracle://scott:tiger@h/db", Path("/x"))
    assert "tiger" not in str(info.value)
