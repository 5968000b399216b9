"""Database fixtures: the same test on a fresh SQLite file and on a fresh PostgreSQL database.

Import the fixtures into a package's ``conftest.py`` to use them there.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from ennio.core.clock import ManualClock
from ennio.db import Database, open_database
from tests.helpers.postgres import fresh_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """``None`` (the default SQLite file in the test's data dir) or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
    else:
        async with fresh_database() as url:
            yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def db(db_url: str | None, data_dir: Path, clock: ManualClock) -> AsyncIterator[Database]:
    database = await open_database(db_url, data_dir, clock=clock)
    yield database
    await database.close()


@pytest.fixture
def reopen(db_url: str | None, data_dir: Path, clock: ManualClock) -> Callable[[], Coroutine[Any, Any, Database]]:
    """Open the same database again (a second process would do the same)."""

    async def factory() -> Database:
        return await open_database(db_url, data_dir, clock=clock)

    return factory
