from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import pytest

from ennio.core.events import Event, EventType, Priority
from ennio.db import Database
from ennio.db.codec import event_to_values
from ennio.db.schema import events as events_table

E = EventType


def sample_events() -> list[Event]:
    t0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    return [
        Event.of(E.SESSION_SPAWNED, "spawned", project_id="app", session_id="app-1", timestamp=t0),
        Event.of(E.STATUS_CHANGED, "to working", project_id="app", session_id="app-1", data={"to": "working"}),
        Event.of(E.CI_FAILING, "ci red", project_id="app", session_id="app-2", timestamp=t0 + timedelta(seconds=1)),
        Event.of(E.BUDGET_EXCEEDED, "over", project_id="web", data={"usd": 10.5, "nested": {"a": [1, None]}}),
        Event.of(E.ALL_COMPLETE, "done"),
    ]


async def test_append_and_query_in_order_with_seq(db: Database) -> None:
    batch = sample_events()
    await db.events.append_many(batch)
    stored = await db.events.query()
    assert [s.event for s in stored] == batch
    seqs = [s.seq for s in stored]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert await db.events.last_seq() == seqs[-1]


async def test_empty_log(db: Database) -> None:
    await db.events.append_many([])
    assert await db.events.query() == []
    assert await db.events.last_seq() == 0


@pytest.mark.parametrize(
    ("filters", "expected_messages"),
    [
        ({"session_id": "app-1"}, ["spawned", "to working"]),
        ({"project_id": "app"}, ["spawned", "to working", "ci red"]),
        ({"types": [E.CI_FAILING, "summary.all_complete"]}, ["ci red", "done"]),
        ({"min_priority": Priority.ACTION}, ["ci red", "over", "done"]),
        ({"min_priority": "critical"}, ["over"]),
        ({"min_priority": "info", "project_id": "web"}, ["over"]),
        ({"project_id": "app", "types": [E.STATUS_CHANGED]}, ["to working"]),
        ({"types": []}, []),
        ({"limit": 2}, ["spawned", "to working"]),
        ({"newest_first": True, "limit": 2}, ["done", "over"]),
    ],
)
async def test_query_filters(db: Database, filters: dict[str, object], expected_messages: list[str]) -> None:
    await db.events.append_many(sample_events())
    assert [s.event.message for s in await db.events.query(**filters)] == expected_messages  # type: ignore[arg-type]


async def test_query_after_seq_resumes(db: Database) -> None:
    await db.events.append_many(sample_events()[:2])
    first = await db.events.query()
    await db.events.append_many(sample_events()[2:])
    rest = await db.events.query(after_seq=first[-1].seq)
    assert [s.event.message for s in rest] == ["ci red", "over", "done"]
    assert await db.events.query(after_seq=rest[-1].seq) == []


async def test_appending_an_event_twice_stores_it_once(db: Database) -> None:
    batch = sample_events()
    await db.events.append_many(batch[:3])
    await db.events.append_many(batch)  # a retried batch after an uncertain commit
    assert [s.event for s in await db.events.query()] == batch


async def test_events_survive_reopen(db: Database, reopen) -> None:  # type: ignore[no-untyped-def]
    await db.events.append_many(sample_events())
    before = await db.events.query()
    await db.close()
    again = await reopen()
    try:
        assert await again.events.query() == before
    finally:
        await again.close()


async def test_unknown_event_types_from_a_newer_version_are_skipped(db: Database) -> None:
    await db.events.append_many(sample_events()[:1])
    async with db.engine.begin() as conn:
        row = event_to_values(Event.of(E.SESSION_WORKING))
        row["type"] = "future.thing"
        await conn.execute(events_table.insert().values(row))
    await db.events.append_many(sample_events()[1:2])
    assert [s.event.message for s in await db.events.query()] == ["spawned", "to working"]


async def test_sqlite_fast_insert_stores_what_sqlalchemy_would(data_dir) -> None:  # type: ignore[no-untyped-def]
    """The SQLite append path bypasses SQLAlchemy's type processing; the stored text must be identical."""
    from ennio.db import open_database

    db = await open_database(None, data_dir)
    try:
        at = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone(timedelta(hours=1)))
        fast = Event.of(E.CI_FAILING, "x", data={"ü": [1, 2.5, None]}, timestamp=at)
        slow = Event.of(E.CI_FAILING, "x", data={"ü": [1, 2.5, None]}, timestamp=at)
        await db.events.append_many([fast])
        async with db.engine.begin() as conn:
            await conn.execute(events_table.insert().values(event_to_values(slow)))
        path = db.sqlite_path
    finally:
        await db.close()
    assert path is not None
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT type, priority, occurred_at, message, data FROM events ORDER BY seq").fetchall()
    assert rows[0] == rows[1]
    assert json.loads(rows[0][4]) == {"ü": [1, 2.5, None]}
    assert rows[0][2] == "2026-03-01 11:00:00.000000"


async def test_a_follower_sees_every_event_once_while_two_writers_append(db: Database, reopen) -> None:  # type: ignore[no-untyped-def]
    other = await reopen()
    writers = [db, other]
    batches = [[Event.of(E.STATUS_CHANGED, f"w{w}-b{b}-{i}") for i in range(5)] for w in range(2) for b in range(10)]
    seen: list[str] = []

    async def write(w: int) -> None:
        for batch in batches[w * 10 : (w + 1) * 10]:
            await writers[w].events.append_many(batch)

    async def follow() -> None:
        after = 0
        while len(seen) < 100:
            got = await db.events.query(after_seq=after, limit=7)
            seen.extend(s.event.message for s in got)
            after = got[-1].seq if got else after
            await asyncio.sleep(0)

    try:
        await asyncio.wait_for(asyncio.gather(write(0), write(1), follow()), 60)
    finally:
        await other.close()
    assert sorted(seen) == sorted(e.message for batch in batches for e in batch)


async def test_negative_limit_is_refused(db: Database) -> None:
    from ennio.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="limit"):
        await db.events.query(limit=-1)
