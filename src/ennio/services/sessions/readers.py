"""Read-only access to sessions and the event log, for front ends that start, read and exit.

With the default SQLite database this goes through :mod:`ennio.db.fastread` (stdlib ``sqlite3``,
no SQLAlchemy), which keeps ``ennio status`` well under a quarter of a second; with PostgreSQL, or
a schema that needs migrating, it opens the full database. Before the first session there is no
database file at all, and reads simply find nothing (a read never creates the database).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ennio.services.config.loader import StorageSettings
from ennio.services.config.paths import resolve_data_dir

if TYPE_CHECKING:
    import asyncio

    from ennio.core.events import EventType, Priority
    from ennio.core.session import Session, SessionStatus
    from ennio.db import Database, StoredEvent
    from ennio.db.fastread import FastReader
    from ennio.db.records import QueuedSpawn


class Reader:
    """Sessions and events, from whichever database the settings name. Use as a context manager."""

    def __init__(self, settings: StorageSettings) -> None:
        self.settings = settings
        self.data_dir: Path = resolve_data_dir(settings.data_dir)
        self._fast: FastReader | None = None
        self._runner: asyncio.Runner | None = None
        self._db: Database | None = None
        self._empty = False
        self._open()

    def _open(self) -> None:
        from ennio.db.fastread import FastReader
        from ennio.db.urls import resolve_url

        url = resolve_url(self.settings.database_url, self.data_dir)
        if url.sqlite_path is not None and not url.sqlite_path.exists():
            self._empty = True  # nothing has been recorded yet
            return
        self._fast = FastReader.open(self.settings.database_url, self.data_dir)
        if self._fast is None:
            import asyncio

            from ennio.db import open_database

            self._runner = asyncio.Runner()
            self._db = self._runner.run(open_database(self.settings.database_url, self.data_dir))

    def close(self) -> None:
        if self._fast is not None:
            self._fast.close()
        if self._runner is not None:
            if self._db is not None:
                self._runner.run(self._db.close())
            self._runner.close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def sessions(
        self, project_id: str | None = None, statuses: Iterable[SessionStatus | str] | None = None
    ) -> list[Session]:
        """Sessions, oldest first (same as ``Database.sessions.list``)."""
        if self._empty:
            return []
        if self._fast is not None:
            return self._fast.list_sessions(project_id=project_id, statuses=statuses)
        assert self._runner is not None and self._db is not None
        return self._runner.run(self._db.sessions.list(project_id=project_id, statuses=statuses))

    def queued(self, project_id: str | None = None, *, open_only: bool = True) -> list[QueuedSpawn]:
        """Queued spawns, oldest first (only waiting and spawning ones with ``open_only``)."""
        if self._empty:
            return []
        from ennio.db.records import OPEN_QUEUE_STATUSES

        statuses = OPEN_QUEUE_STATUSES if open_only else None
        if self._fast is not None:
            return self._fast.list_queue(project_id=project_id, statuses=statuses)
        assert self._runner is not None and self._db is not None
        return self._runner.run(self._db.queue.list(project_id=project_id, statuses=statuses))

    def events(
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
        """Events by ``seq`` (same as ``Database.events.query``)."""
        if self._empty:
            self._reopen_if_created()
            if self._empty:
                return []
        filters: dict[str, Any] = {
            "session_id": session_id,
            "project_id": project_id,
            "types": types,
            "min_priority": min_priority,
            "after_seq": after_seq,
            "limit": limit,
            "newest_first": newest_first,
        }
        if self._fast is not None:
            return self._fast.query_events(**filters)
        assert self._runner is not None and self._db is not None
        return self._runner.run(self._db.events.query(**filters))

    def last_seq(self) -> int:
        """The newest ``seq`` in the log (0 when empty): follow from here."""
        if self._empty:
            return 0
        if self._fast is not None:
            return self._fast.last_seq()
        assert self._runner is not None and self._db is not None
        return self._runner.run(self._db.events.last_seq())

    def _reopen_if_created(self) -> None:
        """A follower started before the first event: look again for the database."""
        self._empty = False
        self._open()

    def follow(
        self,
        *,
        after_seq: int,
        poll_interval: float = 0.5,
        batch: int = 500,
        **filters: Any,
    ) -> Iterator[StoredEvent]:
        """Events after ``after_seq`` as they are appended, forever (the caller stops on Ctrl-C).

        Polls the log: it works across processes and machines (PostgreSQL) with nothing running
        but the database.
        """
        while True:
            found = self.events(after_seq=after_seq, limit=batch, **filters)
            for stored in found:
                after_seq = stored.seq
                yield stored
            if len(found) < batch:
                time.sleep(poll_interval)
