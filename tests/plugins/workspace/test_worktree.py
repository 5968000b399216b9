"""The worktree workspace: what is specific to sharing the project's repository."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from ennio.core.errors import Conflict, UnsafeToDestroy, WorkspaceError
from ennio.core.plugins import WorkspaceInfo
from ennio.plugins.workspace.worktree import WorktreeWorkspace
from tests.helpers.git import commit_file, git
from tests.helpers.workspace import add_origin, project_for, snapshot, spec


def registered(repo: Path) -> list[str]:
    return [
        line.removeprefix("worktree ")
        for line in git(repo, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


async def test_worktree_is_registered_and_its_branch_has_no_upstream_yet(
    worktree: WorktreeWorkspace, repo: Path, root: Path
) -> None:
    add_origin(repo)
    info = await worktree.create(spec(project_for(repo), root))
    assert str(info.path) in registered(repo)
    assert (info.path / ".git").is_file()
    # --no-track: a plain `git push` must not aim at main
    done = subprocess.run(["git", "config", "branch.feat/1-x.merge"], cwd=repo, capture_output=True, check=False)
    assert done.returncode == 1
    assert info.data["base_ref"] == "origin/main"
    assert info.data["created_branch"] is True


async def test_merged_branch_is_deleted_with_the_worktree(worktree: WorktreeWorkspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    info = await worktree.create(spec(project, root))
    commit_file(info.path, "feature.py", "x = 1\n")
    git(repo, "merge", "-q", "--no-edit", "feat/1-x")

    assert await worktree.unsafe_reasons(info, project) == []
    await worktree.destroy(info, project)
    assert git(repo, "branch", "--list", "feat/1-x") == ""
    assert str(info.path) not in registered(repo)


async def test_pushed_but_unmerged_branch_is_kept(worktree: WorktreeWorkspace, repo: Path, root: Path) -> None:
    origin = add_origin(repo)
    project = project_for(repo)
    info = await worktree.create(spec(project, root))
    sha = commit_file(info.path, "feature.py", "x = 1\n")
    git(info.path, "push", "-q", "origin", "feat/1-x")

    await worktree.destroy(info, project)
    assert not info.path.exists()
    assert git(repo, "rev-parse", "feat/1-x") == sha  # an open PR's branch stays where it was
    assert git(origin, "rev-parse", "feat/1-x") == sha


async def test_force_keeps_a_reused_branch_that_existed_before(
    worktree: WorktreeWorkspace, repo: Path, root: Path
) -> None:
    git(repo, "branch", "feat/mine")
    project = project_for(repo)
    info = await worktree.create(spec(project, root, branch="feat/mine", reuse_branch=True))
    sha = commit_file(info.path, "agent.py", "a = 1\n")
    assert info.data["created_branch"] is False

    await worktree.destroy(info, project, force=True)
    assert not info.path.exists()
    assert git(repo, "rev-parse", "feat/mine") == sha


async def test_worktree_deleted_by_hand_is_pruned_and_its_branch_reusable(
    worktree: WorktreeWorkspace, repo: Path, root: Path
) -> None:
    project = project_for(repo)
    info = await worktree.create(spec(project, root))
    commit_file(info.path, "feature.py", "x = 1\n")
    shutil.rmtree(info.path)

    again = await worktree.create(spec(project, root, "app-2", branch="feat/1-x", reuse_branch=True))
    assert (again.path / "feature.py").exists()
    assert str(info.path) not in registered(repo)

    assert not await worktree.exists(info)
    await worktree.destroy(info, project)  # already gone: no error, branch in use elsewhere kept
    assert git(repo, "branch", "--list", "feat/1-x") != ""


async def test_locked_worktree_is_removed_by_force(worktree: WorktreeWorkspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    info = await worktree.create(spec(project, root))
    git(repo, "worktree", "lock", str(info.path))
    await worktree.destroy(info, project, force=True)
    assert not info.path.exists()
    assert str(info.path) not in registered(repo)


async def test_folder_that_is_not_a_worktree_of_the_repo_is_not_deleted(
    worktree: WorktreeWorkspace, repo: Path, root: Path
) -> None:
    stranger = root / "app-9"
    stranger.mkdir(parents=True)
    (stranger / ".git").write_text("gitdir: /elsewhere\n")
    info = WorkspaceInfo(path=stranger, branch="feat/9", base_branch="main", kind="worktree")
    with pytest.raises(WorkspaceError, match="is not a worktree of"):
        await worktree.destroy(info, project_for(repo), force=True)
    assert stranger.exists()


async def test_unreachable_origin_falls_back_to_what_is_local(
    worktree: WorktreeWorkspace, repo: Path, root: Path, tmp_path: Path
) -> None:
    add_origin(repo)
    git(repo, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    info = await worktree.create(spec(project_for(repo), root))
    assert "fetch_error" in info.data
    assert git(info.path, "rev-parse", "HEAD") == git(repo, "rev-parse", "origin/main")


async def test_symlink_exclude_is_written_once_to_the_repo(worktree: WorktreeWorkspace, repo: Path, root: Path) -> None:
    (repo / "node_modules").mkdir()
    project = project_for(repo, symlinks=["node_modules"])
    await worktree.create(spec(project, root, "app-1", "feat/1"))
    await worktree.create(spec(project, root, "app-2", "feat/2"))
    exclude = (repo / ".git" / "info" / "exclude").read_text().splitlines()
    assert exclude.count("/node_modules") == 1
    # the repo's own checkout is unaffected: its node_modules folder was ignored already
    assert git(repo, "status", "--porcelain") == ""


async def test_parallel_creates_on_one_repo_all_succeed(worktree: WorktreeWorkspace, repo: Path, root: Path) -> None:
    add_origin(repo)
    project = project_for(repo)
    infos = await asyncio.gather(*(worktree.create(spec(project, root, f"app-{i}", f"feat/{i}")) for i in range(8)))
    assert len({i.path for i in infos}) == 8
    assert len(registered(repo)) == 9


async def test_parallel_creates_of_one_branch_let_exactly_one_win(
    worktree: WorktreeWorkspace, repo: Path, root: Path
) -> None:
    project = project_for(repo)
    before = snapshot(repo, root)
    results = await asyncio.gather(
        *(worktree.create(spec(project, root, f"app-{i}", "feat/same")) for i in range(4)), return_exceptions=True
    )
    wins = [r for r in results if isinstance(r, WorkspaceInfo)]
    assert len(wins) == 1
    assert all(isinstance(r, Conflict) for r in results if r not in wins)
    after = snapshot(repo, root)
    assert len(after.worktrees) == len(before.worktrees) + 1
    assert after.root_entries == [wins[0].path.name]


async def test_broken_worktree_is_unsafe_until_forced(worktree: WorktreeWorkspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    info = await worktree.create(spec(project, root))
    (info.path / ".git").write_text("gitdir: /nowhere/at/all\n")

    reasons = await worktree.unsafe_reasons(info, project)
    assert len(reasons) == 1 and reasons[0].startswith("could not check it for unsaved work")
    with pytest.raises(UnsafeToDestroy):
        await worktree.destroy(info, project)

    await worktree.destroy(info, project, force=True)
    assert not info.path.exists()
    assert str(info.path) not in registered(repo)
    assert git(repo, "branch", "--list", "feat/1-x") == ""
