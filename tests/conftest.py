"""Fixtures every test package may use. Package-specific fixtures live in that package's conftest."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.git import make_repo
from tests.helpers.runtime import tmux_socket_env


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own data dir and no stray config from the developer's machine."""
    data = tmp_path_factory.mktemp("ennio-data")
    monkeypatch.setenv("ENNIO_DATA_DIR", str(data))
    monkeypatch.delenv("ENNIO_CONFIG", raising=False)
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Ennio Test")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@ennio.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Ennio Test")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@ennio.invalid")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    yield data


@pytest.fixture
def data_dir(_isolated_home: Path) -> Path:
    return _isolated_home


@pytest.fixture
def tmux_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private tmux server for the test (``ENNIO_TMUX_SOCKET``), killed afterwards."""
    with tmux_socket_env(monkeypatch) as socket:
        yield socket


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[..., Path]:
    """Factory: a real git repository with one commit on ``main`` (optionally with files)."""

    def factory(name: str = "repo", files: dict[str, str] | None = None, branch: str = "main") -> Path:
        return make_repo(tmp_path / name, files=files, branch=branch)

    return factory


def pytest_report_header(config: pytest.Config) -> list[str]:
    git = subprocess.run(["git", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return [f"{git}; ENNIO_TEST_PG_URL={os.environ.get('ENNIO_TEST_PG_URL', '(default)')}"]
