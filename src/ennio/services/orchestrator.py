"""The lifecycle loop and the reaction engine wired together, with the notification router: what the
daemon (``ennio start``) runs next to its API, and what ``ennio demo`` runs in-process.

Notifications come two ways: reactions notify deliberately (``router.notify`` with fallback, their
own notifiers), and every other event goes through ``notification_routing`` (by priority and type)
from an event-bus feed. The feed skips events a reaction already notified of (``data["notified"]``)
and ``session.exited``, which the ``agent-exited`` reaction owns, so nobody hears of one thing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig
from ennio.core.events import Event, EventType
from ennio.core.plugins import PluginContext, SessionSummary
from ennio.db import Database
from ennio.services.events.event_bus import Subscription
from ennio.services.events.event_log import EventService
from ennio.services.events.notifications import NotificationRouter
from ennio.services.lifecycle.manager import LifecycleManager
from ennio.services.lifecycle.ports import PluginSource, QueueRunner, SessionCleaner, SpawnSettler
from ennio.services.lifecycle.reactions import NOTIFIED, AgentMessenger, ReactionEngine
from ennio.services.lifecycle.reconcile_hub import ReconcileHub
from ennio.services.registry import PluginRegistry
from ennio.services.sessions.ops import ManagerMessenger, PluginCleaner
from ennio.services.stack import Services

log = logging.getLogger("ennio.orchestrator")

#: Events whose notification a reaction owns (it decides whether and whom to tell).
_OWNED_BY_REACTIONS = frozenset({EventType.SESSION_EXITED})


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
        hub: ReconcileHub | None = None,
        queue: QueueRunner | None = None,
        spawns: SpawnSettler | None = None,
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
        self.hub = hub
        self.lifecycle = LifecycleManager(
            config,
            db,
            events=events,
            plugins=plugins,
            clock=clock,
            reactions=self.reactions,
            cleaner=cleaner,
            deliveries=hub,
            queue=queue,
            spawns=spawns,
        )
        self._detach: Callable[[], None] | None = None
        self._feed: Subscription | None = None
        self._feed_task: asyncio.Task[None] | None = None

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
            hub=services.hub,
            queue=services.sessions.queue,
            spawns=services.sessions,
        )

    async def start(self) -> None:
        self._feed = self.events.subscribe()
        self._feed_task = asyncio.get_running_loop().create_task(self._route(), name="notification-feed")
        await self.lifecycle.start(self.events)
        if self.hub is not None:
            self._detach = self.hub.attach(self.lifecycle)
        log.info("lifecycle running every %gs over %d project(s)", self.lifecycle.interval, len(self.config.projects))

    async def stop(self) -> None:
        if self._detach is not None:
            self._detach()
            self._detach = None
        await self.lifecycle.stop()
        if self._feed_task is not None:
            self._feed_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._feed_task
            self._feed_task = None
        if self._feed is not None:
            self._feed.close()
            self._feed = None
        await self.router.drain()

    async def _route(self) -> None:
        assert self._feed is not None
        async for item in self._feed:
            if not isinstance(item, Event):
                log.warning("the notification feed lagged; %s event(s) were not routed", getattr(item, "missed", "?"))
                continue
            if item.data.get(NOTIFIED) or item.type in _OWNED_BY_REACTIONS:
                continue
            if self.router.route(item):
                self.router.submit(item)

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
