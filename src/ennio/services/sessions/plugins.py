"""The plugin instances sessions use, made once from the registry and shared.

One instance per (slot, name) for agents, runtimes, workspaces and terminals: they keep per-process
state that concurrent spawns must share (the workspace's per-repository lock, the tmux runtime's
per-session send lock). Trackers and SCMs are made per project (``cls(project, ctx)``).
"""

from __future__ import annotations

import inspect
from typing import Any

from ennio.core.config import ProjectConfig
from ennio.core.errors import PluginError
from ennio.core.plugins import SCM, Agent, PluginContext, Preflight, Runtime, Slot, Terminal, Tracker, Workspace
from ennio.services.registry import PluginRegistry

_PROTOCOLS: dict[Slot, type[Any]] = {
    Slot.AGENT: Agent,
    Slot.RUNTIME: Runtime,
    Slot.WORKSPACE: Workspace,
    Slot.TERMINAL: Terminal,
    Slot.TRACKER: Tracker,
    Slot.SCM: SCM,
}


class SessionPlugins:
    def __init__(self, registry: PluginRegistry, ctx: PluginContext) -> None:
        self.registry = registry
        self.ctx = ctx
        self._shared: dict[tuple[Slot, str], Any] = {}
        self._per_project: dict[tuple[Slot, str], Any] = {}

    def _make(self, slot: Slot, name: str, *args: Any) -> Any:
        cls = self.registry.get(slot, name)
        try:
            plugin = cls(*args)
        except PluginError:
            raise
        except Exception as exc:  # a third-party plugin failing in its constructor
            raise PluginError(f"{slot} plugin {name!r} could not start: {exc}") from exc
        protocol = _PROTOCOLS[slot]
        if not isinstance(plugin, protocol):
            raise PluginError(
                f"{slot} plugin {name!r} ({cls.__module__}.{cls.__qualname__}) lacks the {slot} methods",
                hint=f"a {slot} plugin implements ennio.core.plugins.{protocol.__name__}",
            )
        return plugin

    def _shared_plugin(self, slot: Slot, name: str) -> Any:
        key = (slot, name)
        if key not in self._shared:
            self._shared[key] = self._make(slot, name, self.ctx)
        return self._shared[key]

    def agent(self, name: str) -> Agent:
        plugin: Agent = self._shared_plugin(Slot.AGENT, name)
        return plugin

    def runtime(self, name: str) -> Runtime:
        plugin: Runtime = self._shared_plugin(Slot.RUNTIME, name)
        return plugin

    def workspace(self, name: str) -> Workspace:
        plugin: Workspace = self._shared_plugin(Slot.WORKSPACE, name)
        return plugin

    def terminal(self, name: str = "tmux") -> Terminal:
        plugin: Terminal = self._shared_plugin(Slot.TERMINAL, name)
        return plugin

    def tracker(self, project: ProjectConfig) -> Tracker | None:
        """The project's tracker, or ``None`` when it has none configured."""
        if project.tracker is None:
            return None
        key = (Slot.TRACKER, project.pid)
        if key not in self._per_project:
            self._per_project[key] = self._make(Slot.TRACKER, project.tracker.provider, project, self.ctx)
        tracker: Tracker = self._per_project[key]
        return tracker

    def scm(self, project: ProjectConfig) -> SCM | None:
        """The project's SCM, or ``None`` when it has none configured."""
        if project.scm is None:
            return None
        key = (Slot.SCM, project.pid)
        if key not in self._per_project:
            self._per_project[key] = self._make(Slot.SCM, project.scm.provider, project, self.ctx)
        scm: SCM = self._per_project[key]
        return scm

    async def aclose(self) -> None:
        """Close what plugin instances hold open (the HTTP clients of trackers and SCMs)."""
        plugins = [*self._shared.values(), *self._per_project.values()]
        self._shared.clear()
        self._per_project.clear()
        for plugin in plugins:
            closer = getattr(plugin, "aclose", None) or getattr(plugin, "close", None)
            if closer is not None:
                result = closer()
                if inspect.isawaitable(result):
                    await result


async def preflight(plugin: object, project: ProjectConfig) -> None:
    """Run the plugin's optional :class:`Preflight` check."""
    if isinstance(plugin, Preflight):
        await plugin.preflight(project)
