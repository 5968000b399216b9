"""The forge's batched answers for one project's sessions: ONE ``scm.snapshots`` call for all of them, ONE
``tracker.issue_states`` for those whose PR is not open, and the local heads of their branches.

While the project's webhooks arrive, the last answers are kept and reused until they are
``webhook_poll_interval`` old: only sessions a delivery named (poked) or new to the cache are asked about."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ennio.core.clock import Clock
from ennio.core.config import ProjectConfig
from ennio.core.plugins import BranchRef, IssueState, PRSnapshot, PRState
from ennio.core.session import Session, SessionStatus
from ennio.services.lifecycle import git_heads
from ennio.services.lifecycle.ports import PluginSource
from ennio.services.lifecycle.report import Guard, PassReport

S = SessionStatus


def pr_open(snapshots: dict[str, PRSnapshot] | None, branch: str | None) -> bool:
    found = snapshots.get(branch) if snapshots is not None and branch else None
    return found is not None and found.pr is not None and found.pr.state is PRState.OPEN


@dataclass(slots=True)
class ForgeCache:
    """The last answers of a project's SCM (by branch) and tracker (by issue key), and when they were complete."""

    fetched_at: datetime
    snapshots: dict[str, PRSnapshot]
    issue_states: dict[str, IssueState]


@dataclass(slots=True)
class ProjectFacts:
    """What the batched calls returned for one project."""

    snapshots: dict[str, PRSnapshot] | None
    issue_states: dict[str, IssueState]
    heads: dict[str, str]


class ForgeFacts:
    def __init__(
        self,
        plugins: PluginSource,
        clock: Clock,
        guard: Guard,
        *,
        webhook_fed: Callable[[str], bool],
        webhook_interval: float,
    ) -> None:
        self.plugins = plugins
        self.clock = clock
        self.guard = guard
        self.webhook_fed = webhook_fed
        self.webhook_interval = webhook_interval
        #: project id -> the forge's last answers (the webhook-fed schedule reuses them)
        self._cache: dict[str, ForgeCache] = {}

    async def gather(
        self,
        project: ProjectConfig,
        sessions: list[Session],
        report: PassReport,
        poked: set[str],
        covered: bool,
    ) -> ProjectFacts:
        """The batched SCM and tracker answers for these sessions (``covered``: all of the project's).

        While the project's webhooks arrive and the last full answer is younger than ``webhook_poll_interval``,
        only sessions that were poked (a delivery named them) or are new to the cache are asked about; the
        others keep their cached answer — nothing changed for them, or a delivery would have said so."""
        now = self.clock.now()
        cache = self._cache.get(project.pid)
        fresh = (
            cache is not None
            and self.webhook_fed(project.pid)
            and (now - cache.fetched_at).total_seconds() < self.webhook_interval
        )
        known = cache if fresh and cache is not None else None
        scm = self.plugins.scm(project)
        snapshots: dict[str, PRSnapshot] | None = None
        heads: dict[str, str] = {}
        with_branch = [s for s in sessions if s.branch]
        if scm is not None and with_branch:
            ask = [s for s in with_branch if known is None or s.id in poked or s.branch not in known.snapshots]
            refs = [BranchRef(s.id, s.branch, s.pr_number) for s in ask if s.branch]
            fetched = await self.guard(f"{project.pid} (SCM)", scm.snapshots(refs), report, project) if refs else {}
            if fetched is not None:
                merged = {**(known.snapshots if known is not None else {}), **fetched}
                snapshots = {s.branch: merged[s.branch] for s in with_branch if s.branch and s.branch in merged}
            heads = await self._heads(project, [s for s in with_branch if s.status is not S.MERGED])
        issue_states: dict[str, IssueState] = {}
        # the issue's state only matters while no PR is open (status rules: "issue closed with no open PR
        # → done"), so sessions whose PR the snapshots show open cost the tracker nothing
        wanted = {
            s.id: s.issue_id
            for s in sessions
            if s.issue_id and s.status is not S.MERGED and not pr_open(snapshots, s.branch)
        }
        keys = sorted(
            {key for sid, key in wanted.items() if known is None or sid in poked or key not in known.issue_states}
        )
        tracker = self.plugins.tracker(project) if keys else None
        if tracker is not None:
            issue_states = (
                await self.guard(f"{project.pid} (tracker)", tracker.issue_states(keys), report, project) or {}
            )
        if known is not None:
            issue_states = {**{k: v for k, v in known.issue_states.items() if k in wanted.values()}, **issue_states}
        self._remember(project.pid, now, snapshots, issue_states, refreshed=covered and known is None)
        return ProjectFacts(snapshots, issue_states, heads)

    def note_opened(self, project_id: str, snapshot: PRSnapshot) -> None:
        """A PR Ennio just opened: the cached answer said "no PR"; do not let it close this one again."""
        cache = self._cache.get(project_id)
        if cache is not None:
            cache.snapshots[snapshot.branch] = snapshot

    def _remember(
        self,
        project_id: str,
        now: datetime,
        snapshots: dict[str, PRSnapshot] | None,
        issue_states: dict[str, IssueState],
        *,
        refreshed: bool,
    ) -> None:
        """Keep the forge's answers for the webhook-fed schedule: a full answer starts a new cache; a partial one
        (poked sessions) is merged into the current one without making it younger."""
        if snapshots is None:
            return
        cache = self._cache.get(project_id)
        if refreshed or cache is None:
            self._cache[project_id] = ForgeCache(now, dict(snapshots), dict(issue_states))
        else:
            cache.snapshots.update(snapshots)
            cache.issue_states.update(issue_states)

    async def _heads(self, project: ProjectConfig, sessions: Sequence[Session]) -> dict[str, str]:
        """Session id -> local head of its branch (one git call for the repository, one per clone)."""
        if not sessions:
            return {}
        branches = await git_heads.branch_heads(project.path)
        heads: dict[str, str] = {}
        for s in sessions:
            assert s.branch is not None
            head = branches.get(s.branch)
            if head is None and s.workspace_path:
                head = await git_heads.workspace_head(Path(s.workspace_path))
            if head is not None:
                heads[s.id] = head
        return heads
