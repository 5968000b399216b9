from __future__ import annotations

import asyncio
import queue
import threading
from pathlib import Path

from ennio.core.events import Event, EventType
from ennio.core.session import Session, SessionStatus
from ennio.db import Database, StoredEvent
from ennio.services.config.loader import StorageSettings
from ennio.services.sessions.readers import Reader


def settings(db_url: str | None, data_dir: Path) -> StorageSettings:
    return StorageSettings(database_url=db_url, data_dir=data_dir, path=None)


def test_no_database_yet_reads_nothing_and_creates_nothing(data_dir: Path) -> None:
    with Reader(settings(None, data_dir)) as reader:
        assert reader.sessions() == []
        assert reader.events() == []
        assert reader.last_seq() == 0
    assert not (data_dir / "ennio.db").exists()


async def test_reads_what_the_database_holds(db: Database, db_url: str | None, data_dir: Path) -> None:
    for n, status in enumerate([SessionStatus.WORKING, SessionStatus.MERGED, SessionStatus.PR_OPEN], start=1):
        await db.sessions.insert(
            Session(id=f"app-{n}", project_id="app", status=status, agent="a", runtime="r", workspace="w")
        )
    batch = [Event.of(EventType.CI_FAILING, f"e{i}", project_id="app", session_id=f"app-{i % 3 + 1}") for i in range(7)]
    await db.events.append_many(batch)

    def read() -> tuple[list[str], list[str], list[str], int]:
        with Reader(settings(db_url, data_dir)) as reader:
            active = [s.id for s in reader.sessions(statuses=[SessionStatus.WORKING, SessionStatus.PR_OPEN])]
            newest = [e.event.message for e in reader.events(limit=2, newest_first=True)]
            of_one = [e.event.message for e in reader.events(session_id="app-1")]
            return active, newest, of_one, reader.last_seq()

    active, newest, of_one, last = await asyncio.to_thread(read)
    assert active == ["app-1", "app-3"]
    assert newest == ["e6", "e5"]
    assert of_one == ["e0", "e3", "e6"]
    assert last == await db.events.last_seq()


async def test_follow_yields_events_appended_later(db: Database, db_url: str | None, data_dir: Path) -> None:
    await db.events.append(Event.of(EventType.SESSION_SPAWNED, "before", project_id="app"))
    started: queue.Queue[int] = queue.Queue()
    found: queue.Queue[StoredEvent] = queue.Queue()

    def follow() -> None:  # a reader belongs to the thread that opened it, as in the CLI
        with Reader(settings(db_url, data_dir)) as reader:
            start = reader.last_seq()
            started.put(start)
            found.put(next(reader.follow(after_seq=start, poll_interval=0.05, project_id="app")))

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    start = await asyncio.to_thread(started.get, timeout=20)
    await db.events.append_many(
        [
            Event.of(EventType.SESSION_SPAWNED, "other project", project_id="web"),
            Event.of(EventType.CI_PASSING, "after", project_id="app"),
        ]
    )
    first = await asyncio.to_thread(found.get, timeout=20)
    assert first.event.message == "after"
    assert first.seq > start
    await asyncio.to_thread(thread.join, 20)
