"""Fixtures for SCM plugin tests: a served fake GitHub and a GitHubSCM pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ennio.core.clock import SystemClock
from ennio.core.config import GitHubSCMConfig, ProjectConfig
from ennio.core.plugins import PluginContext
from ennio.plugins._github.settings import RETRY_KEY
from ennio.plugins._github.transport import RetryPolicy
from ennio.plugins.scm.github import GitHubSCM
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, github  # noqa: F401

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
