"""The two things the lifecycle and the reactions do to a session through its plugins: send its agent
a message, and clean a finished session up (stop the agent, remove the workspace safely)."""

from __future__ import annotations

import logging
from typing import Protocol

from ennio.core.config import EnnioConfig
from ennio.core.errors import EnnioError, RuntimeFailure
from ennio.core.plugins import Runtime, RuntimeHandle, SendResult, Workspace
from ennio.core.session import Session
from ennio.services.sessions.env import runtime_handle, workspace_info

log = logging.getLogger("ennio.sessions")


class RuntimePlugins(Protocol):
    def runtime(self, name: str) -> Runtime: ...


class WorkspacePlugins(RuntimePlugins, Protocol):
    def workspace(self, name: str) -> Workspace: ...


class Sender(Protocol):
    async def send(self, session_id: str, text: str) -> SendResult: ...


def _not_taken(session: Session, result: SendResult) -> RuntimeFailure:
    return RuntimeFailure(
        f"the agent of {session.id} did not take the message" + (f": {result.detail}" if result.detail else ""),
        hint=f"look at its terminal (ennio open {session.id})",
    )


class RuntimeMessenger:
    """Sends text to a session's agent through its runtime (which checks the agent took it)."""

    def __init__(self, plugins: RuntimePlugins) -> None:
        self.plugins = plugins

    async def send(self, session: Session, text: str) -> None:
        if session.runtime_handle is None:
            raise RuntimeFailure(f"session {session.id} has no running agent to send to")
        runtime = self.plugins.runtime(session.runtime)
        result = await runtime.send(RuntimeHandle.from_dict(session.runtime_handle), text)
        if not result.delivered:
            raise _not_taken(session, result)


class ManagerMessenger:
    """Sends through the SessionManager (which also records the send on the session)."""

    def __init__(self, sessions: Sender) -> None:
        self.sessions = sessions

    async def send(self, session: Session, text: str) -> None:
        result = await self.sessions.send(session.id, text)
        if not result.delivered:
            raise _not_taken(session, result)


class PluginCleaner:
    """Stops a finished session's agent and removes its workspace, refusing to lose work."""

    def __init__(self, config: EnnioConfig, plugins: WorkspacePlugins) -> None:
        self.config = config
        self.plugins = plugins

    async def cleanup(self, session: Session, *, merged_head: str | None = None) -> None:
        handle = runtime_handle(session)
        if handle is not None:
            await self.plugins.runtime(session.runtime).destroy(handle)
        info = workspace_info(session)
        if info is None:
            return
        project = self.config.project(session.project_id)
        workspace = self.plugins.workspace(session.workspace)
        if not await workspace.exists(info):
            return
        try:
            await workspace.destroy(info, project, merged_head=merged_head)
        except EnnioError as exc:
            log.warning("%s: workspace kept: %s", session.id, exc.message)
            raise
