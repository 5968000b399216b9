"""Deriving a session's next status from what was observed: a pure function, no I/O.

The lifecycle gathers an :class:`Observation` per session (runtime liveness, the agent's
activity, the SCM's :class:`~ennio.core.plugins.PRSnapshot`, the issue's state, and the head a CI
fix was sent for) and asks :func:`derive_status` where the session should be. Every answer is a
legal move of :data:`ennio.core.session.TRANSITIONS` (the tests check all of them).

Precedence, first match wins:

1. ``done``/``killed``/``merged`` do not move here (``merged`` → ``done`` is the lifecycle's
   cleanup step).
2. ``spawning``: the agent runs → ``working``; it died → ``exited``.
3. The PR merged → ``merged``.
4. The agent died → ``exited`` (an exited session only moves on when its PR merges, its issue
   closes, or it runs again).
5. The issue closed while no PR is open → ``done`` (the lifecycle cleans up first).
6. The PR was closed unmerged, or vanished → back to ``working``.
7. An open PR: conflicts > failing CI > changes requested > approved > draft > CI passing /
   review pending > open. After a CI fix was sent the session stays ``ci_fix_sent`` while the agent
   has not pushed and while the new CI runs; a new head that fails again → ``ci_fix_failed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ennio.core.plugins import CIState, IssueState, PRSnapshot, PRState, ReviewDecision
from ennio.core.session import ActivityState, SessionStatus, check_transition

S = SessionStatus

#: Statuses this module never moves a session out of.
_SETTLED = frozenset({S.DONE, S.KILLED, S.MERGED})


@dataclass(frozen=True, slots=True)
class Observation:
    """Everything one reconcile pass learnt about one session."""

    status: SessionStatus
    #: whether the runtime still has the agent's process
    alive: bool
    activity: ActivityState | None = None
    #: ``None`` when the SCM was not asked or did not answer this pass (no PR-based change then)
    snapshot: PRSnapshot | None = None
    #: ``None`` when the session has no issue or the tracker did not answer
    issue_state: IssueState | None = None
    #: the PR head a CI fix was sent for (the ``ci-failed`` reaction records it), if one was sent
    fix_sent_for: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    status: SessionStatus
    reason: str


def _pr_label(snapshot: PRSnapshot) -> str:
    return f"PR #{snapshot.pr.number}" if snapshot.pr is not None else "the PR"


def observed_pr_status(snapshot: PRSnapshot) -> tuple[SessionStatus, str]:
    """The status an open PR's snapshot shows on its own (no history), with the reason."""
    label = _pr_label(snapshot)
    if snapshot.mergeable is False or snapshot.conflicts:
        files = ", ".join(snapshot.conflicts)
        return S.MERGE_CONFLICTS, f"{label} conflicts with its base" + (f" ({files})" if files else "")
    if snapshot.ci is CIState.FAILING:
        names = ", ".join(c.name for c in snapshot.failing_checks)
        return S.CI_FAILED, "CI failing" + (f": {names}" if names else "")
    if snapshot.review is ReviewDecision.CHANGES_REQUESTED:
        return S.CHANGES_REQUESTED, f"changes requested on {label}"
    if snapshot.review is ReviewDecision.APPROVED:
        return S.APPROVED, f"{label} approved" + (" and CI passing" if snapshot.ci is CIState.PASSING else "")
    if snapshot.pr is not None and snapshot.pr.draft:
        return S.PR_DRAFT, f"{label} is a draft"
    if snapshot.ci is CIState.PASSING:
        if snapshot.review is ReviewDecision.REVIEW_REQUIRED:
            return S.REVIEW_PENDING, f"CI passing; {label} awaits review"
        return S.CI_PASSING, "CI passing"
    if snapshot.ci is CIState.PENDING:
        return S.PR_OPEN, f"{label} open; CI running"
    if snapshot.review is ReviewDecision.REVIEW_REQUIRED:
        return S.REVIEW_PENDING, f"{label} awaits review"
    return S.PR_OPEN, f"{label} open"


def _after_fix(obs: Observation, snapshot: PRSnapshot) -> tuple[bool, Decision | None]:
    """The CI-fix rules: ``(applies, decision)``; a ``None`` decision that applies means stay."""
    head = snapshot.pr.head_sha if snapshot.pr is not None else None
    if snapshot.mergeable is False or snapshot.conflicts:
        return False, None
    if obs.status is S.CI_FIX_SENT:
        if snapshot.ci is CIState.PENDING:
            return True, None  # the new CI is running
        if snapshot.ci is CIState.FAILING:
            if head is not None and head == obs.fix_sent_for:
                return True, None  # the agent has not pushed a new head yet
            names = ", ".join(c.name for c in snapshot.failing_checks)
            return True, Decision(S.CI_FIX_FAILED, "CI failed again after a fix" + (f": {names}" if names else ""))
        return False, None
    if obs.status is S.CI_FIX_FAILED and snapshot.ci in (CIState.FAILING, CIState.PENDING):
        return True, None  # another attempt goes through the ci-failed reaction (ci_fix_failed -> ci_fix_sent)
    return False, None


def derive_status(obs: Observation) -> Decision | None:
    """Where the session should move, or ``None`` to stay. Always a legal transition."""
    decision = _derive(obs)
    if decision is not None:
        if decision.status is obs.status:
            return None
        check_transition(obs.status, decision.status)  # a bug here must not corrupt a session
    return decision


def _derive(obs: Observation) -> Decision | None:
    status = obs.status
    if status in _SETTLED:
        return None
    snapshot = obs.snapshot
    pr = snapshot.pr if snapshot is not None else None
    dead = not obs.alive or obs.activity is ActivityState.EXITED
    if status is S.SPAWNING:
        if dead:
            return Decision(S.EXITED, "the agent exited before it started working")
        return Decision(S.WORKING, "the agent started")
    if pr is not None and pr.state is PRState.MERGED:
        return Decision(S.MERGED, f"PR #{pr.number} merged")
    pr_open = pr is not None and pr.state is PRState.OPEN
    if status is S.EXITED:
        if obs.issue_state is IssueState.CLOSED and not pr_open:
            return Decision(S.DONE, "issue closed")
        if not dead:
            return Decision(S.WORKING, "the agent is running again")
        return None
    if dead:
        return Decision(S.EXITED, "the agent exited")
    if obs.issue_state is IssueState.CLOSED and not pr_open:
        return Decision(S.DONE, "issue closed")
    if snapshot is None:
        return None
    if pr is None or pr.state is PRState.CLOSED:
        if status is S.WORKING:
            return None
        why = f"PR #{pr.number} was closed without merging" if pr is not None else "the PR is gone"
        return Decision(S.WORKING, why)
    applies, fix = _after_fix(obs, snapshot)
    if applies:
        return fix
    target, reason = observed_pr_status(snapshot)
    return Decision(target, reason)
