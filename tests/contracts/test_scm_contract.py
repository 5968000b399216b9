"""What every SCM does, whatever is behind it (Ennio's own database and git, or GitHub)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ennio.core.errors import InvalidId, InvalidInput
from ennio.core.plugins import SCM, BranchRef, CIState, PRSnapshot, PRState, PullRequest, ReviewDecision, Slot
from tests.contracts.conftest import BOT, CI_FAILURE_LINE, SCMHarness
from tests.helpers.wait import async_wait_for


async def snapshot(scm: SCM, branch: str) -> PRSnapshot:
    return (await scm.snapshots([BranchRef("s1", branch)]))[branch]


async def settle(scm: SCM, branch: str, done: Callable[[PRSnapshot], bool] | None = None) -> PRSnapshot:
    """The branch's snapshot once CI has settled (or ``done`` holds): forges and local CI take a moment."""
    ready = done or (lambda s: s.ci is not CIState.PENDING)

    async def probe() -> PRSnapshot | None:
        snap = await snapshot(scm, branch)
        return snap if ready(snap) else None

    found = await async_wait_for(probe, timeout=30, interval=0.1, what=f"CI of {branch} to settle")
    assert found is not None
    return found


async def opened(harness: SCMHarness, branch: str, ok: bool = True) -> PullRequest:
    await harness.new_branch(branch, ok)
    pr = await harness.scm.open_pr(branch=branch, base="main", title=f"Work on {branch}", body="Closes #7")
    await harness.opened(pr)
    return pr


def test_is_an_scm_with_a_manifest(scm_harness: SCMHarness) -> None:
    assert isinstance(scm_harness.scm, SCM)
    assert scm_harness.scm.manifest.slot is Slot.SCM
    assert scm_harness.scm.manifest.name and scm_harness.scm.manifest.version


async def test_a_branch_without_a_pr(scm_harness: SCMHarness) -> None:
    assert await scm_harness.scm.find_pr("feat/1-nothing") is None
    snap = await snapshot(scm_harness.scm, "feat/1-nothing")
    assert snap.pr is None and snap.ci is CIState.NONE and snap.checks == []


async def test_open_find_and_snapshot_a_pr(scm_harness: SCMHarness) -> None:
    scm = scm_harness.scm
    pr = await opened(scm_harness, "feat/2-login")
    assert (pr.branch, pr.base, pr.title, pr.state) == ("feat/2-login", "main", "Work on feat/2-login", PRState.OPEN)
    assert pr.number > 0 and pr.url and pr.head_sha
    again = await scm.open_pr(branch="feat/2-login", base="main", title="Work on feat/2-login", body="Closes #7")
    assert again.number == pr.number
    found = await scm.find_pr("feat/2-login")
    assert found is not None and (found.number, found.state) == (pr.number, PRState.OPEN)
    snap = await snapshot(scm, "feat/2-login")
    assert snap.pr is not None and (snap.pr.number, snap.pr.head_sha) == (pr.number, pr.head_sha)


async def test_failing_ci_names_the_check_and_gives_its_log(scm_harness: SCMHarness) -> None:
    scm = scm_harness.scm
    await opened(scm_harness, "feat/3-red", ok=False)
    snap = await settle(scm, "feat/3-red")
    assert snap.ci is CIState.FAILING and snap.failing_checks
    assert snap.pr is not None
    logs = await scm.check_logs(snap.pr, snap.failing_checks, lines=5)
    assert [c.name for c in logs] == [c.name for c in snap.failing_checks]
    assert logs[0].log_tail is not None and logs[0].log_tail.splitlines()[-1] == CI_FAILURE_LINE


async def test_a_new_head_gets_its_own_ci(scm_harness: SCMHarness) -> None:
    scm = scm_harness.scm
    pr = await opened(scm_harness, "feat/4-fix", ok=False)
    assert (await settle(scm, "feat/4-fix")).ci is CIState.FAILING
    head = await scm_harness.push(pr, True)
    fixed = await settle(
        scm, "feat/4-fix", lambda s: s.pr is not None and s.pr.head_sha == head and s.ci is not CIState.PENDING
    )
    assert fixed.ci is CIState.PASSING and fixed.failing_checks == []


async def test_reviews_decide_and_carry_file_and_line_comments(scm_harness: SCMHarness) -> None:
    scm = scm_harness.scm
    pr = await opened(scm_harness, "feat/5-review")
    await scm_harness.review(pr, "alice", "changes_requested", "Rename this", scm_harness.path, 1)
    blocked = await snapshot(scm, "feat/5-review")
    assert blocked.review is ReviewDecision.CHANGES_REQUESTED
    comment = next(c for c in blocked.comments if c.body == "Rename this")
    assert (comment.author, comment.path, comment.line, comment.is_bot) == ("alice", scm_harness.path, 1, False)
    assert comment.id
    await scm.mark_forwarded(pr, comment)

    await scm_harness.review(pr, BOT, "commented", "Possible None dereference", scm_harness.path, 1)
    with_bot = await snapshot(scm, "feat/5-review")
    assert [c.body for c in with_bot.bot_comments] == ["Possible None dereference"]
    assert all(c.is_bot for c in with_bot.bot_comments)
    assert "Possible None dereference" not in [c.body for c in with_bot.comments]

    await scm_harness.review(pr, "alice", "approved", "", None, None)
    assert (await snapshot(scm, "feat/5-review")).review is ReviewDecision.APPROVED


async def test_comment_and_close(scm_harness: SCMHarness) -> None:
    scm = scm_harness.scm
    pr = await opened(scm_harness, "feat/6-close")
    await scm.comment(pr, "Ennio: closing, the issue was a duplicate")
    with pytest.raises(InvalidInput):
        await scm.comment(pr, "  ")
    await scm.close_pr(pr)
    closed = await snapshot(scm, "feat/6-close")
    assert closed.pr is not None and closed.pr.state is PRState.CLOSED


async def test_merge_a_green_mergeable_pr(scm_harness: SCMHarness) -> None:
    scm = scm_harness.scm
    await opened(scm_harness, "feat/7-merge")
    green = await settle(scm, "feat/7-merge", lambda s: s.ci is not CIState.PENDING and s.mergeable is not None)
    assert green.ci is CIState.PASSING and green.mergeable is True and green.pr is not None
    await scm.merge(green.pr)
    merged = await snapshot(scm, "feat/7-merge")
    assert merged.pr is not None and merged.pr.state is PRState.MERGED


async def test_unsafe_branch_names_are_refused(scm_harness: SCMHarness) -> None:
    scm = scm_harness.scm
    for bad in ("-rf", "feat/../x", "a b", "x;rm"):
        with pytest.raises(InvalidId):
            await scm.find_pr(bad)
        with pytest.raises(InvalidId):
            await scm.open_pr(branch=bad, base="main", title="t", body="")
