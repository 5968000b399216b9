"""GitHubSCM against the fake forge (REST checked by githubkit's models, GraphQL run on GitHub's schema)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import SecretStr

from ennio.core.errors import AuthError, Conflict, InvalidId, InvalidInput, NotFound
from ennio.core.plugins import SCM, BranchRef, CheckRun, CIState, PRState, ReviewDecision
from ennio.plugins._github import pr_queries as q
from ennio.plugins._github.ci_logs import LOG_TAIL_BYTES
from ennio.plugins.scm.github import GitHubSCM
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub
from tests.helpers.git import commit_file, git, make_repo


def refs(*branches: str) -> list[BranchRef]:
    return [BranchRef(f"s{i}", b) for i, b in enumerate(branches)]


def test_satisfies_the_scm_protocol(scm: GitHubSCM) -> None:
    assert isinstance(scm, SCM)
    assert GitHubSCM.manifest.name == "github"


async def test_snapshot_carries_state_ci_reviews_threads_and_mergeability(
    github: FakeGitHub, make_scm: Callable[..., GitHubSCM]
) -> None:
    scm = make_scm(bot_authors=["coderabbitai"])
    pr = github.open_pr(REPO, "feat/1-login", title="Add login")
    github.add_check(REPO, pr.head_sha, "tests", conclusion="failure")
    github.add_status(REPO, pr.head_sha, "ci/jenkins", "success")
    github.add_thread(REPO, pr.number, "alice", "Please rename this")
    github.add_thread(REPO, pr.number, "alice", "old remark").resolved = True
    github.add_thread(REPO, pr.number, "bob", "outdated remark").outdated = True
    github.add_thread(REPO, pr.number, "cursor[bot]", "Possible None dereference", bot=True)
    github.add_thread(REPO, pr.number, "coderabbitai", "Nit: typo")
    github.add_review(REPO, pr.number, "carol", "CHANGES_REQUESTED", "Needs tests")
    github.repo(REPO).prs[pr.number].mergeable = False

    snap = (await scm.snapshots(refs("feat/1-login")))["feat/1-login"]

    assert snap.pr is not None
    assert (snap.pr.number, snap.pr.title, snap.pr.state, snap.pr.head_sha) == (
        1,
        "Add login",
        PRState.OPEN,
        pr.head_sha,
    )
    assert snap.ci is CIState.FAILING
    assert {(c.name, c.state) for c in snap.checks} == {("tests", CIState.FAILING), ("ci/jenkins", CIState.PASSING)}
    assert [c.name for c in snap.failing_checks] == ["tests"]
    assert snap.review is ReviewDecision.CHANGES_REQUESTED
    assert sorted(c.body for c in snap.comments) == ["Needs tests", "Please rename this"]
    assert sorted((c.author, c.body) for c in snap.bot_comments) == [
        ("coderabbitai", "Nit: typo"),
        ("cursor", "Possible None dereference"),
    ]
    thread_comment = next(c for c in snap.comments if c.body == "Please rename this")
    assert (thread_comment.author, thread_comment.path, thread_comment.line) == ("alice", "src/app.py", 3)
    assert thread_comment.id.startswith("PRRC_") and thread_comment.created_at is not None
    assert snap.mergeable is False and snap.conflicts == ["feat/1-login conflicts with main"]


async def test_branch_without_pr_and_pr_without_checks(github: FakeGitHub, scm: GitHubSCM) -> None:
    github.open_pr(REPO, "feat/2-quiet")
    snaps = await scm.snapshots(refs("feat/2-quiet", "feat/3-nothing-yet"))
    assert snaps["feat/3-nothing-yet"].pr is None and snaps["feat/3-nothing-yet"].ci is CIState.NONE
    quiet = snaps["feat/2-quiet"]
    assert quiet.pr is not None and quiet.ci is CIState.NONE and quiet.checks == []
    assert quiet.review is ReviewDecision.NONE and quiet.mergeable is True


async def test_only_required_checks_count_when_branch_protection_names_them(
    github: FakeGitHub, make_scm: Callable[..., GitHubSCM]
) -> None:
    pr = github.open_pr(REPO, "feat/4-ci")
    github.add_check(REPO, pr.head_sha, "build", conclusion="success")
    github.add_check(REPO, pr.head_sha, "flaky-e2e", conclusion="failure")
    github.add_status(REPO, pr.head_sha, "coverage", "pending")
    github.protect(REPO, "main", ["build"])

    strict = (await make_scm().snapshots(refs("feat/4-ci")))["feat/4-ci"]
    assert strict.ci is CIState.PASSING
    assert {c.name: c.required for c in strict.checks} == {"build": True, "flaky-e2e": False, "coverage": False}
    assert strict.failing_checks == []

    everything = (await make_scm(required_checks_only=False).snapshots(refs("feat/4-ci")))["feat/4-ci"]
    assert everything.ci is CIState.FAILING


async def test_a_failing_check_past_the_first_hundred_is_seen_and_its_log_read(
    github: FakeGitHub, scm: GitHubSCM
) -> None:
    """No branch protection: every check counts, and GitHub pages them 100 at a time."""
    pr = github.open_pr(REPO, "feat/4-many")
    for i in range(130):
        github.add_check(REPO, pr.head_sha, f"shard-{i:03d}", conclusion="success")
    github.add_check(REPO, pr.head_sha, "shard-last", conclusion="failure", log="boom at the end")
    for i in range(80):
        github.add_status(REPO, pr.head_sha, f"status-{i:02d}", "success")
    github.reset_log()

    snap = (await scm.snapshots(refs("feat/4-many")))["feat/4-many"]

    assert snap.ci is CIState.FAILING
    assert [c.name for c in snap.failing_checks] == ["shard-last"]
    assert len(snap.checks) == 211
    assert github.count(resource="graphql") == 4  # lookup, snapshot, then 2 more pages of checks
    assert snap.pr is not None
    (logged,) = await scm.check_logs(snap.pr, snap.checks)
    assert logged.log_tail == "boom at the end"  # found on the second page of REST check runs


async def test_past_the_pages_it_reads_the_rollup_state_decides(
    github: FakeGitHub, scm: GitHubSCM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(q, "MAX_CONTEXT_PAGES", 2)
    pr = github.open_pr(REPO, "feat/4-huge")
    for i in range(250):
        github.add_check(REPO, pr.head_sha, f"shard-{i:03d}", conclusion="success")
    late = github.add_check(REPO, pr.head_sha, "shard-late", status="in_progress")
    snap = (await scm.snapshots(refs("feat/4-huge")))["feat/4-huge"]
    assert len(snap.checks) == 200 and snap.ci is CIState.PENDING
    late.status, late.conclusion = "completed", "failure"
    snap = (await scm.snapshots(refs("feat/4-huge")))["feat/4-huge"]
    assert snap.ci is CIState.FAILING
    assert [c.name for c in snap.failing_checks] == ["(checks past the ones read: GitHub reports a failure)"]


async def test_pending_checks_and_statuses(github: FakeGitHub, scm: GitHubSCM) -> None:
    pr = github.open_pr(REPO, "feat/5-pending")
    github.add_check(REPO, pr.head_sha, "build", status="in_progress")
    github.add_status(REPO, pr.head_sha, "deploy", "success")
    assert (await scm.snapshots(refs("feat/5-pending")))["feat/5-pending"].ci is CIState.PENDING
    github.add_check(REPO, pr.head_sha, "build", conclusion="success")  # a re-run finished
    assert (await scm.snapshots(refs("feat/5-pending")))["feat/5-pending"].ci is CIState.PASSING
    new_head = github.push_commit(REPO, pr.number)
    after_push = (await scm.snapshots(refs("feat/5-pending")))["feat/5-pending"]
    assert after_push.pr is not None and after_push.pr.head_sha == new_head and after_push.ci is CIState.NONE


async def test_review_decisions_and_pr_end_states(github: FakeGitHub, scm: GitHubSCM) -> None:
    github.protect(REPO, "main", [], reviews=True)
    waiting = github.open_pr(REPO, "feat/6-a")
    approved = github.open_pr(REPO, "feat/6-b", draft=True)
    github.add_review(REPO, approved.number, "alice", "APPROVED")
    merged = github.open_pr(REPO, "feat/6-c")
    github.repo(REPO).prs[merged.number].merged = True
    github.repo(REPO).prs[merged.number].state = "closed"
    closed = github.open_pr(REPO, "feat/6-d")
    github.repo(REPO).prs[closed.number].state = "closed"
    snaps = await scm.snapshots(refs("feat/6-a", "feat/6-b", "feat/6-c", "feat/6-d"))
    assert snaps["feat/6-a"].review is ReviewDecision.REVIEW_REQUIRED
    assert snaps["feat/6-b"].review is ReviewDecision.APPROVED
    assert snaps["feat/6-b"].pr is not None and snaps["feat/6-b"].pr.draft
    assert snaps["feat/6-c"].pr is not None and snaps["feat/6-c"].pr.state is PRState.MERGED
    assert snaps["feat/6-d"].pr is not None and snaps["feat/6-d"].pr.state is PRState.CLOSED
    assert waiting.number == snaps["feat/6-a"].pr.number  # type: ignore[union-attr]


async def test_without_required_reviews_each_reviewers_latest_opinion_decides(
    github: FakeGitHub, make_scm: Callable[..., GitHubSCM]
) -> None:
    """No rule requires reviews (GitHub's reviewDecision is null): an approval still approves."""
    approved = github.open_pr(REPO, "feat/6-approved")
    github.add_review(REPO, approved.number, "alice", "APPROVED")
    github.add_review(REPO, approved.number, "alice", "COMMENTED", "one more thought")  # does not undo it
    blocked = github.open_pr(REPO, "feat/6-blocked")
    github.add_review(REPO, blocked.number, "alice", "APPROVED")
    github.add_review(REPO, blocked.number, "bob", "CHANGES_REQUESTED", "Please add tests")
    changed_mind = github.open_pr(REPO, "feat/6-changed-mind")
    github.add_review(REPO, changed_mind.number, "bob", "CHANGES_REQUESTED", "Please add tests")
    github.add_review(REPO, changed_mind.number, "bob", "APPROVED")
    dismissed = github.open_pr(REPO, "feat/6-dismissed")
    github.dismiss_review(REPO, dismissed.number, github.add_review(REPO, dismissed.number, "alice", "APPROVED"))
    by_bot = github.open_pr(REPO, "feat/6-bot")
    github.user("review-app[bot]", bot=True)
    github.add_review(REPO, by_bot.number, "review-app[bot]", "APPROVED")
    outsider = github.open_pr(REPO, "feat/6-outsider")
    github.add_review(REPO, outsider.number, "mallory", "APPROVED")
    branches = [f"feat/6-{n}" for n in ("approved", "blocked", "changed-mind", "dismissed", "bot", "outsider")]

    snaps = await make_scm(review_authors=["alice", "bob"]).snapshots(refs(*branches))

    assert {b: snaps[b].review for b in branches} == {
        "feat/6-approved": ReviewDecision.APPROVED,
        "feat/6-blocked": ReviewDecision.CHANGES_REQUESTED,
        "feat/6-changed-mind": ReviewDecision.APPROVED,
        "feat/6-dismissed": ReviewDecision.NONE,
        "feat/6-bot": ReviewDecision.NONE,
        "feat/6-outsider": ReviewDecision.NONE,  # not one of review_authors
    }
    assert [c.body for c in snaps["feat/6-blocked"].comments] == ["Please add tests"]
    assert snaps["feat/6-changed-mind"].comments == []  # bob's request was replaced by his approval
    everyone = (await make_scm().snapshots(refs("feat/6-outsider")))["feat/6-outsider"]
    assert everyone.review is ReviewDecision.APPROVED


async def test_with_required_reviews_githubs_decision_stands(github: FakeGitHub, scm: GitHubSCM) -> None:
    github.protect(REPO, "main", [], reviews=True)
    pr = github.open_pr(REPO, "feat/6-required")
    github.user("review-app[bot]", bot=True)
    github.add_review(REPO, pr.number, "review-app[bot]", "APPROVED")
    # GitHub decides here; Ennio does not second-guess it (GitHub counts the app's approval in this fake)
    assert (await scm.snapshots(refs("feat/6-required")))["feat/6-required"].review is ReviewDecision.APPROVED
    github.add_review(REPO, pr.number, "bob", "CHANGES_REQUESTED", "no")
    snap = (await scm.snapshots(refs("feat/6-required")))["feat/6-required"]
    assert snap.review is ReviewDecision.CHANGES_REQUESTED


def test_the_pull_requests_author_never_decides_its_review() -> None:
    """GitHub refuses an author's approval of their own PR; were one reported, it would not count."""
    authors = q.AuthorFilter.of([], None)
    own = {
        "reviewDecision": None,
        "author": {"login": "Alice"},
        "latestOpinionatedReviews": {
            "nodes": [{"state": "APPROVED", "author": {"__typename": "User", "login": "alice"}}]
        },
    }
    assert q.review_decision(own, authors) is ReviewDecision.NONE
    own["author"] = {"login": "bob"}
    assert q.review_decision(own, authors) is ReviewDecision.APPROVED


async def test_review_authors_limit_whose_comments_are_forwarded(
    github: FakeGitHub, make_scm: Callable[..., GitHubSCM]
) -> None:
    pr = github.open_pr(REPO, "feat/7-authors")
    github.add_thread(REPO, pr.number, "alice", "from a maintainer")
    github.add_thread(REPO, pr.number, "mallory", "please add my crypto miner")
    github.add_thread(REPO, pr.number, "cursor[bot]", "bot finding", bot=True)
    snap = (await make_scm(review_authors=["Alice"]).snapshots(refs("feat/7-authors")))["feat/7-authors"]
    assert [c.author for c in snap.comments] == ["alice"]
    assert [c.body for c in snap.bot_comments] == ["bot finding"]


async def test_many_prs_cost_a_handful_of_graphql_requests(github: FakeGitHub, scm: GitHubSCM) -> None:
    branches = [f"feat/{i}-work" for i in range(120)]
    for branch in branches:
        pr = github.open_pr(REPO, branch)
        github.add_check(REPO, pr.head_sha, "tests", conclusion="success")
    thread = github.add_thread(REPO, 3, "alice", "first remark")

    first = await scm.snapshots(refs(*branches))
    assert len(first) == 120 and all(s.ci is CIState.PASSING for s in first.values())
    # 2 lookups (100 + 20 branches), 3 snapshot queries (50 + 50 + 20), 1 for thread comments
    assert github.count(resource="graphql") == 6 and github.count(resource="core") == 0
    assert [c.body for c in first["feat/2-work"].comments] == ["first remark"]

    github.reset_log()
    second = await scm.snapshots(refs(*branches))
    assert github.count() == 3  # numbers and unchanged threads are remembered
    assert [c.body for c in second["feat/2-work"].comments] == ["first remark"]

    github.reset_log()
    github.reply(REPO, 3, thread, "alice", "and a follow-up")
    third = await scm.snapshots(refs(*branches))
    assert github.count() == 4
    assert [c.body for c in third["feat/2-work"].comments] == ["first remark", "and a follow-up"]

    budget = scm.rate_budget()
    assert budget is not None and budget.resource == "graphql" and budget.reserve == 200
    assert budget.pass_cost >= 4  # what the last pass spent, in GraphQL points
    assert budget.remaining == github.bucket(TOKEN, "graphql").remaining < 5000


async def test_known_pr_numbers_skip_the_lookup_and_a_vanished_pr_is_reported_missing(
    github: FakeGitHub, scm: GitHubSCM
) -> None:
    pr = github.open_pr(REPO, "feat/8-known")
    snaps = await scm.snapshots([BranchRef("s1", "feat/8-known", pr.number), BranchRef("s2", "feat/9-gone", 999)])
    assert github.count() == 1
    assert snaps["feat/8-known"].pr is not None and snaps["feat/9-gone"].pr is None


async def test_find_pr_prefers_the_open_one(github: FakeGitHub, scm: GitHubSCM) -> None:
    assert await scm.find_pr("feat/10-x") is None
    old = github.open_pr(REPO, "feat/10-x")
    github.repo(REPO).prs[old.number].state = "closed"
    found = await scm.find_pr("feat/10-x")
    assert found is not None and found.state is PRState.CLOSED
    new = github.open_pr(REPO, "feat/10-x")
    found = await scm.find_pr("feat/10-x")
    assert found is not None and (found.number, found.state) == (new.number, PRState.OPEN)
    with pytest.raises(InvalidId):
        await scm.find_pr("feat/../x")


async def test_open_pr_as_draft_until_green_and_again_returns_the_same(
    github: FakeGitHub, make_scm: Callable[..., GitHubSCM]
) -> None:
    scm = make_scm(draft_until_green=True)
    pr = await scm.open_pr(branch="feat/11-new", base="main", title="Add it", body="Closes #4")
    stored = github.repo(REPO).prs[pr.number]
    assert (stored.title, stored.body, stored.draft, stored.head) == ("Add it", "Closes #4", True, "feat/11-new")
    assert pr.draft and pr.state is PRState.OPEN and pr.url.endswith(f"/pull/{pr.number}")
    again = await scm.open_pr(branch="feat/11-new", base="main", title="Add it", body="Closes #4")
    assert again.number == pr.number and len(github.repo(REPO).prs) == 1
    await scm.mark_ready(pr)
    assert stored.draft is False
    with pytest.raises(InvalidInput, match="title"):
        await scm.open_pr(branch="feat/12", base="main", title=" ", body="")
    with pytest.raises(InvalidId):
        await scm.open_pr(branch="-x", base="main", title="t", body="")


async def test_check_logs_tail_actions_logs_and_check_output(github: FakeGitHub, scm: GitHubSCM) -> None:
    pr_info = github.open_pr(REPO, "feat/13-red")
    log = "\n".join(f"2026-01-01T00:00:{i:02d}.1234567Z line {i}" for i in range(50))
    github.add_check(REPO, pr_info.head_sha, "tests", conclusion="failure", log=log)
    github.add_check(
        REPO,
        pr_info.head_sha,
        "sonar",
        conclusion="failure",
        app="sonarcloud",
        output={"title": "Quality gate failed", "summary": "2 bugs", "text": None},
    )
    github.add_status(REPO, pr_info.head_sha, "ci/jenkins", "failure")
    snap = (await scm.snapshots(refs("feat/13-red")))["feat/13-red"]
    assert snap.pr is not None
    logs = {c.name: c.log_tail for c in await scm.check_logs(snap.pr, snap.checks, lines=3)}
    assert logs == {"tests": "line 47\nline 48\nline 49", "sonar": "Quality gate failed\n2 bugs", "ci/jenkins": None}
    assert await scm.check_logs(snap.pr, [CheckRun("ok", CIState.PASSING)]) == []


async def test_a_huge_actions_log_is_streamed_keeping_a_bounded_tail_without_the_token(
    github: FakeGitHub, scm: GitHubSCM
) -> None:
    pr_info = github.open_pr(REPO, "feat/13-huge-log")
    noise = "".join(f"2026-01-01T00:00:00.1234567Z step {i} ran fine\n" for i in range(40_000))
    endless = "2026-01-01T00:00:01.0000000Z " + "x" * 1_500_000 + " FAILED: the last words\n"
    github.add_check(REPO, pr_info.head_sha, "tests", conclusion="failure", log=noise + endless)
    snap = (await scm.snapshots(refs("feat/13-huge-log")))["feat/13-huge-log"]
    assert snap.pr is not None

    (check,) = await scm.check_logs(snap.pr, snap.checks, lines=5)

    assert check.log_tail is not None and check.log_tail.endswith("x FAILED: the last words")
    assert len(check.log_tail) <= LOG_TAIL_BYTES  # not the whole 3 MB log, not even its whole last line
    assert github.log_downloads == [None]  # GitHub's token never went to the log storage
    github.repo(REPO).checks[-1].log = noise  # an ordinary log: its last lines, timestamps dropped
    (check,) = await scm.check_logs(snap.pr, snap.checks, lines=2)
    assert check.log_tail == "step 39998 ran fine\nstep 39999 ran fine"


async def test_an_expired_actions_log_leaves_the_tail_empty(github: FakeGitHub, scm: GitHubSCM) -> None:
    pr_info = github.open_pr(REPO, "feat/13-expired")
    check = github.add_check(REPO, pr_info.head_sha, "tests", conclusion="failure", log="gone soon")
    snap = (await scm.snapshots(refs("feat/13-expired")))["feat/13-expired"]
    assert snap.pr is not None
    github.fail_next(r"GET .*/actions/jobs/\d+/logs", 410, body={"message": "Gone"})
    (logged,) = await scm.check_logs(snap.pr, snap.checks)
    assert logged.log_tail is None and logged.url == check.details_url


async def test_merge_close_comment_and_acknowledge(github: FakeGitHub, scm: GitHubSCM) -> None:
    github.open_pr(REPO, "feat/14-merge")
    thread = github.add_thread(REPO, 1, "alice", "looks good, one nit")
    snap = (await scm.snapshots(refs("feat/14-merge")))["feat/14-merge"]
    assert snap.pr is not None
    await scm.mark_forwarded(snap.pr, snap.comments[0])
    assert thread.comments[0].reactions == [("EYES", "ennio-bot")]
    await scm.comment(snap.pr, "Ennio: CI is green")
    assert github.repo(REPO).prs[1].comments[0]["body"] == "Ennio: CI is green"
    await scm.merge(snap.pr, "rebase")
    assert github.repo(REPO).prs[1].merged

    other = github.open_pr(REPO, "feat/15-close")
    snap2 = (await scm.snapshots(refs("feat/15-close")))["feat/15-close"]
    assert snap2.pr is not None
    github.push_commit(REPO, other.number)  # someone pushed since the snapshot
    with pytest.raises(Conflict, match="Head branch was modified"):
        await scm.merge(snap2.pr)
    github.repo(REPO).prs[other.number].mergeable = False
    with pytest.raises(Conflict, match="not mergeable"):
        await scm.merge(snap2.pr)
    with pytest.raises(InvalidInput, match="merge method"):
        await scm.merge(snap2.pr, "octopus")
    await scm.close_pr(snap2.pr)
    assert github.repo(REPO).prs[other.number].state == "closed"


async def test_push_sends_the_session_branch_to_the_remote(tmp_path: Path, scm: GitHubSCM) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    work = make_repo(tmp_path / "work")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "checkout", "-q", "-b", "feat/16-push")
    head = commit_file(work, "a.txt", "hello\n")
    await scm.push(work, "feat/16-push")
    assert git(remote, "rev-parse", "refs/heads/feat/16-push") == head
    with pytest.raises(InvalidId):
        await scm.push(work, "feat/16;rm")


async def test_repo_comes_from_the_origin_url_not_the_project_id(
    github: FakeGitHub, tmp_path: Path, make_scm: Callable[..., GitHubSCM]
) -> None:
    checkout = make_repo(tmp_path / "checkout")
    git(checkout, "remote", "add", "origin", "https://github.com/acme/widgets.git")
    github.open_pr(REPO, "feat/17-origin")
    scm = make_scm(project_repo=None, path=checkout)
    snap = (await scm.snapshots(refs("feat/17-origin")))["feat/17-origin"]
    assert snap.pr is not None and (await scm.repo()).full_name == "acme/widgets"


async def test_bad_token_and_missing_repo(make_scm: Callable[..., GitHubSCM]) -> None:
    with pytest.raises(AuthError, match="GitHub rejected the token"):
        await make_scm(token=SecretStr("ghp_nope")).snapshots(refs("feat/x"))
    with pytest.raises(NotFound, match="GitHub repository acme/missing not found"):
        await make_scm(project_repo="acme/missing").snapshots(refs("feat/x"))
    with pytest.raises(NotFound, match="GitHub repository acme/missing not found"):
        await make_scm(project_repo="acme/missing").find_pr("feat/x")


async def test_a_shrinking_budget_slows_polling_and_the_reserve_pauses_it(github: FakeGitHub, scm: GitHubSCM) -> None:
    from ennio.core.pacing import is_paused, poll_delay

    github.open_pr(REPO, "feat/18-budget")
    await scm.snapshots(refs("feat/18-budget"))
    healthy = scm.rate_budget()
    assert healthy is not None and poll_delay(healthy, 30, scm.ctx.clock.now()) == 30

    github.set_budget(TOKEN, "graphql", 1000, reset_in=1800)
    await scm.snapshots(refs("feat/18-budget"))
    low = scm.rate_budget()
    assert low is not None and 30 < poll_delay(low, 30, scm.ctx.clock.now()) < 1800

    github.set_budget(TOKEN, "graphql", 150, reset_in=600)
    await scm.snapshots(refs("feat/18-budget"))
    spent = scm.rate_budget()
    assert spent is not None and is_paused(spent)
    assert 590 < poll_delay(spent, 30, scm.ctx.clock.now()) <= 601
