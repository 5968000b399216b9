"""Plain records the repositories return besides ``Session`` and ``Event`` (no SQLAlchemy here)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from ennio.core.errors import InvalidId
from ennio.core.events import Event
from ennio.core.ids import validate_id

ScopeKind = Literal["session", "project"]


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    id: str
    name: str
    #: the number the next allocated session id gets (``prefix-N``)
    next_session_number: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as it sits in the log: ``seq`` orders the log and lets a reader resume after it."""

    seq: int
    event: Event


@dataclass(frozen=True, slots=True)
class Scope:
    """What a reaction's state belongs to: one session, or a whole project."""

    kind: ScopeKind
    id: str

    def __post_init__(self) -> None:
        if self.kind not in ("session", "project"):
            raise ValueError(f"scope kind must be 'session' or 'project', not {self.kind!r}")
        validate_id(self.id, f"{self.kind} id")

    @classmethod
    def session(cls, session_id: str) -> Scope:
        return cls("session", session_id)

    @classmethod
    def project(cls, project_id: str) -> Scope:
        return cls("project", project_id)


@dataclass(frozen=True, slots=True)
class ReactionState:
    """How far a reaction has got for one scope; persisted so retries and escalations survive restarts."""

    scope: Scope
    reaction: str
    attempts: int = 0
    first_fired_at: datetime | None = None
    last_fired_at: datetime | None = None
    #: when to call a human if the condition still holds (``None``: no escalation pending)
    escalate_at: datetime | None = None
    escalated: bool = False
    #: fingerprint of the last failure acted on (e.g. a hash of the failing CI checks), to avoid repeats
    last_failure_signature: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: set by the database on every write
    updated_at: datetime | None = None


class QueueStatus(StrEnum):
    """Where a queued spawn is: waiting for its blockers, being spawned, or finished one way or another."""

    WAITING = "waiting"
    SPAWNING = "spawning"
    SPAWNED = "spawned"
    FAILED = "failed"
    CANCELLED = "cancelled"


#: statuses a queued spawn can still leave
OPEN_QUEUE_STATUSES = frozenset({QueueStatus.WAITING, QueueStatus.SPAWNING})
_QID = re.compile(r"[qQ]([1-9][0-9]{0,17})", re.ASCII)


def parse_qid(text: str) -> int:
    """``q12`` → 12; anything else is :class:`InvalidId`."""
    match = _QID.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidId(
            f"{str(text)[:40]!r} is not a queued spawn id", hint="queued spawns are named q1, q2 … (see `ennio status`)"
        )
    return int(match.group(1))


@dataclass(frozen=True, slots=True)
class QueuedSpawn:
    """A spawn waiting until every issue blocking its issue is finished (``ennio spawn --when-unblocked``)."""

    id: int
    project_id: str
    #: the tracker's key of the issue (``42``, ``ENG-123``)
    issue_id: str
    #: the reference as it was given (``#42``, a URL …)
    issue_ref: str
    #: keys of the blockers still open when last checked
    blockers: list[str]
    #: the rest of the spawn request: prompt, branch, agent, runtime, reuse_branch
    request: dict[str, Any]
    status: QueueStatus
    reason: str | None
    session_id: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def qid(self) -> str:
        return f"q{self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.qid,
            "project_id": self.project_id,
            "issue_id": self.issue_id,
            "issue_ref": self.issue_ref,
            "blockers": list(self.blockers),
            "request": dict(self.request),
            "status": str(self.status),
            "reason": self.reason,
            "session_id": self.session_id,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def queued_from_values(row: Mapping[Any, Any]) -> QueuedSpawn:
    """A queue row (from SQLAlchemy or the stdlib fast reader) as a :class:`QueuedSpawn`."""
    return QueuedSpawn(
        id=int(row["id"]),
        project_id=row["project_id"],
        issue_id=row["issue_id"],
        issue_ref=row["issue_ref"],
        blockers=[str(b) for b in row["blockers"] or []],
        request=dict(row["request"] or {}),
        status=QueueStatus(row["status"]),
        reason=row["reason"],
        session_id=row["session_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
