"""What every workspace plugin does, run against each one (loaded through the registry) with real git."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ennio.core.clock import SystemClock
from ennio.core.errors import Conflict, InvalidId, MissingTool, NotFound, UnsafeToDestroy, WorkspaceError
from ennio.core.plugins import PluginContext, Slot, Workspace, WorkspaceInfo
from ennio.services.registry import default_registry
from tests.helpers.git import commit_file, git
from tests.helpers.wait import async_wait_for
from tests.helpers.workspace import add_origin, head_branch, project_for, push_from_elsewhere, snapshot, spec

KINDS = ["worktree", "clone"]
PY = sys.executable


@pytest.fixture(params=KINDS)
def ws(request: pytest.FixtureRequest, data_dir: Path) -> Workspace:
    cls = default_registry().get(Slot.WORKSPACE, request.param)
    plugin: Workspace = cls(PluginContext(data_dir=data_dir, clock=SystemClock()))
    return plugin


@pytest.fixture
def root(data_dir: Path) -> Path:
    return data_dir / "workspaces" / "app"


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("repo", files={"README.md": "# app\n", ".gitignore": ".env\nnode_modules/\n"})


async def test_is_a_workspace_plugin(ws: Workspace) -> None:
    assert isinstance(ws, Workspace)
    assert ws.manifest.slot is Slot.WORKSPACE
    assert ws.manifest.name in KINDS


# --------------------------------------------------------------------------- create


@pytest.mark.parametrize("with_origin", [False, True], ids=["local-only", "with-origin"])
async def test_create_makes_a_fresh_branch_from_the_latest_default_branch(
    ws: Workspace, repo: Path, root: Path, tmp_path: Path, with_origin: bool
) -> None:
    if with_origin:
        origin = add_origin(repo)
        # a teammate pushed after our last fetch: the workspace must start from it
        expected = push_from_elsewhere(origin, tmp_path / "teammate", "upstream.txt", "new\n")
    else:
        expected = git(repo, "rev-parse", "main")
    project = project_for(repo)

    info = await ws.create(spec(project, root))

    assert info.path == root / "app-1"
    assert not info.path.resolve().is_relative_to(repo.resolve())
    assert info.kind == ws.manifest.name
    assert (info.branch, info.base_branch) == ("feat/1-x", "main")
    assert head_branch(info.path) == "feat/1-x"
    assert git(info.path, "rev-parse", "HEAD") == expected
    assert info.data["base_sha"] == expected
    assert (info.path / "upstream.txt").exists() is with_origin
    assert await ws.exists(info)
    assert await ws.unsafe_reasons(info, project) == []
    assert git(info.path, "status", "--porcelain") == ""
    if with_origin:
        # pushes from the workspace land in the project's origin
        commit_file(info.path, "work.txt", "work\n")
        git(info.path, "push", "-q", "origin", "feat/1-x")
        assert git(origin, "rev-parse", "feat/1-x") == git(info.path, "rev-parse", "HEAD")


async def test_workspaces_are_isolated_from_each_other_and_the_repo(ws: Workspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    one = await ws.create(spec(project, root, "app-1", "feat/1-one"))
    two = await ws.create(spec(project, root, "app-2", "feat/2-two"))
    main_before = git(repo, "rev-parse", "main")

    commit_file(one.path, "only-in-one.txt", "1\n")
    (one.path / "README.md").write_text("changed in one\n")

    assert not (two.path / "only-in-one.txt").exists()
    assert not (repo / "only-in-one.txt").exists()
    assert (two.path / "README.md").read_text() == "# app\n"
    assert (repo / "README.md").read_text() == "# app\n"
    assert git(repo, "rev-parse", "main") == main_before
    assert git(two.path, "rev-parse", "HEAD") == main_before


# --------------------------------------------------------------------------- branch rules


async def test_existing_branch_is_refused_unless_reused(ws: Workspace, repo: Path, root: Path) -> None:
    git(repo, "checkout", "-q", "-b", "feat/old")
    tip = commit_file(repo, "old.txt", "old work\n")
    git(repo, "checkout", "-q", "main")
    project = project_for(repo)
    before = snapshot(repo, root)

    with pytest.raises(Conflict, match=r"branch 'feat/old' already exists"):
        await ws.create(spec(project, root, branch="feat/old"))
    assert snapshot(repo, root) == before

    info = await ws.create(spec(project, root, branch="feat/old", reuse_branch=True))
    assert head_branch(info.path) == "feat/old"
    assert git(info.path, "rev-parse", "HEAD") == tip
    assert (info.path / "old.txt").read_text() == "old work\n"

    with pytest.raises(Conflict, match="already checked out at") as caught:
        await ws.create(spec(project, root, "app-2", branch="feat/old", reuse_branch=True))
    assert str(info.path) in str(caught.value)
    assert not (root / "app-2").exists()


async def test_reuse_is_refused_while_the_repo_itself_has_the_branch_checked_out(
    ws: Workspace, repo: Path, root: Path
) -> None:
    git(repo, "checkout", "-q", "-b", "feat/here")
    with pytest.raises(Conflict, match="already checked out at") as caught:
        await ws.create(spec(project_for(repo), root, branch="feat/here", reuse_branch=True))
    assert str(repo) in str(caught.value)
    assert not (root / "app-1").exists()


async def test_branch_that_exists_only_on_origin_counts_as_existing(
    ws: Workspace, repo: Path, root: Path, tmp_path: Path
) -> None:
    origin = add_origin(repo)
    pushed = push_from_elsewhere(origin, tmp_path / "teammate", "theirs.txt", "x\n", branch="feat/theirs")
    project = project_for(repo)
    before = snapshot(repo, root)

    with pytest.raises(Conflict, match="already exists on origin"):
        await ws.create(spec(project, root, branch="feat/theirs"))
    assert snapshot(repo, root) == before

    info = await ws.create(spec(project, root, branch="feat/theirs", reuse_branch=True))
    assert git(info.path, "rev-parse", "HEAD") == pushed
    assert git(info.path, "rev-parse", "--abbrev-ref", "@{upstream}") == "origin/feat/theirs"
    assert await ws.unsafe_reasons(info, project) == []

    with pytest.raises(Conflict, match=f"already checked out at {info.path}"):
        await ws.create(spec(project, root, "app-2", branch="feat/theirs", reuse_branch=True))


async def test_reuse_of_a_branch_that_does_not_exist_creates_it(ws: Workspace, repo: Path, root: Path) -> None:
    info = await ws.create(spec(project_for(repo), root, branch="feat/new", reuse_branch=True))
    assert head_branch(info.path) == "feat/new"


# --------------------------------------------------------------------------- post_create, symlinks, copies


async def test_symlinks_copies_and_post_create_run_in_the_workspace(ws: Workspace, repo: Path, root: Path) -> None:
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "node_modules" / "pkg").mkdir(parents=True)
    (repo / "node_modules" / "pkg" / "index.js").write_text("module.exports = 1\n")
    script = (
        "import os, pathlib; pathlib.Path('made.txt').write_text("
        "os.getcwd() + '|' + os.environ['ENNIO_SESSION_ID'] + '|' + pathlib.Path('.env').read_text())"
    )
    project = project_for(
        repo, symlinks=["node_modules"], copy_files=[".env"], post_create=[[PY, "-c", script], "git status --short"]
    )

    info = await ws.create(spec(project, root))

    link = info.path / "node_modules"
    assert link.is_symlink() and link.resolve() == (repo / "node_modules").resolve()
    assert (link / "pkg" / "index.js").read_text() == "module.exports = 1\n"
    env = info.path / ".env"
    assert not env.is_symlink() and env.read_text() == "SECRET=1\n"
    assert (info.path / "made.txt").read_text() == f"{info.path}|app-1|SECRET=1\n"
    # the symlink is not work the agent could commit by accident, nor a reason to refuse destroy
    assert "node_modules" not in git(info.path, "status", "--porcelain", "--untracked-files=all")
    (info.path / "made.txt").unlink()
    assert await ws.unsafe_reasons(info, project) == []

    await ws.destroy(info, project)
    assert not info.path.exists()
    # destroy removed the link, never what it points to
    assert (repo / "node_modules" / "pkg" / "index.js").exists()
    assert (repo / ".env").exists()


FAILURES = {
    "exit-code": (
        [[PY, "-c", "import sys; sys.stderr.write('boom: missing dep\\n'); sys.exit(3)"]],
        "boom: missing dep",
    ),
    "disk-full": ([["dd", "if=/dev/zero", "of=/dev/full", "bs=1k", "count=1"]], "No space left on device"),
    "not-installed": ([["ennio-no-such-program", "--x"]], "ennio-no-such-program is not installed"),
    "second-fails": ([[PY, "-c", "open('ok.txt', 'w')"], ["git", "no-such-subcommand"]], "no-such-subcommand"),
}


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_failing_post_create_leaves_nothing_behind(ws: Workspace, repo: Path, root: Path, failure: str) -> None:
    commands, expected = FAILURES[failure]
    project = project_for(repo, post_create=commands)
    before = snapshot(repo, root)

    with pytest.raises(WorkspaceError, match="post_create command") as caught:
        await ws.create(spec(project, root))

    assert expected in str(caught.value)
    assert snapshot(repo, root) == before
    assert not (root / "app-1").exists()
    assert git(repo, "branch", "--list", "feat/1-x") == ""


async def test_post_create_timeout_leaves_nothing_behind(ws: Workspace, repo: Path, root: Path) -> None:
    project = project_for(repo, post_create=[[PY, "-c", "import time; time.sleep(30)"]], post_create_timeout="1s")
    before = snapshot(repo, root)
    with pytest.raises(WorkspaceError, match="timed out"):
        await ws.create(spec(project, root))
    assert snapshot(repo, root) == before


@pytest.mark.parametrize("field", ["copy_files", "symlinks"])
async def test_missing_source_of_a_copy_or_symlink_is_a_clear_error(
    ws: Workspace, repo: Path, root: Path, field: str
) -> None:
    project = project_for(repo, **{field: ["config/local.yaml"]})
    before = snapshot(repo, root)
    with pytest.raises(WorkspaceError, match=rf"{field}: .*config/local.yaml does not exist"):
        await ws.create(spec(project, root))
    assert snapshot(repo, root) == before


async def test_cancelled_create_leaves_nothing_behind(ws: Workspace, repo: Path, root: Path, tmp_path: Path) -> None:
    marker = tmp_path / "post-create-started"
    hang = f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)"
    project = project_for(repo, post_create=[[PY, "-c", hang]])
    before = snapshot(repo, root)

    task = asyncio.create_task(ws.create(spec(project, root)))

    async def started() -> bool:
        return marker.exists()

    await async_wait_for(started, what="post_create to start")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert snapshot(repo, root) == before


# --------------------------------------------------------------------------- bad input

BAD_BRANCHES = ["feat;rm -rf ~", "$(touch pwned)", "feat/`id`", "a..b", "has space", "-x", "--force", "a|b", "x\ny"]


@pytest.mark.parametrize("branch", BAD_BRANCHES)
async def test_unsafe_branch_names_are_rejected_before_git_runs(
    ws: Workspace, repo: Path, root: Path, branch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_for(repo)
    before = snapshot(repo, root)
    # with git unreachable, a validation error (not "git is not installed") proves git never ran
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(InvalidId, match="branch name"):
        await ws.create(spec(project, root, branch=branch))
    monkeypatch.undo()
    assert snapshot(repo, root) == before
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("session", ["../escape", "a b", "-x", "a;b", ""])
async def test_unsafe_session_ids_are_rejected(ws: Workspace, repo: Path, root: Path, session: str) -> None:
    with pytest.raises(InvalidId, match="session id"):
        await ws.create(spec(project_for(repo), root, session=session))
    assert not root.exists() or list(root.iterdir()) == []


async def test_repo_path_that_does_not_exist(ws: Workspace, root: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(NotFound, match=rf"repository path {missing} does not exist"):
        await ws.create(spec(project_for(missing), root))
    assert not root.exists()


async def test_repo_path_that_is_not_a_git_repo(ws: Workspace, root: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(WorkspaceError, match=rf"{plain} is not a git repository"):
        await ws.create(spec(project_for(plain), root))
    assert not root.exists()


async def test_repo_path_that_is_a_subfolder_of_a_repo(ws: Workspace, repo: Path, root: Path) -> None:
    (repo / "sub").mkdir()
    with pytest.raises(WorkspaceError, match="not its top folder"):
        await ws.create(spec(project_for(repo / "sub"), root))


async def test_missing_default_branch(ws: Workspace, repo: Path, root: Path) -> None:
    before = snapshot(repo, root)
    with pytest.raises(NotFound, match="default branch 'develop' not found"):
        await ws.create(spec(project_for(repo, default_branch="develop"), root))
    assert snapshot(repo, root) == before


async def test_root_inside_the_repo_is_refused(ws: Workspace, repo: Path) -> None:
    inside = repo / ".ennio" / "workspaces"
    with pytest.raises(WorkspaceError, match="is inside the repository"):
        await ws.create(spec(project_for(repo), inside))
    assert not (repo / ".ennio").exists()
    assert git(repo, "status", "--porcelain") == ""


async def test_existing_target_folder_is_refused_and_kept(ws: Workspace, repo: Path, root: Path) -> None:
    (root / "app-1").mkdir(parents=True)
    (root / "app-1" / "keep.txt").write_text("mine\n")
    with pytest.raises(Conflict, match="already exists"):
        await ws.create(spec(project_for(repo), root))
    assert (root / "app-1" / "keep.txt").read_text() == "mine\n"
    assert git(repo, "branch", "--list", "feat/1-x") == ""


async def test_git_missing_says_how_to_install_it(
    ws: Workspace, repo: Path, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(MissingTool, match="git is not installed") as caught:
        await ws.create(spec(project_for(repo), root))
    assert caught.value.hint is not None and "apt-get install git" in caught.value.hint


# --------------------------------------------------------------------------- safe destroy


async def test_clean_workspace_is_destroyed_without_a_trace(ws: Workspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    before = snapshot(repo, root)
    info = await ws.create(spec(project, root))
    assert snapshot(repo, root) != before

    await ws.destroy(info, project)

    assert not await ws.exists(info)
    assert snapshot(repo, root) == before
    await ws.destroy(info, project)  # already gone: no error


async def test_uncommitted_changes_and_untracked_files_block_destroy(ws: Workspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    info = await ws.create(spec(project, root))
    (info.path / "README.md").write_text("edited\n")
    (info.path / "notes" / "new.txt").parent.mkdir()
    (info.path / "notes" / "new.txt").write_text("draft\n")

    reasons = await ws.unsafe_reasons(info, project)
    assert len(reasons) == 1
    assert "uncommitted changes" in reasons[0]
    assert "1 modified or staged (README.md)" in reasons[0]
    assert "1 untracked (notes/new.txt)" in reasons[0]

    with pytest.raises(UnsafeToDestroy) as caught:
        await ws.destroy(info, project)
    assert caught.value.reasons == reasons
    assert (info.path / "notes" / "new.txt").read_text() == "draft\n"


@pytest.mark.parametrize("with_origin", [False, True], ids=["local-only", "with-origin"])
async def test_unpushed_commits_block_destroy_until_pushed(
    ws: Workspace, repo: Path, root: Path, with_origin: bool
) -> None:
    if with_origin:
        origin = add_origin(repo)
    project = project_for(repo)
    info = await ws.create(spec(project, root))
    sha = commit_file(info.path, "feature.py", "x = 1\n", "add feature")

    reasons = await ws.unsafe_reasons(info, project)
    assert len(reasons) == 1
    where = "on feat/1-x" if ws.manifest.name == "worktree" else "in the clone"
    assert f"1 commit {where} not pushed" in reasons[0]
    assert f"{sha[:7]} add feature" in reasons[0]
    with pytest.raises(UnsafeToDestroy, match="not pushed"):
        await ws.destroy(info, project)
    assert await ws.exists(info)

    if with_origin:
        git(info.path, "push", "-q", "-u", "origin", "feat/1-x")
        assert git(origin, "rev-parse", "feat/1-x") == sha
        commit_file(info.path, "more.py", "y = 2\n", "more")
        # with an upstream, only commits missing from it count (a clone: from every remote-tracking ref)
        against = "origin/feat/1-x" if ws.manifest.name == "worktree" else "any remote"
        assert f"not in {against}" in (await ws.unsafe_reasons(info, project))[0]
        git(info.path, "push", "-q")
        assert await ws.unsafe_reasons(info, project) == []
        await ws.destroy(info, project)
        assert not await ws.exists(info)


async def test_live_agent_blocks_destroy_and_force_overrides_everything(ws: Workspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    before = snapshot(repo, root)
    info = await ws.create(spec(project, root))
    commit_file(info.path, "work.py", "w = 1\n")
    (info.path / "scratch.txt").write_text("s\n")

    with pytest.raises(UnsafeToDestroy) as caught:
        await ws.destroy(info, project, agent_alive=True)
    reasons = caught.value.reasons
    assert len(reasons) == 3
    assert any("uncommitted" in r for r in reasons)
    assert any("not pushed" in r for r in reasons)
    assert "an agent is still running in it" in reasons
    assert await ws.exists(info)

    await ws.destroy(info, project, force=True, agent_alive=True)
    assert not await ws.exists(info)
    assert snapshot(repo, root) == before


async def test_live_agent_alone_blocks_a_clean_workspace(ws: Workspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    info = await ws.create(spec(project, root))
    with pytest.raises(UnsafeToDestroy) as caught:
        await ws.destroy(info, project, agent_alive=True)
    assert caught.value.reasons == ["an agent is still running in it"]


async def test_exists_follows_the_workspace(ws: Workspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    never = WorkspaceInfo(path=root / "never", branch="feat/never", base_branch="main", kind=ws.manifest.name)
    assert not await ws.exists(never)
    assert await ws.unsafe_reasons(never, project) == []
    info = await ws.create(spec(project, root))
    assert await ws.exists(WorkspaceInfo.from_dict(info.to_dict()))
    await ws.destroy(info, project)
    assert not await ws.exists(info)


async def test_destroy_never_deletes_the_repository(ws: Workspace, repo: Path) -> None:
    project = project_for(repo)
    info = WorkspaceInfo(path=repo, branch="main", base_branch="main", kind=ws.manifest.name)
    with pytest.raises(WorkspaceError, match="refusing to delete"):
        await ws.destroy(info, project, force=True)
    assert (repo / "README.md").exists()
