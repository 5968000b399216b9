"""Fixtures for SCM plugin tests: a served fake GitHub and a GitHubSCM pointed at it; a project repo
and the real database (SQLite, PostgreSQL) for the local SCM."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ennio.core.clock import Clock, SystemClock
from ennio.core.config import GitHubSCMConfig, ProjectConfig
from ennio.core.plugins import PluginContext
from ennio.db import Database
from ennio.plugins._github.settings import RETRY_KEY
from ennio.plugins._github.transport import RetryPolicy
from ennio.plugins.scm.github import GitHubSCM
from ennio.plugins.scm.local import LocalSCM
from tests.helpers.database import clock, db, db_url, reopen  # noqa: F401  (fixtures)
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, github  # noqa: F401
from tests.helpers.local_scm import CI_COMMAND, make_project_repo, project_for

FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_wait=2)


@pytest.fixture
async def make_scm(
    github: FakeGitHub,  # noqa: F811
    tmp_path: Path,
    data_dir: Path,
) -> AsyncIterator[Callable[..., GitHubSCM]]:
    made: list[GitHubSCM] = []

    def factory(project_repo: str | None = REPO, path: Path | None = None, **settings: Any) -> GitHubSCM:
        settings.setdefault("token", SecretStr(TOKEN))
        settings.setdefault("base_url", github.base)
        settings.setdefault("repo", project_repo)
        project = ProjectConfig(name="storefront", path=path or tmp_path, scm=GitHubSCMConfig(**settings))
        ctx = PluginContext(data_dir=data_dir, clock=SystemClock(), extra={RETRY_KEY: FAST_RETRY})
        scm = GitHubSCM(project, ctx)
        made.append(scm)
        return scm

    yield factory
    for plugin in made:
        await plugin.close()


@pytest.fixture
def scm(make_scm: Callable[..., GitHubSCM]) -> GitHubSCM:
    return make_scm()


# --------------------------------------------------------------------------- the local SCM


@dataclass
class LocalRig:
    """A project repository with ``ci.py``, the real database, and local SCMs over both."""

    repo: Path
    db: Database
    data_dir: Path
    made: list[LocalSCM] = field(default_factory=list)

    def project(self, **scm: Any) -> ProjectConfig:
        return project_for(self.repo, **scm)

    def make(self, *, with_clock: Clock | None = None, **scm: Any) -> LocalSCM:
        ctx = PluginContext(data_dir=self.data_dir, clock=with_clock or SystemClock(), store=self.db.store)
        plugin = LocalSCM(self.project(**scm), ctx)
        self.made.append(plugin)
        return plugin

    def with_ci(self, **scm: Any) -> LocalSCM:
        return self.make(ci_command=CI_COMMAND, **scm)


@pytest.fixture
async def rig(db: Database, tmp_path: Path, data_dir: Path) -> AsyncIterator[LocalRig]:  # noqa: F811
    made = LocalRig(repo=make_project_repo(tmp_path / "app"), db=db, data_dir=data_dir)
    yield made
    for plugin in made.made:
        await plugin.close()


#: run a test on SQLite only (git-heavy tests where the database is not what is tested)
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
