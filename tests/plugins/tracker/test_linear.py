"""LinearTracker against a Linear API on 127.0.0.1 that validates every query against Linear's schema."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from ennio.core.clock import ManualClock
from ennio.core.config import ProjectConfig
from ennio.core.errors import AuthError, ConfigError, InvalidInput, NotFound, RateLimited, TrackerError
from ennio.core.plugins import Issue, IssueQuery, IssueState, PluginContext, Slot, Tracker
from ennio.plugins.tracker.linear import LinearTracker
from ennio.services.registry import PluginRegistry
from tests.helpers.linear_api import FakeLinear
from tests.plugins.tracker.conftest import Sleeps

MakeLinear = Callable[..., LinearTracker]


# ---------------------------------------------------------------------- reading issues


async def test_get_issue_reads_every_field(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_label("bug")
    alice = linear_api.add_user("Alice Liddell", "alice", "alice@acme.test")
    linear_api.add_issue("ENG", "Add login page", description="Users need to log in.", labels=("bug",), assignee=alice)
    issue = await make_linear().get_issue("ENG-1")
    assert issue.key == "ENG-1"
    assert issue.title == "Add login page"
    assert issue.body == "Users need to log in."
    assert issue.labels == ["bug"]
    assert issue.assignees == ["alice"]
    assert issue.state is IssueState.OPEN
    assert issue.url == "https://linear.app/acme/issue/ENG-1/add-login-page"
    assert issue.branch_name == "ennio/eng-1-add-login-page"
    assert issue.updated_at is not None and issue.updated_at.tzinfo is not None
    assert linear_api.operations() == ["EnnioIssue"]


@pytest.mark.parametrize("key", ["eng-1", "https://linear.app/acme/issue/ENG-1/add-login", "1", "#1"])
async def test_get_issue_accepts_other_spellings(linear_api: FakeLinear, make_linear: MakeLinear, key: str) -> None:
    linear_api.add_issue("ENG", "Add login")
    assert (await make_linear().get_issue(key)).key == "ENG-1"


async def test_unknown_identifier_is_not_found(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    with pytest.raises(NotFound, match="ENG-404"):
        await make_linear().get_issue("ENG-404")


@pytest.mark.parametrize("key", ["octo/app#1", "https://github.com/o/r/issues/1", "not an issue"])
async def test_non_linear_key_is_refused_before_any_request(
    linear_api: FakeLinear, make_linear: MakeLinear, key: str
) -> None:
    with pytest.raises(InvalidInput):
        await make_linear().get_issue(key)
    assert linear_api.requests == []


async def test_plain_number_needs_a_team(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    with pytest.raises(InvalidInput, match="not a Linear issue"):
        await make_linear(team=None).get_issue("7")


async def test_blocked_by_comes_from_blocking_relations(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_team("OPS")
    linear_api.add_issue("ENG", "Ship it")  # ENG-1
    linear_api.add_issue("ENG", "Schema migration")  # ENG-2
    linear_api.add_issue("OPS", "Provision database")  # OPS-1
    linear_api.add_issue("ENG", "Unrelated")  # ENG-3
    linear_api.add_issue("ENG", "Follow-up")  # ENG-4
    linear_api.block("ENG-2", "ENG-1")
    linear_api.block("OPS-1", "ENG-1")
    linear_api.relate("ENG-3", "ENG-1", "related")  # not a blocker
    linear_api.block("ENG-1", "ENG-4")  # ENG-1 blocks ENG-4: not a blocker of ENG-1
    tracker = make_linear()
    assert (await tracker.get_issue("ENG-1")).blocked_by == ["ENG-2", "OPS-1"]
    assert (await tracker.get_issue("ENG-4")).blocked_by == ["ENG-1"]
    assert (await tracker.get_issue("ENG-3")).blocked_by == []


# ---------------------------------------------------------------------- lists and batches


async def test_list_pages_with_cursors(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    for n in range(120):
        linear_api.add_issue("ENG", f"Task {n}")
    issues = await make_linear().list_issues(IssueQuery(limit=110))
    assert len(issues) == 110
    assert len({i.key for i in issues}) == 110
    assert linear_api.operations() == ["EnnioIssues"] * 3
    assert [r.variables["first"] for r in linear_api.requests] == [50, 50, 10]
    assert linear_api.requests[0].variables["after"] is None
    assert linear_api.requests[1].variables["after"] is not None


async def test_list_stops_when_linear_has_no_more(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    for n in range(3):
        linear_api.add_issue("ENG", f"Task {n}")
    assert len(await make_linear().list_issues(IssueQuery(limit=100))) == 3
    assert len(linear_api.requests) == 1


async def test_list_filters_by_state(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_issue("ENG", "Open one")
    linear_api.add_issue("ENG", "Started", state="In Progress")
    linear_api.add_issue("ENG", "Done one", state="Done")
    linear_api.add_issue("ENG", "Dropped", state="Canceled")
    tracker = make_linear()
    open_ = await tracker.list_issues(IssueQuery())
    closed = await tracker.list_issues(IssueQuery(state=IssueState.CLOSED))
    every = await tracker.list_issues(IssueQuery(state="all"))
    assert sorted(i.title for i in open_) == ["Open one", "Started"]
    assert sorted(i.title for i in closed) == ["Done one", "Dropped"]
    assert {i.state for i in closed} == {IssueState.CLOSED}
    assert len(every) == 4


async def test_list_filters_by_team_label_and_assignee(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_team("OPS")
    linear_api.add_label("bug")
    linear_api.add_label("agent")
    alice = linear_api.add_user("Alice Liddell", "alice", "alice@acme.test")
    linear_api.add_issue("ENG", "Bug for agent", labels=("bug", "agent"), assignee=alice)
    linear_api.add_issue("ENG", "Bug only", labels=("bug",))
    linear_api.add_issue("ENG", "Mine", assignee=linear_api.viewer)
    linear_api.add_issue("OPS", "Ops bug", labels=("bug", "agent"))
    tracker = make_linear()

    async def titles(**query: object) -> list[str]:
        return sorted(i.title for i in await tracker.list_issues(IssueQuery(**query)))  # type: ignore[arg-type]

    assert await titles(labels=["bug"]) == ["Bug for agent", "Bug only"]
    assert await titles(labels=["BUG", "agent"]) == ["Bug for agent"]
    assert await titles(labels=["agent"], team="OPS") == ["Ops bug"]
    assert await titles(assignee="alice") == ["Bug for agent"]
    assert await titles(assignee="Alice Liddell") == ["Bug for agent"]
    assert await titles(assignee="ALICE@acme.test") == ["Bug for agent"]
    assert await titles(assignee="me") == ["Mine"]
    assert await titles(assignee="nobody") == []


async def test_list_without_team_covers_every_team(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_team("OPS")
    linear_api.add_issue("ENG", "a")
    linear_api.add_issue("OPS", "b")
    assert len(await make_linear(team=None).list_issues(IssueQuery())) == 2


async def test_milestone_filter_is_refused(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    with pytest.raises(InvalidInput, match="milestone"):
        await make_linear().list_issues(IssueQuery(milestone="v1"))
    assert linear_api.requests == []


async def test_issue_states_in_one_request(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_team("OPS")
    linear_api.add_issue("ENG", "a")
    linear_api.add_issue("ENG", "b", state="Done")
    linear_api.add_issue("OPS", "c", state="Canceled")
    linear_api.add_issue("OPS", "d", state="In Progress")
    states = await make_linear().issue_states(["ENG-1", "eng-2", "OPS-1", "OPS-2", "ENG-99"])
    assert states == {
        "ENG-1": IssueState.OPEN,
        "eng-2": IssueState.CLOSED,
        "OPS-1": IssueState.CLOSED,
        "OPS-2": IssueState.OPEN,
    }
    assert linear_api.operations() == ["EnnioIssueStates"]


async def test_issue_states_batches_many_keys(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    for n in range(120):
        linear_api.add_issue("ENG", f"t{n}", state="Done" if n % 2 else "Todo")
    states = await make_linear().issue_states([f"ENG-{n}" for n in range(1, 121)])
    assert len(states) == 120
    assert states["ENG-1"] is IssueState.OPEN and states["ENG-2"] is IssueState.CLOSED
    assert linear_api.operations() == ["EnnioIssueStates"] * 3


async def test_issue_states_of_nothing_costs_nothing(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    assert await make_linear().issue_states([]) == {}
    assert linear_api.requests == []


# ---------------------------------------------------------------------- writing


async def test_create_issue_with_labels(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    eng = linear_api.team("ENG")
    other = linear_api.add_team("OPS")
    linear_api.add_label("bug")  # workspace label
    team_bug = linear_api.add_label("bug", team=eng)  # the team's own label wins
    linear_api.add_label("agent", team=other)  # another team's label is not usable
    linear_api.add_label("agent")
    issue = await make_linear().create_issue("Fix crash", "It crashes.", labels=["bug", "agent"])
    assert issue.key == "ENG-1"
    assert issue.title == "Fix crash" and issue.body == "It crashes."
    assert issue.labels == ["bug", "agent"]
    created = linear_api.issue("ENG-1")
    assert team_bug in created.label_list
    assert all(lb.team in (None, eng) for lb in created.label_list)
    assert linear_api.operations() == ["EnnioTeamAndLabels", "EnnioCreateIssue"]


async def test_create_issue_with_unknown_label_creates_nothing(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    with pytest.raises(InvalidInput, match="no label 'nope'"):
        await make_linear().create_issue("Fix crash", labels=["nope"])
    assert linear_api.issue_list == []
    assert "EnnioCreateIssue" not in linear_api.operations()


async def test_create_issue_needs_a_known_team(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    with pytest.raises(ConfigError, match="needs a team"):
        await make_linear(team=None).create_issue("x")
    with pytest.raises(ConfigError, match="no team with key 'NOPE'"):
        await make_linear(team="NOPE").create_issue("x")
    with pytest.raises(InvalidInput, match="title"):
        await make_linear().create_issue("   ")
    assert linear_api.issue_list == []


async def test_comment(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_issue("ENG", "Add login")
    await make_linear().comment("ENG-1", "PR opened: https://github.com/o/r/pull/3")
    assert [(c.issue.identifier, c.body) for c in linear_api.comments] == [
        ("ENG-1", "PR opened: https://github.com/o/r/pull/3")
    ]


async def test_comment_on_unknown_issue_sends_no_mutation(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    with pytest.raises(NotFound):
        await make_linear().comment("ENG-9", "hello")
    with pytest.raises(InvalidInput, match="empty"):
        await make_linear().comment("ENG-9", "  ")
    assert linear_api.operations() == ["EnnioIssueId"]
    assert linear_api.comments == []


async def test_close_moves_to_done_state(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_issue("ENG", "Add login", state="In Review")
    tracker = make_linear()
    await tracker.close_issue("ENG-1")
    assert linear_api.issue("ENG-1").state.name == "Done"
    assert (await tracker.issue_states(["ENG-1"])) == {"ENG-1": IssueState.CLOSED}
    before = len(linear_api.requests)
    await tracker.close_issue("ENG-1")  # already there: no mutation
    assert linear_api.operations()[before:] == ["EnnioIssueWorkflow"]


async def test_close_without_done_state_uses_the_first_completed_state(
    linear_api: FakeLinear, make_linear: MakeLinear
) -> None:
    linear_api.add_issue("ENG", "Add login")
    await make_linear(done_state=None).close_issue("ENG-1")
    assert linear_api.issue("ENG-1").state.type == "completed"


async def test_unknown_state_name_lists_the_teams_states(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_issue("ENG", "Add login")
    with pytest.raises(ConfigError, match="no workflow state named 'Shipped'") as info:
        await make_linear(done_state="Shipped").close_issue("ENG-1")
    assert info.value.hint is not None and "In Progress" in info.value.hint and "Done" in info.value.hint
    assert linear_api.issue("ENG-1").state.name == "Todo"


async def test_mark_in_progress(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_issue("ENG", "Add login")
    assert await make_linear().mark_in_progress("ENG-1") == "In Progress"
    assert linear_api.issue("ENG-1").state.name == "In Progress"
    assert await make_linear(in_progress_state="in review").move_issue("ENG-1", "in review") == "In Review"
    count = len(linear_api.requests)
    assert await make_linear(in_progress_state=None).mark_in_progress("ENG-1") is None
    assert len(linear_api.requests) == count


# ---------------------------------------------------------------------- branch names and prompts


@pytest.mark.parametrize(
    ("linear_branch", "expected"),
    [
        ("alice/eng-1-add-login", "alice/eng-1-add-login"),
        ("alice/eng 1; rm -rf ~", "feat/eng-1-add-login"),
        ("../../etc", "feat/eng-1-add-login"),
        ("", "feat/eng-1-add-login"),
    ],
)
async def test_branch_name_prefers_linears_when_safe(
    linear_api: FakeLinear, make_linear: MakeLinear, linear_branch: str, expected: str
) -> None:
    linear_api.add_issue("ENG", "Add login", branch_name=linear_branch)
    tracker = make_linear()
    assert tracker.branch_name(await tracker.get_issue("ENG-1")) == expected


def test_prompt_context(make_linear: MakeLinear) -> None:
    issue = Issue(
        key="ENG-7",
        title="Add login",
        body="Users need to log in.\n",
        labels=["auth"],
        url="https://linear.app/acme/issue/ENG-7",
        assignees=["alice"],
        blocked_by=["ENG-2"],
    )
    text = make_linear().prompt_context(issue)
    assert text.splitlines()[0] == "Linear issue ENG-7: Add login"
    for part in (
        "URL: https://linear.app/acme/issue/ENG-7",
        "Labels: auth",
        "Blocked by: ENG-2",
        "Users need to log in.",
    ):
        assert part in text


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize("status", [400, 401])
async def test_bad_key_is_an_auth_error_naming_linear(
    linear_api: FakeLinear, make_linear: MakeLinear, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    linear_api.auth_failure_status = status
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError, match="Linear refused the API key") as info:
        await make_linear(api_key="lin_api_wrong_key_123").get_issue("ENG-1")
    assert info.value.hint is not None and "api_key" in info.value.hint
    assert linear_api.requests[0].authorization == "lin_api_wrong_key_123"
    assert "lin_api_wrong_key_123" not in caplog.text
    assert "lin_api_wrong_key_123" not in str(info.value)


async def test_missing_key_fails_before_any_request(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    with pytest.raises(AuthError, match="no Linear API key"):
        await make_linear(api_key=None).get_issue("ENG-1")
    assert linear_api.requests == []


async def test_the_key_is_never_logged(
    linear_api: FakeLinear, make_linear: MakeLinear, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    linear_api.add_issue("ENG", "x")
    tracker = make_linear()
    await tracker.get_issue("ENG-1")
    assert linear_api.requests[0].authorization == linear_api.api_key
    assert linear_api.api_key not in caplog.text
    assert linear_api.api_key not in repr(tracker.settings)


async def test_rate_limited_400_with_linears_error_code(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.fail_next(400, "ratelimited")
    with pytest.raises(RateLimited, match="rate limit") as info:
        await make_linear().get_issue("ENG-1")
    assert info.value.retry_at is not None and info.value.retry_at > time.time() + 3000
    assert len(linear_api.requests) == 1  # not hammered


async def test_rate_limited_429(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.fail_next(429, "plain")
    with pytest.raises(RateLimited):
        await make_linear().list_issues(IssueQuery())


async def test_rate_budget_follows_linears_headers(linear_api: FakeLinear, make_linear: MakeLinear) -> None:
    linear_api.add_issue("ENG", "x")
    tracker = make_linear()
    assert tracker.rate_budget() is None
    await tracker.get_issue("ENG-1")
    await tracker.get_issue("ENG-1")
    budget = tracker.rate_budget()
    assert budget is not None
    assert (budget.limit, budget.remaining) == (5000, 4998)
    assert budget.reset_at is not None and budget.reset_at.timestamp() > time.time()


async def test_gateway_errors_are_retried_for_queries(
    linear_api: FakeLinear, make_linear: MakeLinear, sleeps: Sleeps
) -> None:
    linear_api.add_issue("ENG", "x")
    linear_api.fail_next(502, times=2)
    assert (await make_linear().get_issue("ENG-1")).key == "ENG-1"
    assert len(linear_api.requests) == 3
    assert len(sleeps.calls) == 2 and sleeps.calls[1] > sleeps.calls[0]


async def test_gateway_errors_give_up_after_retries(
    linear_api: FakeLinear, make_linear: MakeLinear, sleeps: Sleeps
) -> None:
    linear_api.fail_next(503, times=5)
    with pytest.raises(TrackerError, match="HTTP 503"):
        await make_linear().get_issue("ENG-1")
    assert len(linear_api.requests) == 3


async def test_mutations_are_not_retried_after_reaching_linear(
    linear_api: FakeLinear, make_linear: MakeLinear, sleeps: Sleeps
) -> None:
    linear_api.add_issue("ENG", "x")
    linear_api.fail_next(502, operation="EnnioComment")
    with pytest.raises(TrackerError, match="HTTP 502"):
        await make_linear().comment("ENG-1", "posted twice?")
    assert linear_api.operations() == ["EnnioIssueId", "EnnioComment"]
    assert sleeps.calls == []


async def test_unreachable_linear(tmp_path: Path, data_dir: Path, sleeps: Sleeps) -> None:
    project = ProjectConfig(
        name="app",
        path=tmp_path,
        tracker={"provider": "linear", "api_key": "k", "base_url": "http://127.0.0.1:9/graphql", "team": "ENG"},
    )
    tracker = LinearTracker(project, PluginContext(data_dir=data_dir, clock=ManualClock()), sleep=sleeps)
    with pytest.raises(TrackerError, match=re.escape("cannot reach Linear at http://127.0.0.1:9/graphql")):
        await tracker.get_issue("ENG-1")
    assert len(sleeps.calls) == 2


async def test_the_fake_rejects_what_linear_would(linear_api: FakeLinear) -> None:
    """Guard: a query with a field Linear does not have is refused (so the suite above means something)."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            linear_api.url,
            json={"query": 'query { issue(id: "ENG-1") { identifier mergeable } }'},
            headers={"Authorization": linear_api.api_key},
        )
    assert response.status_code == 400
    assert "mergeable" in response.json()["errors"][0]["message"]
    assert len(linear_api.rejected) == 1
    linear_api.rejected.clear()


# ---------------------------------------------------------------------- wiring


def test_registered_under_linear_and_satisfies_the_protocol(make_linear: MakeLinear) -> None:
    assert PluginRegistry().get(Slot.TRACKER, "linear") is LinearTracker
    assert isinstance(make_linear(), Tracker)
    assert LinearTracker.manifest.slot is Slot.TRACKER


def test_other_tracker_config_is_refused(tmp_path: Path, data_dir: Path) -> None:
    project = ProjectConfig(name="app", path=tmp_path, tracker={"provider": "local"})
    with pytest.raises(ConfigError, match="does not use the Linear tracker"):
        LinearTracker(project, PluginContext(data_dir=data_dir, clock=ManualClock()))
