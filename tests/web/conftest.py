"""Fixtures for API tests: a real daemon on a free loopback port, with a private tmux server and the echo agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ennio.core.config import EnnioConfig
from ennio.daemon.server import DaemonState
from ennio.services.lifecycle.manager import LifecycleManager
from ennio.services.orchestrator import Orchestrator
from ennio.services.stack import Services
from tests.helpers.daemon import on_free_port, running_daemon
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, github  # noqa: F401  (a fixture)
from tests.helpers.linear_api import FakeLinear, LinearServer, linear_server_fixture  # noqa: F401  (a fixture)
from tests.helpers.sessions_env import make_config


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("app")


@pytest.fixture
def config(data_dir: Path, repo: Path) -> EnnioConfig:
    return on_free_port(make_config(data_dir, repo))


@pytest.fixture
async def daemon(tmux_socket: str, config: EnnioConfig) -> AsyncIterator[DaemonState]:
    async with running_daemon(config) as state:
        yield state


@pytest.fixture
async def client(daemon: DaemonState) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=daemon.url, timeout=60) as http:
        yield http


# --------------------------------------------------------------------------- a daemon in front of the forges

GITHUB_SECRET = "gh-webhook-secret"
OTHER_SECRET = "gh-other-secret"
LINEAR_SECRET = "lin-webhook-secret"
LINEAR_KEY = "lin_api_test_key"
OTHER_REPO = "acme/gadgets"


@dataclass
class ForgeDaemon:
    """A running daemon whose projects live on the fake GitHub and the fake Linear."""

    state: DaemonState
    http: httpx.AsyncClient
    github: FakeGitHub
    linear: FakeLinear
    #: the daemon's orchestrator and services (the last entry is the running daemon's)
    made: list[tuple[Orchestrator, Services]]

    @property
    def lifecycle(self) -> LifecycleManager:
        return self.made[-1][0].lifecycle

    @property
    def services(self) -> Services:
        return self.made[-1][1]


def forge_config(data_dir: Path, repo: Path, other: Path, forge: FakeGitHub, linear: FakeLinear) -> EnnioConfig:
    scm = {"provider": "github", "token": TOKEN, "base_url": forge.base}
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "lifecycle": {"poll_interval": "1h", "webhook_poll_interval": "2h"},
        "projects": [
            {
                "name": "widgets",
                "path": str(repo),
                "agent": "echo",
                "scm": {**scm, "repo": REPO, "webhook_secret": GITHUB_SECRET},
                "tracker": {"provider": "github", "repo": REPO, "token": TOKEN, "base_url": forge.base},
            },
            {
                "name": "gadgets",
                "path": str(other),
                "agent": "echo",
                "scm": {**scm, "repo": OTHER_REPO, "webhook_secret": OTHER_SECRET},
            },
            {
                "name": "eng",
                "path": str(other),
                "agent": "echo",
                "tracker": {
                    "provider": "linear",
                    "api_key": LINEAR_KEY,
                    "base_url": linear.url,
                    "webhook_secret": LINEAR_SECRET,
                    "in_progress_state": None,
                },
            },
        ],
    }
    return on_free_port(EnnioConfig.model_validate(values))


@pytest.fixture
def linear_api(linear_server: LinearServer) -> Iterator[FakeLinear]:
    api = FakeLinear(api_key=LINEAR_KEY)
    api.add_team("ENG", "Engineering")
    linear_server.attach(api)
    yield api
    linear_server.attach(None)
    assert api.rejected == [], f"queries Linear would reject: {api.rejected}"


@pytest.fixture
def forge_daemon_factory(
    tmux_socket: str,
    data_dir: Path,
    git_repo: Callable[..., Path],
    github: FakeGitHub,  # noqa: F811  (the fixture)
    linear_api: FakeLinear,
) -> Callable[[], Any]:
    """``async with forge_daemon_factory() as forge:`` — may be entered again (a restart on the same data)."""
    github.add_repo(OTHER_REPO)
    repo, other = git_repo("widgets"), git_repo("gadgets")
    config = forge_config(data_dir, repo, other, github, linear_api)
    made: list[tuple[Orchestrator, Services]] = []

    def component(services: Services) -> Orchestrator:
        orchestrator = Orchestrator.from_services(services)
        made.append((orchestrator, services))
        return orchestrator

    @asynccontextmanager
    async def start() -> AsyncIterator[ForgeDaemon]:
        async with (
            running_daemon(config, components=[component]) as state,
            httpx.AsyncClient(base_url=state.url, timeout=60) as http,
        ):
            yield ForgeDaemon(state, http, github, linear_api, made)

    return start
