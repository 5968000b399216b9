"""One instance per plugin for a running orchestrator: runtimes and agents by name, SCM and tracker
per project, created on first use through the registry and closed together."""

from __future__ import annotations

import inspect
import logging
from typing import Any, cast

from ennio.core.config import EnnioConfig, ProjectConfig
from ennio.core.errors import PluginError
from ennio.core.plugins import SCM, Agent, PluginContext, Runtime, Slot, Tracker, Workspace
from ennio.services.registry import PluginRegistry, default_registry

log = logging.getLogger("ennio.plugins")


class PluginSet:
    def __init__(self, config: EnnioConfig, ctx: PluginContext, registry: PluginRegistry | None = None) -> None:
        self.config = config
        self.ctx = ctx
        self.registry = registry or default_registry()
        self._runtimes: dict[str, Runtime] = {}
        self._agents: dict[str, Agent] = {}
        self._scms: dict[str, SCM | None] = {}
        self._trackers: dict[str, Tracker | None] = {}

    def _make(self, slot: Slot, name: str, *args: Any) -> Any:
        cls = self.registry.get(slot, name)
        try:
            return cls(*args)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"{slot} plugin {name!r} could not start: {type(exc).__name__}: {exc}",
                hint="check its settings in the configuration",
            ) from exc

    def runtime(self, name: str) -> Runtime:
        if name not in self._runtimes:
            self._runtimes[name] = cast(Runtime, self._make(Slot.RUNTIME, name, self.ctx))
        return self._runtimes[name]

    def workspace(self, name: str) -> Workspace:
        workspace: Workspace = self._make(Slot.WORKSPACE, name, self.ctx)
        return workspace

    def agent(self, name: str) -> Agent:
        if name not in self._agents:
            self._agents[name] = cast(Agent, self._make(Slot.AGENT, name, self.ctx))
        return self._agents[name]

    def scm(self, project: ProjectConfig) -> SCM | None:
        """The project's SCM, or ``None`` when it configures none."""
        if project.pid not in self._scms:
            made = None if project.scm is None else self._make(Slot.SCM, project.scm.provider, project, self.ctx)
            self._scms[project.pid] = cast("SCM | None", made)
        return self._scms[project.pid]

    def tracker(self, project: ProjectConfig) -> Tracker | None:
        if project.pid not in self._trackers:
            made = (
                None
                if project.tracker is None
                else self._make(Slot.TRACKER, project.tracker.provider, project, self.ctx)
            )
            self._trackers[project.pid] = cast("Tracker | None", made)
        return self._trackers[project.pid]

    async def close(self) -> None:
        """Close every plugin that has a ``close``/``aclose`` (HTTP clients and the like)."""
        plugins: list[object] = [*self._scms.values(), *self._trackers.values(), *self._runtimes.values()]
        for plugin in plugins:
            closer = getattr(plugin, "aclose", None) or getattr(plugin, "close", None)
            if closer is None:
                continue
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:  # closing must not stop the others from closing
                log.warning("closing %s failed: %s: %s", type(plugin).__name__, type(exc).__name__, exc)
        self._scms.clear()
        self._trackers.clear()
