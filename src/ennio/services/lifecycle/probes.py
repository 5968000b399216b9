"""Probing agents: is each one alive, and what is it doing? Screens are read in batches from runtimes that
can (:class:`ScreenReader`), the rest one at a time; the agent's detector turns screen and files into an
activity reading, and changes of activity become ``activity.changed`` events and field writes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ennio.core.clock import Clock
from ennio.core.config import ProjectConfig
from ennio.core.errors import EnnioError
from ennio.core.events import EventType
from ennio.core.plugins import ActivityProbe, ActivityReading, RuntimeHandle, ScreenReader
from ennio.core.session import ActivityState, Session
from ennio.services.lifecycle.ports import PluginSource
from ennio.services.lifecycle.transitions import EventSink, session_event
from ennio.services.sessions.env import META_RESUME_ID

log = logging.getLogger("ennio.lifecycle")

#: Lines of the agent's screen given to its activity detector.
SCREEN_LINES = 60
#: A reading's ``last_activity_at`` is written back only when it moved by more than this
#: (so an agent that is busy all the time does not cost a write per pass).
ACTIVITY_WRITE_GRANULARITY = timedelta(seconds=60)


@dataclass(slots=True)
class Probe:
    alive: bool
    reading: ActivityReading | None = None


@dataclass(slots=True, frozen=True)
class Screen:
    """A screen read in a batch: its text, or ``None`` when the agent is gone."""

    text: str | None


class AgentProbes:
    def __init__(self, plugins: PluginSource, events: EventSink, clock: Clock, timeout: float) -> None:
        self.plugins = plugins
        self.events = events
        self.clock = clock
        self.timeout = timeout

    async def screens(self, sessions: Sequence[Session]) -> dict[str, Screen]:
        """Screens read in batches from runtimes that can (:class:`ScreenReader`); the rest, and any
        batch that fails, are read one session at a time by :meth:`probe`."""
        by_runtime: dict[str, list[Session]] = {}
        for s in sessions:
            if s.runtime_handle is not None:
                by_runtime.setdefault(s.runtime, []).append(s)
        found: dict[str, Screen] = {}
        for name, members in by_runtime.items():
            try:
                runtime = self.plugins.runtime(name)
            except EnnioError:
                continue  # reported per session by probe()
            if not isinstance(runtime, ScreenReader):
                continue
            handles = [RuntimeHandle.from_dict(s.runtime_handle) for s in members if s.runtime_handle is not None]
            # the runtime answers by handle id (a tmux session name), not by session id
            session_of = {handle.id: s.id for handle, s in zip(handles, members, strict=True)}
            try:
                async with asyncio.timeout(self.timeout):
                    screens = await runtime.screens(handles, SCREEN_LINES)
            except (TimeoutError, EnnioError) as exc:
                log.info("runtime %s: batched screens failed (%s); reading one by one", name, exc)
                continue
            for handle_id, screen in screens.items():
                if handle_id in session_of:
                    found[session_of[handle_id]] = Screen(screen)
        return found

    async def probe(self, project: ProjectConfig, session: Session, known: Screen | None = None) -> Probe:
        if session.runtime_handle is None:
            return Probe(alive=False)
        if known is not None:
            screen = known.text
        else:
            runtime = self.plugins.runtime(session.runtime)
            handle = RuntimeHandle.from_dict(session.runtime_handle)
            screen = await runtime.output(handle, SCREEN_LINES) if await runtime.alive(handle) else None
        if screen is None:
            return Probe(alive=False, reading=ActivityReading(ActivityState.EXITED, detail="runtime gone"))
        agent = self.plugins.agent(session.agent)
        resume = session.metadata.get(META_RESUME_ID)
        probe = ActivityProbe(
            workspace_path=Path(session.workspace_path) if session.workspace_path else project.path,
            screen=screen,
            alive=True,
            started_at=session.created_at,
            now=self.clock.now(),
            home=Path.home(),
            resume_id=resume if isinstance(resume, str) else None,
        )
        reading = await asyncio.to_thread(agent.detect_activity, probe)
        return Probe(alive=reading.state is not ActivityState.EXITED, reading=reading)

    def record_activity(self, session: Session, probe: Probe, pending: dict[str, Any]) -> Session:
        """Note what changed (in ``pending``, written with the pass's other field changes) and announce a
        new activity; returns the session as it now is."""
        reading = probe.reading
        state = reading.state if reading is not None else (None if probe.alive else ActivityState.EXITED)
        if state is None:
            return session
        now = self.clock.now()
        fields: dict[str, Any] = {}
        if state is not session.activity:
            fields["activity"] = state
            fields["last_activity_at"] = (reading.last_activity_at if reading else None) or now
        elif reading is not None and reading.last_activity_at is not None:
            last = session.last_activity_at
            if last is None or reading.last_activity_at - last > ACTIVITY_WRITE_GRANULARITY:
                fields["last_activity_at"] = reading.last_activity_at
        if reading is not None and reading.resume_id and reading.resume_id != session.metadata.get(META_RESUME_ID):
            fields["metadata"] = {**session.metadata, META_RESUME_ID: reading.resume_id}
        if not fields:
            return session
        pending.update(fields)
        updated = session.model_copy(update=fields)
        if "activity" in fields:
            self.events.publish(
                session_event(
                    updated,
                    EventType.ACTIVITY_CHANGED,
                    f"{session.id}: {session.activity or 'unknown'} → {state}",
                    **{"from": str(session.activity) if session.activity else None, "to": str(state)},
                    detail=reading.detail if reading else "",
                )
            )
        return updated
