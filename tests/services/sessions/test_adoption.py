"""Re-adoption at daemon start: live agents kept, dead ones exited, interrupted spawns stopped, nothing spawned."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from ennio.core.plugins import LaunchSpec
from ennio.core.session import Session, SessionStatus
from ennio.services.stack import Services
from tests.helpers.runtime import TMUX
from tests.helpers.sessions_env import tmux_sessions


async def exited_events(stack: Services) -> list[str]:
    await stack.events.flush()
    return [e.event.session_id or "" for e in await stack.db.events.query(types=["session.exited"], limit=50)]


async def test_live_agents_are_adopted_and_dead_ones_marked_exited(stack: Services, tmux_socket: str) -> None:
    alive = await stack.sessions.spawn("app", prompt="keep running")
    dead = await stack.sessions.spawn("app", prompt="will die")
    subprocess.run(
        [TMUX, "-L", tmux_socket, "kill-session", "-t", stack.sessions.env.runtime_name(dead.id)], check=True
    )

    report = await stack.sessions.readopt()

    assert report.adopted == [alive.id] and report.exited == [dead.id]
    assert report.errors == [] and report.orphans == []
    assert (await stack.sessions.get(alive.id)).status is SessionStatus.WORKING
    after = await stack.sessions.get(dead.id)
    assert after.status is SessionStatus.EXITED and after.activity == "exited"
    assert await exited_events(stack) == [dead.id]
    again = await stack.sessions.readopt()
    assert again.adopted == [alive.id] and again.exited == []
    assert tmux_sessions(tmux_socket) == [stack.sessions.env.runtime_name(alive.id)]


async def spawning_row(
    stack: Services, session_id: str, spawner_pid: int, with_terminal: bool, store_handle: bool = True
) -> Session:
    """A session row as a spawn leaves it mid-way: status spawning, maybe its terminal already started."""
    from ennio.services.sessions.env import spawner_mark

    mark = spawner_mark(spawner_pid)
    session = Session(
        id=session_id, project_id="app", agent="echo", runtime="tmux", workspace="worktree", metadata={"spawner": mark}
    )
    await stack.db.sessions.insert(session)
    if with_terminal:
        runtime = stack.sessions.env.plugins.runtime("tmux")
        spec = LaunchSpec(stack.sessions.env.runtime_name(session_id), [sys.executable, "-c", "input()"], Path.cwd())
        handle = await runtime.start(spec)
        if store_handle:
            await stack.db.sessions.update(session_id, runtime_handle=handle.to_dict())
    return session


async def test_an_interrupted_spawn_is_stopped_and_one_in_progress_left_alone(
    stack: Services, tmux_socket: str
) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        await spawning_row(stack, "app-8", finished.pid, with_terminal=True)
        await spawning_row(stack, "app-9", running.pid, with_terminal=False)

        report = await stack.sessions.readopt()

        assert report.interrupted == ["app-8"] and report.in_progress == ["app-9"]
        interrupted = await stack.sessions.get("app-8")
        assert interrupted.status is SessionStatus.EXITED
        assert "interrupted" in (interrupted.status_reason or "")
        assert (await stack.sessions.get("app-9")).status is SessionStatus.SPAWNING
        assert tmux_sessions(tmux_socket) == []
    finally:
        running.kill()
        running.wait()


async def test_every_pass_settles_spawns_whose_spawner_died_and_leaves_running_ones(
    stack: Services, tmux_socket: str
) -> None:
    from ennio.services.sessions.env import SPAWN_STALE, spawner_mark

    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    await spawning_row(stack, "app-1", finished.pid, with_terminal=True, store_handle=False)
    await spawning_row(stack, "app-2", os.getpid(), with_terminal=False)  # a spawn of this very process
    now = stack.clock.now()
    for sid, age in (("app-3", timedelta(minutes=1)), ("app-4", SPAWN_STALE + timedelta(minutes=1))):
        elsewhere = {**spawner_mark(), "host": "another-machine"}  # one PostgreSQL, two machines
        session = Session(
            id=sid,
            project_id="app",
            agent="echo",
            runtime="tmux",
            workspace="worktree",
            metadata={"spawner": elsewhere},
            created_at=now - age,
            updated_at=now - age,
        )
        await stack.db.sessions.insert(session)
    rows = await stack.sessions.list(statuses=[SessionStatus.SPAWNING])

    settled = await stack.sessions.settle_interrupted(rows)

    assert sorted(settled) == ["app-1", "app-4"]
    statuses = {s.id: s.status for s in await stack.sessions.list()}
    assert statuses == {
        "app-1": SessionStatus.EXITED,
        "app-2": SessionStatus.SPAWNING,
        "app-3": SessionStatus.SPAWNING,
        "app-4": SessionStatus.EXITED,
    }
    assert tmux_sessions(tmux_socket) == []  # found by the name its spawn gave it
    assert await stack.sessions.settle_interrupted(await stack.sessions.list()) == []


async def test_terminals_no_session_owns_are_reported_not_killed(stack: Services, tmux_socket: str) -> None:
    runtime = stack.sessions.env.plugins.runtime("tmux")
    name = stack.sessions.env.runtime_name("app-77")
    await runtime.start(LaunchSpec(name, [sys.executable, "-c", "input()"], Path.cwd()))

    report = await stack.sessions.readopt()

    assert report.orphans == [name]
    assert tmux_sessions(tmux_socket) == [name]


async def test_a_spawn_cut_short_before_its_handle_was_stored_still_loses_its_terminal(
    stack: Services, tmux_socket: str
) -> None:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    await spawning_row(stack, "app-5", finished.pid, with_terminal=True, store_handle=False)
    assert tmux_sessions(tmux_socket) == [stack.sessions.env.runtime_name("app-5")]

    report = await stack.sessions.readopt()

    assert report.interrupted == ["app-5"] and report.orphans == []
    assert tmux_sessions(tmux_socket) == []
