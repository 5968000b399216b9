"""GitHubTracker against the fake forge."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import SecretStr

from ennio.core.config import GitHubSCMConfig
from ennio.core.errors import AuthError, InvalidInput, NotFound
from ennio.core.plugins import Issue, IssueQuery, IssueState, Tracker
from ennio.plugins.tracker.github import GitHubTracker
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub


def test_satisfies_the_tracker_protocol(github_tracker: GitHubTracker) -> None:
    assert isinstance(github_tracker, Tracker)


async def test_get_issue_with_labels_assignees_and_blockers(github: FakeGitHub, github_tracker: GitHubTracker) -> None:
    github.add_issue(REPO, "Set up the API")
    issue = github.add_issue(
        REPO,
        "Add login!",
        "Users sign in.\n\nBlocked by #1\n- [ ] #9\n- [x] #8\n",
        labels=["feature", "auth"],
        assignees=["alice"],
    )
    got = await github_tracker.get_issue(str(issue.number))
    assert (got.key, got.title, got.state) == ("2", "Add login!", IssueState.OPEN)
    assert got.labels == ["feature", "auth"] and got.assignees == ["alice"]
    assert got.blocked_by == ["1", "9"]
    assert got.url == "https://github.com/acme/widgets/issues/2" and got.updated_at is not None
    assert (await github_tracker.get_issue("#2")).title == "Add login!"
    assert github_tracker.branch_name(got) == "feat/2-add-login"
    context = github_tracker.prompt_context(got)
    assert context.startswith("GitHub issue #2: Add login!\nhttps://github.com/acme/widgets/issues/2\n")
    assert "Labels: feature, auth" in context and "Blocked by: #1, #9" in context and "Users sign in." in context


async def test_get_issue_errors(github: FakeGitHub, github_tracker: GitHubTracker) -> None:
    github.open_pr(REPO, "feat/1")
    with pytest.raises(NotFound, match="#1 in acme/widgets is a pull request"):
        await github_tracker.get_issue("1")
    with pytest.raises(NotFound, match="reading issue #5: not found in acme/widgets"):
        await github_tracker.get_issue("5")
    for bad in ("ENG-12", "0", "12abc", "", "#"):
        with pytest.raises(InvalidInput, match="is not an issue number"):
            await github_tracker.get_issue(bad)


async def test_list_pages_through_link_headers_and_skips_pull_requests(
    github: FakeGitHub, github_tracker: GitHubTracker
) -> None:
    for i in range(130):
        github.add_issue(REPO, f"Issue {i}")
    github.open_pr(REPO, "feat/x")
    issues = await github_tracker.list_issues(IssueQuery(limit=500))
    assert len(issues) == 130 and {i.title for i in issues} == {f"Issue {i}" for i in range(130)}
    assert github.count(path=r"GET /repos/acme/widgets/issues$") == 2  # 100 + 30 (+ the PR, dropped)
    github.reset_log()
    first = await github_tracker.list_issues(IssueQuery(limit=5))
    assert len(first) == 5 and github.count() == 1


async def test_list_filters_by_state_labels_assignee_and_milestone(
    github: FakeGitHub, github_tracker: GitHubTracker
) -> None:
    github.add_issue(REPO, "open bug", labels=["bug"], assignees=["alice"], milestone="v1")
    github.add_issue(REPO, "closed bug", labels=["bug"], state="closed")
    github.add_issue(REPO, "feature", labels=["feature"], assignees=["bob"], milestone="v2")
    titles = lambda issues: sorted(i.title for i in issues)  # noqa: E731
    assert titles(await github_tracker.list_issues(IssueQuery())) == ["feature", "open bug"]
    assert titles(await github_tracker.list_issues(IssueQuery(state="all", labels=["bug"]))) == [
        "closed bug",
        "open bug",
    ]
    assert titles(await github_tracker.list_issues(IssueQuery(state=IssueState.CLOSED))) == ["closed bug"]
    assert titles(await github_tracker.list_issues(IssueQuery(assignee="bob"))) == ["feature"]
    assert titles(await github_tracker.list_issues(IssueQuery(milestone="v1"))) == ["open bug"]
    assert titles(await github_tracker.list_issues(IssueQuery(milestone="2"))) == ["feature"]
    with pytest.raises(NotFound, match="milestone 'v9' not found"):
        await github_tracker.list_issues(IssueQuery(milestone="v9"))


async def test_configured_labels_always_apply(
    github: FakeGitHub, make_github_tracker: Callable[..., GitHubTracker]
) -> None:
    github.add_issue(REPO, "for ennio", labels=["ennio", "bug"])
    github.add_issue(REPO, "not for ennio", labels=["bug"])
    tracker = make_github_tracker(labels=["ennio"])
    assert [i.title for i in await tracker.list_issues(IssueQuery(labels=["bug"]))] == ["for ennio"]


async def test_issue_states_in_one_graphql_request(github: FakeGitHub, github_tracker: GitHubTracker) -> None:
    open_issue = github.add_issue(REPO, "open")
    closed = github.add_issue(REPO, "closed", state="closed")
    pr = github.open_pr(REPO, "feat/z")
    states = await github_tracker.issue_states([str(open_issue.number), f"#{closed.number}", str(pr.number), "404"])
    assert states == {"1": IssueState.OPEN, "#2": IssueState.CLOSED, "3": IssueState.OPEN}
    assert github.count() == 1 and github.count(resource="graphql") == 1
    assert await github_tracker.issue_states([]) == {}


async def test_create_update_comment_close(github: FakeGitHub, github_tracker: GitHubTracker) -> None:
    made = await github_tracker.create_issue("Flaky test", "It fails on Tuesdays", ["bug"])
    stored = github.repo(REPO).issues[int(made.key)]
    assert (stored.title, stored.body, stored.labels) == ("Flaky test", "It fails on Tuesdays", ["bug"])
    updated = await github_tracker.update_issue(made.key, title="Flaky test on CI", labels=["bug", "ci"])
    assert updated.title == "Flaky test on CI" and stored.labels == ["bug", "ci"]
    await github_tracker.comment(made.key, "Ennio is on it")
    assert stored.comments[0]["body"] == "Ennio is on it"
    await github_tracker.close_issue(made.key)
    assert stored.state == "closed"
    assert (await github_tracker.get_issue(made.key)).state is IssueState.CLOSED
    with pytest.raises(InvalidInput):
        await github_tracker.create_issue("  ")
    with pytest.raises(InvalidInput):
        await github_tracker.comment(made.key, "")


async def test_borrows_the_scm_token_and_reports_auth_errors(
    github: FakeGitHub, make_github_tracker: Callable[..., GitHubTracker]
) -> None:
    github.add_issue(REPO, "hello")
    scm = GitHubSCMConfig(token=SecretStr(TOKEN), base_url=github.base)
    assert (await make_github_tracker(scm=scm).get_issue("1")).title == "hello"
    with pytest.raises(AuthError, match="GitHub rejected the token"):
        await make_github_tracker(token=SecretStr("ghp_bad")).get_issue("1")
    with pytest.raises(NotFound, match="GitHub repository acme/gone not found"):
        await make_github_tracker(repo="acme/gone").list_issues(IssueQuery())


def test_branch_name_prefers_the_trackers_suggestion(github_tracker: GitHubTracker) -> None:
    assert github_tracker.branch_name(Issue("7", "Fix it", branch_name="fix/seven")) == "fix/seven"
    assert github_tracker.branch_name(Issue("7", "Ünïcode & stuff!")) == "feat/7-unicode-stuff"
