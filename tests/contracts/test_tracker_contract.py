"""What every tracker does, whatever is behind it (files, GitHub, Linear)."""

from __future__ import annotations

import pytest

from ennio.core.errors import NotFound
from ennio.core.ids import validate_branch_name
from ennio.core.plugins import Issue, IssueQuery, IssueState, Slot, Tracker
from tests.contracts.conftest import TrackerHarness


def keys(issues: list[Issue]) -> set[str]:
    return {issue.key for issue in issues}


def test_is_a_tracker_with_a_manifest(tracker_harness: TrackerHarness) -> None:
    tracker = tracker_harness.make()
    assert isinstance(tracker, Tracker)
    assert tracker.manifest.slot is Slot.TRACKER
    assert tracker.manifest.name and tracker.manifest.version


async def test_create_then_get_round_trips(tracker_harness: TrackerHarness) -> None:
    tracker = tracker_harness.make()
    created = await tracker.create_issue("Add login page", "Users log in with e-mail.\n\nAnd a password.", ["auth"])
    assert created.key
    assert (created.title, created.state) == ("Add login page", IssueState.OPEN)
    fetched = await tracker_harness.make().get_issue(created.key)
    assert fetched.key == created.key
    assert fetched.title == "Add login page"
    assert fetched.body.strip() == "Users log in with e-mail.\n\nAnd a password."
    assert fetched.labels == ["auth"]
    assert fetched.state is IssueState.OPEN


async def test_each_new_issue_gets_its_own_key(tracker_harness: TrackerHarness) -> None:
    tracker = tracker_harness.make()
    created = [await tracker.create_issue(f"Issue {n}") for n in range(3)]
    assert len(keys(created)) == 3


async def test_list_filters_by_state_and_label(tracker_harness: TrackerHarness) -> None:
    tracker = tracker_harness.make()
    bug = await tracker.create_issue("A bug", labels=["bug"])
    feature = await tracker.create_issue("A feature", labels=["feature"])
    done = await tracker.create_issue("Done already", labels=["bug"])
    await tracker.close_issue(done.key)

    open_keys = keys(await tracker.list_issues(IssueQuery()))
    assert {bug.key, feature.key} <= open_keys and done.key not in open_keys
    assert keys(await tracker.list_issues(IssueQuery(labels=["bug"]))) >= {bug.key}
    assert feature.key not in keys(await tracker.list_issues(IssueQuery(labels=["bug"])))
    closed = keys(await tracker.list_issues(IssueQuery(state=IssueState.CLOSED)))
    assert done.key in closed and bug.key not in closed
    assert {bug.key, feature.key, done.key} <= keys(await tracker.list_issues(IssueQuery(state="all")))
    assert len(await tracker.list_issues(IssueQuery(state="all", limit=2))) == 2


async def test_issue_states_of_many_at_once(tracker_harness: TrackerHarness) -> None:
    tracker = tracker_harness.make()
    first = await tracker.create_issue("First")
    second = await tracker.create_issue("Second")
    await tracker.close_issue(second.key)
    states = await tracker_harness.make().issue_states([first.key, second.key])
    assert states == {first.key: IssueState.OPEN, second.key: IssueState.CLOSED}


async def test_comment_and_close(tracker_harness: TrackerHarness) -> None:
    tracker = tracker_harness.make()
    issue = await tracker.create_issue("To close")
    await tracker.comment(issue.key, "Merged in the session's PR.")
    await tracker.close_issue(issue.key)
    assert (await tracker_harness.make().get_issue(issue.key)).state is IssueState.CLOSED


async def test_unknown_issue_is_not_found(tracker_harness: TrackerHarness) -> None:
    with pytest.raises(NotFound):
        await tracker_harness.make().get_issue(tracker_harness.missing_key)


async def test_branch_name_is_safe_and_names_the_issue(tracker_harness: TrackerHarness) -> None:
    tracker = tracker_harness.make()
    issue = await tracker.create_issue("Fix: crash when `name` is empty; & more!")
    branch = tracker.branch_name(issue)
    assert validate_branch_name(branch) == branch
    assert issue.key.lower() in branch.lower()


async def test_prompt_context_carries_title_body_and_labels(tracker_harness: TrackerHarness) -> None:
    tracker = tracker_harness.make()
    issue = await tracker.create_issue("Add dark mode", "Follow the system setting.", ["ui"])
    context = tracker.prompt_context(await tracker.get_issue(issue.key))
    for part in ("Add dark mode", "Follow the system setting.", "ui", issue.key):
        assert part in context
