"""SessionManager on real git, real tmux (private server) and the echo agent: spawn, send, info, kill, restore."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ennio.core.errors import Conflict, LimitReached, UnsafeToDestroy
from ennio.core.plugins import RuntimeHandle
from ennio.core.session import ActivityState, Session, SessionStatus
from ennio.plugins.tracker.local import LocalTracker
from ennio.services.stack import Services
from tests.helpers.echo_agent_plugin import EchoAgent
from tests.helpers.git import git
from tests.helpers.processes import run_released_together
from tests.helpers.runtime import wait_received
from tests.helpers.sessions_env import TMUX, branches, leftovers, make_config, services, tmux_sessions
from tests.helpers.wait import async_wait_for, wait_for


def echo_out(stack: Services, session_id: str) -> Path:
    agent = stack.sessions.env.plugins.agent("echo")
    assert isinstance(agent, EchoAgent)
    return agent.out_dir(session_id)


async def event_types(stack: Services, session_id: str) -> list[str]:
    await stack.events.flush()
    return [str(e.event.type) for e in await stack.db.events.query(session_id=session_id, limit=100)]


async def test_spawn_with_a_prompt_makes_worktree_terminal_and_delivers_the_prompt(
    stack: Services, repo: Path, tmux_socket: str
) -> None:
    steps: list[str] = []
    session = await stack.sessions.spawn("app", prompt="Add a login page", progress=steps.append)

    assert session.id == "app-1"
    assert session.status is SessionStatus.WORKING
    assert session.branch == "session/app-1"
    workspace = Path(session.workspace_path or "")
    assert workspace == stack.data_dir / "workspaces" / "app" / "app-1"
    assert git(workspace, "rev-parse", "--abbrev-ref", "HEAD") == "session/app-1"
    assert tmux_sessions(tmux_socket) == [stack.sessions.env.runtime_name("app-1")]
    [prompt] = wait_received(echo_out(stack, "app-1"), 1)
    assert prompt.startswith("Add a login page")
    assert "## How this session works" in prompt and "session/app-1" in prompt
    assert session.metadata["prompt_delivery"]["method"] == "typed"
    assert session.metadata["agent_resume_id"] == "echo-app-1"
    assert "spawner" not in session.metadata
    assert any("workspace" in s for s in steps) and any("ready" in s for s in steps)
    assert await event_types(stack, "app-1") == ["session.spawned"]
    history = [c.to_status for c in await stack.db.sessions.history("app-1")]
    assert history == [SessionStatus.SPAWNING, SessionStatus.WORKING]


async def test_the_terminal_opens_while_the_workspace_is_made_and_one_write_records_the_rest(
    tmux_socket: str, data_dir: Path, repo: Path
) -> None:
    # post_create runs inside the workspace's creation: the agent's terminal is already open then
    seen = ["sh", "-c", f"{TMUX} -L {tmux_socket} list-sessions -F '#{{session_name}}' > .terminals-seen"]
    prompt_file = {"command": ["sh", "-c", 'cat "$1"; exec sleep 600', "agent", "{prompt_file}"]}
    config = make_config(data_dir, repo, agent="script", agent_config=prompt_file, post_create=[seen])
    async with services(config) as stack:
        session = await stack.sessions.spawn("app", prompt="Write the docs")
        name = stack.sessions.env.runtime_name(session.id)
        workspace = Path(session.workspace_path or "")
        assert (workspace / ".terminals-seen").read_text().split() == [name]
        assert session.runtime_handle is not None and session.runtime_handle["data"]["pane"].startswith("%")
        stored = await stack.db.sessions.get(session.id)
        assert stored.model_dump(exclude={"updated_at"}) == session.model_dump(exclude={"updated_at"})
        assert (stored.workspace_path, stored.branch) == (str(workspace), "session/app-1")
        screen = await async_wait_for(
            lambda: _screen_with(stack, session, "Write the docs"), timeout=15, what="the prompt on the agent's screen"
        )
        assert "Write the docs" in screen


async def test_a_task_too_long_for_a_command_line_still_starts_its_agent(
    tmux_socket: str, data_dir: Path, repo: Path
) -> None:
    """Linux refuses an argument or environment string over 128 KiB: the agent must get the task another way."""
    task = "Write the docs.\n" + "One more detail of the task. " * 5000 + "\nTHE END OF THE TASK"
    copy = {"command": ["sh", "-c", 'cp "$1" got.md; exec sleep 600', "agent", "{prompt_file}"]}
    async with services(make_config(data_dir, repo, agent="script", agent_config=copy)) as stack:
        session = await stack.sessions.spawn("app", prompt=task)
        got = Path(session.workspace_path or "") / "got.md"
        await asyncio.to_thread(wait_for, got.exists, 15, 0.05, "the agent to start and copy its task")
        assert got.read_text().startswith(task)
        assert session.status is SessionStatus.WORKING


async def _screen_with(stack: Services, session: Session, text: str) -> str | None:
    assert session.runtime_handle is not None
    handle = RuntimeHandle.from_dict(session.runtime_handle)
    screen = await stack.sessions.env.plugins.runtime(session.runtime).output(handle, 50)
    return screen if text in screen else None


async def test_spawn_from_an_issue_uses_the_trackers_branch_and_the_issue_text(
    stack: Services, repo: Path, data_dir: Path
) -> None:
    tracker = stack.sessions.env.plugins.tracker(stack.config.project("app"))
    assert isinstance(tracker, LocalTracker)
    issue = await tracker.create_issue("Add login", "Users need to sign in.", ["auth"])

    session = await stack.sessions.spawn("app", issue=f"#{issue.key}")

    assert session.branch == tracker.branch_name(issue)
    assert session.issue_id == issue.key
    [prompt] = wait_received(echo_out(stack, session.id), 1)
    assert "Add login" in prompt and "Users need to sign in." in prompt and "auth" in prompt
    assert session.branch in branches(repo)


async def test_rules_from_config_and_rules_file_reach_the_agent(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    (repo / "RULES.md").write_text("Always write tests.\n")
    git(repo, "add", "RULES.md")
    git(repo, "commit", "-qm", "rules")
    config = make_config(data_dir, repo, agent_rules="Use type hints.", agent_rules_file="RULES.md")
    async with services(config) as stack:
        session = await stack.sessions.spawn("app", prompt="Fix the bug")
        # the rules travel in AgentContext.rules; the echo agent writes them to .ennio/rules.md (launch files)
        rules = (Path(session.workspace_path or "") / ".ennio" / "rules.md").read_text()
        assert rules == "Use type hints.\n\nAlways write tests.\n"
        assert git(Path(session.workspace_path or ""), "status", "--porcelain") == ""


async def test_send_delivers_exactly_and_records_the_result(stack: Services) -> None:
    session = await stack.sessions.spawn("app", prompt="start")
    out = echo_out(stack, session.id)
    wait_received(out, 1)
    text = "quotes \" and ' and $HOME and `ticks`\nsecond line"

    result = await stack.sessions.send(session.id, text)

    assert result.delivered
    assert wait_received(out, 2)[1] == text
    stored = await stack.sessions.get(session.id)
    assert stored.metadata["last_send"]["delivered"] is True
    assert stored.metadata["last_send"]["chars"] == len(text)


async def test_info_reports_activity_branch_events_and_attach_command(stack: Services, tmux_socket: str) -> None:
    session = await stack.sessions.spawn("app", prompt="start")
    wait_received(echo_out(stack, session.id), 1)
    await stack.events.flush()

    info = await stack.sessions.info(session.id)

    assert info.alive is True
    assert info.activity is not None and info.activity.state is ActivityState.READY
    assert info.session.branch == "session/app-1"
    assert [str(e.type) for e in info.events] == ["session.spawned"]
    name = stack.sessions.env.runtime_name(session.id)
    assert info.attach == ["tmux", "-L", tmux_socket, "attach-session", "-t", name]
    data = info.to_dict()
    assert data["activity"]["state"] == "ready" and data["session"]["id"] == session.id
    json.dumps(data)


async def test_kill_stops_the_agent_and_keeps_the_workspace_unless_asked(
    stack: Services, repo: Path, tmux_socket: str
) -> None:
    first = await stack.sessions.spawn("app", prompt="one")
    second = await stack.sessions.spawn("app", prompt="two")

    killed = await stack.sessions.kill(first.id)
    assert killed.session.status is SessionStatus.KILLED
    assert killed.stopped_terminal == stack.sessions.env.runtime_name(first.id) and killed.removed_workspace is None
    assert Path(first.workspace_path or "").is_dir()
    assert tmux_sessions(tmux_socket) == [stack.sessions.env.runtime_name(second.id)]

    removed = await stack.sessions.kill(second.id, workspace=True)
    assert removed.removed_workspace == second.workspace_path
    assert not Path(second.workspace_path or "").exists()
    assert "session/app-2" not in branches(repo)  # no commits of its own: nothing lost by deleting it
    assert tmux_sessions(tmux_socket) == []
    assert "session.killed" in await event_types(stack, second.id)
    with pytest.raises(Conflict, match="already killed"):
        await stack.sessions.kill(second.id)


async def test_kill_says_when_there_was_no_workspace_to_remove(stack: Services, data_dir: Path) -> None:
    """A spawn cut short before its worktree existed: its row names the planned folder, nothing is there."""
    planned = {"path": str(data_dir / "workspaces" / "app" / "app-7"), "branch": "session/app-7"}
    workspace = {**planned, "base_branch": "main", "kind": "worktree", "data": {"planned": True}}
    row = Session(
        id="app-7",
        project_id="app",
        agent="echo",
        runtime="tmux",
        workspace="worktree",
        branch="session/app-7",
        workspace_path=planned["path"],
        metadata={"workspace": workspace},
    )
    await stack.db.sessions.insert(row)

    killed = await stack.sessions.kill("app-7", workspace=True)

    assert killed.removed_workspace is None and killed.stopped_terminal is None
    assert killed.summary() == "killed app-7: no agent was running; it had no workspace to remove"
    assert killed.session.status is SessionStatus.KILLED


async def test_kill_refuses_to_remove_a_workspace_with_work_and_changes_nothing(
    stack: Services, tmux_socket: str
) -> None:
    session = await stack.sessions.spawn("app", prompt="one")
    workspace = Path(session.workspace_path or "")
    (workspace / "notes.txt").write_text("unsaved\n")

    with pytest.raises(UnsafeToDestroy, match=r"notes\.txt") as caught:
        await stack.sessions.kill(session.id, workspace=True)

    assert "uncommitted" in caught.value.reasons[0]
    assert (await stack.sessions.get(session.id)).status is SessionStatus.WORKING
    assert tmux_sessions(tmux_socket) == [stack.sessions.env.runtime_name(session.id)]
    await stack.sessions.kill(session.id, workspace=True, force=True)
    assert not workspace.exists()


async def test_restore_brings_an_exited_agent_back_in_the_same_workspace(stack: Services) -> None:
    session = await stack.sessions.spawn("app", prompt="first")
    out = echo_out(stack, session.id)
    wait_received(out, 1)
    await stack.sessions.send(session.id, "/quit")  # the agent exits; its dead pane is kept

    async def gone() -> bool:
        return not (await stack.sessions.info(session.id)).alive

    await async_wait_for(gone, 10, what="the echo agent to exit")
    (out / "start.json").unlink()

    restored = await stack.sessions.restore(session.id)

    assert restored.status is SessionStatus.WORKING
    assert restored.workspace_path == session.workspace_path
    assert restored.runtime_handle and restored.runtime_handle["id"] == stack.sessions.env.runtime_name(session.id)
    started = json.loads((await asyncio.to_thread(_wait_file, out / "start.json")).read_text())
    assert started["argv"][-1] == "--resumed"
    assert started["cwd"] == session.workspace_path
    statuses = [c.to_status for c in await stack.db.sessions.history(session.id)]
    assert statuses[-2:] == [SessionStatus.EXITED, SessionStatus.WORKING]
    types = await event_types(stack, session.id)
    assert types[-2:] == ["session.exited", "session.restored"]
    assert restored.runtime_handle is not None
    assert await stack.sessions.env.plugins.runtime("tmux").alive(RuntimeHandle.from_dict(restored.runtime_handle))


def _wait_file(path: Path) -> Path:
    wait_for(path.exists, 15, what=str(path))
    return path


async def test_restore_refuses_a_running_session(stack: Services) -> None:
    session = await stack.sessions.spawn("app", prompt="first")
    with pytest.raises(Conflict, match="still running"):
        await stack.sessions.restore(session.id)


async def test_max_sessions_refuses_the_next_spawn_and_leaves_nothing(
    tmux_socket: str, data_dir: Path, repo: Path
) -> None:
    async with services(make_config(data_dir, repo, max_sessions=1)) as stack:
        await stack.sessions.spawn("app", prompt="one")
        with pytest.raises(LimitReached, match="max_sessions is 1"):
            await stack.sessions.spawn("app", prompt="two")
        assert [s.id for s in await stack.sessions.list()] == ["app-1"]
        assert len(tmux_sessions(tmux_socket)) == 1
        # an exited session does not count
        await stack.sessions.kill("app-1")
        assert (await stack.sessions.spawn("app", prompt="three")).id == "app-2"


async def test_concurrent_spawns_never_exceed_max_sessions(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    async with services(make_config(data_dir, repo, max_sessions=2)) as stack:
        results = await asyncio.gather(
            *(stack.sessions.spawn("app", prompt=f"task {i}") for i in range(4)), return_exceptions=True
        )
        made = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, LimitReached)]
        assert len(made) == 2 and len(refused) == 2, results
        left = await leftovers(stack, repo, tmux_socket)
        assert len(left.rows) == 2 and len(left.tmux) == 2 and len(left.worktrees) == 2


async def test_batch_spawn_reports_each_issue(stack: Services) -> None:
    tracker = stack.sessions.env.plugins.tracker(stack.config.project("app"))
    assert tracker is not None
    one = await tracker.create_issue("First thing")
    two = await tracker.create_issue("Second thing")
    progress: list[str] = []

    items = await stack.sessions.batch_spawn("app", [one.key, two.key, "99", one.key], progress=progress.append)

    assert [i.issue for i in items] == [one.key, two.key, "99", one.key]
    assert items[0].session is not None and items[1].session is not None
    assert items[2].error is not None and items[2].error.code == "not_found"
    assert items[3].error is not None and "more than once" in items[3].error.message
    assert {s.issue_id for s in await stack.sessions.list()} == {one.key, two.key}
    assert len(progress) == 3


async def test_a_second_process_sees_what_the_first_made(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    config = make_config(data_dir, repo)
    async with services(config) as first:
        session = await first.sessions.spawn("app", prompt="x")
    async with services(config) as second:
        info = await second.sessions.info(session.id)
        assert info.alive is True
        await second.sessions.kill(session.id, workspace=True)
    assert tmux_sessions(tmux_socket) == []


@pytest.mark.slow
async def test_two_processes_spawning_at_once_respect_max_sessions(
    tmux_socket: str, data_dir: Path, repo: Path
) -> None:
    results = await run_released_together(
        "tests.helpers.spawn_worker", [[str(data_dir), str(repo), "3", "3"], [str(data_dir), str(repo), "3", "3"]]
    )
    made = [sid for r in results for sid in r["made"]]
    assert [r["errors"] for r in results] == [[], []]
    assert len(made) == 3 and len(set(made)) == 3
    assert sum(r["refused"] for r in results) == 3
    async with services(make_config(data_dir, repo)) as stack:
        left = await leftovers(stack, repo, tmux_socket)
        assert sorted(left.rows) == sorted(made)
        assert len(left.tmux) == 3 and len(left.worktrees) == 3 and len(left.branches) == 3


async def test_the_session_spawn_returns_is_the_stored_row(stack: Services) -> None:
    session = await stack.sessions.spawn("app", prompt="x")
    assert session == await stack.sessions.get(session.id)
