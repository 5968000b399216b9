"""Opening the services a front end needs — database, events, sessions — and closing them in order.

The daemon and every CLI command that acts on sessions use the same stack on the same database, so
the CLI works whether or not a daemon runs (SQLite in WAL mode with ``BEGIN IMMEDIATE`` writes, or
PostgreSQL, keeps concurrent writers from several processes safe).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ennio.core.clock import Clock, SystemClock
from ennio.core.config import EnnioConfig
from ennio.db.database import Database, open_database
from ennio.services.config.paths import data_dir as resolve_data_dir
from ennio.services.events.event_log import EventService
from ennio.services.lifecycle.reconcile_hub import ReconcileHub
from ennio.services.registry import PluginRegistry, default_registry
from ennio.services.sessions.manager import SessionManager


@dataclass(slots=True)
class Services:
    config: EnnioConfig
    data_dir: Path
    clock: Clock
    registry: PluginRegistry
    db: Database
    events: EventService
    sessions: SessionManager
    #: pokes from the API and webhooks to the lifecycle (which attaches when the daemon runs it)
    hub: ReconcileHub


@asynccontextmanager
async def open_services(
    config: EnnioConfig,
    *,
    registry: PluginRegistry | None = None,
    clock: Clock | None = None,
    plugin_extra: dict[str, Any] | None = None,
) -> AsyncIterator[Services]:
    """Database (migrated), the event service (log writer started) and the SessionManager."""
    clock = clock or SystemClock()
    registry = registry or default_registry()
    root = resolve_data_dir(config)
    url = config.database_url.get_secret_value() if config.database_url else None
    db = await open_database(url, root, clock=clock)
    events = EventService(db.events, nats_url=config.nats_url.get_secret_value() if config.nats_url else None)
    sessions: SessionManager | None = None
    try:
        await events.start()
        sessions = SessionManager(config, db, events, registry, clock, root, plugin_extra=plugin_extra)
        yield Services(config, root, clock, registry, db, events, sessions, ReconcileHub(clock))
    finally:
        try:
            if sessions is not None:
                await sessions.aclose()
            await events.stop()
        finally:
            await db.close()
