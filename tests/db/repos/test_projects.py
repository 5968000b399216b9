from __future__ import annotations

import pytest

from ennio.core.clock import ManualClock
from ennio.core.errors import InvalidId, NotFound
from ennio.db import Database


async def test_ensure_creates_once_and_renames(db: Database, clock: ManualClock) -> None:
    created = await db.projects.ensure("app", "My App")
    assert (created.id, created.name, created.next_session_number) == ("app", "My App", 1)
    assert created.created_at == clock.now()
    clock.advance(10)
    again = await db.projects.ensure("app", "My App")
    assert again == created
    renamed = await db.projects.ensure("app", "Renamed")
    assert renamed.name == "Renamed"
    assert renamed.created_at == created.created_at
    assert renamed.updated_at == clock.now()


async def test_ensure_keeps_the_session_counter(db: Database) -> None:
    await db.sessions.allocate_id("app", "app")
    assert (await db.projects.ensure("app", "App")).next_session_number == 2


async def test_get_find_list(db: Database) -> None:
    await db.projects.ensure("web")
    await db.projects.ensure("app")
    assert [p.id for p in await db.projects.list()] == ["app", "web"]
    assert (await db.projects.get("web")).name == "web"
    assert await db.projects.find("nope") is None
    with pytest.raises(NotFound):
        await db.projects.get("nope")


async def test_ensure_validates_the_id(db: Database) -> None:
    with pytest.raises(InvalidId):
        await db.projects.ensure("../etc", "x")
    assert await db.projects.list() == []
