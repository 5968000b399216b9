"""Plugin registry: built-in and third-party plugins, found through entry points.

Each slot has an entry-point group (``ennio.agent``, ``ennio.runtime``, …). A third party ships
a plugin by declaring an entry point in its own package; nothing here lists plugins by hand.
Constructors by slot: agent/runtime/workspace/terminal ``cls(ctx)``; tracker/scm
``cls(project, ctx)``; notifier ``cls(name, settings, ctx)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ennio.core.config import suggest
from ennio.core.errors import PluginError
from ennio.core.plugins import PluginManifest, Slot


@dataclass(frozen=True)
class PluginEntry:
    slot: Slot
    name: str
    target: str
    distribution: str | None


class PluginRegistry:
    def __init__(self) -> None:
        self._entries: dict[Slot, dict[str, EntryPoint]] | None = None
        self._loaded: dict[tuple[Slot, str], type[Any]] = {}
        self._extra: dict[tuple[Slot, str], type[Any]] = {}

    def _discover(self) -> dict[Slot, dict[str, EntryPoint]]:
        if self._entries is None:
            found: dict[Slot, dict[str, EntryPoint]] = {slot: {} for slot in Slot}
            for slot in Slot:
                for ep in entry_points(group=slot.entry_point_group):
                    found[slot].setdefault(ep.name, ep)
            self._entries = found
        return self._entries

    def register(self, slot: Slot, name: str, cls: type[Any]) -> None:
        """Add a plugin class directly (for embedding Ennio; entry points are the normal way)."""
        self._extra[(slot, name)] = cls

    def names(self, slot: Slot) -> list[str]:
        return sorted(set(self._discover()[slot]) | {n for (s, n) in self._extra if s is slot})

    def entries(self) -> list[PluginEntry]:
        out = []
        for slot, eps in self._discover().items():
            for name, ep in sorted(eps.items()):
                dist = ep.dist.name if ep.dist is not None else None
                out.append(PluginEntry(slot, name, ep.value, dist))
        return out

    def get(self, slot: Slot, name: str) -> type[Any]:
        """The plugin class registered as ``name`` in ``slot``; a clear error if unknown or broken."""
        key = (slot, name)
        if key in self._extra:
            return self._extra[key]
        if key in self._loaded:
            return self._loaded[key]
        ep = self._discover()[slot].get(name)
        if ep is None:
            known = self.names(slot)
            hint = suggest(name, known)
            raise PluginError(
                f"unknown {slot} {name!r}",
                hint=(f"did you mean {hint!r}? " if hint else "") + f"available: {', '.join(known) or 'none'}",
            )
        try:
            cls: type[Any] = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take Ennio down
            raise PluginError(
                f"{slot} plugin {name!r} ({ep.value}) failed to load: {exc}",
                hint="reinstall the package that provides it, or remove it from the configuration",
            ) from exc
        manifest = getattr(cls, "manifest", None)
        if not isinstance(manifest, PluginManifest) or manifest.slot is not slot:
            raise PluginError(
                f"{ep.value} is registered as {slot} plugin {name!r} but has no matching manifest",
                hint="a plugin class needs `manifest = PluginManifest(name, slot, version, description)`",
            )
        self._loaded[key] = cls
        return cls

    def manifest(self, slot: Slot, name: str) -> PluginManifest:
        manifest: PluginManifest = self.get(slot, name).manifest
        return manifest


_default: PluginRegistry | None = None


def default_registry() -> PluginRegistry:
    global _default
    if _default is None:
        _default = PluginRegistry()
    return _default
