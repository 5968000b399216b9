"""Throw-away PostgreSQL databases on the real server named by ``ENNIO_TEST_PG_URL``."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def admin_url() -> str:
    return os.environ.get("ENNIO_TEST_PG_URL") or DEFAULT_ADMIN_URL


def url_for(database: str) -> str:
    """``admin_url()`` with its database name replaced."""
    base, _, _ = admin_url().rpartition("/")
    return f"{base}/{database}"


@asynccontextmanager
async def fresh_database(prefix: str = "ennio_test") -> AsyncIterator[str]:
    """Create an empty database for one test, yield its URL, drop it afterwards."""
    import asyncpg

    name = f"{prefix}_{secrets.token_hex(6)}"
    admin = admin_url()
    try:
        conn = await asyncpg.connect(admin)
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(
            f"PostgreSQL tests need a server at {admin} (set ENNIO_TEST_PG_URL, or deselect with -m 'not postgres'): {exc}"
        ) from exc
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield url_for(name)
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
