"""The append-only event log."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence

from sqlalchemy import func, select, text

from ennio.core.events import Event, EventType, Priority
from ennio.db.codec import (
    EVENT_COLUMNS,
    check_limit,
    event_from_values,
    event_to_sqlite_row,
    event_to_values,
    priorities_at_least,
)
from ennio.db.records import StoredEvent
from ennio.db.repos._base import Repository, upsert_insert
from ennio.db.schema import events

_COLUMNS = [events.c[name] for name in EVENT_COLUMNS]
#: pg_advisory_xact_lock key serialising event log appends ("ennio-log" in ASCII, truncated to 63 bits).
_PG_LOG_LOCK = 0x656E6E696F2D6C6F
_SQLITE_INSERT = (
    "INSERT OR IGNORE INTO events (event_id, type, priority, project_id, session_id, occurred_at, message, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class EventRepository(Repository):
    async def append_many(self, batch: Sequence[Event]) -> None:
        """Append events in order, in one transaction. An event whose id is already stored is skipped,
        so retrying a batch after an uncertain commit never duplicates."""
        if not batch:
            return
        if self._access.dialect == "sqlite":
            # The log's hot path: encode rows directly and skip SQLAlchemy's per-value processing.
            # Produces exactly what the Core insert below would store (the fastread test checks it).
            tuples = [event_to_sqlite_row(event) for event in batch]
            async with self._access.write() as conn:
                await conn.exec_driver_sql(_SQLITE_INSERT, tuples)
            return
        rows = [event_to_values(event) for event in batch]
        async with self._access.write() as conn:
            # One log writer at a time (held until commit), so seq order is commit order and a
            # reader following the log with after_seq never skips a batch committed late.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOG_LOCK})
            stmt = upsert_insert(conn, events).on_conflict_do_nothing(index_elements=["event_id"])
            await conn.execute(stmt, rows)

    async def append(self, event: Event) -> None:
        await self.append_many([event])

    async def query(
        self,
        *,
        session_id: str | None = None,
        project_id: str | None = None,
        types: Iterable[EventType | str] | None = None,
        min_priority: Priority | str | None = None,
        after_seq: int | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> builtins.list[StoredEvent]:
        """Events matching every filter given, by ``seq``: the first ``limit`` after ``after_seq``, or
        with ``newest_first`` the latest ``limit`` (newest first)."""
        check_limit(limit)
        query = select(*_COLUMNS)
        if session_id is not None:
            query = query.where(events.c.session_id == session_id)
        if project_id is not None:
            query = query.where(events.c.project_id == project_id)
        if types is not None:
            query = query.where(events.c.type.in_([EventType(t).value for t in types]))
        if min_priority is not None and Priority(min_priority) is not Priority.INFO:
            query = query.where(events.c.priority.in_(priorities_at_least(Priority(min_priority))))
        if after_seq is not None:
            query = query.where(events.c.seq > after_seq)
        query = query.order_by(events.c.seq.desc() if newest_first else events.c.seq).limit(limit)
        async with self._access.read() as conn:
            rows = (await conn.execute(query)).all()
        stored = (event_from_values(*row) for row in rows)
        return [item for item in stored if item is not None]

    async def last_seq(self) -> int:
        """The newest ``seq`` in the log (0 when empty): follow the log from here."""
        async with self._access.read() as conn:
            value = await conn.scalar(select(func.max(events.c.seq)))
        return int(value or 0)
