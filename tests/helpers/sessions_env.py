"""Session services on a real repository, a private tmux server and the test ``echo`` agent.

``SessionWorld`` builds an ``EnnioConfig`` for a project on a real git repository and opens the real
service stack (SQLite in the test's data dir, event log, SessionManager) with ``echo`` registered.
``leftovers`` lists whatever a session left behind (worktrees, branches, tmux sessions, rows).
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ennio.core.config import EnnioConfig
from ennio.core.plugins import Slot
from ennio.services.registry import PluginRegistry
from ennio.services.stack import Services, open_services
from tests.helpers.echo_agent_plugin import EchoAgent
from tests.helpers.git import git
from tests.helpers.runtime import TMUX


def echo_registry() -> PluginRegistry:
    registry = PluginRegistry()
    registry.register(Slot.AGENT, "echo", EchoAgent)
    return registry


def make_config(data_dir: Path, repo: Path, **project: Any) -> EnnioConfig:
    """One project ``app`` on ``repo`` with the echo agent and a local tracker (overridable)."""
    values: dict[str, Any] = {"name": "app", "path": str(repo), "agent": "echo", "tracker": {"provider": "local"}}
    values.update(project)
    return EnnioConfig.model_validate({"data_dir": str(data_dir), "projects": [values]})


@asynccontextmanager
async def services(config: EnnioConfig, **kwargs: Any) -> AsyncIterator[Services]:
    kwargs.setdefault("registry", echo_registry())
    async with open_services(config, **kwargs) as stack:
        yield stack


def tmux_sessions(socket: str) -> list[str]:
    out = subprocess.run([TMUX, "-L", socket, "list-sessions", "-F", "#{session_name}"], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line] if out.returncode == 0 else []


def branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").splitlines()


def worktrees(repo: Path) -> list[str]:
    return [
        line[9:] for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")
    ]


@dataclass
class Leftovers:
    workspaces: list[str] = field(default_factory=list)
    worktrees: list[str] = field(default_factory=list)
    branches: list[str] = field(default_factory=list)
    tmux: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.workspaces or self.worktrees or self.branches or self.tmux or self.rows)


async def leftovers(stack: Services, repo: Path, socket: str, base_branch: str = "main") -> Leftovers:
    """Everything sessions left behind: workspace folders, extra worktrees and branches, tmux sessions, rows."""
    root = stack.data_dir / "workspaces"
    return Leftovers(
        workspaces=sorted(str(p) for p in root.glob("*/*")) if root.is_dir() else [],
        worktrees=worktrees(repo)[1:],
        branches=[b for b in branches(repo) if b != base_branch],
        tmux=tmux_sessions(socket),
        rows=[s.id for s in await stack.db.sessions.list()],
    )
