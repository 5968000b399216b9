"""Fixtures for notifier tests: a plugin context, a recording sleep, sample notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ennio.core.clock import ManualClock
from ennio.core.events import Event, EventType, Priority
from ennio.core.plugins import Notification, PluginContext, SessionSummary
from tests.helpers.notifiers import RecordingSleep

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def ctx(tmp_path: Path, clock: ManualClock) -> PluginContext:
    return PluginContext(data_dir=tmp_path / "data", clock=clock)


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def summary() -> SessionSummary:
    return SessionSummary(
        session_id="app-3",
        project_id="app",
        status="ci_failed",
        branch="feat/3-add-login",
        pr_url="https://example.test/pr/7",
        activity="idle",
        last_activity_at=datetime(2026, 3, 4, 5, 0, 0, tzinfo=UTC),
        cost_usd=1.5,
    )


@pytest.fixture
def event() -> Event:
    return Event(
        type=EventType.CI_FAILING,
        message="2 checks failing: test, lint",
        project_id="app",
        session_id="app-3",
        priority=Priority.ACTION,
        data={"checks": ["test", "lint"]},
        timestamp=NOW,
        id="0000000000010000deadbeef",
    )


@pytest.fixture
def notification(event: Event, summary: SessionSummary) -> Notification:
    return Notification(
        title="app-3: CI failing",
        body="2 checks failing: test, lint",
        priority=Priority.ACTION,
        event=event,
        summary=summary,
    )
