"""The SQLAlchemy engine: SQLite pragmas and locking, PostgreSQL via asyncpg, and database errors
turned into :class:`~ennio.core.errors.StorageError` with a line a person can act on."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from ennio.core.errors import EnnioError, StorageError
from ennio.db.codec import dumps_json
from ennio.db.urls import DatabaseUrl

#: How long a SQLite writer waits for another process's write lock before giving up (seconds).
SQLITE_BUSY_TIMEOUT = 30.0
#: Execution option naming the SQLite BEGIN mode of a transaction.
_BEGIN_OPTION = "ennio_sqlite_begin"


def make_engine(db_url: DatabaseUrl) -> AsyncEngine:
    if db_url.dialect == "sqlite":
        engine = create_async_engine(
            db_url.url,
            json_serializer=dumps_json,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT},
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        db_url.url,
        json_serializer=dumps_json,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=5,
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL (readers never block the writer), foreign keys, a busy timeout, and BEGIN under our control.

    Python's sqlite3 module starts transactions lazily and only before DML, which breaks
    SELECT-then-UPDATE atomicity; so its transaction handling is switched off and SQLAlchemy's
    ``begin`` emits ``BEGIN`` — ``BEGIN IMMEDIATE`` for write transactions, so two processes
    never both read and then fail to upgrade to the write lock (SQLITE_BUSY without waiting).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable across application crashes in WAL mode; only an OS crash or power
            # loss may lose the last transactions, never corrupt the file.
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def writer_engine(engine: AsyncEngine) -> AsyncEngine:
    """The same engine, but its transactions take SQLite's write lock up front."""
    return engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})


class Access:
    """Connections for the repositories: ``read()`` and ``write()`` transactions, errors translated."""

    def __init__(self, engine: AsyncEngine, db_url: DatabaseUrl) -> None:
        self.engine = engine
        self.db_url = db_url
        self.dialect = db_url.dialect
        self._writer = writer_engine(engine)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        with translate_errors(self.db_url):
            async with self.engine.connect() as conn:
                yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed on success and rolled back on any error."""
        with translate_errors(self.db_url):
            async with self._writer.begin() as conn:
                yield conn


@contextmanager
def translate_errors(db_url: DatabaseUrl) -> Iterator[None]:
    try:
        yield
    except EnnioError:
        raise
    except IntegrityError as exc:
        raise StorageError(
            f"the database refused a write: {_first_line(exc.orig)}",
            hint="this is a bug in Ennio or a concurrent change; retry, and report it if it persists",
        ) from exc
    except (SQLAlchemyError, OSError, sqlite3.Error) as exc:
        raise storage_error(exc, db_url) from exc


def storage_error(exc: BaseException, db_url: DatabaseUrl) -> StorageError:
    """One clear line for a database failure, with what to do."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    detail = _first_line(orig)
    where = str(db_url.sqlite_path) if db_url.sqlite_path else db_url.display
    lowered = detail.lower()
    if db_url.dialect == "sqlite":
        if "locked" in lowered or "busy" in lowered:
            return StorageError(
                f"the database {where} stayed locked by another process for more than {SQLITE_BUSY_TIMEOUT:.0f} s",
                hint="another Ennio process is holding a long write; retry, or stop stray `ennio` processes",
            )
        if "readonly" in lowered or "read-only" in lowered:
            return StorageError(
                f"the database {where} is read-only",
                hint="make the file and its directory writable by this user, or set database_url",
            )
        if "unable to open" in lowered:
            return StorageError(
                f"cannot open the database {where}",
                hint="check that the directory exists and is writable, or set data_dir / database_url",
            )
        return StorageError(f"database {where}: {detail}", hint="check the file and the disk it lives on")
    if isinstance(orig, OSError) or "connect" in lowered or "refused" in lowered:
        return StorageError(
            f"cannot reach the database at {where}: {detail}",
            hint="check that PostgreSQL is running and database_url (host, port, user, database) is right",
        )
    if "does not exist" in lowered and "database" in lowered:
        return StorageError(
            f"the database at {where} does not exist: {detail}",
            hint="create it (createdb …) or correct the database name in database_url",
        )
    if "password" in lowered or "authentication" in lowered:
        return StorageError(
            f"the database at {where} refused the login: {detail}",
            hint="check the user and password in database_url",
        )
    return StorageError(f"database {where}: {detail}", hint="check the database server's log")


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "").strip()
    if not text:
        text = type(exc).__name__
    return text.splitlines()[0]
