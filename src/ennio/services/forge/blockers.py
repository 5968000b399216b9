"""Which of an issue's blockers are still unfinished: a blocker is finished when its issue is closed or a
session for it got its PR merged. Used when spawning (refuse, or queue with ``--when-unblocked``) and by
the spawn queue (release once nothing blocks)."""

from __future__ import annotations

from collections.abc import Sequence

from ennio.core.errors import Conflict
from ennio.core.plugins import Issue, IssueState, Tracker
from ennio.db import Database
from ennio.services.forge.issue_refs import issue_display


class Blocked(Conflict):
    """The issue waits for other issues; nothing was made."""

    code = "blocked"

    def __init__(self, project_id: str, issue: Issue, open_blockers: Sequence[str]) -> None:
        shown = ", ".join(issue_display(b) for b in open_blockers)
        super().__init__(
            f"issue {issue_display(issue.key)} of project {project_id!r} is blocked by {shown} "
            f"({'it is' if len(open_blockers) == 1 else 'they are'} not finished yet)",
            hint="spawn with --when-unblocked to queue it until its blockers are closed or their PRs merge",
        )
        self.issue = issue
        self.open_blockers = list(open_blockers)


async def open_blockers(
    db: Database,
    tracker: Tracker,
    project_id: str,
    blockers: Sequence[str],
    *,
    states: dict[str, IssueState] | None = None,
) -> list[str]:
    """The blockers not finished yet, in order. A blocker the tracker cannot tell about counts as open.

    ``states``: issue states already read (one batched ``issue_states`` for many queued spawns)."""
    keys = list(dict.fromkeys(blockers))
    if not keys:
        return []
    if states is None:
        states = await tracker.issue_states(keys)
    merged = await db.sessions.merged_issues(project_id, keys)
    return [key for key in keys if key not in merged and states.get(key) is not IssueState.CLOSED]
