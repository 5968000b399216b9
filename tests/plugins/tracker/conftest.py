"""Fixtures for tracker tests: a real git repository with a local tracker; schema-checked Linear and GitHub APIs on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ennio.core.clock import ManualClock, SystemClock
from ennio.core.config import GitHubSCMConfig, GitHubTrackerConfig, ProjectConfig
from ennio.core.plugins import PluginContext
from ennio.plugins.tracker.github import GitHubTracker
from ennio.plugins.tracker.linear import LinearTracker
from ennio.plugins.tracker.local import LocalTracker
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, github  # noqa: F401 (a fixture)
from tests.helpers.linear_api import FakeLinear, LinearServer, linear_server_fixture  # noqa: F401 (a fixture)

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


@pytest.fixture
def linear_api(linear_server: LinearServer) -> Iterator[FakeLinear]:
    """A fresh Linear workspace with team ENG; fails the test if Ennio sent a query Linear would reject."""
    api = FakeLinear()
    api.add_team("ENG", "Engineering")
    linear_server.attach(api)
    yield api
    linear_server.attach(None)
    assert api.rejected == [], f"queries Linear would reject: {api.rejected}"


class Sleeps:
    """Records back-off sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_linear(linear_api: FakeLinear, tmp_path: Path, data_dir: Path, sleeps: Sleeps) -> Callable[..., LinearTracker]:
    """Factory: a LinearTracker for project ``app`` talking to ``linear_api`` (tracker settings overridable)."""

    def make(**settings: Any) -> LinearTracker:
        tracker = {
            "provider": "linear",
            "api_key": linear_api.api_key,
            "team": "ENG",
            "base_url": linear_api.url,
            **settings,
        }
        project = ProjectConfig(name="app", path=tmp_path, tracker=tracker)
        return LinearTracker(project, PluginContext(data_dir=data_dir, clock=ManualClock()), sleep=sleeps)

    return make


@pytest.fixture
async def make_github_tracker(
    github: FakeGitHub,  # noqa: F811
    tmp_path: Path,
    data_dir: Path,
) -> AsyncIterator[Callable[..., GitHubTracker]]:
    made: list[GitHubTracker] = []

    def factory(scm: GitHubSCMConfig | None = None, **settings: Any) -> GitHubTracker:
        if scm is None:
            settings.setdefault("token", SecretStr(TOKEN))
        settings.setdefault("base_url", github.base)
        settings.setdefault("repo", REPO)
        project = ProjectConfig(name="storefront", path=tmp_path, tracker=GitHubTrackerConfig(**settings), scm=scm)
        tracker = GitHubTracker(project, PluginContext(data_dir=data_dir, clock=SystemClock()))
        made.append(tracker)
        return tracker

    yield factory
    for tracker in made:
        await tracker.close()


@pytest.fixture
def github_tracker(make_github_tracker: Callable[..., GitHubTracker]) -> GitHubTracker:
    return make_github_tracker()
