"""Fixtures for service tests: the database fixtures (event log tests run on a fresh SQLite file and
on a fresh PostgreSQL database), a third-party plugin distribution installed on sys.path, and session
tests on a real repository, a private tmux server and the test ``echo`` agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from ennio.services.stack import Services
from tests.helpers.database import clock, db, db_url, reopen  # noqa: F401  (fixtures)
from tests.helpers.plugins import make_plugin_distribution
from tests.helpers.runtime import tmux_socket_env
from tests.helpers.sessions_env import make_config, services

PluginFactory = Callable[[str, dict[str, list[str]], str], Path]


@pytest.fixture
def third_party_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginFactory:
    """Factory: a third-party plugin distribution installed on ``sys.path`` for this test."""

    def factory(module: str, groups: dict[str, list[str]], source: str) -> Path:
        site = make_plugin_distribution(tmp_path / f"site-{module}", module, groups, source)
        monkeypatch.syspath_prepend(str(site))
        return site

    return factory


@pytest.fixture
def tmux_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private tmux server for the test (``ENNIO_TMUX_SOCKET``), killed afterwards."""
    with tmux_socket_env(monkeypatch) as socket:
        yield socket


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("app")


@pytest.fixture
async def stack(tmux_socket: str, data_dir: Path, repo: Path) -> AsyncIterator[Services]:
    """The real services on the ``app`` project (echo agent, local tracker, tmux on a private server)."""
    async with services(make_config(data_dir, repo)) as opened:
        yield opened
