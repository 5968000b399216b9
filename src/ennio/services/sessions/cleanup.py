"""Cleaning up finished sessions: those whose pull request merged or whose issue closed.

A session is finished when its status is ``merged``, when the project's SCM reports its branch's PR
merged, or when the project's tracker reports its issue closed. A finished session's agent is stopped,
its workspace destroyed and its status set to ``done`` (``session.cleaned``) — but only when the
workspace holds no work that would be lost; otherwise it is skipped, with the reasons.

Judging a merged session safe: a squash merge puts the branch's changes on the default branch as a
new commit, and forges usually delete the PR's branch afterwards, so the session's commits are then
in no remote branch and not in the default branch — they look unpushed. The SCM's snapshot of the
merged PR gives its head commit; commits contained in that head count as saved (it is what was
reviewed and merged), and the worktree's branch is deleted when its tip is contained in it. Commits
made after the PR's head (work the merge did not include), uncommitted changes and stashes still
make a workspace unsafe. Without an SCM to ask, only the usual rules apply (pushed or merged into
the default branch).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ennio.core.config import ProjectConfig
from ennio.core.errors import EnnioError, NotFound, UnsafeToDestroy
from ennio.core.events import EventType
from ennio.core.plugins import BranchRef, IssueState, PRState
from ennio.core.session import ACTIVE_STATUSES, Session, SessionStatus
from ennio.services.sessions.env import SessionEnv, runtime_handle, workspace_info

log = logging.getLogger("ennio.cleanup")


@dataclass(slots=True)
class CleanupItem:
    session_id: str
    project_id: str
    #: why it is finished (cleaned) or why it was left alone (skipped)
    reason: str
    workspace_removed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "project_id": self.project_id,
            "reason": self.reason,
            "workspace_removed": self.workspace_removed,
        }


@dataclass(slots=True)
class CleanupReport:
    dry_run: bool
    #: cleaned (or, in a dry run, would be cleaned)
    cleaned: list[CleanupItem] = field(default_factory=list)
    skipped: list[CleanupItem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "cleaned": [i.to_dict() for i in self.cleaned],
            "skipped": [i.to_dict() for i in self.skipped],
        }


@dataclass(slots=True)
class _Finished:
    why: str
    #: head commit of the merged PR, when the SCM told it
    merged_head: str | None = None
    pr_merged: bool = False


async def cleanup(env: SessionEnv, project_id: str | None, *, dry_run: bool) -> CleanupReport:
    report = CleanupReport(dry_run=dry_run)
    candidates = await env.db.sessions.list(project_id, ACTIVE_STATUSES | {SessionStatus.MERGED})
    by_project: dict[str, list[Session]] = defaultdict(list)
    for session in candidates:
        by_project[session.project_id].append(session)
    for pid, sessions in by_project.items():
        try:
            project = env.config.project(pid)
        except NotFound:
            report.skipped += [CleanupItem(s.id, pid, "its project is no longer configured") for s in sessions]
            continue
        notes: list[str] = []
        finished = await _finished(env, project, sessions, notes)
        for session in sessions:
            if session.status is SessionStatus.SPAWNING:
                report.skipped.append(CleanupItem(session.id, pid, "it is still spawning"))
                continue
            done = finished.get(session.id)
            if done is None:
                why = "not finished: no merged pull request and no closed issue"
                report.skipped.append(CleanupItem(session.id, pid, "; ".join([why, *notes])))
                continue
            try:
                cleaned, item = await _clean_one(env, project, session, done, dry_run)
            except EnnioError as exc:
                report.skipped.append(CleanupItem(session.id, pid, f"{done.why}, but {exc.message}"))
                continue
            (report.cleaned if cleaned else report.skipped).append(item)
    return report


async def _finished(
    env: SessionEnv, project: ProjectConfig, sessions: list[Session], notes: list[str]
) -> dict[str, _Finished]:
    """Which sessions are finished, and why; lookups that fail are noted and judged from the status alone."""
    found: dict[str, _Finished] = {}
    for session in sessions:
        if session.status is SessionStatus.MERGED:
            pr = f"PR #{session.pr_number}" if session.pr_number else "its pull request"
            found[session.id] = _Finished(f"{pr} merged", pr_merged=True)
    scm = env.plugins.scm(project)
    refs = [BranchRef(s.id, s.branch, s.pr_number) for s in sessions if s.branch]
    if scm is not None and refs:
        try:
            snapshots = await scm.snapshots(refs)
        except EnnioError as exc:
            notes.append(f"the SCM could not be asked ({exc.message})")
            snapshots = {}
        for session in sessions:
            snap = snapshots.get(session.branch or "")
            if snap is not None and snap.pr is not None and snap.pr.state is PRState.MERGED:
                found[session.id] = _Finished(f"PR #{snap.pr.number} merged", snap.pr.head_sha, pr_merged=True)
    tracker = env.plugins.tracker(project)
    keys = sorted({s.issue_id for s in sessions if s.issue_id and s.id not in found})
    if tracker is not None and keys:
        try:
            states = await tracker.issue_states(keys)
        except EnnioError as exc:
            notes.append(f"the tracker could not be asked ({exc.message})")
            states = {}
        for session in sessions:
            if session.id not in found and session.issue_id and states.get(session.issue_id) is IssueState.CLOSED:
                found[session.id] = _Finished(f"issue {session.issue_id} closed")
    return found


async def _clean_one(
    env: SessionEnv, project: ProjectConfig, session: Session, done: _Finished, dry_run: bool
) -> tuple[bool, CleanupItem]:
    """Clean one finished session: ``(True, item)``, or ``(False, item)`` saying why it was left alone."""
    workspace = env.plugins.workspace(session.workspace)
    info = workspace_info(session)
    exists = info is not None and await workspace.exists(info)
    if exists:
        assert info is not None
        reasons = await workspace.unsafe_reasons(info, project, merged_head=done.merged_head)
        if reasons:
            why = f"{done.why}, but its workspace holds work: {'; '.join(reasons)}"
            return False, CleanupItem(session.id, session.project_id, why)
    if dry_run:
        return True, CleanupItem(session.id, session.project_id, done.why)
    handle = runtime_handle(session)
    if handle is not None:
        await env.plugins.runtime(session.runtime).destroy(handle)
    if exists:
        assert info is not None
        try:
            await workspace.destroy(info, project, merged_head=done.merged_head)
        except UnsafeToDestroy as exc:  # work appeared after the check; the agent is stopped now
            why = f"{done.why}, but its workspace holds work: {'; '.join(exc.reasons)} (its agent was stopped)"
            return False, CleanupItem(session.id, session.project_id, why)
    status = session.status
    if done.pr_merged and status is not SessionStatus.MERGED:
        await env.db.sessions.transition(session.id, SessionStatus.MERGED, done.why, expected_from=status)
        status = SessionStatus.MERGED
    await env.db.sessions.transition(session.id, SessionStatus.DONE, f"cleaned: {done.why}", expected_from=status)
    cleaned = await env.db.sessions.get(session.id)
    await env.emit(EventType.SESSION_CLEANED, cleaned, f"{session.id} cleaned up: {done.why}", why=done.why)
    return True, CleanupItem(session.id, session.project_id, done.why, workspace_removed=exists)
