"""SessionManager: spawn, send, kill, restore, clean up, list and describe sessions.

The one service every front end (CLI, API, TUI) calls. Plugins come from the registry and are used
only through the ``ennio.core.plugins`` Protocols. Every id from outside is validated before it
reaches the database, git or the runtime.

Size: over 400 lines because it has one short method per operation the front ends offer; spawn,
adoption, cleanup and the queue already live in their own modules.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig
from ennio.core.errors import Conflict, EnnioError, InvalidInput, NotFound, UnsafeToDestroy
from ennio.core.events import Event, EventType
from ennio.core.ids import validate_id
from ennio.core.plugins import ActivityReading, AgentContext, LaunchSpec, PluginContext, SendResult
from ennio.core.rollback import Rollback
from ennio.core.session import ActivityState, Session, SessionStatus, can_transition
from ennio.db.database import Database
from ennio.db.records import OPEN_QUEUE_STATUSES, QueuedSpawn
from ennio.services.config.paths import instance_id, logs_dir
from ennio.services.events.event_log import EventService
from ennio.services.forge.blockers import Blocked
from ennio.services.registry import PluginRegistry
from ennio.services.sessions.adoption import AdoptionReport, readopt, settle_interrupted
from ennio.services.sessions.cleanup import CleanupReport, cleanup
from ennio.services.sessions.env import (
    META_LAST_SEND,
    META_RESUME_ID,
    SessionEnv,
    mark_exited,
    read_activity,
    require_handle,
    runtime_handle,
    terminal_handle,
    workspace_info,
)
from ennio.services.sessions.plugins import SessionPlugins, preflight
from ennio.services.sessions.spawn import (
    Progress,
    Spawner,
    SpawnRequest,
    launchable,
    project_rules,
    write_agent_files,
)
from ennio.services.sessions.spawn_queue import SpawnQueue

log = logging.getLogger("ennio.sessions")

#: how many spawns of one batch run at once by default
BATCH_CONCURRENCY = 4


@dataclass(slots=True)
class BatchItem:
    """One issue of a batch spawn: the session made, the queued spawn (``when_unblocked``), or why not."""

    issue: str
    session: Session | None = None
    error: EnnioError | None = None
    queued: QueuedSpawn | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "issue": self.issue,
            "session": self.session.model_dump(mode="json") if self.session else None,
            "error": self.error.to_dict() if self.error else None,
            "queued": self.queued.to_dict() if self.queued else None,
        }


@dataclass(slots=True)
class KillResult:
    """A killed session and what there really was to stop and remove."""

    session: Session
    #: the terminal whose agent was running and was stopped
    stopped_terminal: str | None = None
    #: the workspace folder removed
    removed_workspace: str | None = None
    #: whether the workspace was asked to be removed
    asked_workspace: bool = False

    def summary(self) -> str:
        """One line: ``killed app-1: stopped its agent (…); removed its workspace /path``."""
        parts = [f"stopped its agent ({self.stopped_terminal})" if self.stopped_terminal else "no agent was running"]
        if self.removed_workspace:
            parts.append(f"removed its workspace {self.removed_workspace}")
        elif self.asked_workspace:
            parts.append("it had no workspace to remove")
        return f"killed {self.session.id}: " + "; ".join(parts)


@dataclass(slots=True)
class SessionInfo:
    """A session as a person looks at it: the row, whether its agent lives, what it does, how to attach."""

    session: Session
    alive: bool | None
    activity: ActivityReading | None
    attach: list[str] | str | None
    events: list[Event] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        activity = None
        if self.activity is not None:
            activity = {
                "state": str(self.activity.state),
                "detail": self.activity.detail,
                "last_activity_at": self.activity.last_activity_at.isoformat()
                if self.activity.last_activity_at
                else None,
            }
        return {
            "session": self.session.model_dump(mode="json"),
            "alive": self.alive,
            "activity": activity,
            "attach": self.attach,
            "events": [e.to_dict() for e in self.events],
        }


class SessionManager:
    def __init__(
        self,
        config: EnnioConfig,
        db: Database,
        events: EventService,
        registry: PluginRegistry,
        clock: Clock,
        data_dir: Path,
        *,
        plugin_extra: dict[str, Any] | None = None,
    ) -> None:
        instance = instance_id(data_dir)
        ctx = PluginContext(data_dir=data_dir, clock=clock, store=db.store, instance=instance, extra=plugin_extra or {})
        self.env = SessionEnv(
            config=config,
            db=db,
            events=events,
            plugins=SessionPlugins(registry, ctx),
            clock=clock,
            data_dir=data_dir,
            instance=instance,
        )
        self.spawner = Spawner(self.env)
        self.queue = SpawnQueue(self.env, self.spawner.spawn)

    @property
    def config(self) -> EnnioConfig:
        return self.env.config

    async def aclose(self) -> None:
        await self.queue.aclose()
        await self.env.plugins.aclose()

    # ------------------------------------------------------------------ spawn

    async def spawn(
        self,
        project_id: str,
        *,
        issue: str | None = None,
        prompt: str | None = None,
        branch: str | None = None,
        agent: str | None = None,
        runtime: str | None = None,
        reuse_branch: bool = False,
        progress: Progress | None = None,
    ) -> Session:
        """Make a session: workspace on its branch, agent in its terminal, prompt delivered. All or nothing."""
        request = SpawnRequest(project_id, issue, prompt, branch, agent, runtime, reuse_branch)
        return await self.spawner.spawn(request, progress)

    async def spawn_or_queue(
        self,
        project_id: str,
        *,
        issue: str | None = None,
        prompt: str | None = None,
        branch: str | None = None,
        agent: str | None = None,
        runtime: str | None = None,
        reuse_branch: bool = False,
        progress: Progress | None = None,
    ) -> Session | QueuedSpawn:
        """Spawn now, or, when the issue has unfinished blockers, queue the spawn until they are finished
        (``ennio spawn --when-unblocked``); the lifecycle releases it."""
        request = SpawnRequest(project_id, issue, prompt, branch, agent, runtime, reuse_branch)
        try:
            return await self.spawner.spawn(request, progress)
        except Blocked as blocked:
            if progress:
                progress(blocked.message)
            return await self.queue.enqueue(request, blocked)

    async def queued(self, project_id: str | None = None, *, open_only: bool = False) -> builtins.list[QueuedSpawn]:
        """Queued spawns, oldest first (only those still waiting or spawning with ``open_only``)."""
        if project_id is not None:
            validate_id(project_id, "project id")
        return await self.queue.entries(project_id, OPEN_QUEUE_STATUSES if open_only else None)

    async def cancel_queued(self, queue_id: str) -> QueuedSpawn:
        return await self.queue.cancel(queue_id)

    async def batch_spawn(
        self,
        project_id: str,
        issues: Sequence[str],
        *,
        prompt: str | None = None,
        agent: str | None = None,
        runtime: str | None = None,
        concurrency: int = BATCH_CONCURRENCY,
        when_unblocked: bool = False,
        progress: Progress | None = None,
    ) -> list[BatchItem]:
        """One session per issue, ``concurrency`` at a time; each item has its session or its error (or, with
        ``when_unblocked``, the queued spawn of an issue that is still blocked)."""
        if not issues:
            raise InvalidInput("no issues given", hint="pass --issue at least once")
        if concurrency < 1:
            raise InvalidInput(f"concurrency must be at least 1, not {concurrency}")
        seen: set[str] = set()
        gate = asyncio.Semaphore(concurrency)

        async def one(issue: str) -> BatchItem:
            if issue in seen:
                return BatchItem(issue, error=InvalidInput(f"issue {issue!r} is given more than once"))
            seen.add(issue)
            async with gate:
                spawn = self.spawn_or_queue if when_unblocked else self.spawn
                try:
                    made = await spawn(project_id, issue=issue, prompt=prompt, agent=agent, runtime=runtime)
                except EnnioError as exc:
                    if progress:
                        progress(f"{issue}: {exc.message}")
                    return BatchItem(issue, error=exc)
                if not isinstance(made, Session):
                    if progress:
                        progress(f"{issue}: queued {made.qid}")
                    return BatchItem(issue, queued=made)
                session = made
                if progress:
                    progress(f"{issue}: spawned {session.id}")
                return BatchItem(issue, session=session)

        return list(await asyncio.gather(*(one(i) for i in issues)))

    # ------------------------------------------------------------------ read

    async def get(self, session_id: str) -> Session:
        return await self.env.db.sessions.get(validate_id(session_id, "session id"))

    async def list(
        self, project_id: str | None = None, statuses: Iterable[SessionStatus | str] | None = None
    ) -> list[Session]:
        if project_id is not None:
            validate_id(project_id, "project id")
        return await self.env.db.sessions.list(project_id, statuses)

    async def info(self, session_id: str, *, events: int = 10) -> SessionInfo:
        """Status, live activity, branch, PR, the latest events and the attach command."""
        session = await self.get(session_id)
        handle = runtime_handle(session)
        alive: bool | None = None
        reading: ActivityReading | None = None
        attach: list[str] | str | None = None
        info = workspace_info(session)
        if handle is not None:
            runtime = self.env.plugins.runtime(session.runtime)
            agent = self.env.plugins.agent(session.agent)
            resume_id = session.metadata.get(META_RESUME_ID)
            if info is not None and not session.terminal:
                alive, reading = await read_activity(
                    agent,
                    runtime,
                    handle,
                    info.path,
                    started_at=session.created_at,
                    now=self.env.clock.now(),
                    resume_id=resume_id,
                )
                if reading.resume_id and reading.resume_id != resume_id:
                    metadata = {**session.metadata, META_RESUME_ID: reading.resume_id}
                    session = await self.env.db.sessions.update(session.id, metadata=metadata)
            else:
                alive = await runtime.alive(handle)
            if alive:
                attach = self.env.plugins.terminal().attach(handle, runtime)
        await self.env.events.flush()  # include what this process emitted a moment ago
        recent = await self.env.db.events.query(session_id=session.id, limit=max(events, 1), newest_first=True)
        return SessionInfo(session, alive, reading, attach, [item.event for item in recent][:events])

    async def attach_command(self, session_id: str) -> builtins.list[str] | str:
        """What to run (or open) to reach the agent's terminal."""
        session = await self.get(session_id)
        handle = require_handle(session)
        runtime = self.env.plugins.runtime(session.runtime)
        if not await runtime.alive(handle):
            raise Conflict(
                f"the agent of session {session.id} is not running",
                hint=f"restore it with `ennio session restore {session.id}`",
            )
        return self.env.plugins.terminal().attach(handle, runtime)

    # ------------------------------------------------------------------ act

    async def send(self, session_id: str, text: str) -> SendResult:
        """Deliver ``text`` to the agent and record whether it took it."""
        session = await self.get(session_id)
        if not text or not text.strip():
            raise InvalidInput("nothing to send: the message is empty")
        if session.terminal or session.status is SessionStatus.EXITED:
            raise Conflict(
                f"session {session.id} is {session.status}: there is no agent to send to",
                hint=f"restore it first with `ennio session restore {session.id}`"
                if session.status is SessionStatus.EXITED
                else "spawn a new session",
            )
        handle = require_handle(session)
        result = await self.env.plugins.runtime(session.runtime).send(handle, text)
        record = {
            "at": self.env.clock.now().isoformat(),
            "delivered": result.delivered,
            "attempts": result.attempts,
            "detail": result.detail,
            "chars": len(text),
        }
        current = await self.env.db.sessions.get(session.id)
        await self.env.db.sessions.update(session.id, metadata={**current.metadata, META_LAST_SEND: record})
        return result

    async def kill(self, session_id: str, *, workspace: bool = False, force: bool = False) -> KillResult:
        """Stop the agent and mark the session killed; with ``workspace``, also remove its workspace.

        A workspace holding work (uncommitted changes, unpushed commits) is refused before anything is
        stopped, unless ``force``. The result says what was really there to stop and remove: a spawn cut
        short left its workspace (and branch) where its row says, perhaps with no terminal yet.
        """
        session = await self.get(session_id)
        info = workspace_info(session) if workspace else None
        project = self.env.project_of(session) if workspace else None
        ws_plugin = self.env.plugins.workspace(session.workspace) if workspace else None
        ws_exists = bool(info and ws_plugin and await ws_plugin.exists(info))
        # a workspace the spawn only planned may be half made (a branch and no folder yet): destroy
        # removes what is there, by the workspace's own rules
        planned = bool(info and info.data.get("planned"))
        if ws_exists and not force:
            assert info is not None and ws_plugin is not None and project is not None
            reasons = await ws_plugin.unsafe_reasons(info, project)
            if reasons:
                raise UnsafeToDestroy(
                    f"the workspace of {session.id} ({info.path}) still holds work: {'; '.join(reasons)}",
                    reasons=reasons,
                    hint="commit and push it first, kill without --workspace to keep it, or add --force to discard it",
                )
        movable = can_transition(session.status, SessionStatus.KILLED)
        if not movable and not ws_exists:
            raise Conflict(f"session {session.id} is already {session.status}")
        runtime = self.env.plugins.runtime(session.runtime)
        handle = terminal_handle(self.env, session)
        ran = await runtime.alive(handle)
        await runtime.destroy(handle)
        if movable:
            await self.env.db.sessions.transition(
                session.id, SessionStatus.KILLED, "killed by request", expected_from=session.status
            )
        if ws_exists or planned:
            assert info is not None and ws_plugin is not None and project is not None
            await ws_plugin.destroy(info, project, force=force)
        removed = str(info.path) if ws_exists and info is not None else None
        session = await self.env.db.sessions.update(session.id, activity=ActivityState.EXITED)
        result = KillResult(session, handle.id if ran else None, removed, asked_workspace=workspace)
        await self.env.emit(
            EventType.SESSION_KILLED,
            session,
            result.summary(),
            workspace_removed=removed is not None,
            removed_workspace=removed,
            stopped_terminal=result.stopped_terminal,
        )
        return result

    async def restore(self, session_id: str, progress: Progress | None = None) -> Session:
        """Bring an exited session back: same workspace, the agent's resume command, a new terminal."""
        session = await self.get(session_id)
        env = self.env
        runtime = env.plugins.runtime(session.runtime)
        handle = runtime_handle(session)
        if session.status is not SessionStatus.EXITED:
            if session.terminal:
                raise Conflict(
                    f"session {session.id} is {session.status}; only an exited session can be restored",
                    hint="spawn a new session for more work",
                )
            if session.status is SessionStatus.SPAWNING:
                raise Conflict(f"session {session.id} is still spawning", hint="wait for it, or kill it")
            if handle is not None and await runtime.alive(handle):
                raise Conflict(
                    f"session {session.id} is still running",
                    hint=f"attach with `ennio open {session.id}` or send it a message",
                )
            session = await mark_exited(env, session, "its agent's terminal was found gone")
        project = env.project_of(session)
        agent = env.plugins.agent(session.agent)
        ws_plugin = env.plugins.workspace(session.workspace)
        info = workspace_info(session)
        if info is None or not await ws_plugin.exists(info):
            raise NotFound(
                f"the workspace of session {session.id} is gone" + (f" ({info.path})" if info is not None else ""),
                hint="spawn a new session for this work",
            )
        await preflight(runtime, project)
        rules = await asyncio.to_thread(project_rules, project)
        resume_id = session.metadata.get(META_RESUME_ID)
        context = AgentContext(
            session.id, project, info.path, session.prompt or "", project.agent_config, rules, resume_id=resume_id
        )
        launch = launchable(agent.restore(context), session.agent)
        await asyncio.to_thread(write_agent_files, info.path, launch.files)
        if progress:
            progress(f"restarting {session.agent}")
        started_at = env.clock.now()
        new_handle = await runtime.start(
            LaunchSpec(
                name=env.runtime_name(session.id),
                argv=launch.argv,
                cwd=info.path,
                env=launch.env,
                log_path=logs_dir(env.data_dir) / "sessions" / f"{session.id}.log",
            )
        )
        rollback = Rollback(log, "restore rollback")
        rollback.add(f"stop the agent {new_handle.id}", lambda: runtime.destroy(new_handle))
        try:
            metadata = {**session.metadata, META_RESUME_ID: launch.resume_id or resume_id}
            await env.db.sessions.update(session.id, runtime_handle=new_handle.to_dict(), metadata=metadata)
            delivery = await self.spawner.deliver(
                session.id,
                session.agent,
                session.runtime,
                new_handle,
                launch,
                info,
                started_at,
                progress or (lambda _: None),
            )
            await env.db.sessions.transition(
                session.id, SessionStatus.WORKING, "restored", expected_from=SessionStatus.EXITED
            )
            session = await env.db.sessions.update(session.id, activity=None)
        except BaseException:
            await asyncio.shield(rollback.run())
            raise
        await env.emit(
            EventType.SESSION_RESTORED,
            session,
            f"{session.id} restored",
            resume_id=metadata[META_RESUME_ID],
            prompt_delivery=delivery,
        )
        return session

    async def cleanup(self, project_id: str | None = None, *, dry_run: bool = False) -> CleanupReport:
        """Finish sessions whose PR merged or whose issue closed (see :mod:`ennio.services.sessions.cleanup`)."""
        if project_id is not None:
            self.env.config.project(validate_id(project_id, "project id"))
        return await cleanup(self.env, project_id, dry_run=dry_run)

    async def settle_interrupted(self, sessions: Sequence[Session]) -> builtins.list[str]:
        """Of ``sessions``, the spawns whose spawner died, settled (see :func:`adoption.settle_interrupted`)."""
        return await settle_interrupted(self.env, sessions)

    async def readopt(self) -> AdoptionReport:
        """After a restart: keep sessions whose agent still runs, mark the others exited (see the module)."""
        return await readopt(self.env)
