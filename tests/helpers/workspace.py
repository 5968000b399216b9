"""Real repositories with a real bare ``origin`` on disk, and checks that nothing was left behind."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ennio.core.config import ProjectConfig
from ennio.core.plugins import WorkspaceSpec
from tests.helpers.git import commit_file, git


def project_for(repo: Path, **fields: Any) -> ProjectConfig:
    return ProjectConfig.model_validate({"name": "app", "path": str(repo), **fields})


def spec(
    project: ProjectConfig, root: Path, session: str = "app-1", branch: str = "feat/1-x", **fields: Any
) -> WorkspaceSpec:
    return WorkspaceSpec(project=project, session_id=session, branch=branch, root=root, **fields)


def add_origin(repo: Path) -> Path:
    """A bare repository next to ``repo``, added as its ``origin`` with ``main`` pushed and fetched."""
    origin = repo.parent / f"{repo.name}-origin.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], check=True)
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "fetch", "-q", "origin")
    return origin


def push_from_elsewhere(origin: Path, scratch: Path, rel: str, content: str, branch: str = "main") -> str:
    """Commit ``rel`` on ``branch`` of ``origin`` through another clone (as a teammate would); returns the sha."""
    subprocess.run(["git", "clone", "-q", str(origin), str(scratch)], check=True)
    if branch != "main":
        git(scratch, "checkout", "-q", "-b", branch)
    sha = commit_file(scratch, rel, content, f"add {rel}")
    git(scratch, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    return sha


@dataclass(frozen=True)
class Snapshot:
    """What a failed create must leave exactly as it was."""

    worktrees: list[str]
    branches: list[str]
    root_entries: list[str]


def snapshot(repo: Path, root: Path) -> Snapshot:
    worktrees = [
        line.removeprefix("worktree ")
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]
    branches = git(repo, "for-each-ref", "--format=%(refname)", "refs/heads").splitlines()
    entries = sorted(p.name for p in root.iterdir()) if root.exists() else []
    return Snapshot(worktrees, branches, entries)


def head_branch(path: Path) -> str:
    return git(path, "rev-parse", "--abbrev-ref", "HEAD")
