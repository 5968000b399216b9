"""Making a fresh workspace usable: the project's symlinks, copied files and post_create commands.

Symlinks and copies come first, so ``post_create`` (``npm ci``, ``uv sync`` …) already sees ``.env``
and shared folders. Every ``post_create`` command runs as an argv list in the workspace, its output
captured; ``post_create_timeout`` bounds all of them together, so a spawn never hangs longer.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import time
from pathlib import Path

from ennio.core.config import ProjectConfig
from ennio.core.errors import MissingTool, WorkspaceError
from ennio.core.proc import run, tail

log = logging.getLogger("ennio.workspace")


def _inside(workspace: Path, rel: str) -> Path:
    """``workspace/rel``, refusing a path that a symlink in the workspace leads outside it."""
    target = workspace / rel
    if not target.parent.resolve().is_relative_to(workspace.resolve()):
        raise WorkspaceError(f"{rel!r} leads outside the workspace {workspace}", hint="list paths inside the repo")
    return target


def _link(repo: Path, workspace: Path, rel: str) -> None:
    source = repo / rel
    if not source.exists():
        raise WorkspaceError(
            f"symlinks: {source} does not exist", hint=f"create it, or remove {rel!r} from the project's symlinks"
        )
    target = _inside(workspace, rel)
    if target.exists() or target.is_symlink():
        raise WorkspaceError(
            f"symlinks: {rel!r} already exists in the new workspace (is it tracked by git?)",
            hint=f"only untracked paths can be symlinked; remove {rel!r} from the project's symlinks",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(source.resolve(), target_is_directory=source.is_dir())


def _copy(repo: Path, workspace: Path, rel: str) -> None:
    source = repo / rel
    if not source.exists():
        raise WorkspaceError(
            f"copy_files: {source} does not exist", hint=f"create it, or remove {rel!r} from the project's copy_files"
        )
    target = _inside(workspace, rel)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        shutil.copy2(source, target)


def link_and_copy(repo: Path, workspace: Path, project: ProjectConfig) -> list[str]:
    """Create the project's symlinks and copies (blocking); returns the symlinked paths."""
    for rel in project.symlinks:
        _link(repo, workspace, rel)
    for rel in project.copy_files:
        _copy(repo, workspace, rel)
    return list(project.symlinks)


async def run_post_create(workspace: Path, project: ProjectConfig, env: dict[str, str]) -> None:
    """Run ``project.post_create`` in order; the first failure raises with its command and stderr."""
    budget = project.post_create_timeout.total_seconds()
    deadline = time.monotonic() + budget
    for argv in project.post_create:
        command = shlex.join(argv)
        left = deadline - time.monotonic()
        if left <= 0:
            raise _timed_out(command, budget)
        try:
            done = await run(argv, cwd=workspace, extra_env=env, timeout=left, check=False, error=_PostCreateTimeout)
        except _PostCreateTimeout:
            raise _timed_out(command, budget) from None
        except MissingTool:
            raise WorkspaceError(
                f"post_create command `{command}` failed: {argv[0]} is not installed (or not on PATH)",
                hint="install it, or fix the project's post_create",
            ) from None
        log.debug("post_create `%s` exit %s\n%s%s", command, done.returncode, done.stdout, done.stderr)
        if not done.ok:
            raise WorkspaceError(
                f"post_create command `{command}` failed (exit {done.returncode}): {tail(done.stderr or done.stdout)}",
                hint="fix the command (or what it needs) and spawn again; nothing was left behind",
            )


class _PostCreateTimeout(WorkspaceError):
    pass


def _timed_out(command: str, budget: float) -> WorkspaceError:
    return WorkspaceError(
        f"post_create command `{command}` timed out (post_create_timeout {budget:g}s covers all post_create commands)",
        hint="raise the project's post_create_timeout or make the commands faster",
    )
