"""What the session services share: configuration, database, events, plugins, clock and data directory,
and small helpers over a stored session (its project, workspace info, runtime handle, activity)."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig, ProjectConfig
from ennio.core.errors import Conflict, RuntimeFailure
from ennio.core.events import Event, EventType
from ennio.core.ids import tmux_session_name
from ennio.core.plugins import ActivityProbe, ActivityReading, Agent, Runtime, RuntimeHandle, WorkspaceInfo
from ennio.core.proc import pid_running, process_start_time
from ennio.core.session import ActivityState, Session, SessionStatus
from ennio.db.database import Database
from ennio.services.events.event_log import EventService
from ennio.services.sessions.plugins import SessionPlugins

#: metadata keys the session services keep in ``Session.metadata``
META_WORKSPACE = "workspace"
META_RESUME_ID = "agent_resume_id"
META_SPAWNER = "spawner"
META_DELIVERY = "prompt_delivery"
META_LAST_SEND = "last_send"
#: the terminal a spawn opens for the session (recorded before it is opened)
META_TERMINAL = "terminal"
#: a spawn from another machine that has not moved for this long is taken for interrupted
SPAWN_STALE = timedelta(minutes=15)


@dataclass(slots=True)
class SessionEnv:
    config: EnnioConfig
    db: Database
    events: EventService
    plugins: SessionPlugins
    clock: Clock
    data_dir: Path
    #: distinguishes Ennio data directories on one machine (part of runtime names)
    instance: str

    def project_of(self, session: Session) -> ProjectConfig:
        return self.config.project(session.project_id)

    def runtime_name(self, session_id: str) -> str:
        return tmux_session_name(self.instance, session_id)

    def runtime_prefix(self) -> str:
        return tmux_session_name(self.instance, "x")[:-1]

    async def emit(self, type: EventType, session: Session, message: str, **data: Any) -> None:
        """Publish a session event and wait until it is in the event log: a caller told "spawned" (or a
        daemon killed right after) never finds the event missing."""
        self.events.publish(
            Event.of(
                type,
                message,
                project_id=session.project_id,
                session_id=session.id,
                data=data,
                timestamp=self.clock.now(),
            )
        )
        await self.events.flush()


def workspace_info(session: Session) -> WorkspaceInfo | None:
    """The workspace as its plugin described it at creation, or ``None`` before it existed."""
    raw = session.metadata.get(META_WORKSPACE)
    if isinstance(raw, dict):
        return WorkspaceInfo.from_dict(raw)
    if session.workspace_path and session.branch:
        return WorkspaceInfo(
            path=Path(session.workspace_path),
            branch=session.branch,
            base_branch=session.base_branch or "main",
            kind=session.workspace,
        )
    return None


def runtime_handle(session: Session) -> RuntimeHandle | None:
    return RuntimeHandle.from_dict(session.runtime_handle) if session.runtime_handle else None


def terminal_handle(env: SessionEnv, session: Session) -> RuntimeHandle:
    """The session's terminal: its stored handle, else the one its spawn named (a spawn cut short between
    opening the terminal and recording it leaves no handle; the name reaches it on the runtime's server)."""
    named = session.metadata.get(META_TERMINAL)
    return runtime_handle(session) or RuntimeHandle(
        session.runtime, named if isinstance(named, str) else env.runtime_name(session.id)
    )


def require_handle(session: Session) -> RuntimeHandle:
    handle = runtime_handle(session)
    if handle is None:
        raise Conflict(
            f"session {session.id} has no running agent (it is {session.status})",
            hint=f"restore it with `ennio session restore {session.id}` if it exited",
        )
    return handle


def spawner_mark(pid: int | None = None) -> dict[str, Any]:
    """Who is spawning (this process by default): lets a restarted daemon tell an interrupted spawn
    from one still in progress."""
    pid = os.getpid() if pid is None else pid
    return {"pid": pid, "host": socket.gethostname(), "start": process_start_time(pid)}


def spawner_running(session: Session, now: datetime) -> bool:
    """Whether the process spawning ``session`` still runs.

    On this machine its pid is looked at: a zombie (killed, not yet reaped) counts as gone, and so does a
    pid reused by another process (the start time differs) — this process too, when it is a later one
    with the same pid. A spawn from another machine (one PostgreSQL shared by several) cannot be looked
    at: it counts as running until its row has not moved for :data:`SPAWN_STALE`.
    """
    mark = session.metadata.get(META_SPAWNER)
    if not isinstance(mark, dict):
        return False
    if mark.get("host") != socket.gethostname():
        return now - session.updated_at < SPAWN_STALE
    pid = mark.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    start = mark.get("start")
    return pid_running(pid, start if isinstance(start, str) else None)


async def read_activity(
    agent: Agent,
    runtime: Runtime,
    handle: RuntimeHandle,
    workspace_path: Path,
    *,
    started_at: datetime,
    now: datetime,
    resume_id: str | None,
) -> tuple[bool, ActivityReading]:
    """Whether the agent's terminal is alive, and what the agent's detector reads from it."""
    alive = await runtime.alive(handle)
    screen = ""
    try:
        screen = await runtime.output(handle, 100)
    except RuntimeFailure:
        alive = alive and await runtime.alive(handle)  # it may have gone between the two looks
        if alive:
            raise
    probe = ActivityProbe(
        workspace_path=workspace_path,
        screen=screen,
        alive=alive,
        started_at=started_at,
        now=now,
        home=Path.home(),
        resume_id=resume_id,
    )
    reading = await asyncio.to_thread(agent.detect_activity, probe)
    if not alive and reading.state is not ActivityState.EXITED:
        reading = ActivityReading(ActivityState.EXITED, reading.last_activity_at, "the agent's terminal is gone")
    return alive, reading


async def mark_exited(env: SessionEnv, session: Session, reason: str) -> Session:
    """Record that the session's agent is gone: status exited, activity exited, ``session.exited``."""
    await env.db.sessions.transition(session.id, SessionStatus.EXITED, reason, expected_from=session.status)
    updated = await env.db.sessions.update(session.id, activity=ActivityState.EXITED)
    await env.emit(
        EventType.SESSION_EXITED, updated, f"{session.id}: {reason}", reason=reason, previous=str(session.status)
    )
    return updated
