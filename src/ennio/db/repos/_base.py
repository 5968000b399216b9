"""What every repository shares: the connections, the clock, dialect-specific INSERT."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ennio.core.clock import Clock
from ennio.db.engine import Access


class Repository:
    def __init__(self, access: Access, clock: Clock) -> None:
        self._access = access
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock.now()


def upsert_insert(conn: AsyncConnection, table: Table) -> Any:
    """``INSERT`` with ``ON CONFLICT`` support for the connection's dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
