"""The two things the lifecycle and the reactions do to a session's plugins: send its agent a
message, and clean a finished session up (stop the agent, remove the workspace safely)."""

from __future__ import annotations

import logging
from pathlib import Path

from ennio.core.errors import EnnioError, RuntimeFailure
from ennio.core.plugins import RuntimeHandle, Slot, Workspace, WorkspaceInfo
from ennio.core.session import Session
from ennio.services.plugin_set import PluginSet

log = logging.getLogger("ennio.sessions")


class RuntimeMessenger:
    """Sends text to a session's agent through its runtime (which checks the agent took it)."""

    def __init__(self, plugins: PluginSet) -> None:
        self.plugins = plugins

    async def send(self, session: Session, text: str) -> None:
        if session.runtime_handle is None:
            raise RuntimeFailure(f"session {session.id} has no running agent to send to")
        runtime = self.plugins.runtime(session.runtime)
        result = await runtime.send(RuntimeHandle.from_dict(session.runtime_handle), text)
        if not result.delivered:
            raise RuntimeFailure(
                f"the agent of {session.id} did not take the message" + (f": {result.detail}" if result.detail else ""),
                hint=f"look at its terminal (ennio open {session.id})",
            )


class PluginCleaner:
    """Stops a finished session's agent and removes its workspace, refusing to lose work."""

    def __init__(self, plugins: PluginSet) -> None:
        self.plugins = plugins

    async def cleanup(self, session: Session) -> None:
        if session.runtime_handle is not None:
            await self.plugins.runtime(session.runtime).destroy(RuntimeHandle.from_dict(session.runtime_handle))
        if not session.workspace_path or not session.branch:
            return
        project = self.plugins.config.project(session.project_id)
        workspace: Workspace = self.plugins.registry.get(Slot.WORKSPACE, session.workspace)(self.plugins.ctx)
        info = WorkspaceInfo(
            path=Path(session.workspace_path),
            branch=session.branch,
            base_branch=session.base_branch or project.default_branch,
            kind=session.workspace,
        )
        try:
            await workspace.destroy(info, project)
        except EnnioError as exc:
            log.warning("%s: workspace kept: %s", session.id, exc.message)
            raise
