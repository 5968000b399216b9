"""Service tests run on a fresh SQLite file and on a fresh PostgreSQL database; session tests on a real
repository, a private tmux server and the test ``echo`` agent; the reaction and lifecycle tests get a
whole world (fake GitHub, tmux echo agents, webhook receiver, manual clock); a third-party plugin
distribution can be installed on sys.path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from ennio.core.clock import ManualClock
from ennio.db import Database
from ennio.services.events.event_log import EventService
from ennio.services.stack import Services
from tests.helpers.database import clock, db, db_url, reopen  # noqa: F401  (fixtures)
from tests.helpers.fake_github import FakeGitHub, github  # noqa: F401  (fixture)
from tests.helpers.git import make_repo
from tests.helpers.plugins import make_plugin_distribution
from tests.helpers.reactions import ReactionWorld, make_world
from tests.helpers.sessions_env import make_config, services


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("app")


@pytest.fixture
async def stack(tmux_socket: str, data_dir: Path, repo: Path) -> AsyncIterator[Services]:
    """The real services on the ``app`` project (echo agent, local tracker, tmux on a private server)."""
    async with services(make_config(data_dir, repo)) as opened:
        yield opened


@pytest.fixture
async def reaction_world(
    db: Database,  # noqa: F811
    clock: ManualClock,  # noqa: F811
    github: FakeGitHub,  # noqa: F811
    httpserver: HTTPServer,
    tmp_path: Path,
    data_dir: Path,
    tmux_socket: str,
) -> AsyncIterator[Callable[..., Awaitable[ReactionWorld]]]:
    """Factory: ``await reaction_world(reactions={...}, project_reactions={...}, notifiers={...})``."""
    repo = make_repo(tmp_path / "repo")
    made: list[ReactionWorld] = []
    async with EventService(db.events) as events:

        async def factory(**config: Any) -> ReactionWorld:
            world = make_world(
                db=db,
                clock=clock,
                github=github,
                hooks=httpserver,
                repo_path=repo,
                out=tmp_path / "agents",
                data_dir=data_dir,
                events=events,
                **config,
            )
            made.append(world)
            return world

        yield factory
        for world in made:
            await world.router.drain()
            await world.plugins.aclose()


PluginFactory = Callable[[str, dict[str, list[str]], str], Path]


@pytest.fixture
def third_party_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginFactory:
    """Factory: a third-party plugin distribution installed on ``sys.path`` for this test."""

    def factory(module: str, groups: dict[str, list[str]], source: str) -> Path:
        site = make_plugin_distribution(tmp_path / f"site-{module}", module, groups, source)
        monkeypatch.syspath_prepend(str(site))
        return site

    return factory
