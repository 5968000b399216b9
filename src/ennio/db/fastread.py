"""Read-only access to the SQLite database with the stdlib ``sqlite3`` module, for fast CLI start-up.

``import sqlalchemy`` alone costs more than a CLI command may take to start, so the two hot reads
(``ennio status`` / ``session list``, and ``ennio events``) use this module when the database is the
SQLite file. Each function returns exactly what the matching repository method returns (a test
checks that on the same database). Use :meth:`FastReader.open`; when it returns ``None`` (PostgreSQL,
no database yet, or a schema that needs migrating) go through :func:`ennio.db.open_database`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote

from ennio.core.errors import StorageError
from ennio.core.events import EventType, Priority
from ennio.core.session import Session, SessionStatus
from ennio.db.codec import (
    EVENT_COLUMNS,
    SESSION_COLUMNS,
    SESSION_JSON_COLUMNS,
    SESSION_TIME_COLUMNS,
    check_limit,
    event_from_values,
    from_sqlite_json,
    from_sqlite_time,
    priorities_at_least,
    session_from_values,
)
from ennio.db.records import QueuedSpawn, QueueStatus, StoredEvent, queued_from_values
from ennio.db.revision import HEAD_REVISION, VERSION_TABLE
from ennio.db.urls import resolve_url

# Built from constant column names only; every value goes in as a "?" parameter.
_SESSION_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in SESSION_COLUMNS) + " FROM sessions"  # noqa: S608
_EVENT_SELECT = "SELECT " + ", ".join(EVENT_COLUMNS) + " FROM events"  # noqa: S608
_QUEUE_COLUMNS = (
    "id",
    "project_id",
    "issue_id",
    "issue_ref",
    "blockers",
    "request",
    "status",
    "reason",
    "session_id",
    "created_at",
    "updated_at",
)
_QUEUE_SELECT = "SELECT " + ", ".join(_QUEUE_COLUMNS) + " FROM spawn_queue"  # noqa: S608
_JSON_INDEXES = [i for i, c in enumerate(SESSION_COLUMNS) if c in SESSION_JSON_COLUMNS]
_TIME_INDEXES = [i for i, c in enumerate(SESSION_COLUMNS) if c in SESSION_TIME_COLUMNS]


class FastReader:
    """A read-only connection to the SQLite database file."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._conn = connection

    @classmethod
    def open(cls, url: str | None, data_dir: Path) -> FastReader | None:
        """A reader for the SQLite database at ``url`` (default ``data_dir/ennio.db``), or ``None`` when
        this fast path does not apply: PostgreSQL, no database file yet, or a schema not at head."""
        db_url = resolve_url(url, data_dir)
        path = db_url.sqlite_path
        if path is None or not path.is_file():
            return None
        try:
            conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=5.0)
        except sqlite3.Error:
            return None
        try:
            revision = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()  # noqa: S608
        except sqlite3.Error:
            revision = None
        if revision is None or revision[0] != HEAD_REVISION:
            conn.close()
            return None
        return cls(path, conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> FastReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def list_sessions(
        self, project_id: str | None = None, statuses: Iterable[SessionStatus | str] | None = None
    ) -> list[Session]:
        """Same as ``Database.sessions.list``."""
        where = _Where()
        where.equal("project_id", project_id)
        where.among("status", None if statuses is None else [SessionStatus(s).value for s in statuses])
        rows = self._fetch(_SESSION_SELECT + where.sql() + " ORDER BY created_at, id", where.params)
        result = []
        for row in rows:
            values_row = list(row)
            for i in _JSON_INDEXES:
                values_row[i] = from_sqlite_json(values_row[i])
            for i in _TIME_INDEXES:
                values_row[i] = from_sqlite_time(values_row[i])
            result.append(session_from_values(dict(zip(SESSION_COLUMNS, values_row, strict=True))))
        return result

    def query_events(
        self,
        *,
        session_id: str | None = None,
        project_id: str | None = None,
        types: Iterable[EventType | str] | None = None,
        min_priority: Priority | str | None = None,
        after_seq: int | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[StoredEvent]:
        """Same as ``Database.events.query``."""
        check_limit(limit)
        where = _Where()
        where.equal("session_id", session_id)
        where.equal("project_id", project_id)
        where.among("type", None if types is None else [EventType(t).value for t in types])
        if min_priority is not None and Priority(min_priority) is not Priority.INFO:
            where.among("priority", priorities_at_least(Priority(min_priority)))
        if after_seq is not None:
            where.add("seq > ?", after_seq)
        sql = _EVENT_SELECT + where.sql() + (" ORDER BY seq DESC" if newest_first else " ORDER BY seq") + " LIMIT ?"
        params = [*where.params, limit]
        result = []
        for seq, event_id, type_, priority, project, session, occurred_at, message, data in self._fetch(sql, params):
            stored = event_from_values(
                seq,
                event_id,
                type_,
                priority,
                project,
                session,
                from_sqlite_time(occurred_at),  # type: ignore[arg-type]  # a NOT NULL column
                message,
                from_sqlite_json(data),
            )
            if stored is not None:
                result.append(stored)
        return result

    def list_queue(
        self, project_id: str | None = None, statuses: Iterable[QueueStatus | str] | None = None
    ) -> list[QueuedSpawn]:
        """Same as ``Database.queue.list``."""
        where = _Where()
        where.equal("project_id", project_id)
        where.among("status", None if statuses is None else [QueueStatus(s).value for s in statuses])
        result = []
        for row in self._fetch(_QUEUE_SELECT + where.sql() + " ORDER BY id", where.params):
            values_row = dict(zip(_QUEUE_COLUMNS, row, strict=True))
            for name in ("blockers", "request"):
                values_row[name] = from_sqlite_json(values_row[name])
            for name in ("created_at", "updated_at"):
                values_row[name] = from_sqlite_time(values_row[name])
            result.append(queued_from_values(values_row))
        return result

    def last_seq(self) -> int:
        """Same as ``Database.events.last_seq``."""
        row = self._fetch("SELECT max(seq) FROM events", [])[0]
        return int(row[0] or 0)

    def _fetch(self, sql: str, params: list[object]) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot read the database {self.path}: {exc}",
                hint="check the file; `ennio doctor` tests the database",
            ) from exc


class _Where:
    """A WHERE clause built filter by filter, with its parameters in order."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[object] = []

    def add(self, clause: str, *params: object) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def equal(self, column: str, value: str | None) -> None:
        """``column = value``, unless ``value`` is None (no filter)."""
        if value is not None:
            self.add(f"{column} = ?", value)

    def among(self, column: str, values: list[str] | None) -> None:
        """``column IN (values)`` (nothing matches an empty list), unless ``values`` is None (no filter)."""
        if values is not None:
            self.add(f"{column} IN ({', '.join('?' * len(values))})" if values else "0", *values)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""
