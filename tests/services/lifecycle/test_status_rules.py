"""Status derivation: every answer is a legal move, and each rule of the lifecycle holds."""

from __future__ import annotations

import itertools

import pytest

from ennio.core.errors import IllegalTransition
from ennio.core.plugins import CheckRun, CIState, IssueState, PRSnapshot, PRState, PullRequest, ReviewDecision
from ennio.core.session import TRANSITIONS, ActivityState, SessionStatus, check_transition
from ennio.services.lifecycle.status_rules import Decision, Observation, derive_status

S = SessionStatus
HEAD = "a" * 40
NEW_HEAD = "b" * 40


def snap(
    *,
    state: PRState | None = PRState.OPEN,
    ci: CIState = CIState.NONE,
    review: ReviewDecision = ReviewDecision.NONE,
    mergeable: bool | None = True,
    draft: bool = False,
    head: str = HEAD,
    conflicts: list[str] | None = None,
) -> PRSnapshot:
    pr = None
    if state is not None:
        pr = PullRequest(7, "http://pr/7", "t", "feat/x", "main", state=state, draft=draft, head_sha=head)
    checks = [CheckRun("test", CIState.FAILING)] if ci is CIState.FAILING else []
    return PRSnapshot(
        "feat/x", pr=pr, ci=ci, checks=checks, review=review, mergeable=mergeable, conflicts=conflicts or []
    )


def derive(status: SessionStatus, **kw: object) -> Decision | None:
    kw.setdefault("alive", True)
    kw.setdefault("activity", ActivityState.ACTIVE)
    return derive_status(Observation(status=status, **kw))  # type: ignore[arg-type]


def moved(status: SessionStatus, **kw: object) -> SessionStatus | None:
    decision = derive(status, **kw)
    return decision.status if decision is not None else None


# --------------------------------------------------------------------------- every answer is legal

_SNAPSHOTS: list[PRSnapshot | None] = [None, snap(state=None)] + [
    snap(state=st, ci=ci, review=rv, mergeable=mg, draft=dr, head=hd)
    for st, ci, rv, mg, dr, hd in itertools.product(
        PRState, CIState, ReviewDecision, (True, False, None), (False, True), (HEAD, NEW_HEAD)
    )
]


def test_every_derived_status_is_a_legal_transition() -> None:
    produced: set[tuple[SessionStatus, SessionStatus]] = set()
    for status, alive, activity, snapshot, issue, fix in itertools.product(
        S,
        (True, False),
        (None, ActivityState.ACTIVE, ActivityState.IDLE, ActivityState.EXITED),
        _SNAPSHOTS,
        (None, IssueState.OPEN, IssueState.CLOSED),
        (None, HEAD),
    ):
        decision = derive_status(Observation(status, alive, activity, snapshot, issue, fix))
        if decision is not None:
            assert decision.status in TRANSITIONS[status], (status, decision)
            assert decision.status is not status
            assert decision.reason
            produced.add((status, decision.status))
    # the rules reach every status a session can be moved to by observation
    targets = {to for _, to in produced}
    assert targets == set(S) - {S.SPAWNING, S.CI_FIX_SENT, S.KILLED}
    # ci_fix_sent is entered only by the ci-failed reaction, never by observation
    assert not any(to is S.CI_FIX_SENT for _, to in produced)


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
def test_transition_table_is_enforced(source: SessionStatus, target: SessionStatus) -> None:
    if target in TRANSITIONS[source]:
        check_transition(source, target)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition(source, target)
        assert f"from {source} to {target}" in info.value.message


# --------------------------------------------------------------------------- the individual rules


def test_spawning_moves_to_working_once_the_agent_runs_and_to_exited_if_it_died() -> None:
    assert moved(S.SPAWNING) is S.WORKING
    assert moved(S.SPAWNING, alive=False) is S.EXITED
    # a PR cannot be skipped to from spawning; the next pass handles it
    assert moved(S.SPAWNING, snapshot=snap(ci=CIState.PASSING)) is S.WORKING


def test_working_without_a_pr_stays() -> None:
    assert moved(S.WORKING, snapshot=snap(state=None)) is None
    assert moved(S.WORKING, snapshot=None) is None


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, S.PR_OPEN),
        ({"draft": True}, S.PR_DRAFT),
        ({"ci": CIState.PENDING}, S.PR_OPEN),
        ({"ci": CIState.PASSING}, S.CI_PASSING),
        ({"ci": CIState.FAILING}, S.CI_FAILED),
        ({"ci": CIState.PASSING, "review": ReviewDecision.REVIEW_REQUIRED}, S.REVIEW_PENDING),
        ({"review": ReviewDecision.REVIEW_REQUIRED}, S.REVIEW_PENDING),
        ({"ci": CIState.PASSING, "review": ReviewDecision.CHANGES_REQUESTED}, S.CHANGES_REQUESTED),
        ({"ci": CIState.PASSING, "review": ReviewDecision.APPROVED}, S.APPROVED),
        ({"ci": CIState.FAILING, "review": ReviewDecision.APPROVED}, S.CI_FAILED),
        ({"ci": CIState.FAILING, "mergeable": False}, S.MERGE_CONFLICTS),
        ({"conflicts": ["a.py"], "mergeable": None}, S.MERGE_CONFLICTS),
    ],
)
def test_a_pr_appearing_sets_the_status_it_shows(kw: dict[str, object], expected: SessionStatus) -> None:
    assert moved(S.WORKING, snapshot=snap(**kw)) is expected  # type: ignore[arg-type]


def test_ci_moves_between_failed_and_passing() -> None:
    assert moved(S.PR_OPEN, snapshot=snap(ci=CIState.FAILING)) is S.CI_FAILED
    assert moved(S.CI_FAILED, snapshot=snap(ci=CIState.PASSING)) is S.CI_PASSING
    assert moved(S.CI_PASSING, snapshot=snap(ci=CIState.PASSING)) is None
    decision = derive(S.PR_OPEN, snapshot=snap(ci=CIState.FAILING))
    assert decision is not None and "test" in decision.reason


def test_after_a_ci_fix_is_sent_the_session_waits_for_the_new_head_and_its_ci() -> None:
    failing_old = snap(ci=CIState.FAILING, head=HEAD)
    assert moved(S.CI_FIX_SENT, snapshot=failing_old, fix_sent_for=HEAD) is None
    assert moved(S.CI_FIX_SENT, snapshot=snap(ci=CIState.PENDING, head=NEW_HEAD), fix_sent_for=HEAD) is None
    failing_new = snap(ci=CIState.FAILING, head=NEW_HEAD)
    assert moved(S.CI_FIX_SENT, snapshot=failing_new, fix_sent_for=HEAD) is S.CI_FIX_FAILED
    assert moved(S.CI_FIX_SENT, snapshot=snap(ci=CIState.PASSING, head=NEW_HEAD), fix_sent_for=HEAD) is S.CI_PASSING


def test_ci_fix_failed_stays_until_ci_passes_or_another_fix_is_sent() -> None:
    assert moved(S.CI_FIX_FAILED, snapshot=snap(ci=CIState.FAILING), fix_sent_for=HEAD) is None
    assert moved(S.CI_FIX_FAILED, snapshot=snap(ci=CIState.PENDING, head=NEW_HEAD), fix_sent_for=HEAD) is None
    passing = snap(ci=CIState.PASSING, review=ReviewDecision.APPROVED, head=NEW_HEAD)
    assert moved(S.CI_FIX_FAILED, snapshot=passing, fix_sent_for=HEAD) is S.APPROVED


def test_conflicts_win_over_a_pending_ci_fix() -> None:
    conflicted = snap(ci=CIState.FAILING, mergeable=False, conflicts=["x.py"])
    decision = derive(S.CI_FIX_SENT, snapshot=conflicted, fix_sent_for=HEAD)
    assert decision is not None and decision.status is S.MERGE_CONFLICTS and "x.py" in decision.reason


def test_reviews_move_the_status() -> None:
    assert moved(S.CI_PASSING, snapshot=snap(ci=CIState.PASSING, review=ReviewDecision.CHANGES_REQUESTED)) is (
        S.CHANGES_REQUESTED
    )
    assert moved(S.CHANGES_REQUESTED, snapshot=snap(ci=CIState.PASSING, review=ReviewDecision.APPROVED)) is (S.APPROVED)
    assert moved(S.MERGE_CONFLICTS, snapshot=snap(ci=CIState.PASSING)) is S.CI_PASSING


def test_merged_pr_ends_the_session_even_from_exited() -> None:
    merged = snap(state=PRState.MERGED, ci=CIState.PASSING)
    assert moved(S.APPROVED, snapshot=merged) is S.MERGED
    assert moved(S.EXITED, alive=False, snapshot=merged) is S.MERGED
    assert moved(S.MERGED, snapshot=merged) is None  # merged -> done is the cleanup step


def test_the_agent_dying_exits_the_session() -> None:
    assert moved(S.CI_PASSING, alive=False, snapshot=snap(ci=CIState.PASSING)) is S.EXITED
    assert moved(S.WORKING, activity=ActivityState.EXITED) is S.EXITED
    assert moved(S.EXITED, alive=False, snapshot=snap(ci=CIState.FAILING)) is None
    assert moved(S.EXITED, alive=True) is S.WORKING


def test_a_closed_issue_without_an_open_pr_finishes_the_session() -> None:
    assert moved(S.WORKING, issue_state=IssueState.CLOSED, snapshot=snap(state=None)) is S.DONE
    assert moved(S.EXITED, alive=False, issue_state=IssueState.CLOSED) is S.DONE
    # with an open PR the PR decides
    assert moved(S.PR_OPEN, issue_state=IssueState.CLOSED, snapshot=snap(ci=CIState.PASSING)) is S.CI_PASSING


def test_a_pr_closed_unmerged_sends_the_session_back_to_working() -> None:
    decision = derive(S.REVIEW_PENDING, snapshot=snap(state=PRState.CLOSED))
    assert decision is not None and decision.status is S.WORKING and "closed without merging" in decision.reason


@pytest.mark.parametrize("status", [S.DONE, S.KILLED, S.MERGED])
def test_settled_sessions_never_move(status: SessionStatus) -> None:
    assert moved(status, alive=False, snapshot=snap(state=PRState.MERGED), issue_state=IssueState.CLOSED) is None
