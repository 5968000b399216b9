"""Events: one type for everything that happens, with a priority and structured data."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Priority(StrEnum):
    """How much attention an event needs: info < action < urgent < critical."""

    INFO = "info"
    ACTION = "action"
    URGENT = "urgent"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Priority) -> bool:
        return _RANK[self] >= _RANK[other]


_RANK = {Priority.INFO: 0, Priority.ACTION: 1, Priority.URGENT: 2, Priority.CRITICAL: 3}


class EventType(StrEnum):
    SESSION_SPAWNED = "session.spawned"
    SESSION_WORKING = "session.working"
    SESSION_EXITED = "session.exited"
    SESSION_KILLED = "session.killed"
    SESSION_RESTORED = "session.restored"
    SESSION_CLEANED = "session.cleaned"
    STATUS_CHANGED = "session.status_changed"
    ACTIVITY_CHANGED = "session.activity_changed"
    PR_CREATED = "pr.created"
    PR_UPDATED = "pr.updated"
    PR_MERGED = "pr.merged"
    PR_CLOSED = "pr.closed"
    CI_PASSING = "ci.passing"
    CI_FAILING = "ci.failing"
    CI_FIX_SENT = "ci.fix_sent"
    CI_FIX_FAILED = "ci.fix_failed"
    REVIEW_PENDING = "review.pending"
    REVIEW_APPROVED = "review.approved"
    REVIEW_CHANGES_REQUESTED = "review.changes_requested"
    REVIEW_COMMENTS_SENT = "review.comments_sent"
    MERGE_READY = "merge.ready"
    MERGE_CONFLICTS = "merge.conflicts"
    MERGE_COMPLETED = "merge.completed"
    REACTION_TRIGGERED = "reaction.triggered"
    REACTION_ESCALATED = "reaction.escalated"
    ALL_COMPLETE = "summary.all_complete"
    BUDGET_WARNING = "budget.warning"
    BUDGET_EXCEEDED = "budget.exceeded"
    NODE_CONNECTED = "node.connected"
    NODE_DISCONNECTED = "node.disconnected"
    NODE_LAUNCHED = "node.launched"
    NODE_HEALTH = "node.health"
    SPAWN_QUEUED = "spawn.queued"
    SPAWN_CANCELLED = "spawn.cancelled"
    SPAWN_FAILED = "spawn.failed"
    #: a tracker or SCM refuses Ennio's credentials (or another failure that needs a person)
    PROVIDER_ERROR = "provider.error"


E = EventType
P = Priority

#: The priority an event gets unless its emitter says otherwise.
DEFAULT_PRIORITY: dict[EventType, Priority] = {
    E.SESSION_SPAWNED: P.INFO,
    E.SESSION_WORKING: P.INFO,
    E.SESSION_EXITED: P.URGENT,
    E.SESSION_KILLED: P.INFO,
    E.SESSION_RESTORED: P.INFO,
    E.SESSION_CLEANED: P.INFO,
    E.STATUS_CHANGED: P.INFO,
    E.ACTIVITY_CHANGED: P.INFO,
    E.PR_CREATED: P.INFO,
    E.PR_UPDATED: P.INFO,
    E.PR_MERGED: P.ACTION,
    E.PR_CLOSED: P.ACTION,
    E.CI_PASSING: P.INFO,
    E.CI_FAILING: P.ACTION,
    E.CI_FIX_SENT: P.INFO,
    E.CI_FIX_FAILED: P.URGENT,
    E.REVIEW_PENDING: P.ACTION,
    E.REVIEW_APPROVED: P.ACTION,
    E.REVIEW_CHANGES_REQUESTED: P.ACTION,
    E.REVIEW_COMMENTS_SENT: P.INFO,
    E.MERGE_READY: P.ACTION,
    E.MERGE_CONFLICTS: P.ACTION,
    E.MERGE_COMPLETED: P.ACTION,
    E.REACTION_TRIGGERED: P.INFO,
    E.REACTION_ESCALATED: P.URGENT,
    E.ALL_COMPLETE: P.ACTION,
    E.BUDGET_WARNING: P.URGENT,
    E.BUDGET_EXCEEDED: P.CRITICAL,
    E.NODE_CONNECTED: P.INFO,
    E.NODE_DISCONNECTED: P.URGENT,
    E.NODE_LAUNCHED: P.INFO,
    E.NODE_HEALTH: P.INFO,
    E.SPAWN_QUEUED: P.INFO,
    E.SPAWN_CANCELLED: P.INFO,
    E.SPAWN_FAILED: P.URGENT,
    E.PROVIDER_ERROR: P.URGENT,
}

_last_ms = 0
_counter = 0


def new_event_id() -> str:
    """Time-ordered unique id: 12 hex digits of milliseconds, 4 of a counter, 8 random."""
    global _last_ms, _counter
    ms = time.time_ns() // 1_000_000
    if ms <= _last_ms:
        ms = _last_ms
        _counter = (_counter + 1) & 0xFFFF
    else:
        _last_ms = ms
        _counter = 0
    return f"{ms:012x}{_counter:04x}{os.urandom(4).hex()}"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True, frozen=True)
class Event:
    """Something that happened. Immutable; cheap to create and to fan out."""

    type: EventType
    message: str = ""
    project_id: str | None = None
    session_id: str | None = None
    priority: Priority = Priority.INFO
    data: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime = field(default_factory=_now)
    id: str = field(default_factory=new_event_id)

    @classmethod
    def of(
        cls,
        type: EventType,
        message: str = "",
        *,
        project_id: str | None = None,
        session_id: str | None = None,
        priority: Priority | None = None,
        data: dict[str, Any] | None = None,
        timestamp: datetime | None = None,
    ) -> Event:
        """Build an event with the type's default priority unless one is given."""
        return cls(
            type=type,
            message=message,
            project_id=project_id,
            session_id=session_id,
            priority=priority or DEFAULT_PRIORITY.get(type, Priority.INFO),
            data=data or {},
            timestamp=timestamp or _now(),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": str(self.type),
            "priority": str(self.priority),
            "project_id": self.project_id,
            "session_id": self.session_id,
            "timestamp": self.timestamp.isoformat(),
            "message": self.message,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        ts = raw["timestamp"]
        return cls(
            id=raw["id"],
            type=EventType(raw["type"]),
            priority=Priority(raw.get("priority", "info")),
            project_id=raw.get("project_id"),
            session_id=raw.get("session_id"),
            timestamp=ts if isinstance(ts, datetime) else datetime.fromisoformat(ts),
            message=raw.get("message", ""),
            data=dict(raw.get("data") or {}),
        )


@dataclass(slots=True, frozen=True)
class EventFilter:
    """What a subscriber wants; ``None`` means any. Priority is a minimum."""

    types: frozenset[EventType] | None = None
    project_id: str | None = None
    session_id: str | None = None
    min_priority: Priority = Priority.INFO

    def matches(self, event: Event) -> bool:
        if self.types is not None and event.type not in self.types:
            return False
        if self.project_id is not None and event.project_id != self.project_id:
            return False
        if self.session_id is not None and event.session_id != self.session_id:
            return False
        return _RANK[event.priority] >= _RANK[self.min_priority]
