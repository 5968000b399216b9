"""Persistence: SQLite (default) or PostgreSQL through SQLAlchemy, migrations applied on open.

Importing this package is cheap; SQLAlchemy is imported only when :func:`open_database` is first
used. :mod:`ennio.db.fastread` reads a SQLite file with the stdlib alone, for fast CLI start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ennio.db.records import ProjectRecord, ReactionState, Scope, StoredEvent

if TYPE_CHECKING:
    from ennio.db.database import Database, open_database

__all__ = ["Database", "ProjectRecord", "ReactionState", "Scope", "StoredEvent", "open_database"]


def __getattr__(name: str) -> Any:
    if name in ("Database", "open_database"):
        from ennio.db import database

        return getattr(database, name)
    raise AttributeError(f"module 'ennio.db' has no attribute {name!r}")
