"""Credential problems (an ``AuthError`` from a project's tracker or SCM): one urgent ``provider.error``
while the problem lasts, and the problem shown as the status reason of the project's sessions until a
pass goes by without it (then the reason it replaced comes back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ennio.core.clock import Clock
from ennio.core.config import ProjectConfig
from ennio.core.errors import AuthError
from ennio.core.events import Event, EventType
from ennio.core.session import Session, SessionStatus
from ennio.db import Database
from ennio.services.lifecycle.report import PassReport
from ennio.services.lifecycle.transitions import EventSink

S = SessionStatus

#: Session metadata: the credential problem shown as its status reason, and the reason it replaced.
META_PROBLEM = "provider_problem"
META_REASON_BEFORE = "reason_before_problem"


class CredentialProblems:
    def __init__(self, db: Database, events: EventSink, clock: Clock) -> None:
        self.db = db
        self.events = events
        self.clock = clock
        #: project id -> the credential problem its tracker/SCM reported, while it lasts
        self._current: dict[str, str] = {}

    def announce(self, project: ProjectConfig, exc: AuthError) -> None:
        """Tell a person once (an urgent ``provider.error``) until a pass goes by without a credential problem,
        not once per pass nor once per failing call (the SCM and the tracker often fail together)."""
        if project.pid in self._current:
            return
        self._current[project.pid] = exc.message
        self.events.publish(
            Event.of(
                EventType.PROVIDER_ERROR,
                exc.message,
                project_id=project.pid,
                data={"hint": exc.hint, "error": exc.code},
                timestamp=self.clock.now(),
            )
        )

    async def settle(
        self, project: ProjectConfig, sessions: Sequence[Session], results: Sequence[Session | None], report: PassReport
    ) -> None:
        """Put the project's credential problem in its sessions' status reason while it lasts, and take it
        out (restoring the reason it replaced) after a pass without it."""
        problem = report.problems.get(project.pid)
        if problem is None:
            self._current.pop(project.pid, None)
        current = {s.id: s for s in sessions}
        current.update({r.id: r for r in results if r is not None})
        for session in current.values():
            if session.status in (S.DONE, S.MERGED):
                continue
            noted = session.metadata.get(META_PROBLEM)
            if noted == problem:
                continue
            fresh = await self.db.sessions.find(session.id)
            if fresh is None:
                continue
            session = fresh
            if problem is not None:
                before = session.metadata.get(META_REASON_BEFORE, session.status_reason)
                metadata = {**session.metadata, META_PROBLEM: problem, META_REASON_BEFORE: before}
                await self.db.sessions.update(session.id, status_reason=problem, metadata=metadata)
            else:
                noted = session.metadata.get(META_PROBLEM)
                metadata = {k: v for k, v in session.metadata.items() if k not in (META_PROBLEM, META_REASON_BEFORE)}
                fields: dict[str, Any] = {"metadata": metadata}
                if session.status_reason == noted:
                    fields["status_reason"] = session.metadata.get(META_REASON_BEFORE)
                await self.db.sessions.update(session.id, **fields)
