"""Fixtures for the workspace plugins' own tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ennio.core.clock import SystemClock
from ennio.core.plugins import PluginContext
from ennio.plugins.workspace.clone import CloneWorkspace
from ennio.plugins.workspace.worktree import WorktreeWorkspace


@pytest.fixture
def ctx(data_dir: Path) -> PluginContext:
    return PluginContext(data_dir=data_dir, clock=SystemClock())


@pytest.fixture
def worktree(ctx: PluginContext) -> WorktreeWorkspace:
    return WorktreeWorkspace(ctx)


@pytest.fixture
def clone(ctx: PluginContext) -> CloneWorkspace:
    return CloneWorkspace(ctx)


@pytest.fixture
def root(data_dir: Path) -> Path:
    return data_dir / "workspaces" / "app"


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("repo", files={"README.md": "# app\n", ".gitignore": "node_modules/\n"})
