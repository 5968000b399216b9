"""What the lifecycle needs from the rest of Ennio, as Protocols: the daemon hands it the real things
(the SessionManager's plugins, cleaner, spawn settling and spawn queue, the event service, the reconcile
hub)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from ennio.core.config import ProjectConfig
from ennio.core.events import EventFilter
from ennio.core.plugins import SCM, Agent, Runtime, Tracker
from ennio.core.session import Session
from ennio.services.events.event_bus import Subscription


class PluginSource(Protocol):
    """Where the lifecycle gets plugin instances (the SessionManager's :class:`SessionPlugins`)."""

    def runtime(self, name: str) -> Runtime: ...

    def agent(self, name: str) -> Agent: ...

    def scm(self, project: ProjectConfig) -> SCM | None: ...

    def tracker(self, project: ProjectConfig) -> Tracker | None: ...


class SessionCleaner(Protocol):
    async def cleanup(self, session: Session, *, merged_head: str | None = None) -> None:
        """Stop the agent and remove the workspace, refusing to lose work; raise ``EnnioError`` if not done.

        ``merged_head`` is the head of the merged PR, when known: commits it contains are saved even
        if a squash merge left them on no branch."""
        ...


class EventSource(Protocol):
    def subscribe(self, event_filter: EventFilter | None = None, maxsize: int = 1000) -> Subscription: ...


class DeliveryLog(Protocol):
    """When each project's last verified webhook delivery arrived (the daemon's ``ReconcileHub``)."""

    def last_delivery(self, project_id: str) -> datetime | None: ...


class SpawnSettler(Protocol):
    """Spawns whose spawner died half-way (a CLI killed while the daemon runs), to settle every pass (the
    SessionManager): their terminal stopped, the session marked exited, its ``max_sessions`` slot freed."""

    async def settle_interrupted(self, sessions: Sequence[Session]) -> Sequence[str]: ...


class QueueRunner(Protocol):
    """Queued spawns to release once their blockers are finished (the SessionManager's ``SpawnQueue``)."""

    async def process(self, project_ids: Iterable[str] | None = None) -> Sequence[object]: ...
