"""Spawning a session: check everything first, then make each part, undoing all of it if a later step fails.

Order: project, plugin names, branch, issue reference (and that it fits the project's tracker), prompt →
the plugins' preflight checks (tmux, git, the repository) → the agent's command line (a missing agent CLI
fails here) → ``max_sessions`` → the issue from the tracker (and its blockers: an issue still blocked is
refused with :class:`~ennio.services.forge.blockers.Blocked`, which ``--when-unblocked`` turns into a
queued spawn) → the agent's command line with the real task, within Linux's limits
(:mod:`ennio.core.exec_limits`: a task no way of delivering fits is refused here). Only then is anything
made: the session row (under the project's live limit, atomically; it records the workspace's path and
branch and the terminal's name before they exist, so a spawn killed half-way leaves a row that says what
to remove), the workspace (with the terminal opened meanwhile when the runtime can reserve one), the
agent's files, the agent started in the terminal, the prompt. Each step that makes something registers
its undo first; any failure — or cancellation — runs the undos in reverse (terminal destroyed, workspace
destroyed with force and its new branch deleted, row deleted) and the original error is raised.

Size: a little over 400 lines because the checks, the steps and their undos read as one sequence; the
prompt's delivery after start (``deliver``) lives here too, since restore shares it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ennio.core.config import ProjectConfig
from ennio.core.errors import AgentError, ConfigError, InvalidInput, LimitReached
from ennio.core.events import EventType
from ennio.core.exec_limits import check_launch
from ennio.core.ids import validate_branch_name, validate_id
from ennio.core.issue_ref import parse_issue_ref
from ennio.core.plugins import (
    AgentContext,
    AgentLaunch,
    EarlyStart,
    Issue,
    LaunchSpec,
    Runtime,
    RuntimeHandle,
    WorkspaceInfo,
    WorkspaceSpec,
)
from ennio.core.prompt import compose_prompt, compose_rules
from ennio.core.rollback import Rollback
from ennio.core.session import ActivityState, Session, SessionStatus
from ennio.services.config.paths import logs_dir, workspaces_dir
from ennio.services.forge.blockers import Blocked, open_blockers
from ennio.services.forge.issue_refs import check_ref_fits, issue_display
from ennio.services.sessions.env import (
    META_DELIVERY,
    META_RESUME_ID,
    META_SPAWNER,
    META_TERMINAL,
    META_WORKSPACE,
    SessionEnv,
    read_activity,
    spawner_mark,
)
from ennio.services.sessions.plugins import preflight

log = logging.getLogger("ennio.spawn")

#: a progress callback: one short line per long step ("creating the workspace")
Progress = Callable[[str], None]

#: what counts as "the agent is ready for its prompt"
_READY = frozenset({ActivityState.READY, ActivityState.IDLE})


def _quiet(_: str) -> None:
    pass


@dataclass(slots=True)
class SpawnRequest:
    project_id: str
    issue: str | None = None
    prompt: str | None = None
    branch: str | None = None
    agent: str | None = None
    runtime: str | None = None
    reuse_branch: bool = False
    #: refuse (``Blocked``) when the issue has unfinished blockers; the spawn queue turns it off once
    #: it has seen them finished
    check_blockers: bool = True


class Spawner:
    #: longest wait for an agent to show it is ready for a typed prompt (seconds)
    ready_timeout = 120.0

    def __init__(self, env: SessionEnv) -> None:
        self.env = env

    async def spawn(self, request: SpawnRequest, progress: Progress | None = None) -> Session:
        say = progress or _quiet
        env = self.env
        project = env.config.project(validate_id(request.project_id, "project id"))
        agent_name = request.agent or env.config.agent_for(project)
        runtime_name = request.runtime or env.config.runtime_for(project)
        workspace_name = env.config.workspace_for(project)
        agent = env.plugins.agent(agent_name)
        runtime = env.plugins.runtime(runtime_name)
        workspace = env.plugins.workspace(workspace_name)
        branch = validate_branch_name(request.branch) if request.branch is not None else None
        issue_ref = parse_issue_ref(request.issue) if request.issue is not None else None
        issue_key = check_ref_fits(issue_ref, project, request.issue or "") if issue_ref is not None else None
        if issue_ref is None and not (request.prompt and request.prompt.strip()):
            raise InvalidInput("nothing to do: give an issue or a prompt", hint="pass --issue REF or --prompt TEXT")
        for plugin in (agent, runtime, workspace):
            await preflight(plugin, project)
        rules = await asyncio.to_thread(project_rules, project)
        root = workspaces_dir(env.data_dir) / project.pid
        # the agent's command line, built once now so a missing agent CLI fails before anything exists
        agent.launch(AgentContext("check", project, root / "check", "check", project.agent_config, rules))
        await self._check_limit(project)
        issue: Issue | None = None
        if issue_key is not None:
            tracker = env.plugins.tracker(project)
            if tracker is None:
                raise ConfigError(
                    f"project {project.pid!r} has no tracker, so --issue {request.issue!r} cannot be looked up",
                    hint="add a tracker to the project (tracker: {provider: local|github|linear}) or use --prompt",
                )
            say(f"fetching issue {issue_display(issue_key)}")
            issue = await tracker.get_issue(issue_key)
            if request.check_blockers and issue.blocked_by:
                still_open = await open_blockers(env.db, tracker, project.pid, issue.blocked_by)
                if still_open:
                    raise Blocked(project.pid, issue, still_open)
            if branch is None:
                branch = validate_branch_name(tracker.branch_name(issue))
        # the agent must be startable with this task (Linux's limits on arguments and environment strings):
        # built now with the real prompt (the session's own id and branch are a few characters either way)
        prompt_check = compose_prompt(
            issue=issue,
            prompt=request.prompt,
            branch=branch or f"session/{project.prefix}-{'9' * 6}",
            base_branch=project.default_branch,
        )
        launchable(
            agent.launch(AgentContext("check", project, root / "check", prompt_check, project.agent_config, rules)),
            agent_name,
        )

        metadata: dict[str, Any] = {META_SPAWNER: spawner_mark()}

        def build(session_id: str) -> Session:
            """The new row; runs inside the transaction that allocates its id. It records where the workspace,
            its branch and the terminal will be before any of them exists: a spawn cut short (``kill -9``)
            leaves a row that says what to stop and remove."""
            chosen = branch or f"session/{session_id}"
            now = env.clock.now()
            planned = WorkspaceSpec(project, session_id, chosen, root, reuse_branch=request.reuse_branch)
            metadata[META_WORKSPACE] = WorkspaceInfo(
                planned.path,
                chosen,
                project.default_branch,
                workspace_name,
                {"planned": True, "created_branch": not request.reuse_branch},
            ).to_dict()
            metadata[META_TERMINAL] = env.runtime_name(session_id)
            return Session(
                id=session_id,
                project_id=project.pid,
                status=SessionStatus.SPAWNING,
                agent=agent_name,
                runtime=runtime_name,
                workspace=workspace_name,
                branch=chosen,
                base_branch=project.default_branch,
                workspace_path=str(planned.path),
                issue_id=issue.key if issue else None,
                issue_url=issue.url if issue else None,
                prompt=compose_prompt(
                    issue=issue, prompt=request.prompt, branch=chosen, base_branch=project.default_branch
                ),
                metadata=metadata,
                created_at=now,
                updated_at=now,
            )

        session = await env.db.sessions.insert_new(project.pid, project.prefix, build, live_limit=project.max_sessions)
        session_id, prompt = session.id, session.prompt or ""
        branch = session.branch or ""
        rollback = Rollback(log, "spawn rollback")
        rollback.add(f"delete session row {session_id}", lambda: env.db.sessions.delete(session_id))
        early = self._reserve_terminal(runtime, env.runtime_name(session_id), rollback)
        try:
            say(f"creating the workspace on branch {branch}")
            info = await workspace.create(
                WorkspaceSpec(project, session_id, branch, root, reuse_branch=request.reuse_branch)
            )
            rollback.add(f"destroy workspace {info.path}", lambda: workspace.destroy(info, project, force=True))
            metadata[META_WORKSPACE] = info.to_dict()
            context = AgentContext(session_id, project, info.path, prompt, project.agent_config, rules)
            launch = launchable(agent.launch(context), agent_name)
            metadata[META_RESUME_ID] = launch.resume_id
            await asyncio.to_thread(write_agent_files, info.path, launch.files)
            say(f"starting {agent_name} in {runtime_name}")
            started_at = env.clock.now()
            spec = LaunchSpec(
                name=env.runtime_name(session_id),
                argv=launch.argv,
                cwd=info.path,
                env=launch.env,
                log_path=logs_dir(env.data_dir) / "sessions" / f"{session_id}.log",
            )
            where = {"workspace_path": str(info.path), "branch": info.branch, "base_branch": info.base_branch}
            typed = needs_delivery(launch)
            # an agent that is typed its prompt may take seconds to get ready: its workspace is recorded while
            # its terminal starts, and the terminal before the wait, so a daemon restarting meanwhile can adopt
            # or restore it; otherwise everything is written in one go with the move to working
            recorded = (
                asyncio.ensure_future(env.db.sessions.update(session_id, **where, metadata=dict(metadata)))
                if typed
                else None
            )
            try:
                if early is not None:
                    await asyncio.gather(early, return_exceptions=True)  # a failed reservation: start afresh
                handle = await runtime.start(spec)
            except BaseException:
                if recorded is not None:
                    await asyncio.shield(asyncio.gather(recorded, return_exceptions=True))
                raise
            if early is None:
                rollback.add(f"stop the agent {handle.id}", lambda: runtime.destroy(handle))
            fields: dict[str, Any] = {**where, "runtime_handle": handle.to_dict()}
            if recorded is not None:
                await recorded
                session = await env.db.sessions.update(session_id, runtime_handle=fields["runtime_handle"])
                fields = {}
            metadata[META_DELIVERY] = await self.deliver(
                session_id, agent_name, runtime_name, handle, launch, info, started_at, say
            )
            metadata.pop(META_SPAWNER, None)
            change = await env.db.sessions.transition(
                session_id,
                SessionStatus.WORKING,
                "spawned",
                expected_from=SessionStatus.SPAWNING,
                metadata=metadata,
                **fields,
            )
            session = session.model_copy(
                update={
                    **fields,
                    "status": change.to_status,
                    "status_reason": change.reason,
                    "metadata": metadata,
                    "updated_at": change.at,
                }
            )
        except BaseException:
            await asyncio.shield(rollback.run())
            raise
        await env.emit(
            EventType.SESSION_SPAWNED,
            session,
            f"{session_id} spawned: {agent_name} on {branch}",
            agent=agent_name,
            runtime=runtime_name,
            branch=branch,
            issue=session.issue_id,
            workspace_path=session.workspace_path,
        )
        return session

    @staticmethod
    def _reserve_terminal(runtime: Runtime, name: str, rollback: Rollback) -> asyncio.Future[RuntimeHandle] | None:
        """Open the terminal while the workspace is made, when the runtime can (``EarlyStart``); its undo
        waits for the reservation and removes the terminal, started or not."""
        reserver = runtime if isinstance(runtime, EarlyStart) else None
        if reserver is None:
            return None
        early = asyncio.ensure_future(reserver.reserve(name))

        async def drop() -> None:
            try:
                handle = await early
            except Exception:
                handle = RuntimeHandle(runtime.manifest.name, name, {})
            await runtime.destroy(handle)

        rollback.add(f"stop the terminal {name}", drop)
        return early

    async def _check_limit(self, project: ProjectConfig) -> None:
        """Early, friendly refusal; the insert checks again atomically."""
        if project.max_sessions is None:
            return
        live = await self.env.db.sessions.count_live(project.pid)
        if live >= project.max_sessions:
            raise LimitReached(
                f"project {project.pid!r} already has {live} live session{'s' if live != 1 else ''} "
                f"(max_sessions is {project.max_sessions})",
                hint="kill or clean up a session first (`ennio session kill ID`), or raise the project's max_sessions",
            )

    async def deliver(
        self,
        session_id: str,
        agent_name: str,
        runtime_name: str,
        handle: RuntimeHandle,
        launch: AgentLaunch,
        info: WorkspaceInfo,
        started_at: Any,
        say: Progress,
    ) -> dict[str, Any]:
        """Type the prompt when the agent takes it that way (once it shows ready, for ``typed``)."""
        method, prompt = launch.prompt_delivery, launch.typed_prompt
        if not needs_delivery(launch) or prompt is None:
            return {"method": method}
        runtime = self.env.plugins.runtime(runtime_name)
        waited = 0.0
        if method == "typed":
            say(f"waiting for {agent_name} to be ready")
            waited = await self._wait_ready(agent_name, runtime_name, handle, info, started_at, launch.resume_id)
        say("sending the prompt")
        result = await runtime.send(handle, prompt)
        if not result.delivered:
            raise AgentError(
                f"{agent_name} in session {session_id} did not take its prompt: {result.detail}",
                hint="check that the agent starts by hand in a terminal, then spawn again",
            )
        return {"method": method, "attempts": result.attempts, "waited_s": round(waited, 3)}

    async def _wait_ready(
        self,
        agent_name: str,
        runtime_name: str,
        handle: RuntimeHandle,
        info: WorkspaceInfo,
        started_at: Any,
        resume_id: str | None,
    ) -> float:
        agent = self.env.plugins.agent(agent_name)
        runtime = self.env.plugins.runtime(runtime_name)
        begin = time.monotonic()
        delay = 0.05
        while True:
            alive, reading = await read_activity(
                agent, runtime, handle, info.path, started_at=started_at, now=self.env.clock.now(), resume_id=resume_id
            )
            if reading.state in _READY:
                return time.monotonic() - begin
            if reading.state is ActivityState.EXITED or not alive:
                screen = await _screen_tail(runtime, handle)
                raise AgentError(
                    f"{agent_name} exited before it was ready for its prompt: {screen}",
                    hint=f"run the agent by hand in {info.path} to see why it stops",
                )
            if reading.state is ActivityState.BLOCKED:
                raise AgentError(
                    f"{agent_name} is blocked before it took its prompt: {reading.detail}",
                    hint="fix the agent's credentials or model settings, then spawn again",
                )
            if time.monotonic() - begin > self.ready_timeout:
                raise AgentError(
                    f"{agent_name} did not show it was ready within {self.ready_timeout:g}s "
                    f"(last seen: {reading.state}{': ' + reading.detail if reading.detail else ''})",
                    hint="the agent may be asking a question at start-up; run it by hand once to answer it",
                )
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)


def launchable(launch: AgentLaunch, agent_name: str) -> AgentLaunch:
    """``launch``, once it is known the kernel will start it (``InvalidInput`` naming what is too long)."""
    check_launch(launch.argv, launch.env, agent=agent_name)
    return launch


def needs_delivery(launch: AgentLaunch) -> bool:
    """Whether the prompt is typed into the agent after it starts (rather than given in its command line or files)."""
    return launch.prompt_delivery in ("typed", "stdin") and bool(launch.typed_prompt)


async def _screen_tail(runtime: Any, handle: RuntimeHandle) -> str:
    try:
        text: str = await runtime.output(handle, 20)
    except Exception:
        return "(its screen could not be read)"
    lines = [line.strip() for line in text.splitlines() if line.strip()][-3:]
    return " | ".join(lines) or "(nothing on its screen)"


def project_rules(project: ProjectConfig) -> str | None:
    """``agent_rules`` and the text of ``agent_rules_file`` (a file inside the repository)."""
    text: str | None = None
    if project.agent_rules_file:
        repo = project.path.resolve()
        path = (repo / project.agent_rules_file).resolve()
        if not path.is_relative_to(repo):
            raise ConfigError(
                f"agent_rules_file {project.agent_rules_file!r} of project {project.pid!r} is outside its repository",
                hint="give a path inside the repository, like docs/agent-rules.md",
            )
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(
                f"agent_rules_file {project.agent_rules_file!r} of project {project.pid!r} does not exist in {repo}",
                hint="create the file or remove agent_rules_file from the project",
            ) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read agent_rules_file {path}: {exc}") from None
    return compose_rules(project.agent_rules, text)


def write_agent_files(workspace: Path, files: dict[str, str]) -> None:
    """Write the files an agent's launch asks for, each strictly inside the workspace."""
    root = workspace.resolve()
    for rel, content in files.items():
        target = (root / rel).resolve()
        if Path(rel).is_absolute() or not target.is_relative_to(root) or target == root:
            raise AgentError(f"the agent asked to write {rel!r}, which is outside its workspace")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")
