from __future__ import annotations

from datetime import UTC

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ennio.core.errors import Conflict, IllegalTransition, InvalidId
from ennio.core.session import (
    ACTIVE_STATUSES,
    PR_STATUSES,
    RESTORABLE_STATUSES,
    TERMINAL_STATUSES,
    TRANSITIONS,
    ActivityState,
    Session,
    SessionStatus,
    StatusChange,
    can_transition,
    check_transition,
    is_terminal,
)

S = SessionStatus

# The specification, written out by hand (not derived from the code under test).
_OBSERVED = "pr_draft pr_open ci_passing ci_failed review_pending changes_requested approved merge_conflicts"
_ENDINGS = "merged done exited killed"
_PR_BASE = f"working {_OBSERVED} {_ENDINGS}"


def _pr(own: str, add: str = "", drop: str = "") -> set[str]:
    return (set(_PR_BASE.split()) | set(add.split())) - {own} - set(drop.split())


SPEC: dict[str, set[str]] = {
    "spawning": {"working", "exited", "killed"},
    "working": set(f"{_OBSERVED} {_ENDINGS}".split()),
    "pr_draft": _pr("pr_draft"),
    "pr_open": _pr("pr_open"),
    "ci_passing": _pr("ci_passing"),
    "ci_failed": _pr("ci_failed", add="ci_fix_sent"),
    "ci_fix_sent": _pr("ci_fix_sent", add="ci_fix_failed", drop="ci_failed"),
    "ci_fix_failed": _pr("ci_fix_failed", add="ci_fix_sent", drop="ci_failed"),
    "review_pending": _pr("review_pending"),
    "changes_requested": _pr("changes_requested"),
    "approved": _pr("approved"),
    "merge_conflicts": _pr("merge_conflicts"),
    "merged": {"done"},
    "done": set(),
    "killed": set(),
    "exited": {"working", "merged", "done", "killed"},
}

ALL_PAIRS = [(a, b) for a in S for b in S]


def test_the_sixteen_statuses_and_six_activity_states() -> None:
    assert {str(s) for s in S} == set(SPEC)
    assert len(S) == 16
    assert {str(a) for a in ActivityState} == {"active", "ready", "idle", "waiting_input", "blocked", "exited"}


def test_table_lists_every_status() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("source", "target"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_transition(source: SessionStatus, target: SessionStatus) -> None:
    allowed = str(target) in SPEC[str(source)]
    assert can_transition(source, target) is allowed
    if allowed:
        check_transition(source, target)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition(source, target)
        assert f"from {source} to {target}" in info.value.message
        assert info.value.hint is not None


def test_illegal_transition_is_a_conflict_with_the_allowed_moves_as_hint() -> None:
    with pytest.raises(IllegalTransition) as info:
        check_transition(S.SPAWNING, S.MERGED)
    assert isinstance(info.value, Conflict)
    assert info.value.exit_code == 4
    assert info.value.hint == "from spawning it can move to: exited, killed, working"
    with pytest.raises(IllegalTransition) as info:
        check_transition(S.DONE, S.WORKING)
    assert "nothing (terminal)" in (info.value.hint or "")


def test_no_status_moves_to_itself() -> None:
    for status in S:
        assert not can_transition(status, status)


def test_terminal_restorable_active_and_pr_sets() -> None:
    assert {S.MERGED, S.DONE, S.KILLED} == TERMINAL_STATUSES
    assert {S.EXITED} == RESTORABLE_STATUSES
    assert set(S) - TERMINAL_STATUSES == ACTIVE_STATUSES
    assert S.EXITED in ACTIVE_STATUSES
    assert {S(x) for x in _OBSERVED.split()} | {S.CI_FIX_SENT, S.CI_FIX_FAILED} == PR_STATUSES
    for status in S:
        assert is_terminal(status) is (status in TERMINAL_STATUSES)


def test_terminal_statuses_only_move_on_to_done() -> None:
    for status in TERMINAL_STATUSES:
        assert TRANSITIONS[status] <= {S.DONE}


def _reachable(start: SessionStatus) -> set[SessionStatus]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_status_is_reachable_from_spawning() -> None:
    assert _reachable(S.SPAWNING) == set(S)


def test_every_status_can_finish() -> None:
    for status in S:
        assert _reachable(status) & {S.DONE, S.KILLED}, status


@given(st.lists(st.sampled_from(list(S)), max_size=40))
def test_random_walks_obey_the_table(targets: list[SessionStatus]) -> None:
    current = S.SPAWNING
    for target in targets:
        if str(target) in SPEC[str(current)]:
            check_transition(current, target)
            current = target
        else:
            with pytest.raises(IllegalTransition):
                check_transition(current, target)
        if current in (S.DONE, S.KILLED):
            assert not TRANSITIONS[current]


# --------------------------------------------------------------------------- Session model


def test_session_defaults_and_properties() -> None:
    session = Session(id="app-1", project_id="app", agent="claude-code", runtime="tmux", workspace="worktree")
    assert session.status is S.SPAWNING
    assert session.role == "worker"
    assert session.created_at.tzinfo is UTC
    assert not session.terminal
    assert not session.restorable
    assert session.model_copy(update={"status": S.EXITED}).restorable
    assert session.model_copy(update={"status": S.MERGED}).terminal
    assert Session.model_validate_json(session.model_dump_json()) == session


def test_session_rejects_bad_ids_unknown_fields_and_statuses() -> None:
    base = {"project_id": "app", "agent": "a", "runtime": "r", "workspace": "w"}
    with pytest.raises(InvalidId):
        Session(id="app 1", **base)
    with pytest.raises(ValidationError):
        Session(id="app-1", colour="red", **base)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Session(id="app-1", status="finished", **base)  # type: ignore[arg-type]


def test_status_change_row() -> None:
    change = StatusChange(session_id="app-1", from_status=None, to_status=S.SPAWNING)
    assert change.reason == ""
    assert change.at.tzinfo is UTC
