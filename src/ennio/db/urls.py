"""Database URLs: the default SQLite file, and PostgreSQL URLs normalised to the asyncpg driver.

Stdlib only, so :mod:`ennio.db.fastread` can use it without importing SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ennio.core.errors import StorageError
from ennio.core.redaction import redact

Dialect = Literal["sqlite", "postgresql"]

_SQLITE_SCHEMES = ("sqlite", "sqlite+aiosqlite", "sqlite+pysqlite")
_PG_SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg", "postgresql+psycopg2")


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """Where the database is: the SQLAlchemy URL to connect with and, for SQLite, the file."""

    url: str
    dialect: Dialect
    sqlite_path: Path | None = None

    @property
    def display(self) -> str:
        """The URL with any password replaced by ``***`` (safe to print and log)."""
        return redact(self.url)


def resolve_url(url: str | None, data_dir: Path) -> DatabaseUrl:
    """The database to use: ``url`` if given, else ``data_dir/ennio.db``."""
    if not url:
        path = data_dir / "ennio.db"
        return DatabaseUrl(f"sqlite+aiosqlite:///{path}", "sqlite", path)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep:
        raise StorageError(
            f"database_url {redact(url)!r} is not a URL",
            hint="use postgresql://user:password@host:5432/dbname or sqlite:////absolute/path/ennio.db",
        )
    if scheme in _SQLITE_SCHEMES:
        if not rest.startswith("/"):
            raise StorageError(
                f"database_url {url!r} has a host part; SQLite URLs have three slashes",
                hint="write sqlite:///relative/path.db or sqlite:////absolute/path.db",
            )
        raw_path = rest[1:].split("?", 1)[0]
        if not raw_path or raw_path == ":memory:":
            raise StorageError(
                "database_url names an in-memory SQLite database, which would lose everything on exit",
                hint="give a file: sqlite:////absolute/path/ennio.db, or leave database_url unset",
            )
        path = Path(raw_path).expanduser().absolute()
        return DatabaseUrl(f"sqlite+aiosqlite:///{path}", "sqlite", path)
    if scheme in _PG_SCHEMES:
        return DatabaseUrl(f"postgresql+asyncpg://{rest}", "postgresql")
    raise StorageError(
        f"database_url scheme {scheme!r} is not supported",
        hint="use postgresql://… for PostgreSQL, or leave database_url unset for the default SQLite file",
    )
