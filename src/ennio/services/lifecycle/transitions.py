"""Moving a session to a new status: the checked, recorded transition and the events it emits."""

from __future__ import annotations

import logging
from typing import Any, Protocol

from ennio.core.errors import Conflict, IllegalTransition
from ennio.core.events import Event, EventType
from ennio.core.session import Session, SessionStatus
from ennio.db import Database

log = logging.getLogger("ennio.lifecycle")

S = SessionStatus

#: The event a status announces besides ``session.status_changed`` (CI and review events are
#: emitted by the lifecycle when the PR's CI or review state changes, whatever the status).
_STATUS_EVENTS: dict[SessionStatus, EventType] = {
    S.WORKING: EventType.SESSION_WORKING,
    S.EXITED: EventType.SESSION_EXITED,
    S.CI_FIX_FAILED: EventType.CI_FIX_FAILED,
    S.MERGE_CONFLICTS: EventType.MERGE_CONFLICTS,
    S.MERGED: EventType.PR_MERGED,
}


class EventSink(Protocol):
    def publish(self, event: Event) -> None: ...


def session_event(session: Session, type: EventType, message: str = "", **data: Any) -> Event:
    """An event about ``session``, carrying its PR URL when known (notifications link to it)."""
    if session.pr_url and "pr_url" not in data:
        data["pr_url"] = session.pr_url
    return Event.of(type, message, project_id=session.project_id, session_id=session.id, data=data)


async def move(db: Database, events: EventSink, session: Session, target: SessionStatus, reason: str) -> Session | None:
    """Transition ``session`` (as last read) to ``target``, record why, emit the events.

    Returns the updated session, or ``None`` when someone else moved it meanwhile (nothing written).
    """
    if target is session.status:
        return session
    try:
        change = await db.sessions.transition(session.id, target, reason, expected_from=session.status)
    except IllegalTransition as exc:  # a bug in a rule; the session keeps its status
        log.error("%s: %s", session.id, exc.message)
        return None
    except Conflict as exc:
        log.info("%s: not moved to %s: %s", session.id, target, exc.message)
        return None
    moved = session.model_copy(update={"status": target, "status_reason": reason or None, "updated_at": change.at})
    events.publish(
        session_event(
            moved,
            EventType.STATUS_CHANGED,
            f"{session.id}: {session.status} → {target}" + (f" ({reason})" if reason else ""),
            **{"from": str(session.status), "to": str(target), "reason": reason},
        )
    )
    specific = _STATUS_EVENTS.get(target)
    if specific is EventType.SESSION_WORKING and session.status not in (S.SPAWNING, S.EXITED):
        specific = None  # back to work after a closed PR is a plain status change
    if specific is not None:
        events.publish(session_event(moved, specific, f"{session.id}: {reason or target}", reason=reason))
    return moved


async def write_pending(db: Database, session: Session, pending: dict[str, Any]) -> Session:
    """Write the field changes a pass collected for ``session`` in one update (``pending`` is emptied);
    the status is the one in hand (a status change is its own transition)."""
    if not pending:
        return session
    updated = await db.sessions.update(session.id, **pending)
    pending.clear()
    return updated.model_copy(update={"status": session.status, "status_reason": session.status_reason})
