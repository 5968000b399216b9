"""Opening a project's tracker (through the registry) and picking the project a command means."""

from __future__ import annotations

from pathlib import Path

from ennio.core.clock import SystemClock
from ennio.core.config import EnnioConfig, ProjectConfig
from ennio.core.errors import ConfigError, NotFound
from ennio.core.plugins import PluginContext, Slot, Tracker
from ennio.services.config.paths import data_dir
from ennio.services.registry import PluginRegistry, default_registry


def plugin_context(config: EnnioConfig) -> PluginContext:
    """A context for plugins used outside the daemon (CLI commands): real clock, no store."""
    return PluginContext(data_dir=data_dir(config), clock=SystemClock())


def pick_project(config: EnnioConfig, project_id: str | None, cwd: Path | None = None) -> ProjectConfig:
    """The project named, else the one whose repository holds ``cwd``, else the only one."""
    if project_id is not None:
        return config.project(project_id)
    if not config.projects:
        raise ConfigError("no projects are configured", hint="add one under `projects:` in ennio.yaml")
    here = (cwd or Path.cwd()).resolve()
    inside = [p for p in config.projects if here == p.path.resolve() or p.path.resolve() in here.parents]
    if inside:
        return max(inside, key=lambda p: len(p.path.resolve().parts))
    if len(config.projects) == 1:
        return config.projects[0]
    ids = ", ".join(p.pid for p in config.projects)
    raise NotFound("which project? several are configured", hint=f"pass --project with one of: {ids}")


def open_tracker(
    config: EnnioConfig,
    project: ProjectConfig,
    ctx: PluginContext | None = None,
    registry: PluginRegistry | None = None,
) -> Tracker:
    """The project's tracker plugin, instantiated as ``cls(project, ctx)``."""
    if project.tracker is None:
        raise ConfigError(
            f"project {project.pid!r} has no tracker",
            hint="add `tracker: {provider: local}` (issues as files in the repo), github or linear to the project",
        )
    plugin = (registry or default_registry()).get(Slot.TRACKER, project.tracker.provider)
    tracker: Tracker = plugin(project, ctx or plugin_context(config))
    return tracker
