from __future__ import annotations

from ennio.core.clock import ManualClock
from ennio.db import Database


async def test_a_delivery_is_new_once_per_provider(db: Database) -> None:
    assert await db.deliveries.record("github", "d-1") is True
    assert await db.deliveries.record("github", "d-1") is False
    assert await db.deliveries.record("linear", "d-1") is True


async def test_old_ids_are_forgotten(db: Database, clock: ManualClock) -> None:
    await db.deliveries.record("github", "old")
    clock.advance(3600)
    await db.deliveries.record("github", "new")
    assert await db.deliveries.forget_before(clock.now()) == 1
    assert await db.deliveries.record("github", "old") is True
    assert await db.deliveries.record("github", "new") is False


async def test_ids_survive_reopening_the_database(db: Database, reopen) -> None:  # type: ignore[no-untyped-def]
    await db.deliveries.record("github", "kept")
    await db.close()
    again = await reopen()
    try:
        assert await again.deliveries.record("github", "kept") is False
    finally:
        await again.close()
