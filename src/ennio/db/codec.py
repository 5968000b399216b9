"""Turning rows into ``Session`` / ``Event`` objects and back, shared by the repositories and ``fastread``.

Stdlib and ``ennio.core`` only. Both readers hand these functions decoded Python values
(aware UTC datetimes, dicts), so a session or event read either way is the same object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from ennio.core.errors import InvalidInput
from ennio.core.events import Event, EventType, Priority
from ennio.core.session import Session
from ennio.db.records import StoredEvent

#: ``sessions`` columns, in ``Session`` field order; column names equal field names.
SESSION_COLUMNS: tuple[str, ...] = tuple(Session.model_fields)
#: ``sessions`` columns holding JSON.
SESSION_JSON_COLUMNS = frozenset({"runtime_handle", "metadata"})
#: ``sessions`` columns holding timestamps.
SESSION_TIME_COLUMNS = frozenset({"created_at", "updated_at", "last_activity_at"})

#: ``events`` columns in the order :func:`event_from_values` takes them.
EVENT_COLUMNS: tuple[str, ...] = (
    "seq",
    "event_id",
    "type",
    "priority",
    "project_id",
    "session_id",
    "occurred_at",
    "message",
    "data",
)

_EVENT_TYPES: dict[str, EventType] = {t.value: t for t in EventType}
_PRIORITIES: dict[str, Priority] = {p.value: p for p in Priority}


def dumps_json(value: Any) -> str:
    """JSON for the database; anything not JSON-native (datetimes, paths) is written as its ``str``."""
    return json.dumps(value, default=str)


def session_from_values(values: Mapping[Any, Any]) -> Session:
    return Session.model_validate(dict(values))


def session_to_values(session: Session) -> dict[str, Any]:
    values = session.model_dump()
    for key, value in values.items():
        if isinstance(value, Enum):
            values[key] = value.value
    return values


def event_from_values(
    seq: int,
    event_id: str,
    type_: str,
    priority: str,
    project_id: str | None,
    session_id: str | None,
    occurred_at: datetime,
    message: str,
    data: dict[str, Any] | None,
) -> StoredEvent | None:
    """The stored event, or ``None`` for a type this version does not know (written by a newer Ennio)."""
    event_type = _EVENT_TYPES.get(type_)
    if event_type is None:
        return None
    return StoredEvent(
        seq,
        Event(
            type=event_type,
            message=message,
            project_id=project_id,
            session_id=session_id,
            priority=_PRIORITIES.get(priority, Priority.INFO),
            data=data or {},
            timestamp=occurred_at,
            id=event_id,
        ),
    )


def event_to_values(event: Event) -> dict[str, Any]:
    return {
        "event_id": event.id,
        "type": event.type.value,
        "priority": event.priority.value,
        "project_id": event.project_id,
        "session_id": event.session_id,
        "occurred_at": event.timestamp,
        "message": event.message,
        "data": event.data,
    }


def check_limit(limit: int) -> None:
    if limit < 0:
        raise InvalidInput(f"limit must be 0 or more, got {limit}")


def priorities_at_least(minimum: Priority) -> list[str]:
    return [p.value for p in Priority if p.at_least(minimum)]


# --------------------------------------------------------------------------- SQLite text form
# How SQLAlchemy's SQLite dialect stores a DATETIME: UTC, fixed width, always with microseconds,
# so text order is time order.


def to_sqlite_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime; Ennio stores aware UTC times only")
    u = value.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d} {u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}"


def event_to_sqlite_row(event: Event) -> tuple[Any, ...]:
    """``events`` columns after ``seq``, as SQLAlchemy's SQLite dialect would store them."""
    return (
        event.id,
        event.type.value,
        event.priority.value,
        event.project_id,
        event.session_id,
        to_sqlite_time(event.timestamp),
        event.message,
        dumps_json(event.data),
    )


def from_sqlite_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def from_sqlite_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
