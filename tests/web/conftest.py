"""Fixtures for API tests: a real daemon on a free loopback port, with a private tmux server and the echo agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ennio.core.config import EnnioConfig
from ennio.services.daemon import DaemonState
from tests.helpers.daemon import on_free_port, running_daemon
from tests.helpers.runtime import tmux_socket_env
from tests.helpers.sessions_env import make_config


@pytest.fixture
def tmux_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with tmux_socket_env(monkeypatch) as socket:
        yield socket


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
