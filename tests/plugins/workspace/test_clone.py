"""The clone workspace: where its origin points, and that it owns its objects."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ennio.core.errors import UnsafeToDestroy, WorkspaceError
from ennio.core.plugins import WorkspaceInfo
from ennio.plugins.workspace.clone import CloneWorkspace
from tests.helpers.git import commit_file, git
from tests.helpers.workspace import add_origin, project_for, spec


async def test_origin_of_the_clone_is_the_projects_origin(clone: CloneWorkspace, repo: Path, root: Path) -> None:
    origin = add_origin(repo)
    # a relative remote URL in the repo must still work from the clone's folder
    git(repo, "remote", "set-url", "origin", f"../{origin.name}")
    git(repo, "remote", "set-url", "--push", "origin", f"../{origin.name}/.")
    git(repo, "branch", "local-only")
    info = await clone.create(spec(project_for(repo), root))

    assert git(info.path, "remote", "get-url", "origin") == str(origin.resolve())
    assert git(info.path, "remote", "get-url", "--push", "origin") == str(origin.resolve())
    # origin/* is what the repo knows of its origin, not the repo's own local branches
    remote_refs = git(info.path, "for-each-ref", "--format=%(refname)", "refs/remotes/origin").splitlines()
    assert "refs/remotes/origin/main" in remote_refs
    assert "refs/remotes/origin/local-only" not in remote_refs
    assert git(info.path, "rev-parse", "origin/main") == git(repo, "rev-parse", "origin/main")


async def test_without_a_remote_the_clone_pushes_to_the_repo(clone: CloneWorkspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    info = await clone.create(spec(project, root))
    assert Path(git(info.path, "remote", "get-url", "origin")).resolve() == repo.resolve()

    sha = commit_file(info.path, "feature.py", "x = 1\n")
    assert await clone.unsafe_reasons(info, project) != []
    git(info.path, "push", "-q", "origin", "feat/1-x")
    assert git(repo, "rev-parse", "feat/1-x") == sha
    assert await clone.unsafe_reasons(info, project) == []


@pytest.mark.parametrize("with_origin", [False, True], ids=["local-only", "with-origin"])
async def test_a_clone_counts_work_on_every_local_ref_and_its_stash(
    clone: CloneWorkspace, repo: Path, root: Path, with_origin: bool
) -> None:
    """Refs of a clone die with it: a commit on its main, on a side branch or a tag, or a stash, is work."""
    if with_origin:
        add_origin(repo)
    project = project_for(repo)
    # the project's own unpushed commit on main is in the project's repository: not the clone's to keep
    commit_file(repo, "local.txt", "only in the project repo\n", "project-local work")
    info = await clone.create(spec(project, root))
    assert await clone.unsafe_reasons(info, project) == []

    git(info.path, "checkout", "-q", "main")
    on_main = commit_file(info.path, "m.txt", "m\n", "work on the clone's main")
    git(info.path, "checkout", "-q", "-b", "side", "feat/1-x")
    on_side = commit_file(info.path, "s.txt", "s\n", "work on a side branch")
    git(info.path, "checkout", "-q", "feat/1-x")
    (reason,) = await clone.unsafe_reasons(info, project)
    assert reason.startswith("2 commits in the clone not pushed")
    assert f"{on_main[:7]} work on the clone's main (on main)" in reason
    assert f"{on_side[:7]} work on a side branch (on side)" in reason
    with pytest.raises(UnsafeToDestroy):
        await clone.destroy(info, project)

    git(info.path, "branch", "-q", "-D", "side")
    git(info.path, "tag", "kept", on_side)  # a tag keeps it too
    git(info.path, "branch", "-q", "-f", "main", on_main + "~1")  # main back where the clone began
    (reason,) = await clone.unsafe_reasons(info, project)
    assert reason.startswith("1 commit in the clone not pushed") and "work on a side branch (on kept)" in reason

    git(info.path, "tag", "-d", "kept")
    (info.path / "README.md").write_text("stashed edit\n")
    git(info.path, "stash", "-q")
    assert await clone.unsafe_reasons(info, project) == ["1 stashed change (git stash list)"]
    await clone.destroy(info, project, force=True)
    assert not await clone.exists(info)


async def test_clone_owns_its_objects_and_survives_the_repo_pruning_them(
    clone: CloneWorkspace, repo: Path, root: Path
) -> None:
    git(repo, "checkout", "-q", "-b", "feat/doomed")
    doomed = commit_file(repo, "doomed.txt", "gone soon\n")
    git(repo, "checkout", "-q", "main")
    info = await clone.create(spec(project_for(repo), root))
    assert git(info.path, "rev-parse", "origin/feat/doomed") == doomed
    assert not (info.path / ".git" / "objects" / "info" / "alternates").exists()

    # what Ennio's cleanup does to a squash-merged branch, then git's housekeeping
    git(repo, "branch", "-D", "feat/doomed")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")

    git(info.path, "fsck", "--no-progress")
    assert git(info.path, "cat-file", "-t", doomed) == "commit"


async def test_folder_that_is_not_a_clone_is_not_deleted(clone: CloneWorkspace, repo: Path, root: Path) -> None:
    stranger = root / "app-9"
    stranger.mkdir(parents=True)
    (stranger / "data.txt").write_text("precious\n")
    info = WorkspaceInfo(path=stranger, branch="feat/9", base_branch="main", kind="clone")
    with pytest.raises(WorkspaceError, match="is not a git clone"):
        await clone.destroy(info, project_for(repo), force=True)
    assert (stranger / "data.txt").exists()


async def test_reused_branch_in_a_clone_starts_at_the_repos_branch(
    clone: CloneWorkspace, repo: Path, root: Path
) -> None:
    git(repo, "checkout", "-q", "-b", "feat/old")
    tip = commit_file(repo, "old.txt", "old\n")
    git(repo, "checkout", "-q", "main")
    project = project_for(repo)
    info = await clone.create(spec(project, root, branch="feat/old", reuse_branch=True))
    assert git(info.path, "rev-parse", "HEAD") == tip
    assert git(info.path, "rev-parse", "--abbrev-ref", "@{upstream}") == "origin/feat/old"
    assert await clone.unsafe_reasons(info, project) == []


async def test_stash_entries_of_a_clone_block_destroy(clone: CloneWorkspace, repo: Path, root: Path) -> None:
    project = project_for(repo)
    info = await clone.create(spec(project, root))
    (info.path / "README.md").write_text("half done\n")
    git(info.path, "stash", "-q")
    assert await clone.unsafe_reasons(info, project) == ["1 stashed change (git stash list)"]


async def test_token_in_the_remote_url_reaches_the_clone_but_no_log(
    clone: CloneWorkspace, repo: Path, root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_origin(repo)
    secret_url = "https://ennio:s3cr3t-token@127.0.0.1:9/app.git"  # nothing listens on port 9
    git(repo, "remote", "set-url", "origin", secret_url)
    caplog.set_level(logging.DEBUG)

    info = await clone.create(spec(project_for(repo), root))

    assert git(info.path, "remote", "get-url", "origin") == secret_url
    assert "s3cr3t" not in info.data["fetch_error"]
    assert "s3cr3t" not in caplog.text
