"""Where front ends ask for an immediate reconcile, and where the lifecycle learns whose webhooks arrive.

The API (``POST /api/v1/poke``) and the webhook receivers run in the daemon's web app; the
LifecycleManager runs in a daemon component. They meet here: the component attaches its ``poke``
on start, the receivers call :meth:`ReconcileHub.poke` and record each verified delivery with
:meth:`ReconcileHub.delivery_seen`, and the lifecycle asks :meth:`ReconcileHub.last_delivery` to
decide whether a project's polling may relax to ``lifecycle.webhook_poll_interval``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Protocol

from ennio.core.clock import Clock

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
