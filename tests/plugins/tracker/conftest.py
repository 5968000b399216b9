"""Fixtures for tracker tests: a real git repository with a local tracker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ennio.core.clock import ManualClock
from ennio.core.config import ProjectConfig
from ennio.core.plugins import PluginContext
from ennio.plugins.tracker.local import LocalTracker

START = datetime(2026, 2, 3, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("app")


@pytest.fixture
def project(repo: Path) -> ProjectConfig:
    return ProjectConfig.model_validate({"name": "app", "path": str(repo), "tracker": {"provider": "local"}})


@pytest.fixture
def tracker(project: ProjectConfig, clock: ManualClock, tmp_path: Path) -> LocalTracker:
    return LocalTracker(project, PluginContext(data_dir=tmp_path / "data", clock=clock))


@pytest.fixture
def issues_dir(repo: Path) -> Path:
    folder = repo / ".ennio" / "issues"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
