"""The git side of the local SCM: branch heads, trial merges, merging, CI checkouts, pushing.

Every call is an argv list through :func:`ennio.core.proc.run`; branch names are validated and
commit ids checked to be full ids by the caller before they get here. Needs git ≥ 2.38
(``merge-tree --write-tree``).
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ennio.core.errors import Conflict, SCMError
from ennio.core.proc import Completed, run, tail

_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
#: variables a caller's environment (a git hook, a shell inside a worktree) may leak into ours
_LEAKY = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")
FALLBACK_IDENTITY = {
    "GIT_AUTHOR_NAME": "Ennio",
    "GIT_AUTHOR_EMAIL": "ennio@localhost",
    "GIT_COMMITTER_NAME": "Ennio",
    "GIT_COMMITTER_EMAIL": "ennio@localhost",
}


def clean_env(extra: Mapping[str, str] | None = None, *, for_git: bool = True) -> dict[str, str]:
    """Our environment without what would point git at another repository (plus ``extra``)."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY}
    if for_git:
        env.update(_GIT_ENV)
    env.update(extra or {})
    return env


async def git(
    cwd: Path,
    *args: str,
    check: bool = True,
    timeout: float = 60.0,
    what: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Completed:
    return await run(
        ["git", *args], cwd=cwd, env=clean_env(env), timeout=timeout, check=check, error=SCMError, what=what
    )


async def branch_heads(repo: Path, names: Sequence[str] = ()) -> dict[str, str]:
    """Branch name -> head commit, for every branch (or only ``names``), from one ``for-each-ref``."""
    patterns = [f"refs/heads/{n}" for n in names] or ["refs/heads/"]
    out = await git(
        repo,
        "for-each-ref",
        "--format=%(objectname) %(refname)",
        *patterns,
        what=f"reading the branches of {repo}",
    )
    heads: dict[str, str] = {}
    for line in out.stdout.splitlines():
        sha, _, ref = line.partition(" ")
        if ref.startswith("refs/heads/"):
            heads[ref.removeprefix("refs/heads/")] = sha
    if names:
        wanted = set(names)
        heads = {k: v for k, v in heads.items() if k in wanted}
    return heads


@dataclass(frozen=True, slots=True)
class TrialMerge:
    """What merging ``head`` into ``base`` would give: the tree, or the files that conflict."""

    tree: str
    conflicts: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.conflicts


async def trial_merge(repo: Path, base: str, head: str) -> TrialMerge:
    """A real merge computed in git's object store (``merge-tree --write-tree``); no checkout is touched."""
    result = await git(
        repo,
        "merge-tree",
        "--write-tree",
        "--name-only",
        "--no-messages",
        "-z",
        base,
        head,
        check=False,
        what="trial merge",
    )
    parts = result.stdout.split("\0")
    tree = parts[0].strip() if parts else ""
    if result.returncode not in (0, 1) or not tree or not all(c in "0123456789abcdef" for c in tree):
        raise SCMError(
            f"git merge-tree failed (exit {result.returncode}): {tail(result.stderr or result.stdout)}",
            hint="the local SCM needs git 2.38 or newer (`git --version`)",
        )
    conflicts = [p for p in parts[1:] if p] if result.returncode == 1 else []
    return TrialMerge(tree, conflicts)


async def common_dir(path: Path) -> Path:
    """git's common directory of the repository ``path`` belongs to (shared by all its worktrees)."""
    out = await git(
        path, "rev-parse", "--path-format=absolute", "--git-common-dir", what=f"reading the repository at {path}"
    )
    return Path(out.stdout.strip()).resolve()


async def checkouts(repo: Path) -> dict[str, Path]:
    """Branch -> the worktree of ``repo`` where it is checked out."""
    out = await git(repo, "worktree", "list", "--porcelain", what="listing worktrees")
    found: dict[str, Path] = {}
    path: Path | None = None
    for line in out.stdout.splitlines():
        if line.startswith("worktree "):
            path = Path(line.removeprefix("worktree "))
        elif line.startswith("branch refs/heads/") and path is not None:
            found[line.removeprefix("branch refs/heads/")] = path
    return found


async def uncommitted(worktree: Path) -> list[str]:
    """Tracked files with changes (staged or not) in ``worktree``; untracked files do not count."""
    out = await git(
        worktree, "status", "--porcelain=v1", "-z", "--untracked-files=no", what=f"checking {worktree} for changes"
    )
    entries = out.stdout.split("\0")
    changed: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        index += 1
        if len(entry) > 3:
            changed.append(entry[3:])
            if "R" in entry[:2] or "C" in entry[:2]:
                index += 1  # a rename's original name follows
    return changed


async def in_progress(worktree: Path) -> str | None:
    """The operation a person left half-done in ``worktree`` (a merge, rebase…), if any."""
    out = await git(worktree, "rev-parse", "--path-format=absolute", "--git-dir", what="reading the worktree")
    git_dir = Path(out.stdout.strip())
    for marker, name in (
        ("MERGE_HEAD", "a merge"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ):
        if (git_dir / marker).exists():
            return name
    return None


async def identity_env(repo: Path) -> dict[str, str]:
    """Ennio's own identity, only when the repository has none configured (commits must not fail)."""
    probe = await git(repo, "var", "GIT_COMMITTER_IDENT", check=False, what="reading the committer identity")
    return {} if probe.ok else dict(FALLBACK_IDENTITY)


async def is_ancestor(repo: Path, commit: str, of: str) -> bool:
    result = await git(repo, "merge-base", "--is-ancestor", commit, of, check=False)
    return result.returncode == 0


# --------------------------------------------------------------------------- CI checkouts

#: worktree add/remove/prune of one repository, one at a time within this process (per event loop:
#: an asyncio lock belongs to one loop)
_repo_locks: dict[tuple[int, Path], asyncio.Lock] = {}


def _lock(repo: Path) -> asyncio.Lock:
    key = (id(asyncio.get_running_loop()), repo.resolve())
    lock = _repo_locks.get(key)
    if lock is None:
        lock = _repo_locks[key] = asyncio.Lock()
    return lock


async def add_checkout(repo: Path, path: Path, sha: str) -> None:
    """A detached worktree of exactly ``sha`` at ``path`` (a clean checkout for CI)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    async with _lock(repo):
        await git(
            repo, "worktree", "add", "--detach", "--force", str(path), sha, timeout=600, what=f"checking out {sha[:12]}"
        )


async def remove_checkout(repo: Path, path: Path) -> None:
    """Remove a CI worktree, whatever state the command left it in."""
    async with _lock(repo):
        await git(repo, "worktree", "remove", "--force", "--force", str(path), check=False, timeout=300)
        if path.exists():
            await asyncio.to_thread(shutil.rmtree, path, True)
        await git(repo, "worktree", "prune", check=False)


# --------------------------------------------------------------------------- writing

#: file in the repository's common git folder whose flock makes merges into it one at a time
MERGE_LOCK_FILE = "ennio-merge.lock"


@asynccontextmanager
async def merge_lock(repo: Path, timeout: float) -> AsyncIterator[None]:
    """One merge into ``repo`` at a time across every process (the daemon, a CLI, another Ennio install):
    two ``git merge`` runs in one checkout would fight over its index, and the loser's ``merge --abort``
    could undo the winner's merge. The kernel drops the lock when its holder dies, so it never goes stale."""
    common = Path((await git(repo, "rev-parse", "--git-common-dir")).stdout.strip())
    fd = os.open((repo / common) / MERGE_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Conflict(
                        f"another merge into {repo} has been running for over {timeout:g}s",
                        hint="wait for it to finish (or look for a stuck ennio process), then merge again",
                    ) from None
                await asyncio.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock


async def commit_tree(repo: Path, tree: str, parents: Sequence[str], message: str, env: Mapping[str, str]) -> str:
    args = ["commit-tree", tree]
    for parent in parents:
        args += ["-p", parent]
    args += ["-m", message]
    out = await git(repo, *args, env=env, what="writing the merge commit")
    return out.stdout.strip()


async def update_ref(repo: Path, branch: str, new: str, old: str, reason: str) -> bool:
    """Move ``branch`` from ``old`` to ``new`` atomically; ``False`` if it no longer points at ``old``."""
    result = await git(
        repo, "update-ref", "-m", reason, f"refs/heads/{branch}", new, old, check=False, what=f"moving {branch}"
    )
    return result.ok
