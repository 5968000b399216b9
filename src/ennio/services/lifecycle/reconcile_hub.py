"""Where front ends ask for an immediate reconcile, and where the lifecycle learns whose webhooks arrive.

The API (``POST /api/v1/poke``) and the webhook receivers run in the daemon's web app; the
LifecycleManager runs in a daemon component. They meet here: the component attaches its ``poke``
on start, the receivers call :meth:`ReconcileHub.poke` and record each verified delivery with
:meth:`ReconcileHub.delivery_seen`, and the lifecycle asks :meth:`ReconcileHub.last_delivery` to
decide whether a project's polling may relax to ``lifecycle.webhook_poll_interval``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig
from ennio.core.errors import DaemonError, NotFound
from ennio.core.ids import validate_id
from ennio.core.session import ACTIVE_STATUSES, SessionStatus
from ennio.db import Database

log = logging.getLogger("ennio.pokes")


class PokeTarget(Protocol):
    def poke(self, session_ids: Iterable[str] | None = None) -> None: ...

    def poke_queue(self) -> None: ...


class ReconcileHub:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._targets: list[PokeTarget] = []
        self._deliveries: dict[str, datetime] = {}

    def attach(self, target: PokeTarget) -> Callable[[], None]:
        """Send pokes to ``target`` (the lifecycle) until the returned function is called."""
        self._targets.append(target)

        def detach() -> None:
            if target in self._targets:
                self._targets.remove(target)

        return detach

    @property
    def running(self) -> bool:
        """Whether a lifecycle is listening."""
        return bool(self._targets)

    def poke(self, session_ids: Iterable[str] | None = None) -> bool:
        """Reconcile these sessions (all when ``None``) now; ``False`` when no lifecycle runs here."""
        ids = None if session_ids is None else list(session_ids)
        for target in self._targets:
            target.poke(ids)
        return self.running

    def poke_queue(self) -> bool:
        """Look at the queued spawns now (an issue that blocks one may have closed)."""
        for target in self._targets:
            target.poke_queue()
        return self.running

    def delivery_seen(self, project_id: str) -> None:
        self._deliveries[project_id] = self.clock.now()

    def last_delivery(self, project_id: str) -> datetime | None:
        """When the project's last verified webhook delivery arrived (since this process started)."""
        return self._deliveries.get(project_id)


async def request_reconcile(
    hub: ReconcileHub,
    db: Database,
    config: EnnioConfig,
    *,
    session_ids: Sequence[str] | None = None,
    project_id: str | None = None,
) -> list[str] | None:
    """``POST /api/v1/poke``: reconcile these sessions (or a project's, or all: ``None``) at once.

    Unknown ids are :class:`NotFound`; no lifecycle in this process is :class:`DaemonError`."""
    if not hub.running:
        raise DaemonError(
            "no lifecycle loop runs in this process, so there is nothing to poke",
            hint="start the daemon with `ennio start`",
        )
    if session_ids is None and project_id is None:
        hub.poke(None)
        return None
    wanted = [validate_id(s, "session id") for s in session_ids or ()]
    if project_id is not None:
        config.project(validate_id(project_id, "project id"))
    known = {s.id: s for s in await db.sessions.list(project_id=project_id)}
    missing = [s for s in wanted if s not in known]
    if missing:
        where = f" in project {project_id!r}" if project_id else ""
        raise NotFound(f"no session {', '.join(missing[:5])}{where}", hint="see `ennio session list`")
    chosen = wanted or [s.id for s in known.values() if s.status in ACTIVE_STATUSES | {SessionStatus.MERGED}]
    hub.poke(chosen)
    return sorted(chosen)
