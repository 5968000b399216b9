"""Event log throughput: rows/s through EventService (bus -> batched writer -> SQLite) against raw
``sqlite3.executemany`` of the same rows into the same schema, measured in the same run.
Target: writer / raw >= 0.3.

The raw baseline gets the rows already encoded as tuples and writes them with the same batch size,
one transaction per batch, the same pragmas (WAL, synchronous=NORMAL). Our figure includes publishing
on the bus, encoding, SQLAlchemy and aiosqlite.

    .venv/bin/python bench/bench_event_log.py [N]
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ennio.core.events import Event, EventType
from ennio.db import open_database
from ennio.db.codec import to_sqlite_time
from ennio.services.events.event_log import EventService

TARGET_RATIO = 0.3
BATCH = 500
TYPES = [EventType.STATUS_CHANGED, EventType.ACTIVITY_CHANGED, EventType.CI_FAILING, EventType.PR_CREATED]


def make_events(n: int) -> list[Event]:
    return [
        Event.of(
            TYPES[i % len(TYPES)],
            f"session s-{i % 50} moved",
            project_id=f"p{i % 3}",
            session_id=f"s-{i % 50}",
            data={"i": i, "from": "working", "to": "pr_open"},
        )
        for i in range(n)
    ]


async def fresh_database(root: Path) -> Path:
    db = await open_database(None, root)
    path = db.sqlite_path
    await db.close()
    assert path is not None
    return path


def run_raw(path: Path, events: list[Event]) -> float:
    rows = [
        (
            e.id,
            e.type.value,
            e.priority.value,
            e.project_id,
            e.session_id,
            to_sqlite_time(e.timestamp),
            e.message,
            json.dumps(e.data),
        )
        for e in events
    ]
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    sql = (
        "INSERT INTO events (event_id, type, priority, project_id, session_id, occurred_at, message, data)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    start = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows[i : i + BATCH])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == len(rows)
    conn.close()
    return elapsed


async def run_writer(root: Path, events: list[Event]) -> float:
    db = await open_database(None, root)
    service = EventService(db.events, batch_size=BATCH)
    await service.start()
    start = time.perf_counter()
    for i in range(0, len(events), BATCH):
        for event in events[i : i + BATCH]:
            service.publish(event)
        await asyncio.sleep(0)
    await service.flush()
    elapsed = time.perf_counter() - start
    await service.stop()
    assert await db.events.last_seq() == len(events)
    await db.close()
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    events = make_events(n)
    raw_times, writer_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(3):
            raw_dir, writer_dir = Path(tmp, f"raw{run}"), Path(tmp, f"writer{run}")
            raw_path = asyncio.run(fresh_database(raw_dir))
            raw_times.append(run_raw(raw_path, events))
            writer_times.append(asyncio.run(run_writer(writer_dir, events)))
    raw_rate = n / statistics.median(raw_times)
    writer_rate = n / statistics.median(writer_times)
    ratio = writer_rate / raw_rate
    print(f"rows: {n}, batch: {BATCH}, runs: 3 (median), SQLite {sqlite3.sqlite_version}")
    print(f"raw sqlite3.executemany: {raw_rate:>10,.0f} rows/s  (baseline, same run)")
    print(f"EventService -> log:     {writer_rate:>10,.0f} rows/s")
    print(
        f"ratio writer / raw: {ratio:.2f} (target >= {TARGET_RATIO}) -> {'MET' if ratio >= TARGET_RATIO else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
