"""fastread must return exactly what the repositories return, on the same SQLite database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ennio.core.events import Event, EventType, Priority
from ennio.core.session import ActivityState, SessionStatus
from ennio.db import Database, open_database
from ennio.db.fastread import FastReader
from tests.helpers.postgres import url_for
from tests.helpers.sessions import make_session

T0 = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
PROJECTS = ["app", "web", "zzz"]
SESSION_IDS = ["app-1", "app-2", "web-1", "nope-1"]
TYPES = [EventType.SESSION_SPAWNED, EventType.CI_FAILING, EventType.BUDGET_EXCEEDED, EventType.PR_MERGED]


@pytest.fixture
async def filled(data_dir: Path) -> AsyncIterator[Database]:
    db = await open_database(None, data_dir)
    statuses = [SessionStatus.WORKING, SessionStatus.SPAWNING, SessionStatus.PR_OPEN]
    for i, (sid, project) in enumerate([("app-1", "app"), ("app-2", "app"), ("web-1", "web")]):
        await db.sessions.insert(
            make_session(
                sid,
                project_id=project,
                status=statuses[i],
                activity=[None, ActivityState.IDLE, ActivityState.BLOCKED][i],
                runtime_handle=[None, {"tmux": "t"}, {"pid": 3, "nested": {"x": [1.5, None]}}][i],
                metadata=[{}, {"ü": "✓"}, {"n": 1}][i],
                pr_number=[None, 4, 9][i],
                prompt=["multi\nline", None, ""][i],
                # microsecond 0 and equal creation times exercise formatting and the id tie-break
                created_at=T0 + timedelta(seconds=[1, 0, 0][i]),
                last_activity_at=[None, T0, T0 + timedelta(microseconds=7)][i],
            )
        )
    await db.sessions.transition("app-1", SessionStatus.PR_OPEN, "pr")
    events = [
        Event.of(
            TYPES[i % 4],
            f"event {i}",
            project_id=PROJECTS[i % 3] if i % 5 else None,
            session_id=SESSION_IDS[i % 4] if i % 7 else None,
            priority=list(Priority)[i % 4] if i % 2 else None,
            data={"i": i, "text": "ü"} if i % 3 else {},
            timestamp=T0 + timedelta(microseconds=i * 500_000),
        )
        for i in range(60)
    ]
    await db.events.append_many(events[:30])
    await db.events.append_many(events[30:])
    yield db
    await db.close()


@pytest.fixture
def reader(filled: Database, data_dir: Path) -> Iterator[FastReader]:
    fast = FastReader.open(None, data_dir)
    assert fast is not None
    yield fast
    fast.close()


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"project_id": "app"},
        {"project_id": "zzz"},
        {"statuses": [SessionStatus.PR_OPEN]},
        {"statuses": ["spawning", "pr_open"], "project_id": "app"},
        {"statuses": []},
    ],
)
async def test_list_sessions_matches_the_repository(
    filled: Database, reader: FastReader, filters: dict[str, Any]
) -> None:
    expected = await filled.sessions.list(**filters)
    assert reader.list_sessions(**filters) == expected
    if not filters:
        assert [s.id for s in expected] == ["app-2", "web-1", "app-1"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    session_id=st.none() | st.sampled_from(SESSION_IDS),
    project_id=st.none() | st.sampled_from(PROJECTS),
    types=st.none() | st.sets(st.sampled_from(TYPES), max_size=3),
    min_priority=st.none() | st.sampled_from(list(Priority)),
    after_seq=st.none() | st.integers(min_value=-1, max_value=70),
    limit=st.integers(min_value=0, max_value=80),
    newest_first=st.booleans(),
)
async def test_query_events_matches_the_repository(filled: Database, reader: FastReader, **filters: object) -> None:
    expected = await filled.events.query(**filters)  # type: ignore[arg-type]
    assert reader.query_events(**filters) == expected  # type: ignore[arg-type]


async def test_all_events_and_last_seq_match(filled: Database, reader: FastReader) -> None:
    expected = await filled.events.query(limit=1000)
    assert len(expected) == 60
    assert reader.query_events(limit=1000) == expected
    assert reader.last_seq() == await filled.events.last_seq() == expected[-1].seq


async def test_reader_sees_writes_made_after_it_opened(filled: Database, reader: FastReader) -> None:
    last = reader.last_seq()
    await filled.events.append(Event.of(EventType.MERGE_READY, "later", project_id="app"))
    assert [s.event.message for s in reader.query_events(after_seq=last)] == ["later"]


def test_open_returns_none_without_a_database_file(data_dir: Path) -> None:
    assert FastReader.open(None, data_dir) is None
    assert not (data_dir / "ennio.db").exists()


def test_open_returns_none_for_postgres(data_dir: Path) -> None:
    assert FastReader.open(url_for("whatever"), data_dir) is None


async def test_open_returns_none_when_the_schema_needs_migrating(filled: Database, data_dir: Path) -> None:
    async with filled.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    assert FastReader.open(None, data_dir) is None


def test_open_returns_none_for_a_file_that_is_not_ennios(data_dir: Path) -> None:
    (data_dir / "ennio.db").write_bytes(b"garbage" * 100)
    assert FastReader.open(None, data_dir) is None


def test_fastread_does_not_import_sqlalchemy() -> None:
    import subprocess
    import sys

    from tests.helpers.processes import REPO_ROOT

    code = "import sys, ennio.db.fastread; print(any(m.startswith('sqlalchemy') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "False", result.stderr


async def test_list_queue_matches_the_repository(filled: Database, reader: FastReader) -> None:
    from ennio.db.records import QueueStatus

    first = await filled.queue.add("app", issue_id="7", issue_ref="#7", blockers=["3", "ü"], request={"prompt": "x"})
    await filled.queue.add("web", issue_id="ENG-1", issue_ref="ENG-1", blockers=[], request={"branch": None})
    await filled.queue.claim(first.id)
    for filters in ({}, {"project_id": "web"}, {"statuses": [QueueStatus.SPAWNING]}, {"statuses": []}):
        assert reader.list_queue(**filters) == await filled.queue.list(**filters)  # type: ignore[arg-type]
    assert len(reader.list_queue()) == 2
