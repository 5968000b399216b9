"""Terminal ``tmux``: a person attaches to the agent's terminal with the runtime's own command."""

from __future__ import annotations

from typing import ClassVar

from ennio.core.plugins import PluginContext, PluginManifest, Runtime, RuntimeHandle, Slot


class TmuxTerminal:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        "tmux", Slot.TERMINAL, "0.1.0", "attach from a terminal (tmux attach-session; tail -F for the process runtime)"
    )

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx

    def attach(self, handle: RuntimeHandle, runtime: Runtime) -> list[str]:
        """The runtime's attach argv (``tmux [-L SOCKET] attach-session -t NAME`` for tmux)."""
        return runtime.attach_command(handle)
