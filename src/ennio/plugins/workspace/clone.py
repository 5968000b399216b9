"""``clone`` workspace: a separate clone of the project's repo on its own branch.

For tools that do not cope with worktrees, or when a session must not share the repo's config,
hooks, stash or refs. The clone is made from the local repo (fast, offline after the fetch);
its ``origin`` then points where pushes go: the project's remote when the repo has one, else the
local repo itself.

Objects are shared with the repo through hard links (git's default for a local clone), not
through ``--reference``/alternates: a clone borrowing objects from the repo breaks when the repo
later prunes them, and Ennio does exactly what triggers that (deletes squash-merged session
branches, then ``git gc`` runs). Hard links share the disk blocks while the clone owns its
objects. ``--dissociate`` would also be safe but copies every object (slow on big repos).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from ennio import __version__
from ennio.core.config import ProjectConfig
from ennio.core.errors import WorkspaceError
from ennio.core.plugins import PluginManifest, Slot, WorkspaceInfo
from ennio.core.rollback import Rollback
from ennio.plugins.workspace import _git
from ennio.plugins.workspace._base import GitWorkspace, Plan, remove_tree

CLONE_TIMEOUT = 600.0


class CloneWorkspace(GitWorkspace):
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="clone",
        slot=Slot.WORKSPACE,
        version=__version__,
        description="A separate git clone of the project's repo on a new branch (objects hard-linked).",
    )
    kind: ClassVar[str] = "clone"
    owns_stash: ClassVar[bool] = True

    async def _make(self, plan: Plan, undo: Rollback) -> None:
        repo, path, branch = plan.repo, plan.path, plan.branch
        undo.add(f"remove clone {path}", lambda: remove_tree(path))
        await _git.git(
            repo.path,
            "clone",
            "--quiet",
            "--no-checkout",
            "--",
            str(repo.path),
            str(path),
            timeout=CLONE_TIMEOUT,
            what="git clone",
        )
        if repo.remote is not None:
            await self._point_origin_at_remote(plan)
        await _git.git(path, "checkout", "--quiet", "--no-track", "-b", branch, plan.start_sha, what="git checkout")
        if await _git.refs(path, f"refs/remotes/origin/{branch}"):
            await _git.git(path, "branch", "--quiet", f"--set-upstream-to=origin/{branch}", branch)

    async def _point_origin_at_remote(self, plan: Plan) -> None:
        """``origin`` = the project's remote, and ``origin/*`` = what the repo last fetched from it."""
        repo, path = plan.repo, plan.path
        assert repo.remote is not None
        url = _git.absolute_url(repo.remotes[repo.remote], repo.path)
        push = await _git.git(repo.path, "remote", "get-url", "--push", "--", repo.remote)
        await _git.set_origin(path, url, _git.absolute_url(push.stdout.strip(), repo.path))
        await _git.git(
            path,
            "fetch",
            "--quiet",
            "--prune",
            "--no-tags",
            "--",
            str(repo.path),
            f"+refs/remotes/{repo.remote}/*:refs/remotes/origin/*",
        )

    async def _unpushed(self, info: WorkspaceInfo, project: ProjectConfig, merged_head: str | None) -> _git.Unpushed:
        """Every local ref of the clone counts: its ``main`` and side branches die with it (stashes are
        counted apart, see ``owns_stash``)."""
        source = info.data.get("repo")
        return await _git.clone_unpushed(info.path, Path(source) if source else project.path, merged_head)

    async def _remove(
        self, info: WorkspaceInfo, project: ProjectConfig, *, force: bool, merged_head: str | None = None
    ) -> None:
        if not (info.path.exists() or info.path.is_symlink()):
            return
        if info.path.is_symlink() or not (info.path / ".git").is_dir():
            raise WorkspaceError(
                f"{info.path} is not a git clone; not deleting it", hint="remove it by hand if nothing in it is needed"
            )
        await remove_tree(info.path)
