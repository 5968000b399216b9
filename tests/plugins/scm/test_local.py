"""LocalSCM on real git repositories and the real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import event

from ennio.core.clock import ManualClock
from ennio.core.config import ProjectConfig
from ennio.core.errors import Conflict, InvalidId, InvalidInput, NotFound, SCMError
from ennio.core.plugins import (
    SCM,
    BranchRef,
    CIState,
    PluginContext,
    PRSnapshot,
    PRState,
    PullRequest,
    ReviewableSCM,
    ReviewComment,
    ReviewDecision,
    Slot,
)
from ennio.db import Database
from ennio.plugins.scm._local_docs import NAMESPACE
from ennio.plugins.scm.local import LocalSCM
from ennio.services.registry import default_registry
from tests.helpers.git import commit_file, git
from tests.helpers.local_scm import ci_outcome, commit_on
from tests.helpers.wait import async_wait_for, wait_for
from tests.plugins.scm.conftest import LocalRig, sqlite_only


def refs(*branches: str) -> list[BranchRef]:
    return [BranchRef(f"s{i}", b) for i, b in enumerate(branches)]


async def open_for(scm: LocalSCM, repo: Path, branch: str, mode: str = "pass", **kw: object) -> PullRequest:
    ci_outcome(repo, branch, mode)
    return await scm.open_pr(branch=branch, base="main", title=f"Work on {branch}", body="Closes #1", **kw)  # type: ignore[arg-type]


async def settled(scm: LocalSCM, branch: str) -> PRSnapshot:
    await scm.wait_for_ci()
    return (await scm.snapshots(refs(branch)))[branch]


def process_gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(") ", 1)[1][0] in "ZX"


def worktrees(repo: Path) -> list[str]:
    return [line for line in git(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]


# --------------------------------------------------------------------------- basics


@sqlite_only
async def test_is_the_registered_local_scm_and_reviewable(rig: LocalRig) -> None:
    assert default_registry().get(Slot.SCM, "local") is LocalSCM
    scm = rig.make()
    assert isinstance(scm, SCM) and isinstance(scm, ReviewableSCM)
    assert scm.manifest.slot is Slot.SCM and scm.rate_budget() is None


@sqlite_only
async def test_wrong_provider_and_missing_database_are_clear(rig: LocalRig, tmp_path: Path) -> None:
    github = ProjectConfig.model_validate({"name": "app", "path": str(rig.repo), "scm": {"provider": "github"}})
    with pytest.raises(SCMError, match="uses the github SCM, not local"):
        LocalSCM(github, PluginContext(data_dir=tmp_path, clock=ManualClock(), store=rig.db.store))
    no_store = LocalSCM(rig.project(), PluginContext(data_dir=tmp_path, clock=ManualClock()))
    with pytest.raises(SCMError, match="keeps pull requests in Ennio's database"):
        await no_store.find_pr("feat/1-x")


async def test_open_find_and_number_pull_requests(rig: LocalRig) -> None:
    scm = rig.make()
    assert await scm.find_pr("feat/1-login") is None
    first = await open_for(scm, rig.repo, "feat/1-login", draft=True)
    head = git(rig.repo, "rev-parse", "feat/1-login")
    assert (first.number, first.branch, first.base, first.state, first.draft) == (
        1,
        "feat/1-login",
        "main",
        PRState.OPEN,
        True,
    )
    assert first.head_sha == head and first.body == "Closes #1" and first.created_at is not None
    second = await open_for(scm, rig.repo, "feat/2-logout")
    assert second.number == 2
    again = await scm.open_pr(branch="feat/1-login", base="main", title="other title", body="")
    assert again.number == 1
    found = await rig.make().find_pr("feat/1-login")
    assert found is not None and (found.number, found.title) == (1, "Work on feat/1-login")
    assert [p.number for p in await scm.list_prs()] == [2, 1]
    await scm.mark_ready(first)
    assert (await scm.get_pr(1)).draft is False
    assert (await scm.get_pr(2)).branch == "feat/2-logout"
    with pytest.raises(NotFound, match="no pull request #9"):
        await scm.get_pr(9)


async def test_bad_open_requests_leave_nothing_behind(rig: LocalRig) -> None:
    scm = rig.make()
    with pytest.raises(InvalidId):
        await scm.open_pr(branch="feat/../x", base="main", title="t", body="")
    with pytest.raises(InvalidInput, match="title"):
        await scm.open_pr(branch="feat/1-x", base="main", title="  ", body="")
    with pytest.raises(NotFound, match="branch 'feat/1-x' does not exist"):
        await scm.open_pr(branch="feat/1-x", base="main", title="t", body="")
    git(rig.repo, "branch", "feat/2-empty")
    with pytest.raises(InvalidInput, match="no commits that main does not have"):
        await scm.open_pr(branch="feat/2-empty", base="main", title="t", body="")
    ci_outcome(rig.repo, "feat/3-x", "pass")
    with pytest.raises(NotFound, match="'develop' does not exist"):
        await scm.open_pr(branch="feat/3-x", base="develop", title="t", body="")
    assert await rig.db.store.list(NAMESPACE) == {}


async def test_concurrent_opens_get_distinct_numbers_and_one_pr_per_branch(rig: LocalRig, reopen) -> None:  # type: ignore[no-untyped-def]
    other_db: Database = await reopen()
    try:
        mine = rig.make()
        theirs = LocalSCM(
            mine.project, PluginContext(data_dir=rig.data_dir, clock=mine.ctx.clock, store=other_db.store)
        )
        branches = [f"feat/{i}-work" for i in range(6)]
        for branch in branches:
            ci_outcome(rig.repo, branch, "pass")
        opened = await asyncio.gather(
            *[
                (mine if i % 2 else theirs).open_pr(branch=b, base="main", title=b, body="")
                for i, b in enumerate(branches)
            ]
        )
        assert sorted(p.number for p in opened) == [1, 2, 3, 4, 5, 6]
        ci_outcome(rig.repo, "feat/9-same", "pass")
        same = await asyncio.gather(
            mine.open_pr(branch="feat/9-same", base="main", title="a", body=""),
            theirs.open_pr(branch="feat/9-same", base="main", title="b", body=""),
        )
        assert same[0].number == same[1].number
        assert len([p for p in await mine.list_prs() if p.branch == "feat/9-same"]) == 1
    finally:
        await other_db.close()


# --------------------------------------------------------------------------- CI


async def test_ci_passes_and_fails_in_clean_checkouts_with_logs_stored(rig: LocalRig) -> None:
    (rig.repo / "untracked.txt").write_text("only in the person's checkout\n")
    scm = rig.with_ci()
    await open_for(scm, rig.repo, "feat/1-green", "pass")
    red = await open_for(scm, rig.repo, "feat/2-red", "fail")
    first = await scm.snapshots(refs("feat/1-green", "feat/2-red"))
    assert {s.ci for s in first.values()} <= {CIState.PENDING, CIState.PASSING, CIState.FAILING}

    await scm.wait_for_ci()
    snaps = await scm.snapshots(refs("feat/1-green", "feat/2-red"))
    green, failing = snaps["feat/1-green"], snaps["feat/2-red"]
    assert green.ci is CIState.PASSING and [c.name for c in green.checks] == ["ci"]
    assert failing.ci is CIState.FAILING and [c.name for c in failing.failing_checks] == ["ci"]
    assert failing.pr is not None and failing.pr.number == red.number

    (logged,) = await scm.check_logs(failing.pr, failing.checks, lines=3)
    assert logged.log_tail is not None
    assert logged.log_tail.splitlines() == ["test_3 ... ok", "test_4 ... FAILED", "AssertionError: expected 4, got 5"]
    (full,) = await scm.check_logs(failing.pr, failing.checks, lines=50)
    assert full.log_tail is not None and "untracked file present: False" in full.log_tail
    assert f"ci in {rig.repo}" not in full.log_tail
    run = await rig.db.store.get(NAMESPACE, f"app/ci/{red.number:06d}/{failing.pr.head_sha}")
    assert run is not None and run["exit_code"] == 1 and run["summary"].startswith("exit 1")
    assert await scm.check_logs(green.pr, green.checks) == []  # type: ignore[arg-type]
    # the temporary checkouts are gone, from disk and from git's list
    assert worktrees(rig.repo) == [f"worktree {rig.repo}"]
    assert [p.name for p in (rig.data_dir / "ci" / "app").iterdir() if p.name != "logs"] == []


async def test_ci_runs_again_on_a_new_head_and_never_twice_for_one(
    rig: LocalRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs_file = tmp_path / "runs.txt"
    monkeypatch.setenv("CI_RUNS_FILE", str(runs_file))
    scm = rig.with_ci()
    await open_for(scm, rig.repo, "feat/1-fix", "fail")
    assert (await settled(scm, "feat/1-fix")).ci is CIState.FAILING
    for _ in range(3):
        assert (await scm.snapshots(refs("feat/1-fix")))["feat/1-fix"].ci is CIState.FAILING
    await scm.wait_for_ci()
    assert len(runs_file.read_text().split()) == 1

    fixed = ci_outcome(rig.repo, "feat/1-fix", "pass")  # the agent pushes a fix
    moved = (await scm.snapshots(refs("feat/1-fix")))["feat/1-fix"]
    assert moved.pr is not None and moved.pr.head_sha == fixed
    assert moved.ci in (CIState.PENDING, CIState.PASSING)
    assert (await settled(scm, "feat/1-fix")).ci is CIState.PASSING
    await rig.make(ci_command=scm.settings.ci_command).snapshots(refs("feat/1-fix"))  # a second instance
    await scm.wait_for_ci()
    assert runs_file.read_text().split() == [git(rig.repo, "rev-parse", "feat/1-fix~1"), fixed]


async def test_a_hanging_ci_command_times_out_killing_its_process_group(
    rig: LocalRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    child_pid = tmp_path / "child.pid"
    monkeypatch.setenv("CI_CHILD_PID", str(child_pid))
    scm = rig.with_ci(ci_timeout="1s")
    await open_for(scm, rig.repo, "feat/1-hang", "hang")
    snap = await settled(scm, "feat/1-hang")
    assert snap.ci is CIState.FAILING and snap.pr is not None
    (check,) = await scm.check_logs(snap.pr, snap.checks)
    assert check.log_tail is not None
    assert "waiting forever" in check.log_tail  # the log so far is kept
    assert "ennio: CI timed out after 1s" in check.log_tail.splitlines()[-1]
    wait_for(lambda: process_gone(int(child_pid.read_text())), timeout=5, what="the CI command's child to die")
    assert worktrees(rig.repo) == [f"worktree {rig.repo}"]


async def test_a_run_interrupted_by_a_restart_is_run_again(
    rig: LocalRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs_file = tmp_path / "runs.txt"
    monkeypatch.setenv("CI_RUNS_FILE", str(runs_file))
    before = rig.with_ci()
    pr = await open_for(before, rig.repo, "feat/1-restart", "hang-once")
    await async_wait_for(lambda: _exists(runs_file), what="CI to start")
    await before.close()  # the daemon stops mid-run: the command is killed, the run stays pending
    key = f"app/ci/{pr.number:06d}/{pr.head_sha}"
    stored = await rig.db.store.get(NAMESPACE, key)
    assert stored is not None and stored["state"] == "pending"

    after = rig.with_ci()
    assert (await after.snapshots(refs("feat/1-restart")))["feat/1-restart"].ci is CIState.PENDING
    assert (await settled(after, "feat/1-restart")).ci is CIState.PASSING
    stored = await rig.db.store.get(NAMESPACE, key)
    assert stored is not None and stored["attempt"] == 2
    assert len(runs_file.read_text().split()) == 2
    assert worktrees(rig.repo) == [f"worktree {rig.repo}"]


async def test_runs_of_dead_processes_rerun_and_live_foreign_ones_wait(rig: LocalRig) -> None:
    clock = ManualClock()
    scm = rig.make(ci_command=["true"], with_clock=clock)
    ci_outcome(rig.repo, "feat/1-a", "pass")
    ci_outcome(rig.repo, "feat/2-b", "pass")
    heads = {b: git(rig.repo, "rev-parse", b) for b in ("feat/1-a", "feat/2-b")}
    for number, branch in ((1, "feat/1-a"), (2, "feat/2-b")):
        doc = {
            "number": number,
            "branch": branch,
            "base": "main",
            "title": branch,
            "state": "open",
            "head_sha": heads[branch],
        }
        await rig.db.store.put(NAMESPACE, f"app/pr/{number:06d}", doc)
    dead = subprocess.Popen(["true"])
    dead.wait()
    owners = {
        "feat/1-a": {"host": socket.gethostname(), "pid": dead.pid, "token": "gone"},
        "feat/2-b": {"host": "another-machine", "pid": 1, "token": "theirs"},
    }
    for number, branch in ((1, "feat/1-a"), (2, "feat/2-b")):
        run = {"number": number, "sha": heads[branch], "state": "pending", "owner": owners[branch]}
        run["claimed_at"] = clock.now().isoformat()
        await rig.db.store.put(NAMESPACE, f"app/ci/{number:06d}/{heads[branch]}", run)

    await scm.snapshots(refs("feat/1-a", "feat/2-b"))
    await scm.wait_for_ci()
    snaps = await scm.snapshots(refs("feat/1-a", "feat/2-b"))
    assert snaps["feat/1-a"].ci is CIState.PASSING  # its process is dead: re-run at once
    assert snaps["feat/2-b"].ci is CIState.PENDING  # another machine may still be running it
    clock.advance(60 * 16)  # ci_timeout (10 min) and the grace (5 min) have passed
    await scm.snapshots(refs("feat/2-b"))
    assert (await settled(scm, "feat/2-b")).ci is CIState.PASSING


async def test_no_ci_command_means_no_ci(rig: LocalRig) -> None:
    scm = rig.make()
    await open_for(scm, rig.repo, "feat/1-x", "fail")
    snap = (await scm.snapshots(refs("feat/1-x")))["feat/1-x"]
    assert snap.ci is CIState.NONE and snap.checks == []


# --------------------------------------------------------------------------- reviews


async def test_review_decision_follows_each_reviewers_latest_review(rig: LocalRig) -> None:
    scm = rig.make(bot_authors=["bugbot"])
    pr = await open_for(scm, rig.repo, "feat/1-review")

    async def snap() -> PRSnapshot:
        return (await scm.snapshots(refs("feat/1-review")))["feat/1-review"]

    assert (await snap()).review is ReviewDecision.REVIEW_REQUIRED
    await scm.request_changes(
        pr,
        "alice",
        [
            ReviewComment(id="", author="", body="Rename VALUE", path="app.py", line=1),
            ReviewComment(id="", author="", body="Add a test", path="ci.py"),
        ],
        body="Two things",
    )
    await scm.approve(pr, "bob", "fine by me")
    blocked = await snap()
    assert blocked.review is ReviewDecision.CHANGES_REQUESTED
    assert [(c.author, c.body, c.path, c.line) for c in blocked.comments] == [
        ("alice", "Two things", None, None),
        ("alice", "Rename VALUE", "app.py", 1),
        ("alice", "Add a test", "ci.py", None),
    ]
    assert all(c.id and not c.is_bot and c.created_at is not None for c in blocked.comments)

    await scm.comment_review(
        pr, "bugbot", [ReviewComment(id="", author="", body="Possible None", path="app.py", line=1)]
    )
    await scm.request_changes(pr, "bugbot", [ReviewComment(id="", author="", body="Unused import")])
    with_bot = await snap()
    assert with_bot.review is ReviewDecision.CHANGES_REQUESTED  # bots never decide
    assert [(c.author, c.body, c.is_bot) for c in with_bot.bot_comments] == [
        ("bugbot", "Possible None", True),
        ("bugbot", "Unused import", True),
    ]

    await scm.mark_forwarded(pr, with_bot.comments[1])
    await scm.mark_forwarded(pr, with_bot.bot_comments[0])
    forwarded = await snap()
    assert [c.body for c in forwarded.comments] == ["Two things", "Add a test"]
    assert [c.body for c in forwarded.bot_comments] == ["Unused import"]

    await scm.approve(pr, "alice")
    approved = await snap()
    assert approved.review is ReviewDecision.APPROVED and approved.comments == []


async def test_bad_reviews_are_refused_clearly(rig: LocalRig) -> None:
    scm = rig.make()
    pr = await open_for(scm, rig.repo, "feat/1-review")
    with pytest.raises(InvalidInput, match="must say what to change"):
        await scm.request_changes(pr, "alice", [])
    bad = [
        (ReviewComment(id="", author="", body="x", path="nope.py", line=2), "nope.py is not a file in the PR's head"),
        (ReviewComment(id="", author="", body="x", path="no such.py"), "no such.py is not a file"),
        (ReviewComment(id="", author="", body="x", line=2), "--line needs --file"),
        (ReviewComment(id="", author="", body="x", path="/etc/passwd"), "must be a path inside the repository"),
        (ReviewComment(id="", author="", body="x", path="../x"), "must be a path inside the repository"),
        (ReviewComment(id="", author="", body="x", path="app.py", line=0), "must be 1 or more"),
        (ReviewComment(id="", author="", body="  ", path="app.py"), "comment is empty"),
    ]
    for comment, message in bad:
        with pytest.raises(InvalidInput, match=message):
            await scm.request_changes(pr, "alice", [comment])
    with pytest.raises(InvalidInput, match="reviewer name"):
        await scm.approve(pr, "")
    with pytest.raises(InvalidInput, match="not one the local SCM made"):
        await scm.mark_forwarded(pr, ReviewComment(id="../x", author="a", body="b"))
    assert await rig.db.store.list(NAMESPACE, "app/rv/") == {}
    await scm.close_pr(pr)
    with pytest.raises(Conflict, match="is closed; only open pull requests can be reviewed"):
        await scm.approve(pr, "alice")


# --------------------------------------------------------------------------- mergeability and merging


@sqlite_only
async def test_trial_merge_names_conflicting_files_and_follows_the_base(rig: LocalRig) -> None:
    scm = rig.make()
    commit_on(rig.repo, "feat/1-clash", {"app.py": "VALUE = 2\n", "other.txt": "x\n"})
    commit_on(rig.repo, "feat/2-fine", {"new.txt": "new\n"})
    for branch in ("feat/1-clash", "feat/2-fine"):
        await scm.open_pr(branch=branch, base="main", title=branch, body="")
    snaps = await scm.snapshots(refs("feat/1-clash", "feat/2-fine"))
    assert (snaps["feat/1-clash"].mergeable, snaps["feat/2-fine"].mergeable) == (True, True)

    commit_file(rig.repo, "app.py", "VALUE = 3\n", "main changes the same line")
    snaps = await scm.snapshots(refs("feat/1-clash", "feat/2-fine"))
    clash = snaps["feat/1-clash"]
    assert clash.mergeable is False and clash.conflicts == ["app.py"]
    assert snaps["feat/2-fine"].mergeable is True and snaps["feat/2-fine"].conflicts == []


@pytest.mark.parametrize("method", ["merge", "squash"])
@sqlite_only
async def test_merge_into_the_checked_out_clean_default_branch(rig: LocalRig, method: str) -> None:
    scm = rig.make(merge_method=method)
    pr = await open_for(scm, rig.repo, "feat/1-done")
    head = git(rig.repo, "rev-parse", "feat/1-done")
    before = git(rig.repo, "rev-parse", "main")
    (rig.repo / "scratch.txt").write_text("untracked files are no reason to refuse\n")
    snap = (await scm.snapshots(refs("feat/1-done")))["feat/1-done"]
    assert snap.pr is not None

    await scm.merge(snap.pr)

    after = git(rig.repo, "rev-parse", "main")
    parents = git(rig.repo, "rev-list", "--parents", "-n1", after).split()[1:]
    assert parents == ([before, head] if method == "merge" else [before])
    assert (rig.repo / "work" / "feat_1-done.txt").read_text() == "pass"  # the checkout was updated
    assert git(rig.repo, "status", "--porcelain", "--untracked-files=no") == ""
    merged = (await scm.snapshots(refs("feat/1-done")))["feat/1-done"]
    assert merged.pr is not None and merged.pr.state is PRState.MERGED
    assert merged.pr.merge_commit == after and merged.pr.head_sha == head
    subject = git(rig.repo, "log", "-1", "--format=%s", after)
    assert subject == (f"Merge PR #{pr.number} from feat/1-done" if method == "merge" else "Work on feat/1-done (#1)")
    with pytest.raises(Conflict, match="is merged"):
        await scm.merge(merged.pr)
    with pytest.raises(Conflict, match="already merged"):
        await scm.close_pr(merged.pr)


@sqlite_only
async def test_merge_refuses_a_dirty_checkout_of_the_default_branch(rig: LocalRig) -> None:
    scm = rig.make()
    pr = await open_for(scm, rig.repo, "feat/1-done")
    (rig.repo / "README.md").write_text("a person is editing this\n")
    before = git(rig.repo, "rev-parse", "main")
    with pytest.raises(Conflict, match=r"main is checked out in .* uncommitted changes \(README.md\)"):
        await scm.merge(pr)
    assert git(rig.repo, "rev-parse", "main") == before
    assert (rig.repo / "README.md").read_text() == "a person is editing this\n"
    assert (await scm.get_pr(pr.number)).state is PRState.OPEN


@pytest.mark.parametrize("method", ["merge", "squash"])
@sqlite_only
async def test_merge_moves_an_unchecked_out_default_branch_by_compare_and_swap(rig: LocalRig, method: str) -> None:
    git(rig.repo, "checkout", "-q", "-b", "scratch")
    (rig.repo / "README.md").write_text("dirty, but not on main\n")
    scm = rig.make()
    pr = await open_for(scm, rig.repo, "feat/1-done")
    head = git(rig.repo, "rev-parse", "feat/1-done")
    before = git(rig.repo, "rev-parse", "main")
    await scm.merge(pr, method)
    after = git(rig.repo, "rev-parse", "main")
    parents = git(rig.repo, "rev-list", "--parents", "-n1", after).split()[1:]
    assert parents == ([before, head] if method == "merge" else [before])
    assert git(rig.repo, "show", f"{after}:work/feat_1-done.txt") == "pass"
    assert git(rig.repo, "rev-parse", "--abbrev-ref", "HEAD") == "scratch"
    assert (rig.repo / "README.md").read_text() == "dirty, but not on main\n"
    assert f"ennio: merge PR #{pr.number} ({method})" in git(rig.repo, "reflog", "show", "main", "-n1")
    assert (await scm.get_pr(pr.number)).merge_commit == after


@sqlite_only
async def test_merge_happens_in_the_linked_worktree_that_has_the_default_branch(rig: LocalRig, tmp_path: Path) -> None:
    git(rig.repo, "checkout", "-q", "-b", "scratch")
    main_wt = tmp_path / "main-checkout"
    git(rig.repo, "worktree", "add", "-q", str(main_wt), "main")
    scm = rig.make()
    pr = await open_for(scm, rig.repo, "feat/1-done")
    await scm.merge(pr)
    assert (main_wt / "work" / "feat_1-done.txt").read_text() == "pass"
    assert git(main_wt, "rev-parse", "HEAD") == git(rig.repo, "rev-parse", "main")


@sqlite_only
async def test_merges_into_one_checkout_from_two_scms_at_once_both_land(rig: LocalRig) -> None:
    # two LocalSCMs stand for the daemon and a CLI: without the merge lock their `git merge` runs fight over
    # the checkout's index and the loser's `merge --abort` can undo the winner's merge
    first, second = rig.make(), rig.make()
    prs = [await open_for(first, rig.repo, f"feat/{n}-part") for n in range(1, 5)]
    before = git(rig.repo, "rev-parse", "main")
    scms = [first, second, first, second]
    await asyncio.gather(*(scm.merge(pr) for scm, pr in zip(scms, prs, strict=True)))
    for n, pr in enumerate(prs, 1):
        assert (await first.get_pr(pr.number)).state is PRState.MERGED
        assert (rig.repo / "work" / f"feat_{n}-part.txt").read_text() == "pass"
    assert git(rig.repo, "rev-list", "--count", "--merges", f"{before}..main") == "4"
    assert git(rig.repo, "status", "--porcelain", "--untracked-files=no") == ""


@sqlite_only
async def test_a_merge_waits_for_another_process_merging_into_the_same_repository(
    rig: LocalRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    scm = rig.make()
    pr = await open_for(scm, rig.repo, "feat/1-done")
    before = git(rig.repo, "rev-parse", "main")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'a'); fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True);"
            " sys.stdin.read()",
            str(rig.repo / ".git" / "ennio-merge.lock"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setattr(LocalSCM, "merge_lock_timeout", 0.5)
        with pytest.raises(Conflict, match=r"another merge into .* has been running for over 0.5s"):
            await scm.merge(pr)
        assert git(rig.repo, "rev-parse", "main") == before
        assert (await scm.get_pr(pr.number)).state is PRState.OPEN
        monkeypatch.setattr(LocalSCM, "merge_lock_timeout", 60.0)
        waiting = asyncio.create_task(scm.merge(pr))
        assert holder.stdin is not None
        holder.stdin.close()  # the other process finishes: its lock goes with it
        await asyncio.wait_for(waiting, 60)
    finally:
        holder.kill()
        holder.wait()
    assert (await scm.get_pr(pr.number)).state is PRState.MERGED
    assert git(rig.repo, "rev-parse", "main") != before


@sqlite_only
async def test_merge_refuses_conflicts_a_moved_head_and_unknown_methods(rig: LocalRig) -> None:
    scm = rig.make()
    commit_on(rig.repo, "feat/1-clash", {"app.py": "VALUE = 2\n"})
    pr = await scm.open_pr(branch="feat/1-clash", base="main", title="clash", body="")
    commit_file(rig.repo, "app.py", "VALUE = 3\n", "main moves on")
    before = git(rig.repo, "rev-parse", "main")
    with pytest.raises(Conflict, match=r"PR #1 conflicts with main in app.py") as caught:
        await scm.merge(pr)
    assert caught.value.hint and "rebase feat/1-clash on main" in caught.value.hint
    assert git(rig.repo, "rev-parse", "main") == before
    assert git(rig.repo, "status", "--porcelain") == ""

    commit_on(rig.repo, "feat/1-clash", {"more.txt": "pushed after the snapshot\n"})
    with pytest.raises(Conflict, match="moved to"):
        await scm.merge(pr)
    with pytest.raises(InvalidInput, match="does not rebase"):
        await scm.merge(pr, "rebase")


# --------------------------------------------------------------------------- the rest


async def test_close_comment_and_snapshots_of_closed_or_unknown_branches(rig: LocalRig) -> None:
    scm = rig.make()
    pr = await open_for(scm, rig.repo, "feat/1-closing")
    await scm.comment(pr, "Ennio: CI is green")
    with pytest.raises(InvalidInput, match="needs a body"):
        await scm.comment(pr, " ")
    assert [n["body"] for n in await scm.notes(pr)] == ["Ennio: CI is green"]
    await scm.close_pr(pr)
    await scm.close_pr(pr)  # closing twice is fine
    snaps = await scm.snapshots(refs("feat/1-closing", "feat/2-none"))
    closed = snaps["feat/1-closing"]
    assert closed.pr is not None and closed.pr.state is PRState.CLOSED and closed.mergeable is None
    assert snaps["feat/2-none"] == PRSnapshot(branch="feat/2-none")
    reopened = await scm.open_pr(branch="feat/1-closing", base="main", title="again", body="")
    assert reopened.number == 2
    assert (await scm.find_pr("feat/1-closing")) == reopened  # the open one wins
    with pytest.raises(InvalidId):
        await scm.snapshots(refs("bad..name"))


@sqlite_only
async def test_push_from_a_clone_and_not_from_a_worktree(rig: LocalRig, tmp_path: Path) -> None:
    scm = rig.make()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(rig.repo), str(clone)], check=True)
    git(clone, "checkout", "-q", "-b", "feat/1-cloned")
    head = commit_file(clone, "a.txt", "from the clone\n")
    await scm.push(clone, "feat/1-cloned")
    assert git(rig.repo, "rev-parse", "feat/1-cloned") == head
    git(clone, "commit", "-q", "--amend", "-m", "rewritten")  # an agent rebases: the push is forced
    await scm.push(clone, "feat/1-cloned")
    assert git(rig.repo, "rev-parse", "feat/1-cloned") == git(clone, "rev-parse", "HEAD")

    worktree = tmp_path / "wt"
    git(rig.repo, "worktree", "add", "-q", "-b", "feat/2-wt", str(worktree))
    await scm.push(worktree, "feat/2-wt")  # shares the refs already: nothing to do
    with pytest.raises(InvalidId):
        await scm.push(clone, "-x")


# --------------------------------------------------------------------------- cost per pass


class _Counter:
    def __init__(self, db: Database) -> None:
        self.statements: list[str] = []
        self._engine = db.engine.sync_engine
        event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
            self.statements.append(statement)

    def close(self) -> None:
        event.remove(self._engine, "before_cursor_execute", self._seen)


def _git_recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put a ``git`` first on PATH that logs its arguments and runs the real git."""
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True, check=True).stdout.strip()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "git-calls.txt"
    script = bin_dir / "git"
    script.write_text(f'#!/bin/sh\necho "$1" >> "{calls}"\nexec "{real}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return calls


async def test_a_pass_costs_the_same_queries_and_one_git_call_whatever_the_branch_count(
    rig: LocalRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scm = rig.make(ci_command=["true"])
    branches = [f"feat/{i}-work" for i in range(24)]
    for branch in branches:
        ci_outcome(rig.repo, branch, "pass")
        await scm.open_pr(branch=branch, base="main", title=branch, body="")
    pr = await scm.find_pr(branches[0])
    assert pr is not None
    await scm.request_changes(pr, "alice", [ReviewComment(id="", author="", body="nit", path="app.py", line=1)])
    await scm.wait_for_ci()
    await scm.snapshots(refs(*branches))  # trial merges computed and cached

    calls = _git_recorder(tmp_path, monkeypatch)
    costs: dict[int, tuple[int, list[str]]] = {}
    for size in (2, 24):
        counter = _Counter(rig.db)
        calls.unlink(missing_ok=True)
        try:
            snaps = await scm.snapshots(refs(*branches[:size]))
        finally:
            counter.close()
        assert len(snaps) == size and all(s.ci is CIState.PASSING and s.mergeable for s in snaps.values())
        costs[size] = (len(counter.statements), calls.read_text().split())
    assert costs[2] == costs[24] == (3, ["for-each-ref"])
    assert scm.ci is not None and scm.ci.running() == 0


async def test_snapshots_never_wait_for_ci(rig: LocalRig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_CHILD_PID", str(tmp_path / "child.pid"))
    scm = rig.with_ci()
    await open_for(scm, rig.repo, "feat/1-slow", "hang")
    loop = asyncio.get_running_loop()
    started = loop.time()
    snap = (await scm.snapshots(refs("feat/1-slow")))["feat/1-slow"]
    assert snap.ci is CIState.PENDING and loop.time() - started < 5
    await async_wait_for(lambda: _exists(tmp_path / "child.pid"), what="CI to be running")
    assert scm.ci is not None and scm.ci.running() == 1


async def _exists(path: Path) -> bool:
    return path.exists()


@pytest.mark.parametrize("method", ["merge", "squash"])
@sqlite_only
async def test_a_refused_merge_in_the_checkout_leaves_it_as_it_was(rig: LocalRig, method: str) -> None:
    hook = rig.repo / ".git" / "hooks" / "commit-msg"
    hook.write_text("#!/bin/sh\necho 'commit messages need a ticket' >&2\nexit 1\n")
    hook.chmod(0o755)
    scm = rig.make()
    pr = await open_for(scm, rig.repo, "feat/1-hooked")
    before = git(rig.repo, "rev-parse", "main")
    with pytest.raises(SCMError, match="commit messages need a ticket") as caught:
        await scm.merge(pr, method)
    assert caught.value.hint is not None and "nothing was merged" in caught.value.hint
    assert git(rig.repo, "rev-parse", "main") == before
    assert git(rig.repo, "status", "--porcelain") == ""
    assert not (rig.repo / "work").exists()
    assert (await scm.get_pr(pr.number)).state is PRState.OPEN


@sqlite_only
async def test_a_branch_already_in_the_base_is_recorded_as_merged(rig: LocalRig) -> None:
    scm = rig.make()
    pr = await open_for(scm, rig.repo, "feat/1-by-hand")
    git(rig.repo, "merge", "-q", "--ff-only", "feat/1-by-hand")  # a person merged it already
    await scm.merge(pr)
    merged = await scm.get_pr(pr.number)
    assert merged.state is PRState.MERGED and merged.merge_commit == git(rig.repo, "rev-parse", "main")


@sqlite_only
async def test_checkouts_left_by_a_dead_process_are_removed(rig: LocalRig) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    leftover = rig.data_dir / "ci" / "app" / f"1-abcdef012345-{dead.pid}-0123456789abcdef"
    git(rig.repo, "worktree", "add", "-q", "--detach", str(leftover), "main")
    stale_log = leftover.parent / "logs" / f"{leftover.name}.log"
    stale_log.parent.mkdir()
    stale_log.write_text("half a log\n")
    scm = rig.make(ci_command=["true"])
    await open_for(scm, rig.repo, "feat/1-next")
    assert (await settled(scm, "feat/1-next")).ci is CIState.PASSING
    assert not leftover.exists() and not stale_log.exists()
    assert worktrees(rig.repo) == [f"worktree {rig.repo}"]
