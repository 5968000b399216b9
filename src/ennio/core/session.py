"""The Session: one agent working on one task in one workspace, and its state machine."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ennio.core.errors import IllegalTransition
from ennio.core.ids import ProjectId, SessionId


class SessionStatus(StrEnum):
    SPAWNING = "spawning"
    WORKING = "working"
    PR_DRAFT = "pr_draft"
    PR_OPEN = "pr_open"
    CI_PASSING = "ci_passing"
    CI_FAILED = "ci_failed"
    CI_FIX_SENT = "ci_fix_sent"
    CI_FIX_FAILED = "ci_fix_failed"
    REVIEW_PENDING = "review_pending"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    MERGE_CONFLICTS = "merge_conflicts"
    MERGED = "merged"
    DONE = "done"
    EXITED = "exited"
    KILLED = "killed"


class ActivityState(StrEnum):
    ACTIVE = "active"
    READY = "ready"
    IDLE = "idle"
    WAITING_INPUT = "waiting_input"
    BLOCKED = "blocked"
    EXITED = "exited"


S = SessionStatus

#: Terminal statuses: the session's work is over. ``merged`` still moves on to ``done`` after cleanup.
TERMINAL_STATUSES: frozenset[SessionStatus] = frozenset({S.MERGED, S.DONE, S.KILLED})
#: Statuses a session can be restored from.
RESTORABLE_STATUSES: frozenset[SessionStatus] = frozenset({S.EXITED})
#: Statuses in which a pull request exists and is open.
PR_STATUSES: frozenset[SessionStatus] = frozenset(
    {
        S.PR_DRAFT,
        S.PR_OPEN,
        S.CI_PASSING,
        S.CI_FAILED,
        S.CI_FIX_SENT,
        S.CI_FIX_FAILED,
        S.REVIEW_PENDING,
        S.CHANGES_REQUESTED,
        S.APPROVED,
        S.MERGE_CONFLICTS,
    }
)
#: Statuses the lifecycle loop keeps reconciling (everything not terminal).
ACTIVE_STATUSES: frozenset[SessionStatus] = frozenset(S) - TERMINAL_STATUSES
#: Statuses that count against a project's ``max_sessions``: not terminal and not exited.
LIVE_STATUSES: frozenset[SessionStatus] = ACTIVE_STATUSES - {S.EXITED}

# PR states that can be observed directly from the forge (CI and review can move in any order,
# and a poll may skip intermediate states). ci_fix_sent / ci_fix_failed are entered only by
# Ennio's own actions, so they are listed separately.
_OBSERVED_PR_STATES = frozenset(
    {
        S.PR_DRAFT,
        S.PR_OPEN,
        S.CI_PASSING,
        S.CI_FAILED,
        S.REVIEW_PENDING,
        S.CHANGES_REQUESTED,
        S.APPROVED,
        S.MERGE_CONFLICTS,
    }
)
_ENDINGS = frozenset({S.MERGED, S.DONE, S.EXITED, S.KILLED})


def _pr_moves(source: SessionStatus) -> frozenset[SessionStatus]:
    moves = set(_OBSERVED_PR_STATES | _ENDINGS | {S.WORKING})
    moves.discard(source)
    return frozenset(moves)


#: Every allowed move. Anything not listed raises :class:`IllegalTransition`.
TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    S.SPAWNING: frozenset({S.WORKING, S.EXITED, S.KILLED}),
    # A PR may appear with CI or review already settled, or even already merged, between polls.
    S.WORKING: frozenset(_OBSERVED_PR_STATES | _ENDINGS),
    S.PR_DRAFT: _pr_moves(S.PR_DRAFT),
    S.PR_OPEN: _pr_moves(S.PR_OPEN),
    S.CI_PASSING: _pr_moves(S.CI_PASSING),
    # The ci-failed reaction sends the log to the agent: ci_failed -> ci_fix_sent.
    S.CI_FAILED: _pr_moves(S.CI_FAILED) | {S.CI_FIX_SENT},
    # After a fix was sent: CI fails again -> ci_fix_failed; passes -> ci_passing, and so on.
    S.CI_FIX_SENT: (_pr_moves(S.CI_FIX_SENT) - {S.CI_FAILED}) | {S.CI_FIX_FAILED},
    # Another attempt may be sent while retries remain.
    S.CI_FIX_FAILED: (_pr_moves(S.CI_FIX_FAILED) - {S.CI_FAILED}) | {S.CI_FIX_SENT},
    S.REVIEW_PENDING: _pr_moves(S.REVIEW_PENDING),
    S.CHANGES_REQUESTED: _pr_moves(S.CHANGES_REQUESTED),
    S.APPROVED: _pr_moves(S.APPROVED),
    S.MERGE_CONFLICTS: _pr_moves(S.MERGE_CONFLICTS),
    S.MERGED: frozenset({S.DONE}),
    S.DONE: frozenset(),
    S.KILLED: frozenset(),
    # Restore brings an exited session back to work; its PR may also merge or close meanwhile.
    S.EXITED: frozenset({S.WORKING, S.MERGED, S.DONE, S.KILLED}),
}


def can_transition(source: SessionStatus, target: SessionStatus) -> bool:
    return target in TRANSITIONS[source]


def check_transition(source: SessionStatus, target: SessionStatus) -> None:
    """Raise :class:`IllegalTransition` unless ``source -> target`` is in the table."""
    if target not in TRANSITIONS[source]:
        allowed = ", ".join(sorted(TRANSITIONS[source])) or "nothing (terminal)"
        raise IllegalTransition(
            f"a session cannot move from {source} to {target}",
            hint=f"from {source} it can move to: {allowed}",
        )


def is_terminal(status: SessionStatus) -> bool:
    return status in TERMINAL_STATUSES


def utcnow() -> datetime:
    return datetime.now(UTC)


class Session(BaseModel):
    """One agent on one task. Persisted as a row in ``sessions``."""

    model_config = ConfigDict(validate_assignment=False, extra="forbid")

    id: SessionId
    project_id: ProjectId
    status: SessionStatus = SessionStatus.SPAWNING
    activity: ActivityState | None = None
    agent: str
    runtime: str
    workspace: str
    branch: str | None = None
    base_branch: str | None = None
    issue_id: str | None = None
    issue_url: str | None = None
    workspace_path: str | None = None
    #: opaque runtime handle (tmux session name, pid, host …) as the runtime plugin returned it
    runtime_handle: dict[str, Any] | None = None
    pr_number: int | None = None
    pr_url: str | None = None
    #: "worker" for an agent on a task; other roles (e.g. "orchestrator") are reserved
    role: str = "worker"
    prompt: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_activity_at: datetime | None = None
    status_reason: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def restorable(self) -> bool:
        return self.status in RESTORABLE_STATUSES


class StatusChange(BaseModel):
    """One row of a session's status history."""

    session_id: SessionId
    from_status: SessionStatus | None
    to_status: SessionStatus
    reason: str = ""
    at: datetime = Field(default_factory=utcnow)
