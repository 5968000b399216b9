"""The local SCM's documents in the plugin store: pull requests, CI runs and logs, reviews, notes.

Everything lives in one namespace, keyed by project so one prefix query reads a whole kind::

    <project>/pr/<n>                 a pull request
    <project>/ci/<n>/<sha>           the CI run of one head of PR n (small: state and owner)
    <project>/log/<n>/<sha>          that run's log (read only when someone asks for it)
    <project>/rv/<n>/r/<review-id>   a review with its file/line comments
    <project>/rv/<n>/f/<comment-id>  "this comment was forwarded to the agent"
    <project>/note/<n>/<id>          a conversation comment (``SCM.comment``)

``n`` is zero-padded to six digits so keys sort by number.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ennio.core.errors import InvalidInput
from ennio.core.plugins import PRState, PullRequest, ReviewComment

NAMESPACE = "scm.local"
REVIEW_STATES = ("approved", "changes_requested", "commented")
_SHA_RE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_ITEM_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def check_sha(value: str) -> str:
    """A full commit id from git (SHA-1 or SHA-256); anything else is refused before it reaches git."""
    if not _SHA_RE.fullmatch(value):
        raise InvalidInput(f"{value!r} is not a full commit id")
    return value


def check_item_id(value: str, kind: str = "comment id") -> str:
    if not _ITEM_ID_RE.fullmatch(value):
        raise InvalidInput(f"{kind} {value!r} is not one the local SCM made")
    return value


def new_id(now: datetime, after: str | None = None) -> str:
    """Time-ordered, unique id: milliseconds since the epoch and a random suffix.

    ``after`` (a key or id ending in an earlier id) makes the new id sort after it even when the
    clock has not moved, so "the latest review" is never a coin toss.
    """
    millis = int(now.timestamp() * 1000)
    if after:
        last = after.rsplit("/", 1)[-1].split("-", 1)[0]
        if last.isdigit():
            millis = max(millis, int(last) + 1)
    return f"{millis:013d}-{secrets.token_hex(3)}"


class Keys:
    """Store keys of one project's documents."""

    def __init__(self, project_id: str) -> None:
        self.root = project_id

    @property
    def prs(self) -> str:
        return f"{self.root}/pr/"

    @property
    def ci_runs(self) -> str:
        return f"{self.root}/ci/"

    @property
    def reviews(self) -> str:
        return f"{self.root}/rv/"

    def pr(self, number: int) -> str:
        return f"{self.prs}{number:06d}"

    def ci(self, number: int, sha: str) -> str:
        return f"{self.ci_runs}{number:06d}/{sha}"

    def log(self, number: int, sha: str) -> str:
        return f"{self.root}/log/{number:06d}/{sha}"

    def review(self, number: int, review_id: str) -> str:
        return f"{self.reviews}{number:06d}/r/{review_id}"

    def forwarded(self, number: int, comment_id: str) -> str:
        return f"{self.reviews}{number:06d}/f/{comment_id}"

    def notes(self, number: int) -> str:
        return f"{self.root}/note/{number:06d}/"

    def note(self, number: int, note_id: str) -> str:
        return f"{self.notes(number)}{note_id}"

    @staticmethod
    def number_of(key: str, prefix: str) -> int | None:
        """The PR number right after ``prefix`` in ``key``, if the key has that shape."""
        rest = key[len(prefix) :]
        digits = rest.split("/", 1)[0]
        return int(digits) if digits.isdigit() else None


# --------------------------------------------------------------------------- pull requests


@dataclass(slots=True)
class PRDoc:
    number: int
    branch: str
    base: str
    title: str
    body: str
    state: PRState
    draft: bool
    head_sha: str | None
    created_at: str
    updated_at: str
    merge_commit: str | None = None

    def to_doc(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "branch": self.branch,
            "base": self.base,
            "title": self.title,
            "body": self.body,
            "state": self.state.value,
            "draft": self.draft,
            "head_sha": self.head_sha,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "merge_commit": self.merge_commit,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> PRDoc:
        return cls(
            number=int(doc["number"]),
            branch=str(doc["branch"]),
            base=str(doc["base"]),
            title=str(doc.get("title") or ""),
            body=str(doc.get("body") or ""),
            state=PRState(doc.get("state") or "open"),
            draft=bool(doc.get("draft")),
            head_sha=doc.get("head_sha") or None,
            created_at=str(doc.get("created_at") or ""),
            updated_at=str(doc.get("updated_at") or ""),
            merge_commit=doc.get("merge_commit") or None,
        )

    def to_pr(self, url: str, head_sha: str | None = None) -> PullRequest:
        return PullRequest(
            number=self.number,
            url=url,
            title=self.title,
            branch=self.branch,
            base=self.base,
            state=self.state,
            draft=self.draft,
            head_sha=head_sha or self.head_sha,
            body=self.body,
            created_at=parse_time(self.created_at),
            updated_at=parse_time(self.updated_at),
            merge_commit=self.merge_commit,
        )


def pick_pr(docs: list[PRDoc]) -> PRDoc | None:
    """The PR that represents a branch: its open one, else its newest."""
    if not docs:
        return None
    open_ones = [d for d in docs if d.state is PRState.OPEN]
    return min(open_ones, key=lambda d: d.number) if open_ones else max(docs, key=lambda d: d.number)


# --------------------------------------------------------------------------- CI runs


@dataclass(slots=True)
class CIRun:
    number: int
    sha: str
    #: pending / passing / failing
    state: str
    #: who runs it: host, pid and a token unique to that attempt
    owner: dict[str, Any]
    claimed_at: str
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    #: one line saying how it ended ("exit 1", "timed out after 10m")
    summary: str = ""
    attempt: int = 1

    def to_doc(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "sha": self.sha,
            "state": self.state,
            "owner": self.owner,
            "claimed_at": self.claimed_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "attempt": self.attempt,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CIRun:
        return cls(
            number=int(doc["number"]),
            sha=str(doc["sha"]),
            state=str(doc.get("state") or "pending"),
            owner=dict(doc.get("owner") or {}),
            claimed_at=str(doc.get("claimed_at") or ""),
            started_at=doc.get("started_at"),
            finished_at=doc.get("finished_at"),
            exit_code=doc.get("exit_code"),
            summary=str(doc.get("summary") or ""),
            attempt=int(doc.get("attempt") or 1),
        )


# --------------------------------------------------------------------------- reviews


@dataclass(slots=True)
class ReviewDoc:
    id: str
    author: str
    #: approved / changes_requested / commented
    state: str
    body: str
    head_sha: str | None
    created_at: str
    #: file/line comments: {"id", "body", "path", "line"}
    comments: list[dict[str, Any]] = field(default_factory=list)

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "author": self.author,
            "state": self.state,
            "body": self.body,
            "head_sha": self.head_sha,
            "created_at": self.created_at,
            "comments": self.comments,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ReviewDoc:
        return cls(
            id=str(doc["id"]),
            author=str(doc["author"]),
            state=str(doc.get("state") or "commented"),
            body=str(doc.get("body") or ""),
            head_sha=doc.get("head_sha") or None,
            created_at=str(doc.get("created_at") or ""),
            comments=[dict(c) for c in doc.get("comments") or []],
        )

    def review_comments(self, *, is_bot: bool) -> list[ReviewComment]:
        """The review's body (when it has one) and its file/line comments, as ``ReviewComment``s."""
        created = parse_time(self.created_at)
        out: list[ReviewComment] = []
        if self.body.strip():
            out.append(ReviewComment(id=self.id, author=self.author, body=self.body, is_bot=is_bot, created_at=created))
        for c in self.comments:
            line = c.get("line")
            out.append(
                ReviewComment(
                    id=str(c["id"]),
                    author=self.author,
                    body=str(c.get("body") or ""),
                    path=c.get("path") or None,
                    line=int(line) if isinstance(line, int) else None,
                    is_bot=is_bot,
                    created_at=created,
                )
            )
        return out
