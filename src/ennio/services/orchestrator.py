"""The lifecycle loop and the reaction engine wired together, with the notification router: what the
daemon (``ennio start``) runs next to its API, and what ``ennio demo`` runs in-process."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig
from ennio.core.events import Event
from ennio.core.plugins import PluginContext, SessionSummary
from ennio.db import Database
from ennio.services.event_log import EventService
from ennio.services.lifecycle import LifecycleManager, PluginSource, SessionCleaner
from ennio.services.notifications import NotificationRouter
from ennio.services.reactions import AgentMessenger, ReactionEngine
from ennio.services.registry import PluginRegistry
from ennio.services.session_ops import ManagerMessenger, PluginCleaner
from ennio.services.stack import Services

log = logging.getLogger("ennio.orchestrator")


class Orchestrator:
    def __init__(
        self,
        config: EnnioConfig,
        db: Database,
        events: EventService,
        *,
        plugins: PluginSource,
        ctx: PluginContext,
        clock: Clock,
        messenger: AgentMessenger,
        cleaner: SessionCleaner | None,
        registry: PluginRegistry | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.events = events
        self.router = NotificationRouter.from_config(config, ctx, registry=registry, summaries=self._summary)
        self.reactions = ReactionEngine(
            config,
            db,
            events=events,
            messenger=messenger,
            clock=clock,
            scm_for=plugins.scm,
            router=self.router,
        )
        self.lifecycle = LifecycleManager(
            config, db, events=events, plugins=plugins, clock=clock, reactions=self.reactions, cleaner=cleaner
        )

    @classmethod
    def from_services(cls, services: Services) -> Orchestrator:
        """The daemon's component (``services.daemon.default_components``), sharing the
        SessionManager's plugin instances, sends and cleanups."""
        plugins = services.sessions.env.plugins
        return cls(
            services.config,
            services.db,
            services.events,
            plugins=plugins,
            ctx=plugins.ctx,
            clock=services.clock,
            messenger=ManagerMessenger(services.sessions),
            cleaner=PluginCleaner(services.config, plugins),
            registry=services.registry,
        )

    async def start(self) -> None:
        await self.lifecycle.start(self.events)
        log.info("lifecycle running every %gs over %d project(s)", self.lifecycle.interval, len(self.config.projects))

    async def stop(self) -> None:
        await self.lifecycle.stop()
        await self.router.drain()

    def poke(self, session_ids: Iterable[str] | None = None) -> None:
        """Reconcile now (the API and webhooks call this when something changed)."""
        self.lifecycle.poke(session_ids)

    async def _summary(self, event: Event) -> SessionSummary | None:
        if event.session_id is None:
            return None
        session = await self.db.sessions.find(event.session_id)
        if session is None:
            return None
        return SessionSummary(
            session_id=session.id,
            project_id=session.project_id,
            status=str(session.status),
            branch=session.branch,
            pr_url=session.pr_url,
            activity=str(session.activity) if session.activity else None,
            last_activity_at=session.last_activity_at,
        )
