"""What both workspace kinds share: input checks, branch rules, rollback, and the safe-destroy checks.

A subclass only says how the folder is made (:meth:`GitWorkspace._make`) and removed
(:meth:`GitWorkspace._remove`). Creation is all-or-nothing: every step that changes something
registers its undo first, and any failure (or cancellation) runs the undos in reverse.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from ennio.core.config import ProjectConfig
from ennio.core.errors import Conflict, NotFound, UnsafeToDestroy, WorkspaceError
from ennio.core.ids import validate_branch_name, validate_id
from ennio.core.plugins import PluginContext, PluginManifest, WorkspaceInfo, WorkspaceSpec
from ennio.core.rollback import Rollback
from ennio.plugins.workspace import _git
from ennio.plugins.workspace._prepare import link_and_copy, run_post_create

log = logging.getLogger("ennio.workspace")

#: seconds a looked-up repository (top folder, remotes) is trusted before it is looked at again
REPO_CHECK_TTL = 10.0

#: how the new branch comes about: fresh from the base, an existing local branch, or a remote one
StartMode = Literal["new", "local", "remote"]


@dataclass(slots=True)
class Plan:
    """Everything decided before the workspace is made."""

    spec: WorkspaceSpec
    repo: _git.Repo
    path: Path
    base_ref: str
    base_sha: str
    mode: StartMode
    #: commit the branch starts at
    start_sha: str
    fetch_error: str | None

    @property
    def branch(self) -> str:
        return self.spec.branch


async def remove_tree(path: Path) -> None:
    """Delete ``path`` (symlinks inside are removed, never followed)."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        await asyncio.to_thread(shutil.rmtree, path)


class GitWorkspace:
    """Base of the ``worktree`` and ``clone`` workspaces."""

    manifest: ClassVar[PluginManifest]
    kind: ClassVar[str]
    #: whether ``git stash`` entries live in the workspace (and are lost with it)
    owns_stash: ClassVar[bool] = False

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        self._locks: dict[Path, asyncio.Lock] = {}
        self._repos: dict[Path, tuple[float, _git.Repo]] = {}

    async def _open_repo(self, path: Path) -> _git.Repo:
        """The project's repository, checked at most every :data:`REPO_CHECK_TTL` seconds.

        Looking a repository up costs two git processes; a spawn needs it in its preflight and again
        in ``create``, and a batch of spawns needs it for each one.
        """
        key = Path(os.path.abspath(path))
        now = time.monotonic()
        cached = self._repos.get(key)
        if cached is not None and now - cached[0] < REPO_CHECK_TTL and cached[1].common_dir.is_dir():
            return cached[1]
        repo = await _git.open_repo(path)
        self._repos[key] = (now, repo)
        return repo

    def _lock(self, repo: Path) -> asyncio.Lock:
        """Serialises the making of workspaces of one repository within this process.

        Fetch, the branch checks and the ``worktree add``/``clone`` run under it, so two spawns never
        both take one branch or folder and a rollback only ever removes what its own create made.
        post_create (the slow part) runs outside it.
        """
        return self._locks.setdefault(repo, asyncio.Lock())

    # ----------------------------------------------------------------------- create

    async def create(self, spec: WorkspaceSpec) -> WorkspaceInfo:
        validate_id(spec.session_id, "session id")
        validate_branch_name(spec.branch)
        _git.require_git()
        repo = await self._open_repo(spec.project.path)
        undo = Rollback(log)
        try:
            async with self._lock(repo.path):
                path = self._target(spec, repo)
                plan = await self._plan(spec, repo, path)
                await self._make(plan, undo)
            linked = await asyncio.to_thread(link_and_copy, repo.path, path, spec.project)
            if linked:
                async with self._lock(repo.path):
                    await self._exclude(path, linked)
            await run_post_create(path, spec.project, self._post_create_env(plan))
        except BaseException:
            await asyncio.shield(self._rollback(repo.path, undo))
            raise
        data: dict[str, Any] = {
            "repo": str(repo.path),
            "remote": repo.remote,
            "base_ref": plan.base_ref,
            "base_sha": plan.base_sha,
            "created_branch": plan.mode != "local",
            "symlinks": linked,
        }
        if plan.fetch_error:
            data["fetch_error"] = plan.fetch_error
        return WorkspaceInfo(
            path=path, branch=spec.branch, base_branch=spec.project.default_branch, kind=self.kind, data=data
        )

    async def _rollback(self, repo: Path, undo: Rollback) -> None:
        async with self._lock(repo):
            await undo.run()

    def _target(self, spec: WorkspaceSpec, repo: _git.Repo) -> Path:
        path = spec.path
        root = path.parent
        if root.resolve().is_relative_to(repo.path):
            raise WorkspaceError(
                f"workspace folder {root} is inside the repository {repo.path}",
                hint="put workspaces outside the repo (by default they live in Ennio's data directory)",
            )
        if path.exists() or path.is_symlink():
            raise Conflict(
                f"{path} already exists", hint=f"destroy the old workspace of {spec.session_id} first, or use a new id"
            )
        root.mkdir(parents=True, exist_ok=True)
        return path

    async def _plan(self, spec: WorkspaceSpec, repo: _git.Repo, path: Path) -> Plan:
        fetch_error = await _git.fetch(repo)
        if fetch_error:
            log.warning("fetching %s in %s failed, using what is local: %s", repo.remote, repo.path, fetch_error)
        default, branch, remote = spec.project.default_branch, spec.branch, repo.remote
        local_default, local_branch = f"refs/heads/{default}", f"refs/heads/{branch}"
        # the remote names are only looked up when there is a remote
        remote_default, remote_branch = f"refs/remotes/{remote}/{default}", f"refs/remotes/{remote}/{branch}"
        names = [local_default, local_branch] + ([remote_default, remote_branch] if remote else [])
        found = await _git.refs(repo.path, *names)
        if remote_default in found:
            base_ref, base_sha = remote_default, found[remote_default]
        elif local_default in found:
            base_ref, base_sha = local_default, found[local_default]
        else:
            where = f"neither {remote}/{default} nor {default}" if remote else f"no branch {default}"
            raise NotFound(
                f"default branch {default!r} not found in {repo.path} ({where})",
                hint="set the project's default_branch to a branch the repository has",
            )
        mode: StartMode = "new"
        start_sha = base_sha
        if local_branch in found or remote_branch in found:
            where = "in the repository" if local_branch in found else f"on {remote}"
            if not spec.reuse_branch:
                raise Conflict(
                    f"branch {branch!r} already exists {where}",
                    hint="choose another branch name, or ask to reuse the existing branch",
                )
            holder = await self._checked_out_at(repo, spec)
            if holder is not None:
                raise Conflict(
                    f"branch {branch!r} is already checked out at {holder}",
                    hint="finish or destroy that workspace first (or switch it to another branch)",
                )
            if local_branch in found:
                mode, start_sha = "local", found[local_branch]
            else:
                mode, start_sha = "remote", found[remote_branch]
        return Plan(
            spec=spec,
            repo=repo,
            path=path,
            base_ref=base_ref.removeprefix("refs/heads/").removeprefix("refs/remotes/"),
            base_sha=base_sha,
            mode=mode,
            start_sha=start_sha,
            fetch_error=fetch_error,
        )

    async def _checked_out_at(self, repo: _git.Repo, spec: WorkspaceSpec) -> Path | None:
        """Where ``spec.branch`` is checked out: a worktree of the repo, or a clone next to the new workspace."""
        entries = await _git.worktrees(repo.path)
        if any(e.prunable and not e.locked for e in entries):
            await _git.git(repo.path, "worktree", "prune")
            entries = await _git.worktrees(repo.path)
        for entry in entries:
            if entry.branch == spec.branch:
                return entry.path
        head = f"ref: refs/heads/{spec.branch}"
        root = Path(os.path.abspath(spec.root))
        for sibling in sorted(root.iterdir()) if root.is_dir() else []:
            head_file = sibling / ".git" / "HEAD"
            if head_file.is_file() and head_file.read_text(errors="replace").strip() == head:
                return sibling
        return None

    async def _make(self, plan: Plan, undo: Rollback) -> None:
        """Create the folder on its branch, registering undo steps before each change."""
        raise NotImplementedError

    async def _exclude(self, workspace: Path, linked: list[str]) -> None:
        """Keep our symlinks out of ``git add -A`` (``node_modules/`` in .gitignore does not match a symlink).

        Written to git's ``info/exclude``: the clone's own, or for a worktree the repo's shared one
        (an anchored ``/path`` line per symlink that is not ignored already; the caller holds the lock).
        """
        status = await _git.git(workspace, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *linked)
        untracked = {item[3:].rstrip("/") for item in status.stdout.split("\0") if item.startswith("?? ")}
        shown = [rel for rel in linked if rel.rstrip("/") in untracked]
        if not shown:
            return
        common = await _git.git(workspace, "rev-parse", "--path-format=absolute", "--git-common-dir")
        await asyncio.to_thread(_append_excludes, Path(common.stdout.strip()) / "info" / "exclude", shown)

    def _post_create_env(self, plan: Plan) -> dict[str, str]:
        return {
            "ENNIO_SESSION_ID": plan.spec.session_id,
            "ENNIO_PROJECT_ID": plan.spec.project.pid,
            "ENNIO_BRANCH": plan.branch,
            "ENNIO_WORKSPACE_PATH": str(plan.path),
        }

    # ----------------------------------------------------------------------- safety and destroy

    async def exists(self, info: WorkspaceInfo) -> bool:
        return info.path.is_dir() and (info.path / ".git").exists()

    async def preflight(self, project: ProjectConfig) -> None:
        """git is installed and the project's path is the top folder of a git repository."""
        _git.require_git()
        await self._open_repo(project.path)

    async def unsafe_reasons(
        self, info: WorkspaceInfo, project: ProjectConfig, *, merged_head: str | None = None
    ) -> list[str]:
        validate_branch_name(info.branch)
        if merged_head is not None:
            _git.check_commit_id(merged_head)
        _git.require_git()
        if not await self.exists(info):
            return []
        ours = {str(rel).rstrip("/") for rel in info.data.get("symlinks") or []}
        reasons: list[str] = []
        try:
            changed = [c for c in await _git.changes(info.path) if c.path.rstrip("/") not in ours]
            if changed:
                reasons.append(_describe_changes(changed))
            pending = await self._unpushed(info, project, merged_head)
        except WorkspaceError as exc:
            return [*reasons, f"could not check it for unsaved work ({exc.message})"]
        if self.owns_stash and (stashed := await _git.stash_count(info.path)):
            reasons.append(f"{stashed} stashed change{'s' if stashed > 1 else ''} (git stash list)")
        if pending.commits:
            n = len(pending.commits)
            shown = "; ".join(pending.commits[:3]) + ("; …" if n > 3 else "")
            reasons.append(
                f"{n} commit{'s' if n > 1 else ''} {pending.where} not pushed (not in {pending.against}): {shown}"
            )
        return reasons

    async def _unpushed(self, info: WorkspaceInfo, project: ProjectConfig, merged_head: str | None) -> _git.Unpushed:
        """Commits destroying the workspace would lose: a worktree shares the repository's refs, so only
        HEAD and the session branch can hold work nothing else has (the clone counts every ref)."""
        return await _git.unpushed(info.path, info.branch, info.base_branch or project.default_branch, merged_head)

    async def destroy(
        self,
        info: WorkspaceInfo,
        project: ProjectConfig,
        *,
        force: bool = False,
        agent_alive: bool = False,
        merged_head: str | None = None,
    ) -> None:
        reasons = await self.unsafe_reasons(info, project, merged_head=merged_head)
        if agent_alive:
            reasons.append("an agent is still running in it")
        if reasons and not force:
            raise UnsafeToDestroy(
                f"workspace {info.path} still holds work: {'; '.join(reasons)}",
                reasons=reasons,
                hint="commit and push (and stop the agent) first, or destroy it with force to discard the work",
            )
        if reasons:
            log.warning("destroying %s by force despite: %s", info.path, "; ".join(reasons))
        _guard(info.path, project.path)
        await self._remove(info, project, force=force, merged_head=merged_head)

    async def _remove(
        self, info: WorkspaceInfo, project: ProjectConfig, *, force: bool, merged_head: str | None = None
    ) -> None:
        raise NotImplementedError


def _guard(path: Path, repo: Path) -> None:
    """Never delete the repository itself or a folder holding it, whatever the stored info says."""
    target, source = Path(os.path.abspath(path)).resolve(), Path(os.path.abspath(repo)).resolve()
    if not path.is_absolute() or source.is_relative_to(target):
        raise WorkspaceError(f"refusing to delete {path}: it is (or holds) the repository {repo}")


def _describe_changes(changed: list[_git.Change]) -> str:
    untracked = [c.path for c in changed if c.untracked]
    modified = [c.path for c in changed if not c.untracked]
    parts = []
    if modified:
        parts.append(f"{len(modified)} modified or staged ({_names(modified)})")
    if untracked:
        parts.append(f"{len(untracked)} untracked ({_names(untracked)})")
    return f"uncommitted changes: {', '.join(parts)}"


def _names(paths: list[str], most: int = 3) -> str:
    return ", ".join(paths[:most]) + (", …" if len(paths) > most else "")


def _append_excludes(exclude: Path, paths: list[str]) -> None:
    exclude.parent.mkdir(parents=True, exist_ok=True)
    text = exclude.read_text() if exclude.exists() else ""
    present = set(text.splitlines())
    new = [line for line in dict.fromkeys(_exclude_pattern(rel) for rel in paths) if line not in present]
    if new:
        with exclude.open("a") as fh:
            if text and not text.endswith("\n"):
                fh.write("\n")
            fh.write("# symlinks Ennio creates in its workspaces\n" + "".join(f"{line}\n" for line in new))


def _exclude_pattern(rel: str) -> str:
    """``/rel`` with gitignore's special characters escaped (anchored at the workspace top)."""
    escaped = "".join("\\" + c if c in "*?[\\" else c for c in rel.rstrip("/"))
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped
