"""Opening the database: resolve the URL, check it is reachable and writable, bring the schema up to date."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncEngine

from ennio.core.clock import Clock, SystemClock
from ennio.core.errors import StorageError
from ennio.db.engine import Access, make_engine
from ennio.db.migrate import ensure_schema
from ennio.db.repos.deliveries import DeliveryRepository
from ennio.db.repos.events import EventRepository
from ennio.db.repos.projects import ProjectRepository
from ennio.db.repos.reactions import ReactionRepository
from ennio.db.repos.sessions import SessionRepository
from ennio.db.repos.spawn_queue import SpawnQueueRepository
from ennio.db.repos.store import PluginStoreRepository
from ennio.db.urls import DatabaseUrl, resolve_url


class Database:
    """The open database and its repositories. Close it (or use ``async with``) when done."""

    def __init__(self, engine: AsyncEngine, url: DatabaseUrl, clock: Clock) -> None:
        self.engine = engine
        self.url = url
        self.clock = clock
        access = Access(engine, url)
        self.projects = ProjectRepository(access, clock)
        self.sessions = SessionRepository(access, clock)
        self.events = EventRepository(access, clock)
        self.reactions = ReactionRepository(access, clock)
        self.store = PluginStoreRepository(access, clock)
        self.queue = SpawnQueueRepository(access, clock)
        self.deliveries = DeliveryRepository(access, clock)

    @property
    def dialect(self) -> str:
        return self.url.dialect

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or ``None`` for PostgreSQL."""
        return self.url.sqlite_path

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def open_database(
    url: str | None, data_dir: Path, *, migrate: bool = True, clock: Clock | None = None
) -> Database:
    """Open ``url`` (PostgreSQL), or the SQLite file ``data_dir/ennio.db`` when ``url`` is empty.

    Applies pending migrations unless ``migrate`` is false (then an outdated schema is an error).
    Raises :class:`StorageError` with what to do when the database cannot be used.
    """
    db_url = resolve_url(url, data_dir)
    if db_url.sqlite_path is not None:
        _check_sqlite_file(db_url.sqlite_path)
    engine = make_engine(db_url)
    try:
        await ensure_schema(engine, db_url, migrate=migrate)
    except BaseException:
        await engine.dispose()
        raise
    return Database(engine, db_url, clock or SystemClock())


def _check_sqlite_file(path: Path) -> None:
    """Fail early, in one line, when the SQLite file or its directory cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"cannot create the data directory {path.parent}: {exc.strerror or exc}",
            hint="make it writable, or set data_dir (or ENNIO_DATA_DIR) to a directory you own",
        ) from exc
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise StorageError(
            f"the database file {path} is not readable and writable by this user",
            hint=f"fix its permissions (chmod u+rw {path}) or set data_dir to another directory",
        )
    # SQLite writes its -wal and -shm files (and new databases) next to the file
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StorageError(
            f"the data directory {path.parent} is not writable by this user",
            hint="make it writable, or set data_dir (or ENNIO_DATA_DIR) to a directory you own",
        )
