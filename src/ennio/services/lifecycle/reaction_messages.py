"""The texts reactions send to agents and people, and the fingerprint of a CI failure (pure functions).

A reaction's ``message`` in the configuration replaces the opening sentence; the details (failing
checks and their logs, comments with file and line, conflicting files) are always appended,
since they are what the agent needs to act.

A URL always ends its line (or is followed by a space): agents that pick URLs out of a message take
any punctuation glued to one as part of it (aider fetched ``…/job/123)`` from ``(…/job/123)``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from ennio.core.plugins import CheckRun, PRSnapshot, PullRequest, ReviewComment
from ennio.core.session import Session

#: longest log tail sent per check (characters), so one noisy check cannot flood the agent
MAX_TAIL_CHARS = 4000

_DIGITS = re.compile(r"\d+")
_HEX = re.compile(r"\b[0-9a-f]{7,}\b")
_PATH_DIRS = re.compile(r"(?:/[\w.\-]+)+/")
_SPACES = re.compile(r"[ \t]+")


def _normalise_log(text: str) -> str:
    """Drop what changes between two runs of the same failure: timings, ids, temporary folders."""
    text = _HEX.sub("#", text.lower())
    text = _PATH_DIRS.sub("/…/", text)
    text = _DIGITS.sub("#", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines() if line.strip())


def failure_signature(checks: Sequence[CheckRun]) -> str:
    """Same failing checks with the same logs (timings and paths aside) → the same signature."""
    digest = hashlib.sha256()
    for check in sorted(checks, key=lambda c: c.name):
        digest.update(check.name.encode() + b"\0" + _normalise_log(check.log_tail or "").encode() + b"\0")
    return digest.hexdigest()[:32]


def _pr_ref(session: Session, pr: PullRequest | None) -> str:
    if pr is not None:
        return f"PR #{pr.number}"
    return f"branch {session.branch}" if session.branch else "your branch"


def _tail(text: str) -> str:
    text = text.strip("\n")
    return text if len(text) <= MAX_TAIL_CHARS else "…" + text[-MAX_TAIL_CHARS:]


def ci_failure(session: Session, snapshot: PRSnapshot, checks: Sequence[CheckRun], opening: str | None) -> str:
    pr = snapshot.pr
    head = f" at {pr.head_sha[:10]}" if pr is not None and pr.head_sha else ""
    lines = [opening or f"CI failed on {_pr_ref(session, pr)} (branch {snapshot.branch}){head}."]
    lines.append("Failing checks: " + ", ".join(c.name for c in checks) + ".")
    for check in checks:
        lines.append("")
        lines.append(f"--- {check.name}" + (f" — details: {check.url}" if check.url else ""))
        lines.append(_tail(check.log_tail) if check.log_tail else "(no log available)")
    lines.append("")
    lines.append("Fix the failures and commit; Ennio runs CI again on the new commit.")
    return "\n".join(lines)


def _where(comment: ReviewComment) -> str:
    if comment.path and comment.line:
        return f"{comment.path}:{comment.line}"
    return comment.path or "(general)"


def review_comments(
    session: Session, pr: PullRequest | None, comments: Sequence[ReviewComment], opening: str | None, *, bots: bool
) -> str:
    who = "Automated reviewers left" if bots else "Reviewers left"
    lines = [opening or f"{who} comments on {_pr_ref(session, pr)} that need your attention."]
    if not comments:
        lines.append("Changes were requested; see the review on the PR.")
    for comment in comments:
        lines.append("")
        lines.append(f"- {_where(comment)} ({comment.author}):")
        lines.extend("  " + line for line in comment.body.strip().splitlines())
    lines.append("")
    lines.append("Address each comment, commit, and Ennio will update the PR.")
    return "\n".join(lines)


def merge_conflicts(session: Session, snapshot: PRSnapshot, base: str, opening: str | None) -> str:
    lines = [opening or f"{_pr_ref(session, snapshot.pr)} conflicts with {base}."]
    if snapshot.conflicts:
        lines.append("Conflicting files: " + ", ".join(snapshot.conflicts) + ".")
    lines.append(f"Rebase your branch on the latest {base}, resolve the conflicts, run the tests, and commit.")
    return "\n".join(lines)


def approved_and_green(session: Session, pr: PullRequest | None, opening: str | None) -> str:
    return opening or f"{_pr_ref(session, pr)} of {session.id} is approved and CI is green: ready to merge."


def all_complete(project_id: str, sessions: Sequence[Session], opening: str | None) -> str:
    lines = [opening or f"All {len(sessions)} sessions of {project_id} are complete."]
    for s in sessions:
        parts = [f"- {s.id}: {s.status}"]
        if s.issue_id:
            parts.append(f"issue {s.issue_id}")
        if s.branch:
            parts.append(f"branch {s.branch}")
        if s.pr_number:
            parts.append(f"PR #{s.pr_number}" + (f" {s.pr_url}" if s.pr_url else ""))  # last: nothing glued to it
        lines.append(", ".join(parts))
    return "\n".join(lines)
