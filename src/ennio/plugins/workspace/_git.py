"""The git commands and queries both workspace kinds share.

Every call goes through :func:`ennio.core.proc.run` as an argv list, with prompts disabled
(a fetch that needs a password fails instead of hanging) and messages in English (so errors read
the same everywhere). Names reaching git are validated by the caller first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ennio.core.errors import InvalidId, NotFound, WorkspaceError
from ennio.core.proc import Completed, require, run, tail

GIT_INSTALL_HINT = (
    "install git: `apt-get install git` (Debian/Ubuntu), `dnf install git`, or `brew install git` (macOS)"
)
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
FETCH_TIMEOUT = 120.0
_COMMIT_ID_RE = re.compile(r"[0-9a-f]{7,64}")


def require_git() -> None:
    """Raise ``MissingTool`` with an install hint when git is not on PATH."""
    require("git", GIT_INSTALL_HINT)


async def git(
    cwd: Path,
    *args: str,
    check: bool = True,
    timeout: float = 60.0,
    what: str | None = None,
    input: str | None = None,
) -> Completed:
    return await run(
        ["git", *args],
        cwd=cwd,
        extra_env=_GIT_ENV,
        input=input,
        timeout=timeout,
        check=check,
        error=WorkspaceError,
        what=what,
    )


# --------------------------------------------------------------------------- the repository


@dataclass(frozen=True, slots=True)
class Repo:
    """A project's repository: its top folder, git's common dir and remotes (name -> URL)."""

    path: Path
    common_dir: Path
    remotes: dict[str, str]

    @property
    def remote(self) -> str | None:
        """The remote new work is based on and pushed to: ``origin``, else the only remote."""
        if "origin" in self.remotes:
            return "origin"
        if len(self.remotes) == 1:
            return next(iter(self.remotes))
        return None


async def open_repo(path: Path) -> Repo:
    """The repository at ``path``; a clear error when it is missing, not a repo, or not its top folder."""
    if not path.exists():
        raise NotFound(
            f"repository path {path} does not exist", hint="set the project's path to a local clone of the repo"
        )
    if not path.is_dir():
        raise WorkspaceError(f"repository path {path} is not a folder", hint="set the project's path to a git checkout")
    found = await git(path, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", check=False)
    lines = found.stdout.splitlines()
    if not found.ok or len(lines) != 2:
        raise WorkspaceError(
            f"{path} is not a git repository (with a working tree): {tail(found.stderr, 1)}",
            hint="set the project's path to a git checkout (git clone URL, or git init)",
        )
    top, common = Path(lines[0]), Path(lines[1])
    if top.resolve() != path.resolve():
        raise WorkspaceError(
            f"{path} is inside the git repository {top} but is not its top folder",
            hint=f"set the project's path to {top}",
        )
    urls = await git(path, "config", "--get-regexp", r"^remote\..*\.url$", check=False)
    remotes: dict[str, str] = {}
    for line in urls.stdout.splitlines():
        key, _, url = line.partition(" ")
        remotes[key.removeprefix("remote.").removesuffix(".url")] = url
    return Repo(path=top.resolve(), common_dir=common.resolve(), remotes=remotes)


async def fetch(repo: Repo) -> str | None:
    """Fetch the repo's remote; ``None`` when it worked, else the reason (work continues offline)."""
    if repo.remote is None:
        return None
    done = await git(repo.path, "fetch", "--quiet", "--", repo.remote, check=False, timeout=FETCH_TIMEOUT)
    return None if done.ok else redact(tail(done.stderr, 2))


def redact(text: str) -> str:
    """Hide credentials embedded in URLs (``https://user:token@host``)."""
    return re.sub(r"://[^/@\s]+@", "://***@", text)


async def set_origin(clone: Path, url: str, push_url: str | None) -> None:
    """Point the clone's ``origin`` at ``url`` without putting the URL in an argv (it may hold a token)."""
    await git(clone, "config", "--unset-all", "remote.origin.url")
    await git(clone, "config", "--unset-all", "remote.origin.pushurl", check=False)
    section = f'\n[remote "origin"]\n\turl = {_config_value(url)}\n'
    if push_url and push_url != url:
        section += f"\tpushurl = {_config_value(push_url)}\n"
    _append(clone / ".git" / "config", section)


def _append(path: Path, text: str) -> None:
    with path.open("a") as fh:
        fh.write(text)


def _config_value(value: str) -> str:
    if "\n" in value:
        raise WorkspaceError("a remote URL must not contain a line break")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


async def stash_count(workspace: Path) -> int:
    out = await git(workspace, "stash", "list")
    return len(out.stdout.splitlines())


async def refs(cwd: Path, *names: str) -> dict[str, str]:
    """Which of the fully-qualified ref ``names`` exist, with their commit ids (one git call)."""
    out = await git(cwd, "for-each-ref", "--format=%(objectname) %(refname)", "--", *names)
    wanted = set(names)
    found: dict[str, str] = {}
    for line in out.stdout.splitlines():
        sha, _, name = line.partition(" ")
        if name in wanted:
            found[name] = sha
    return found


def check_commit_id(value: str) -> str:
    """``value`` if it is a full or abbreviated hexadecimal commit id (it may reach git's argv)."""
    if not _COMMIT_ID_RE.fullmatch(value):
        raise InvalidId(f"{value[:80]!r} is not a commit id", hint="give 7 to 64 hexadecimal digits")
    return value


async def has_commit(cwd: Path, commit: str) -> bool:
    """Whether the repository holds ``commit`` (a checked commit id)."""
    found = await git(cwd, "cat-file", "-e", f"{check_commit_id(commit)}^{{commit}}", check=False)
    return found.ok


async def is_ancestor(cwd: Path, commit: str, of: str) -> bool:
    return (await git(cwd, "merge-base", "--is-ancestor", commit, of, check=False)).ok


def absolute_url(url: str, repo: Path) -> str:
    """A remote URL usable from anywhere: relative local paths are made absolute (git reads them from the repo)."""
    if "://" in url or re.match(r"^[^/]+:", url) or Path(url).is_absolute():
        return url
    return str((repo / url).resolve())


# --------------------------------------------------------------------------- worktrees


@dataclass(frozen=True, slots=True)
class WorktreeEntry:
    path: Path
    branch: str | None
    main: bool
    locked: bool
    prunable: bool


async def worktrees(repo: Path) -> list[WorktreeEntry]:
    """``git worktree list`` of ``repo``; the first entry is the main working tree."""
    out = await git(repo, "worktree", "list", "--porcelain")
    entries: list[WorktreeEntry] = []
    for block in out.stdout.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" not in fields:
            continue
        branch = fields.get("branch")
        entries.append(
            WorktreeEntry(
                path=Path(fields["worktree"]),
                branch=branch.removeprefix("refs/heads/") if branch else None,
                main=not entries,
                locked="locked" in fields,
                prunable="prunable" in fields,
            )
        )
    return entries


# --------------------------------------------------------------------------- what destroying would lose


@dataclass(frozen=True, slots=True)
class Change:
    code: str
    path: str

    @property
    def untracked(self) -> bool:
        return self.code == "??"


async def changes(workspace: Path) -> list[Change]:
    """Uncommitted changes, untracked files included (ignored files are not work)."""
    out = await git(workspace, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--ignore-submodules=none")
    items = out.stdout.split("\0")
    result: list[Change] = []
    i = 0
    while i < len(items):
        item = items[i]
        i += 1
        if len(item) < 4:
            continue
        code = item[:2]
        result.append(Change(code, item[3:]))
        if "R" in code or "C" in code:
            i += 1  # the rename's source path follows
    return result


@dataclass(frozen=True, slots=True)
class Unpushed:
    commits: list[str]
    #: what they were compared with, for the message ("origin/feat/x", "any remote or main")
    against: str
    #: where they are, for the message ("on feat/x", "in the clone")
    where: str = ""


async def unpushed(workspace: Path, branch: str, default_branch: str, saved: str | None = None) -> Unpushed:
    """Commits on HEAD or ``branch`` that exist nowhere else.

    With an upstream: not contained in it. Without one: not in any remote-tracking ref nor in
    the local default branch. Commits contained in ``saved`` (a merged pull request's head) count as
    saved either way.
    """
    known = await refs(workspace, f"refs/heads/{branch}", f"refs/heads/{default_branch}")
    tips = ["HEAD"] + ([f"refs/heads/{branch}"] if f"refs/heads/{branch}" in known else [])
    up = await git(workspace, "rev-parse", "--symbolic-full-name", f"{branch}@{{upstream}}", check=False)
    upstream = up.stdout.strip() if up.ok else ""
    if upstream and (await refs(workspace, upstream)):
        exclude = [upstream]
        against = upstream.removeprefix("refs/remotes/")
    else:
        exclude = ["--remotes"]
        against = "any remote"
        if f"refs/heads/{default_branch}" in known:
            exclude.append(f"refs/heads/{default_branch}")
            against += f" or {default_branch}"
    if saved is not None and await has_commit(workspace, saved):
        exclude.append(saved)
        against += f" or the merged pull request's head {saved[:12]}"
    log = await git(workspace, "log", "--format=%h %s", *tips, "--not", *exclude, "--")
    return Unpushed([line for line in log.stdout.splitlines() if line], against, f"on {branch}")


async def clone_unpushed(clone: Path, source: Path | None, saved: str | None = None) -> Unpushed:
    """Commits that die with a clone: on any of its branches or tags (or a detached HEAD) and in none of
    its remote-tracking refs, nor under any ref of ``source`` (the repository it was cloned from), nor in
    ``saved`` (a merged pull request's head).

    In a clone even the default branch is the clone's own: a commit on its ``main``, or on a side
    branch, is lost with the folder. Commits the project's repository holds (its own unpushed ``main``,
    copied at clone time) are not. Every exclusion travels as ``^sha`` on standard input.
    """
    remote_tips = await git(clone, "for-each-ref", "--format=%(objectname)", "refs/remotes")
    excluded = set(remote_tips.stdout.split())
    against = "any remote"
    if source is not None and source.is_dir():
        found = await git(source, "for-each-ref", "--format=%(objectname)", check=False)
        wanted = sorted(set(found.stdout.split()) - excluded)
        if wanted:
            have = await git(
                clone, "cat-file", "--batch-check=%(objectname) %(objecttype)", input="\n".join(wanted) + "\n"
            )
            excluded |= {line.split()[0] for line in have.stdout.splitlines() if not line.endswith(" missing")}
        against += " or the project's repository"
    if saved is not None and await has_commit(clone, saved):
        excluded.add(check_commit_id(saved))
        against += f" or the merged pull request's head {saved[:12]}"
    log = await git(
        clone,
        "log",
        "--source",
        "--format=%h %s (on %S)",
        "--branches",
        "--tags",
        "HEAD",
        "--stdin",
        input="".join(f"^{sha}\n" for sha in sorted(excluded)),
    )
    return Unpushed([line for line in log.stdout.splitlines() if line], against, "in the clone")
