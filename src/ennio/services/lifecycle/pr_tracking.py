"""A session's pull request: adopted when the forge shows one for its branch, opened (push + ``open_pr``)
once the agent has commits ahead of the base and is not active, kept up to date with new commits,
observed (CI, review and readiness changes become events) and marked ready when a draft turns green."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ennio.core.config import ProjectConfig
from ennio.core.events import EventType
from ennio.core.plugins import CIState, PRSnapshot, PRState, PullRequest, ReadyMarker, ReviewDecision
from ennio.core.session import ActivityState, Session, SessionStatus
from ennio.db import Database
from ennio.services.lifecycle import git_heads
from ennio.services.lifecycle.forge_facts import ForgeFacts, ProjectFacts
from ennio.services.lifecycle.ports import PluginSource
from ennio.services.lifecycle.probes import Probe
from ennio.services.lifecycle.report import PassReport
from ennio.services.lifecycle.transitions import EventSink, session_event, write_pending

S = SessionStatus


class PRTracker:
    def __init__(self, db: Database, events: EventSink, plugins: PluginSource, forge: ForgeFacts) -> None:
        self.db = db
        self.events = events
        self.plugins = plugins
        self.forge = forge
        #: (session, head) -> commits ahead of the base
        self._ahead: dict[tuple[str, str], int] = {}
        #: session -> the last head Ennio pushed (an SCM may report the new head a little later)
        self._pushed: dict[str, str] = {}

    async def track(
        self,
        project: ProjectConfig,
        session: Session,
        probe: Probe,
        snapshot: PRSnapshot | None,
        facts: ProjectFacts,
        report: PassReport,
        pending: dict[str, Any],
    ) -> tuple[Session, PRSnapshot | None]:
        """Adopt a PR found for the branch, open one when the work is ready, push new commits."""
        pr = snapshot.pr if snapshot is not None else None
        head = facts.heads.get(session.id)
        if pr is not None and pr.number != session.pr_number:
            first = session.pr_number is None
            session = await write_pending(
                self.db,
                session.model_copy(update={"pr_number": pr.number, "pr_url": pr.url}),
                {**pending, "pr_number": pr.number, "pr_url": pr.url},
            )
            pending.clear()
            if first:
                self._publish_created(session, pr, opened_by="found")
        elif (
            snapshot is not None
            and pr is None
            and session.pr_number is None
            and session.status is S.WORKING
            and probe.alive
            and session.activity is not ActivityState.ACTIVE
            and head is not None
            and session.workspace_path
            and await self._commits_ahead(project, session, head) > 0
        ):
            opened = await self._open_pr(project, session, head)
            report.opened_prs += 1
            fields = {**pending, "pr_number": opened.number, "pr_url": opened.url}
            session = await write_pending(self.db, session.model_copy(update=fields), fields)
            pending.clear()
            self._publish_created(session, opened, opened_by="ennio")
            snapshot = PRSnapshot(branch=opened.branch, pr=opened, ci=CIState.PENDING)
            self.forge.note_opened(project.pid, snapshot)
            return session, snapshot
        if (
            pr is not None
            and pr.state is PRState.OPEN
            and head is not None
            and pr.head_sha is not None
            and head != pr.head_sha
            and self._pushed.get(session.id) != head
            and session.workspace_path
            and session.branch
        ):
            scm = self.plugins.scm(project)
            assert scm is not None
            if await self._commits_ahead(project, session, head, since=pr.head_sha) > 0:
                await scm.push(Path(session.workspace_path), session.branch)
                self._pushed[session.id] = head
                report.pushes += 1
                self.events.publish(
                    session_event(
                        session, EventType.PR_UPDATED, f"{session.id}: new commits pushed to PR #{pr.number}", head=head
                    )
                )
        return session, snapshot

    def observe(self, session: Session, snapshot: PRSnapshot, pending: dict[str, Any]) -> Session:
        """Emit CI and review events when the PR's CI, review or readiness changed since last pass."""
        assert snapshot.pr is not None
        head = snapshot.pr.head_sha or ""
        ready = (
            snapshot.review is ReviewDecision.APPROVED
            and snapshot.ci in (CIState.PASSING, CIState.NONE)
            and snapshot.mergeable is not False
            and snapshot.pr.state is PRState.OPEN
        )
        now = {"ci": str(snapshot.ci), "review": str(snapshot.review), "head": head, "ready": ready}
        before = session.metadata.get("pr_observed") or {}
        if before == now:
            return session
        number = snapshot.pr.number
        if (before.get("ci"), before.get("head")) != (now["ci"], head):
            if snapshot.ci is CIState.PASSING:
                self.events.publish(session_event(session, EventType.CI_PASSING, f"{session.id}: CI passing"))
            elif snapshot.ci is CIState.FAILING:
                names = [c.name for c in snapshot.failing_checks]
                self.events.publish(
                    session_event(
                        session, EventType.CI_FAILING, f"{session.id}: CI failing: {', '.join(names)}", checks=names
                    )
                )
        if before.get("review") != now["review"]:
            review_event = {
                ReviewDecision.REVIEW_REQUIRED: EventType.REVIEW_PENDING,
                ReviewDecision.APPROVED: EventType.REVIEW_APPROVED,
                ReviewDecision.CHANGES_REQUESTED: EventType.REVIEW_CHANGES_REQUESTED,
            }.get(snapshot.review)
            if review_event is not None:
                self.events.publish(
                    session_event(session, review_event, f"{session.id}: PR #{number} {snapshot.review}")
                )
        if ready and not before.get("ready"):
            self.events.publish(
                session_event(session, EventType.MERGE_READY, f"{session.id}: PR #{number} is approved and green")
            )
        metadata = {**session.metadata, "pr_observed": now}
        pending["metadata"] = metadata
        return session.model_copy(update={"metadata": metadata})

    async def mark_ready_when_green(self, project: ProjectConfig, session: Session, snapshot: PRSnapshot) -> None:
        """``draft_until_green``: a draft PR whose CI passes is marked ready for review (once; the next
        snapshot shows it ready)."""
        pr = snapshot.pr
        if (
            pr is None
            or not pr.draft
            or pr.state is not PRState.OPEN
            or snapshot.ci is not CIState.PASSING
            or not getattr(project.scm, "draft_until_green", False)
        ):
            return
        scm = self.plugins.scm(project)
        if not isinstance(scm, ReadyMarker):
            return
        await scm.mark_ready(pr)
        pr.draft = False
        self.events.publish(
            session_event(
                session, EventType.PR_UPDATED, f"{session.id}: PR #{pr.number} is green; marked ready for review"
            )
        )

    def forget(self, session_id: str) -> None:
        self._pushed.pop(session_id, None)
        for key in [k for k in self._ahead if k[0] == session_id]:
            del self._ahead[key]

    async def _commits_ahead(
        self, project: ProjectConfig, session: Session, head: str, since: str | None = None
    ) -> int:
        key = (session.id, f"{head}..{since or ''}")
        if key not in self._ahead:
            path = Path(session.workspace_path) if session.workspace_path else project.path
            if since is None:
                base = session.base_branch or project.default_branch
                self._ahead[key] = await git_heads.commits_ahead(path, head, base)
            else:
                self._ahead[key] = await git_heads.commits_since(path, head, since)
        return self._ahead[key]

    async def _open_pr(self, project: ProjectConfig, session: Session, head: str) -> PullRequest:
        scm = self.plugins.scm(project)
        assert scm is not None and session.branch is not None and session.workspace_path is not None
        title, body = await self._pr_text(project, session, head)
        await scm.push(Path(session.workspace_path), session.branch)
        self._pushed[session.id] = head
        return await scm.open_pr(
            branch=session.branch, base=session.base_branch or project.default_branch, title=title, body=body
        )

    async def _pr_text(self, project: ProjectConfig, session: Session, head: str) -> tuple[str, str]:
        footer = f"Opened by Ennio for session `{session.id}`."
        tracker = self.plugins.tracker(project) if session.issue_id else None
        if tracker is not None and session.issue_id:
            issue = await tracker.get_issue(session.issue_id)
            provider = project.tracker.provider if project.tracker is not None else ""
            if provider == "github":
                link = f"Closes #{issue.key}"
            elif provider == "linear":
                link = f"Fixes {issue.key}"
            else:
                link = f"Issue {issue.key}: {issue.title}"
            return issue.title, f"{link}\n\n{footer}"
        subject = None
        if session.workspace_path:
            subject = await git_heads.last_subject(Path(session.workspace_path), head)
        prompt_line = (session.prompt or "").strip().splitlines()[0][:100] if session.prompt else None
        return subject or prompt_line or f"Work from {session.branch}", footer

    def _publish_created(self, session: Session, pr: PullRequest, *, opened_by: str) -> None:
        self.events.publish(
            session_event(
                session,
                EventType.PR_CREATED,
                f"{session.id}: PR #{pr.number} opened ({pr.title})",
                pr_number=pr.number,
                pr_url=pr.url,
                opened_by=opened_by,
            )
        )
