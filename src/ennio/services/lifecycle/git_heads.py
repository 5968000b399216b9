"""Where session branches stand locally: their heads (one git call per repository) and how many
commits they are ahead of their base. The lifecycle uses this to open PRs and push new commits."""

from __future__ import annotations

from pathlib import Path

from ennio.core.errors import WorkspaceError
from ennio.core.ids import validate_branch_name
from ennio.core.proc import run

GIT_TIMEOUT = 30.0


async def branch_heads(repo: Path) -> dict[str, str]:
    """Every local branch of ``repo`` and its head commit. Worktrees share their repository's
    branches, so this covers every worktree session of a project at once."""
    result = await run(
        ["git", "-C", str(repo), "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/"],
        timeout=GIT_TIMEOUT,
        check=False,
        error=WorkspaceError,
    )
    if not result.ok:
        return {}
    heads: dict[str, str] = {}
    for line in result.stdout.splitlines():
        name, _, sha = line.rpartition(" ")
        if name and sha:
            heads[name] = sha
    return heads


async def workspace_head(path: Path) -> str | None:
    """The commit checked out in a workspace (for clones, whose branches the project repo lacks)."""
    result = await run(
        ["git", "-C", str(path), "rev-parse", "--verify", "--quiet", "HEAD"],
        timeout=GIT_TIMEOUT,
        check=False,
        error=WorkspaceError,
    )
    sha = result.stdout.strip()
    return sha if result.ok and sha else None


async def commits_ahead(path: Path, head: str, base: str) -> int:
    """Commits reachable from ``head`` but from neither ``base`` nor ``origin/base``."""
    validate_branch_name(base)
    result = await run(
        [
            "git",
            "-C",
            str(path),
            "rev-list",
            "--count",
            "--ignore-missing",
            head,
            "--not",
            f"refs/heads/{base}",
            f"refs/remotes/origin/{base}",
        ],
        timeout=GIT_TIMEOUT,
        check=False,
        error=WorkspaceError,
    )
    try:
        return int(result.stdout.strip()) if result.ok else 0
    except ValueError:
        return 0


async def last_subject(path: Path, head: str) -> str | None:
    """The subject line of ``head`` (a PR title when the session has no issue)."""
    result = await run(
        ["git", "-C", str(path), "log", "-1", "--format=%s", head, "--"],
        timeout=GIT_TIMEOUT,
        check=False,
        error=WorkspaceError,
    )
    subject = result.stdout.strip()
    return subject if result.ok and subject else None


async def commits_since(path: Path, head: str, since: str) -> int:
    """Commits in ``head`` that ``since`` (an older head, maybe unknown here) does not have."""
    result = await run(
        ["git", "-C", str(path), "rev-list", "--count", "--ignore-missing", head, "--not", since],
        timeout=GIT_TIMEOUT,
        check=False,
        error=WorkspaceError,
    )
    try:
        return int(result.stdout.strip()) if result.ok else 0
    except ValueError:
        return 0
