from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text

from ennio.core.events import Event, EventFilter, EventType
from ennio.db import Database
from ennio.services.events.event_bus import EventBus
from ennio.services.events.event_log import EventLogWriter, EventService
from tests.helpers.wait import async_wait_for


def make_events(n: int, start: int = 0) -> list[Event]:
    types = [EventType.STATUS_CHANGED, EventType.CI_FAILING, EventType.PR_CREATED]
    return [
        Event.of(types[i % 3], f"e{i}", project_id="app", session_id=f"app-{i % 4}", data={"i": i})
        for i in range(start, start + n)
    ]


async def logged(db: Database) -> list[Event]:
    return [s.event for s in await db.events.query(limit=100_000)]


@asynccontextmanager
async def events_table_gone(db: Database) -> AsyncIterator[None]:
    """Make every write to the log fail for real (the table is renamed away), then put it back."""
    async with db.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    try:
        yield
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text("ALTER TABLE events_away RENAME TO events"))


async def test_everything_published_is_logged_in_order(db: Database) -> None:
    async with EventService(db.events, batch_size=100) as service:
        events = make_events(1234)
        for i, event in enumerate(events):
            service.publish(event)
            if i % 300 == 0:
                await asyncio.sleep(0)
        await service.flush()
        assert await logged(db) == events
        assert service.log.written == 1234 and service.log.pending == 0


async def test_subscribers_and_log_both_get_events(db: Database) -> None:
    async with EventService(db.events) as service:
        sub = service.subscribe(EventFilter(types=frozenset({EventType.CI_FAILING})))
        events = make_events(6)
        for event in events:
            service.publish(event)
        await service.flush()
        assert sub.drain() == [e for e in events if e.type is EventType.CI_FAILING]
        assert await logged(db) == events


async def test_stop_writes_everything_still_buffered(db: Database, reopen: Callable[[], Awaitable[Database]]) -> None:
    service = EventService(db.events, batch_size=50, flush_interval=60)
    await service.start()
    events = make_events(777)
    for event in events:
        service.publish(event)
    await service.stop()
    await db.close()
    again = await reopen()
    try:
        assert await logged(again) == events
    finally:
        await again.close()


async def test_a_small_batch_is_written_after_the_flush_interval(db: Database) -> None:
    writer = EventLogWriter(db.events, batch_size=1000, flush_interval=0.05)
    writer.start()
    events = make_events(3)
    for event in events:
        writer.submit(event)

    async def written() -> bool:
        return await logged(db) == events

    await async_wait_for(written, timeout=10, what="time-based batch")
    await writer.close()


async def test_full_batches_are_written_without_waiting_for_the_interval(db: Database) -> None:
    writer = EventLogWriter(db.events, batch_size=10, flush_interval=3600)
    writer.start()
    events = make_events(25)
    for event in events:
        writer.submit(event)

    async def two_batches() -> bool:
        return len(await logged(db)) == 20

    await async_wait_for(two_batches, timeout=10, what="two full batches")
    assert writer.pending == 5  # the partial batch waits for the (hour-long) interval or a flush
    await writer.flush()
    assert await logged(db) == events
    await writer.close()


async def test_a_database_error_is_logged_retried_and_loses_nothing(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    service = EventService(db.events, batch_size=5, flush_interval=0.01, retry_initial=0.05, retry_max=0.05)
    await service.start()
    events = make_events(20)
    with caplog.at_level(logging.WARNING, logger="ennio.services.events.event_log"):
        async with events_table_gone(db):
            for event in events[:10]:
                service.publish(event)  # returns at once: publishers never wait on the database

            async def failed_twice() -> bool:
                return service.log.failures >= 2

            await async_wait_for(failed_twice, timeout=10, what="failed writes")
            for event in events[10:]:
                service.publish(event)
            assert service.log.pending == 20
        await asyncio.wait_for(service.flush(), 20)
    assert await logged(db) == events
    assert service.log.dropped == 0
    assert "retrying" in caplog.text
    await service.stop()


async def test_when_the_buffer_overflows_the_oldest_unwritten_events_go(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    writer = EventLogWriter(
        db.events, batch_size=2, max_buffer=4, flush_interval=0.01, retry_initial=0.05, retry_max=0.05
    )
    writer.start()
    events = make_events(10)
    async with events_table_gone(db):
        with caplog.at_level(logging.ERROR, logger="ennio.services.events.event_log"):
            for event in events:
                writer.submit(event)
        assert writer.dropped == 6
        assert "dropped" in caplog.text
    await asyncio.wait_for(writer.flush(), 20)
    assert await logged(db) == events[6:]
    await writer.close()


async def test_close_gives_up_after_its_timeout_when_the_database_stays_down(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    writer = EventLogWriter(db.events, batch_size=5, flush_interval=0.01, retry_initial=0.05)
    writer.start()
    async with events_table_gone(db):
        for event in make_events(7):
            writer.submit(event)
        with caplog.at_level(logging.ERROR, logger="ennio.services.events.event_log"):
            await asyncio.wait_for(writer.close(timeout=0.3), 10)
    assert writer.dropped == 7
    assert "7 events were not written" in caplog.text
    writer.submit(make_events(1)[0])  # after close: refused and counted, never raises
    assert writer.dropped == 8
    assert await logged(db) == []


async def test_flush_with_nothing_pending_returns_at_once(db: Database) -> None:
    writer = EventLogWriter(db.events)
    await asyncio.wait_for(writer.flush(), 1)
    writer.start()
    await asyncio.wait_for(writer.flush(), 1)
    await writer.close()


async def test_stop_ends_subscriptions(db: Database) -> None:
    bus = EventBus()
    service = EventService(db.events, bus=bus)
    await service.start()
    sub = service.subscribe()
    await service.stop()
    assert sub.closed
    with pytest.raises(StopAsyncIteration):
        await sub.get()


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError):
        EventLogWriter(None, batch_size=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        EventLogWriter(None, batch_size=10, max_buffer=5)  # type: ignore[arg-type]


async def test_close_without_start_still_writes_what_was_submitted(db: Database) -> None:
    writer = EventLogWriter(db.events)
    events = make_events(3)
    for event in events:
        writer.submit(event)
    await writer.close()
    assert await logged(db) == events
