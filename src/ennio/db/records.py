"""Plain records the repositories return besides ``Session`` and ``Event`` (no SQLAlchemy here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

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
