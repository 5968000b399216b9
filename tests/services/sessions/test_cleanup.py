"""Cleanup of finished sessions on real git and tmux; a squash merge judged through the GitHub SCM (fake forge)."""

from __future__ import annotations

from pathlib import Path

from ennio.core.session import SessionStatus
from ennio.plugins._github.settings import RETRY_KEY
from ennio.plugins._github.transport import RetryPolicy
from ennio.services.stack import Services
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, github  # noqa: F401  (a fixture)
from tests.helpers.git import commit_file, git
from tests.helpers.sessions_env import branches, make_config, services, tmux_sessions
from tests.helpers.workspace import add_origin


async def mark_merged(stack: Services, session_id: str, pr_number: int = 7) -> None:
    """What the lifecycle does when it sees the PR merge."""
    await stack.db.sessions.update(session_id, pr_number=pr_number)
    await stack.db.sessions.transition(session_id, SessionStatus.PR_OPEN, "pr opened")
    await stack.db.sessions.transition(session_id, SessionStatus.MERGED, "pr merged")


async def cleaned_events(stack: Services) -> list[str]:
    await stack.events.flush()
    found = await stack.db.events.query(types=["session.cleaned"], limit=100)
    return [e.event.session_id or "" for e in found]


async def test_merged_and_closed_sessions_are_cleaned_and_open_ones_skipped(
    stack: Services, repo: Path, tmux_socket: str
) -> None:
    tracker = stack.sessions.env.plugins.tracker(stack.config.project("app"))
    assert tracker is not None
    issue = await tracker.create_issue("Tidy up")
    merged = await stack.sessions.spawn("app", prompt="merge me")
    closed = await stack.sessions.spawn("app", issue=issue.key)
    still_open = await stack.sessions.spawn("app", prompt="keep me")
    workspace = Path(merged.workspace_path or "")
    commit_file(workspace, "feature.txt", "done\n", "add feature")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "session/app-1")
    await mark_merged(stack, merged.id)
    await tracker.close_issue(issue.key)

    dry = await stack.sessions.cleanup("app", dry_run=True)
    assert {i.session_id: i.reason for i in dry.cleaned} == {
        "app-1": "PR #7 merged",
        "app-2": f"issue {issue.key} closed",
    }
    assert len(tmux_sessions(tmux_socket)) == 3 and workspace.is_dir()

    report = await stack.sessions.cleanup("app")

    assert sorted(i.session_id for i in report.cleaned) == ["app-1", "app-2"]
    assert all(i.workspace_removed for i in report.cleaned)
    assert [(i.session_id, i.reason.split(":")[0]) for i in report.skipped] == [("app-3", "not finished")]
    assert not workspace.exists() and not Path(closed.workspace_path or "").exists()
    assert tmux_sessions(tmux_socket) == [stack.sessions.env.runtime_name(still_open.id)]
    assert "session/app-1" not in branches(repo)  # merged into main
    for sid in ("app-1", "app-2"):
        assert (await stack.sessions.get(sid)).status is SessionStatus.DONE
    assert sorted(await cleaned_events(stack)) == ["app-1", "app-2"]
    history = [c.to_status for c in await stack.db.sessions.history("app-1")]
    assert history[-2:] == [SessionStatus.MERGED, SessionStatus.DONE]


async def test_a_merged_session_whose_workspace_holds_work_is_skipped_with_the_reason(
    stack: Services, repo: Path, tmux_socket: str
) -> None:
    session = await stack.sessions.spawn("app", prompt="x")
    workspace = Path(session.workspace_path or "")
    commit_file(workspace, "feature.txt", "done\n", "add feature")  # committed, but never pushed nor merged
    (workspace / "scratch.txt").write_text("unsaved\n")
    await mark_merged(stack, session.id)

    report = await stack.sessions.cleanup()

    assert report.cleaned == []
    [skipped] = report.skipped
    assert skipped.session_id == session.id
    assert "uncommitted changes" in skipped.reason and "scratch.txt" in skipped.reason
    assert "1 commit on session/app-1 not pushed" in skipped.reason
    assert workspace.is_dir() and tmux_sessions(tmux_socket)
    assert (await stack.sessions.get(session.id)).status is SessionStatus.MERGED


async def squash_merge_on_origin(repo: Path, origin: Path, scratch: Path, branch: str) -> None:
    """What a forge does on "Squash and merge" + "Delete branch": one new commit on main, branch gone."""
    git(scratch.parent, "clone", "-q", str(origin), str(scratch))
    git(scratch, "config", "user.name", "Forge")
    git(scratch, "config", "user.email", "forge@ennio.invalid")
    git(scratch, "merge", "-q", "--squash", f"origin/{branch}")
    git(scratch, "commit", "-q", "-m", "Squashed PR")
    git(scratch, "push", "-q", "origin", "main", f":{branch}")
    git(repo, "fetch", "-q", "--prune", "origin")


async def test_a_squash_merged_pr_with_its_branch_deleted_counts_as_saved(
    tmux_socket: str,
    data_dir: Path,
    repo: Path,
    tmp_path: Path,
    github: FakeGitHub,  # noqa: F811
) -> None:
    origin = add_origin(repo)
    scm = {"provider": "github", "repo": REPO, "token": TOKEN, "base_url": github.base}
    config = make_config(data_dir, repo, scm=scm)
    fast = {RETRY_KEY: RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05, max_wait=1)}
    async with services(config, plugin_extra=fast) as stack:
        squashed = await stack.sessions.spawn("app", prompt="squash me")
        extra = await stack.sessions.spawn("app", prompt="me too")
        heads = {}
        for session in (squashed, extra):
            workspace = Path(session.workspace_path or "")
            heads[session.id] = commit_file(workspace, f"{session.id}.txt", "work\n", f"work of {session.id}")
            git(workspace, "push", "-q", "-u", "origin", session.branch or "")
            pr = github.open_pr(REPO, session.branch or "", sha=heads[session.id])
            pr.state, pr.merged = "closed", True
            await squash_merge_on_origin(repo, origin, tmp_path / f"forge-{session.id}", session.branch or "")
        # the second agent committed once more after its PR was merged: that work is in no PR
        commit_file(Path(extra.workspace_path or ""), "late.txt", "late\n", "late work")

        report = await stack.sessions.cleanup("app")

        assert [(i.session_id, i.reason) for i in report.cleaned] == [(squashed.id, "PR #1 merged")]
        [skipped] = report.skipped
        assert skipped.session_id == extra.id
        assert "1 commit on session/app-2 not pushed" in skipped.reason and "late work" in skipped.reason
        assert not Path(squashed.workspace_path or "").exists()
        assert "session/app-1" not in branches(repo)  # its tip is the merged PR's head
        assert "session/app-2" in branches(repo)
        assert (await stack.sessions.get(squashed.id)).status is SessionStatus.DONE
        assert (await stack.sessions.get(extra.id)).status is SessionStatus.WORKING


async def test_cleanup_of_an_unknown_project_is_refused(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    import pytest

    from ennio.core.errors import NotFound

    async with services(make_config(data_dir, repo)) as stack:
        with pytest.raises(NotFound, match="no project"):
            await stack.sessions.cleanup("nope")
