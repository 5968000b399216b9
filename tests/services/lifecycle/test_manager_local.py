"""The lifecycle on the forge-free providers: a real git worktree, the local tracker's issue, the local
SCM's PRs and CI (``ci_command`` in a clean checkout), the script agent's status file, tmux."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ennio.core.clock import SystemClock
from ennio.core.config import EnnioConfig
from ennio.core.events import Event, EventType
from ennio.core.ids import tmux_session_name
from ennio.core.plugins import PluginContext, RuntimeHandle, Slot
from ennio.core.session import ActivityState, SessionStatus
from ennio.db import Database
from ennio.plugins.runtime.tmux import TmuxRuntime
from ennio.services.events.event_log import EventService
from ennio.services.lifecycle.manager import LifecycleManager
from ennio.services.lifecycle.reactions import ReactionEngine
from ennio.services.registry import default_registry
from ennio.services.sessions.ops import PluginCleaner, RuntimeMessenger
from ennio.services.sessions.plugins import SessionPlugins
from tests.helpers.git import git
from tests.helpers.local_scm import CI_COMMAND, commit_on, make_project_repo
from tests.helpers.runtime import echo_spec, wait_ready, wait_received
from tests.helpers.sessions import make_session

S = SessionStatus
E = EventType


@dataclass
class LocalWorld:
    config: EnnioConfig
    db: Database
    events: EventService
    plugins: SessionPlugins
    lifecycle: LifecycleManager
    repo: Path
    workspace: Path

    def agent_status(self, word: str) -> None:
        status = self.workspace / ".ennio" / "status"
        status.parent.mkdir(exist_ok=True)
        (self.workspace / ".ennio" / ".gitignore").write_text("*\n")
        status.write_text(word + "\n")

    def commit(self, rel: str, text: str, message: str) -> None:
        (self.workspace / rel).write_text(text)
        git(self.workspace, "add", rel)
        git(self.workspace, "commit", "-q", "-m", message)


@pytest.fixture
async def local_world(db: Database, tmp_path: Path, data_dir: Path, tmux_socket: str) -> AsyncIterator[LocalWorld]:
    repo = make_project_repo(tmp_path / "app")
    config = EnnioConfig.model_validate(
        {
            "projects": [
                {
                    "name": "app",
                    "path": str(repo),
                    "agent": "script",
                    "runtime": "tmux",
                    "tracker": {"provider": "local"},
                    "scm": {"provider": "local", "ci_command": CI_COMMAND},
                }
            ]
        }
    )
    project = config.projects[0]
    ctx = PluginContext(data_dir=data_dir, clock=SystemClock(), store=db.store)
    plugins = SessionPlugins(default_registry(), ctx)
    tracker = plugins.tracker(project)
    assert tracker is not None
    issue = await tracker.create_issue("Add a greeting", "Say hello.")
    workspace = tmp_path / "ws"
    git(repo, "worktree", "add", "-q", "-b", "feat/1-add-a-greeting", str(workspace), "main")
    runtime = plugins.runtime("tmux")
    handle = await runtime.start(echo_spec("app-1", tmp_path / "agent", cwd=workspace))
    await wait_ready(runtime, handle)
    await db.sessions.insert(
        make_session(
            "app-1",
            "app",
            status=S.WORKING,
            agent="script",
            runtime="tmux",
            branch="feat/1-add-a-greeting",
            base_branch="main",
            workspace_path=str(workspace),
            runtime_handle=handle.to_dict(),
            issue_id=issue.key,
        )
    )
    async with EventService(db.events) as events:
        engine = ReactionEngine(
            config, db, events=events, messenger=RuntimeMessenger(plugins), clock=ctx.clock, scm_for=plugins.scm
        )
        lifecycle = LifecycleManager(
            config,
            db,
            events=events,
            plugins=plugins,
            clock=ctx.clock,
            reactions=engine,
            cleaner=PluginCleaner(config, plugins),
        )
        yield LocalWorld(config, db, events, plugins, lifecycle, repo, workspace)
    await plugins.aclose()


async def test_the_pr_opens_once_the_agent_has_committed_and_stopped_working(local_world: LocalWorld) -> None:
    world = local_world
    world.agent_status("active")
    await world.lifecycle.run_once()
    assert (await world.db.sessions.get("app-1")).activity is ActivityState.ACTIVE

    world.commit("greeting.py", "print('hello')\n", "Add a greeting")
    report = await world.lifecycle.run_once()
    assert report.opened_prs == 0  # still active

    world.agent_status("ready")
    report = await world.lifecycle.run_once()

    assert report.opened_prs == 1 and report.errors == {}
    session = await world.db.sessions.get("app-1")
    assert session.pr_number == 1 and session.status is S.PR_OPEN
    scm = world.plugins.scm(world.config.projects[0])
    pr = await scm.get_pr(1)  # type: ignore[union-attr]
    assert (pr.title, pr.branch, pr.base) == ("Add a greeting", "feat/1-add-a-greeting", "main")
    created = [e for e in await _logged(world) if e.type is E.PR_CREATED]
    assert len(created) == 1 and created[0].data["opened_by"] == "ennio"

    # CI runs in the background on the PR's head; once it passed, review is what is left
    await scm.wait_for_ci()  # type: ignore[union-attr]
    await world.lifecycle.run_once()
    assert (await world.db.sessions.get("app-1")).status is S.REVIEW_PENDING

    # a new commit: the PR follows the branch, CI runs again for the new head
    world.commit("ci-result.txt", "fail\n", "Break the build")
    await world.lifecycle.run_once()
    await scm.wait_for_ci()  # type: ignore[union-attr]
    await world.lifecycle.run_once()
    session = await world.db.sessions.get("app-1")
    assert session.status is S.CI_FIX_SENT  # ci_failed, and the ci-failed reaction sent the log
    assert session.pr_number == 1


async def test_a_closed_issue_without_a_pr_finishes_the_session(local_world: LocalWorld) -> None:
    world = local_world
    tracker = world.plugins.registry.get(Slot.TRACKER, "local")(world.config.projects[0], world.plugins.ctx)
    await tracker.close_issue("1")

    await world.lifecycle.run_once()

    session = await world.db.sessions.get("app-1")
    assert session.status is S.DONE and session.status_reason == "issue closed"
    assert not world.workspace.exists()  # cleaned up: nothing was committed there


async def _logged(world: LocalWorld) -> list[Event]:
    await world.events.flush()
    return [s.event for s in await world.db.events.query(limit=1000)]


async def test_conflicts_with_the_base_ask_the_agent_to_rebase_naming_the_files(
    local_world: LocalWorld, tmp_path: Path
) -> None:
    world = local_world
    scm = world.plugins.scm(world.config.projects[0])
    world.agent_status("ready")
    world.commit("app.py", "VALUE = 2\n", "Change the value")
    await world.lifecycle.run_once()  # opens the PR
    commit_on(world.repo, "main", {"app.py": "VALUE = 3\n"}, "Someone else changed it")

    for _ in range(2):  # trial merges are computed in the background
        await scm.wait_for_trial_merges()  # type: ignore[union-attr]
        await world.lifecycle.run_once()

    session = await world.db.sessions.get("app-1")
    assert session.status is S.MERGE_CONFLICTS
    (text,) = wait_received(tmp_path / "agent", 1)
    assert "conflicts with main" in text and "Conflicting files: app.py." in text


class CountingTmux(TmuxRuntime):
    """The real tmux runtime, counting the one-session-at-a-time reads a pass should not need."""

    single_reads = 0

    async def output(self, handle: RuntimeHandle, lines: int = 200) -> str:
        CountingTmux.single_reads += 1
        return await super().output(handle, lines)


async def test_a_pass_reads_every_screen_in_one_batch_under_the_real_session_names(
    db: Database, tmp_path: Path, data_dir: Path, tmux_socket: str
) -> None:
    repo = make_project_repo(tmp_path / "app")
    config = EnnioConfig.model_validate(
        {"projects": [{"name": "app", "path": str(repo), "agent": "script", "runtime": "tmux"}]}
    )
    registry = default_registry()
    registry.register(Slot.RUNTIME, "tmux", CountingTmux)
    ctx = PluginContext(data_dir=data_dir, clock=SystemClock(), store=db.store)
    plugins = SessionPlugins(registry, ctx)
    runtime = plugins.runtime("tmux")
    for n in (1, 2, 3):
        out = tmp_path / f"agent-{n}"
        (out / ".ennio").mkdir(parents=True)
        (out / ".ennio" / "status").write_text("active\n" if n == 2 else "ready\n")
        # named as spawns name them: ennio-<instance>-<session id>, not the session id
        handle = await runtime.start(echo_spec(tmux_session_name("abc123", f"app-{n}"), out, cwd=out))
        await wait_ready(runtime, handle)
        await db.sessions.insert(
            make_session(
                f"app-{n}",
                "app",
                status=S.WORKING,
                agent="script",
                runtime="tmux",
                workspace_path=str(out),
                runtime_handle=handle.to_dict(),
            )
        )
    CountingTmux.single_reads = 0
    async with EventService(db.events) as events:
        lifecycle = LifecycleManager(config, db, events=events, plugins=plugins, clock=ctx.clock)
        report = await lifecycle.run_once()
    await plugins.aclose()
    assert report.errors == {}
    assert CountingTmux.single_reads == 0
    activity = {s.id: s.activity for s in await db.sessions.list()}
    assert activity == {"app-1": ActivityState.READY, "app-2": ActivityState.ACTIVE, "app-3": ActivityState.READY}
