"""``worktree`` workspace (default): a ``git worktree`` of the project's repo on its own branch.

Cheap (objects and config are shared with the repo) and the branch is immediately visible in the
repo. Branches are created with ``--no-track``: the new branch gets its upstream when it is first
pushed, not the default branch's (which would make ``git push`` aim at ``main``).

Destroy removes the worktree and prunes its entry. The branch is deleted only when nothing is
lost by it: when it is merged into the default branch or contained in the merged pull request's
head (``merged_head``: a squash merge), or when destroy is forced and Ennio created the branch for
this workspace (a reused branch that existed before is kept).
"""

from __future__ import annotations

from typing import ClassVar

from ennio import __version__
from ennio.core.config import ProjectConfig
from ennio.core.errors import WorkspaceError
from ennio.core.plugins import PluginManifest, Slot, WorkspaceInfo
from ennio.core.proc import tail
from ennio.core.rollback import Rollback
from ennio.plugins.workspace import _git
from ennio.plugins.workspace._base import GitWorkspace, Plan, remove_tree


class WorktreeWorkspace(GitWorkspace):
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="worktree",
        slot=Slot.WORKSPACE,
        version=__version__,
        description="A git worktree of the project's repo on a new branch (shares the repo's objects).",
    )
    kind: ClassVar[str] = "worktree"

    async def _make(self, plan: Plan, undo: Rollback) -> None:
        repo, path, branch = plan.repo.path, plan.path, plan.branch
        if plan.mode == "local":
            args = [str(path), branch]
        elif plan.mode == "remote":
            args = ["--track", "-b", branch, str(path), f"{plan.repo.remote}/{branch}"]
        else:
            args = ["--no-track", "-b", branch, str(path), plan.start_sha]
        if plan.mode != "local":

            async def delete_branch() -> None:
                # checked under the repo lock: the branch did not exist, so it is ours to delete
                if await _git.refs(repo, f"refs/heads/{branch}"):
                    await _git.git(repo, "branch", "-D", branch)

            undo.add(f"delete branch {branch}", delete_branch)

        async def remove_worktree() -> None:
            await _git.git(repo, "worktree", "remove", "--force", "--force", str(path), check=False)
            await remove_tree(path)
            await _git.git(repo, "worktree", "prune")

        undo.add(f"remove worktree {path}", remove_worktree)
        await _git.git(repo, "worktree", "add", "--quiet", *args, what="git worktree add")

    async def _remove(
        self, info: WorkspaceInfo, project: ProjectConfig, *, force: bool, merged_head: str | None = None
    ) -> None:
        repo = await _git.open_repo(project.path)
        async with self._lock(repo.path):
            entries = await _git.worktrees(repo.path)
            entry = next((e for e in entries if e.path.resolve() == info.path.resolve()), None)
            if entry is not None and entry.main:
                raise WorkspaceError(f"refusing to delete {info.path}: it is the repository's main working tree")
            if entry is not None:
                extra = ["--force"] if entry.locked else []
                removed = await _git.git(
                    repo.path, "worktree", "remove", "--force", *extra, str(info.path), check=False
                )
                if not removed.ok:
                    if not force:
                        raise WorkspaceError(
                            f"git worktree remove {info.path} failed: {tail(removed.stderr)}",
                            hint="destroy it with force to delete the folder anyway",
                        )
                    await remove_tree(info.path)  # a broken worktree: it is registered here, so it is ours
            elif info.path.exists():
                raise WorkspaceError(
                    f"{info.path} is not a worktree of {repo.path}; not deleting it",
                    hint="remove it by hand if nothing in it is needed",
                )
            await _git.git(repo.path, "worktree", "prune")
            await self._delete_branch(repo, info, force=force, merged_head=merged_head)

    async def _delete_branch(
        self, repo: _git.Repo, info: WorkspaceInfo, *, force: bool, merged_head: str | None = None
    ) -> None:
        branch, default = info.branch, info.base_branch
        if branch == default:
            return
        mine = f"refs/heads/{branch}"
        bases = [f"refs/heads/{default}"] + ([f"refs/remotes/{repo.remote}/{default}"] if repo.remote else [])
        found = await _git.refs(repo.path, mine, *bases)
        if mine not in found:
            return
        if any(e.branch == branch for e in await _git.worktrees(repo.path)):
            return  # someone else works on it now
        merged = False
        for base in bases:
            if base in found and await _git.is_ancestor(repo.path, found[mine], found[base]):
                merged = True
                break
        if not merged and merged_head is not None and await _git.has_commit(repo.path, merged_head):
            # squash-merged: the branch's commits are in the merged pull request, not in the default branch
            merged = await _git.is_ancestor(repo.path, found[mine], merged_head)
        if merged or (force and info.data.get("created_branch")):
            await _git.git(repo.path, "branch", "-D", branch)
