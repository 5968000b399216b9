"""LifecycleManager passes against real components: the script agent's activity detection on echo
agents in tmux, the GitHub SCM on a served fake GitHub, a real database, a manual clock."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event

from ennio.core.events import Event, EventType
from ennio.core.plugins import RuntimeHandle, Slot
from ennio.core.session import ActivityState, SessionStatus
from ennio.db.records import Scope
from tests.helpers.fake_github import REPO, TOKEN
from tests.helpers.git import git
from tests.helpers.reactions import ReactionWorld
from tests.helpers.runtime import TMUX, TMUX_SOCKET_ENV, echo_spec, kill_tmux_server, new_tmux_socket, wait_ready
from tests.helpers.wait import async_wait_for

S = SessionStatus
E = EventType
World = Callable[..., Awaitable[ReactionWorld]]


async def test_a_pass_moves_a_started_agent_to_working_and_records_its_activity(reaction_world: World) -> None:
    world = await reaction_world()
    session = await world.add_session(1, S.SPAWNING)

    report = await world.lifecycle().run_once()

    assert report.errors == {} and report.transitions == 1
    after = await world.db.sessions.get(session.id)
    assert after.status is S.WORKING and after.activity is ActivityState.READY
    assert [e.type for e in await world.logged()] == [
        E.ACTIVITY_CHANGED,
        E.STATUS_CHANGED,
        E.SESSION_WORKING,
    ]
    history = await world.db.sessions.history(session.id)
    assert (history[-1].from_status, history[-1].to_status, history[-1].reason) == (
        S.SPAWNING,
        S.WORKING,
        "the agent started",
    )


async def test_a_session_still_being_spawned_is_left_to_its_spawner(reaction_world: World) -> None:
    world = await reaction_world()
    session = await world.add_session(1, S.SPAWNING, metadata={"spawner": {"pid": os.getpid(), "host": "here"}})

    report = await world.lifecycle().run_once()

    assert report.sessions == 1 and report.transitions == 0
    assert (await world.db.sessions.get(session.id)).status is S.SPAWNING
    assert await world.logged() == []


async def test_an_agent_that_dies_exits_its_session_and_a_human_is_told(reaction_world: World) -> None:
    world = await reaction_world()
    session = await world.add_session(1, S.WORKING, activity=ActivityState.ACTIVE)
    await world.stop_agent(session)

    await world.lifecycle().run_once()
    await world.router.drain()

    after = await world.db.sessions.get(session.id)
    assert after.status is S.EXITED and after.activity is ActivityState.EXITED
    exited = await world.logged(E.SESSION_EXITED)
    assert len(exited) == 1 and exited[0].session_id == session.id
    assert [n["title"] for n in world.notifications()] == [f"{session.id}: agent exited"]


async def test_ci_failure_to_approval_through_the_lifecycle_and_its_reactions(reaction_world: World) -> None:
    world = await reaction_world()
    pr = world.github.open_pr(REPO, "feat/1-work")
    world.github.add_check(REPO, pr.head_sha, "test", conclusion="failure", log="FAILED test_one\n1 failed")
    session = await world.add_session(1, S.WORKING)
    lifecycle = world.lifecycle()

    await lifecycle.run_once()

    after = await world.db.sessions.get(session.id)
    assert (after.status, after.pr_number) == (S.CI_FIX_SENT, pr.number)
    assert after.pr_url is not None and after.pr_url.endswith(f"/pull/{pr.number}")
    assert "FAILED test_one" in world.received(session.id)[0]
    types = [e.type for e in await world.logged() if e.type is not E.ACTIVITY_CHANGED]
    assert types == [
        E.PR_CREATED,
        E.STATUS_CHANGED,  # working -> ci_failed
        E.CI_FAILING,
        E.REACTION_TRIGGERED,
        E.STATUS_CHANGED,  # ci_failed -> ci_fix_sent
        E.CI_FIX_SENT,
    ]

    # nothing new: the session waits for the agent's new head
    await lifecycle.run_once()
    assert (await world.db.sessions.get(session.id)).status is S.CI_FIX_SENT

    sha = world.github.push_commit(REPO, pr.number)
    world.github.add_check(REPO, sha, "test", conclusion="success")
    world.github.add_review(REPO, pr.number, "alice", "APPROVED")
    await lifecycle.run_once()
    await world.router.drain()

    assert (await world.db.sessions.get(session.id)).status is S.APPROVED
    tail = [e.type for e in await world.logged()][-5:]
    assert tail == [E.STATUS_CHANGED, E.CI_PASSING, E.REVIEW_APPROVED, E.MERGE_READY, E.REACTION_TRIGGERED]
    assert [n["title"] for n in world.notifications()] == [f"{session.id}: ready to merge"]
    assert await world.db.reactions.get(Scope.session(session.id), "ci-failed") is None  # the CI episode ended


async def test_a_merged_pr_is_cleaned_up_and_all_complete_fires(reaction_world: World) -> None:
    world = await reaction_world()
    pr = world.github.open_pr(REPO, "feat/1-work")
    world.github.repo(REPO).prs[pr.number].merged = True
    world.github.repo(REPO).prs[pr.number].state = "closed"
    session = await world.add_session(1, S.APPROVED, pr_number=pr.number, workspace_path=None)

    await world.lifecycle().run_once()
    await world.router.drain()

    after = await world.db.sessions.get(session.id)
    assert after.status is S.DONE
    assert [h.to_status for h in await world.db.sessions.history(session.id)][-2:] == [S.MERGED, S.DONE]
    types = [e.type for e in await world.logged()]
    assert types.index(E.PR_MERGED) < types.index(E.SESSION_CLEANED) < types.index(E.ALL_COMPLETE)
    assert after.runtime_handle is not None
    assert not await world.plugins.runtime("tmux").alive(RuntimeHandle.from_dict(after.runtime_handle))
    assert world.notifications()[-1]["event"]["type"] == "summary.all_complete"


# --------------------------------------------------------------------------- failures stay local


@pytest.fixture
def frozen_tmux(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """A second private tmux server, and a way to freeze it (SIGSTOP) so every call to it hangs."""
    socket = new_tmux_socket()
    pids: list[int] = []

    def freeze() -> None:
        out = subprocess.run(
            [TMUX, "-L", socket, "display-message", "-p", "#{pid}"], capture_output=True, text=True, check=True
        )
        pids.append(int(out.stdout.strip()))
        os.kill(pids[-1], signal.SIGSTOP)

    monkeypatch.setenv("FROZEN_TMUX_SOCKET", socket)
    try:
        yield freeze
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        kill_tmux_server(socket)


async def test_a_hanging_or_broken_session_never_stops_the_others(
    reaction_world: World, frozen_tmux: Callable[[], None], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    world = await reaction_world(lifecycle={"session_timeout": "2s", "concurrency": 2})
    healthy = await world.add_session(1, S.SPAWNING)
    # an agent on another tmux server that will hang every request
    monkeypatch.setenv(TMUX_SOCKET_ENV, os.environ["FROZEN_TMUX_SOCKET"])
    other_runtime = world.plugins.registry.get(Slot.RUNTIME, "tmux")(world.plugins.ctx)
    handle = await other_runtime.start(echo_spec("widgets-2", tmp_path / "frozen"))
    await wait_ready(other_runtime, handle)
    frozen_tmux()
    hanging = await world.add_session(2, S.SPAWNING)
    await world.db.sessions.update(hanging.id, runtime_handle=handle.to_dict())
    broken = await world.add_session(3, S.SPAWNING, runtime="no-such-runtime")

    report = await world.lifecycle().run_once()

    assert (await world.db.sessions.get(healthy.id)).status is S.WORKING
    assert (await world.db.sessions.get(hanging.id)).status is S.SPAWNING
    assert (await world.db.sessions.get(broken.id)).status is S.SPAWNING
    assert report.errors[hanging.id] == "took longer than 2s"
    assert "unknown runtime 'no-such-runtime'" in report.errors[broken.id]


async def test_an_scm_that_fails_leaves_pr_states_alone_but_liveness_still_counts(reaction_world: World) -> None:
    world = await reaction_world()
    pr = world.github.open_pr(REPO, "feat/1-work")
    session = await world.add_session(1, S.PR_OPEN, pr_number=pr.number)
    dead = await world.add_session(2, S.PR_OPEN, pr_number=pr.number)
    await world.stop_agent(dead)
    world.github.fail_next("POST /graphql", status=502, times=50)

    report = await world.lifecycle().run_once()

    assert "widgets (SCM)" in report.errors
    assert (await world.db.sessions.get(session.id)).status is S.PR_OPEN
    assert (await world.db.sessions.get(dead.id)).status is S.EXITED


# --------------------------------------------------------------------------- the loop


async def test_the_loop_reacts_at_once_to_a_spawned_session(reaction_world: World) -> None:
    world = await reaction_world(lifecycle={"poll_interval": "1h"})
    lifecycle = world.lifecycle()
    await lifecycle.start(world.events)
    try:
        await async_wait_for(lambda: _passes(lifecycle, 1), what="the first pass")
        session = await world.add_session(1, S.SPAWNING)
        world.events.publish(Event.of(E.SESSION_SPAWNED, project_id="widgets", session_id=session.id))

        async def working() -> bool:
            return (await world.db.sessions.get(session.id)).status is S.WORKING

        await async_wait_for(working, timeout=15, what="the spawned session to be reconciled")
    finally:
        await lifecycle.stop()


async def _passes(lifecycle: object, count: int) -> bool:
    return getattr(lifecycle, "passes", 0) >= count


async def test_a_low_rate_budget_slows_the_loop(reaction_world: World) -> None:
    world = await reaction_world(lifecycle={"poll_interval": "30s"})
    world.clock.advance(datetime.now(UTC) - world.clock.now())  # the fake's reset times are real ones
    pr = world.github.open_pr(REPO, "feat/1-work")
    await world.add_session(1, S.PR_OPEN, pr_number=pr.number)
    lifecycle = world.lifecycle()
    await lifecycle.run_once()
    assert lifecycle.next_delay() == 30

    world.github.set_budget(TOKEN, "graphql", remaining=300, reset_in=1800)
    await lifecycle.run_once()
    assert lifecycle.next_delay() > 60


async def test_database_queries_per_pass_do_not_grow_with_the_sessions(reaction_world: World) -> None:
    world = await reaction_world()
    lifecycle = world.lifecycle()
    counts: list[int] = []
    for number in range(1, 7):
        pr = world.github.open_pr(REPO, f"feat/{number}-work")
        world.github.add_check(REPO, pr.head_sha, "test", conclusion="success")
        await world.add_session(number, S.CI_PASSING, pr_number=pr.number, branch=f"feat/{number}-work")
        if number in (2, 6):
            await lifecycle.run_once()  # settle (activity, observed PR state)
            await world.events.flush()  # the event log writes in the background; not part of a pass
            queries = _count_queries(world)
            await lifecycle.run_once()
            counts.append(queries.stop())
    # per pass: the sessions, the reaction states, the due escalations — for 2 sessions as for 6
    assert counts == [3, 3]


class _Counter:
    """Counts the SQL statements sent to the database (transaction control aside)."""

    def __init__(self, engine: object) -> None:
        self.engine = engine
        self.count = 0
        self.statements: list[str] = []

    def __call__(self, _conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.split()[0].upper() == "BEGIN":
            return
        self.count += 1
        self.statements.append(statement.split()[0] + " " + " ".join(statement.split()[1:6]))

    def stop(self) -> int:
        event.remove(self.engine, "before_cursor_execute", self)
        return self.count


def _count_queries(world: ReactionWorld) -> _Counter:
    counter = _Counter(world.db.engine.sync_engine)
    event.listen(world.db.engine.sync_engine, "before_cursor_execute", counter)
    return counter


async def test_stuck_agents_are_found_by_the_pass(reaction_world: World) -> None:
    world = await reaction_world()
    session = await world.add_session(1, S.WORKING)
    lifecycle = world.lifecycle()
    await lifecycle.run_once()  # activity recorded: ready, now
    world.clock.advance(timedelta(minutes=11))
    await lifecycle.run_once()
    await world.router.drain()
    assert [n["title"] for n in world.notifications()] == [f"{session.id}: agent stuck"]


async def test_new_commits_on_a_pr_branch_are_pushed_once(reaction_world: World, tmp_path: Path) -> None:
    world = await reaction_world()
    repo = world.project.path
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    workspace = tmp_path / "ws"
    git(repo, "worktree", "add", "-q", "-b", "feat/1-work", str(workspace), "main")
    (workspace / "a.txt").write_text("a\n")
    git(workspace, "add", "a.txt")
    git(workspace, "commit", "-q", "-m", "first")
    git(workspace, "push", "-q", "origin", "feat/1-work")
    first = git(workspace, "rev-parse", "HEAD")
    pr = world.github.open_pr(REPO, "feat/1-work", sha=first)
    session = await world.add_session(1, S.PR_OPEN, pr_number=pr.number, workspace_path=str(workspace))
    lifecycle = world.lifecycle()

    assert (await lifecycle.run_once()).pushes == 0
    (workspace / "b.txt").write_text("b\n")
    git(workspace, "add", "b.txt")
    git(workspace, "commit", "-q", "-m", "second")
    second = git(workspace, "rev-parse", "HEAD")

    assert (await lifecycle.run_once()).pushes == 1
    assert git(remote, "rev-parse", "refs/heads/feat/1-work") == second
    # the forge has not caught up yet: no second push of the same head
    assert (await lifecycle.run_once()).pushes == 0
    (updated,) = await world.logged(E.PR_UPDATED)
    assert updated.session_id == session.id and updated.data["head"] == second
