"""ReactionEngine against real components: the GitHub SCM on a served fake GitHub, echo agents in a
private tmux server, a webhook notifier at a local HTTP server, a real database, a manual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer

from ennio.core.events import EventType
from ennio.core.session import ActivityState, SessionStatus
from ennio.db.records import Scope
from tests.helpers.fake_github import REPO
from tests.helpers.notifiers import closed_port
from tests.helpers.reactions import ReactionWorld
from tests.helpers.runtime import wait_received
from tests.helpers.wait import async_wait_for

S = SessionStatus
E = EventType
World = Callable[..., Awaitable[ReactionWorld]]

LOG_A = "collected 3 items\nFAILED tests/test_slug.py::test_punctuation - assert 'a-b!' == 'a-b'\n1 failed in 0.03s"
LOG_B = "collected 3 items\nFAILED tests/test_slug.py::test_unicode - assert 'é' == 'e'\n1 failed in 0.04s"
LOG_C = "collected 3 items\nFAILED tests/test_slug.py::test_empty - IndexError\n1 failed in 0.02s"


def failing_pr(world: ReactionWorld, branch: str, log: str, *, check: str = "test") -> int:
    pr = world.github.open_pr(REPO, branch)
    world.github.add_check(REPO, pr.head_sha, check, conclusion="failure", log=log)
    world.github.add_check(REPO, pr.head_sha, "lint", conclusion="success")
    return pr.number


def fail_again(world: ReactionWorld, number: int, log: str) -> str:
    """The agent pushed a new head and CI failed on it."""
    sha = world.github.push_commit(REPO, number)
    world.github.add_check(REPO, sha, "test", conclusion="failure", log=log)
    return sha


async def fix_failed(world: ReactionWorld, session_id: str) -> None:
    """What the lifecycle does when CI fails on the agent's new head: ci_fix_sent -> ci_fix_failed."""
    await world.db.sessions.transition(session_id, S.CI_FIX_FAILED, "CI failed again after a fix")


# --------------------------------------------------------------------------- ci-failed


async def test_ci_failed_sends_the_failing_checks_and_their_log_tails(reaction_world: World) -> None:
    world = await reaction_world()
    number = failing_pr(world, "feat/1-work", LOG_A)
    session = await world.add_session(1, S.CI_FAILED, pr_number=number)

    after = await world.react(session.id)

    assert after.status is S.CI_FIX_SENT
    (text,) = wait_received(world.out / session.id, 1)
    assert "Failing checks: test." in text
    assert "FAILED tests/test_slug.py::test_punctuation - assert 'a-b!' == 'a-b'" in text
    assert "lint" not in text
    history = await world.db.sessions.history(session.id)
    assert history[-1].to_status is S.CI_FIX_SENT and "CI log sent" in history[-1].reason
    types = [e.type for e in await world.logged(E.REACTION_TRIGGERED, E.STATUS_CHANGED, E.CI_FIX_SENT)]
    assert types == [E.REACTION_TRIGGERED, E.STATUS_CHANGED, E.CI_FIX_SENT]

    # the same failure seen again (ci_fix_sent, agent has not pushed): nothing more is sent
    await world.react(session.id)
    assert len(await world.logged(E.REACTION_TRIGGERED)) == 1
    state = await world.db.reactions.get(Scope.session(session.id), "ci-failed")
    assert state is not None and state.attempts == 1 and state.escalate_at == world.clock.now() + timedelta(minutes=30)


async def test_retries_cap_the_sends_then_a_human_is_called(reaction_world: World) -> None:
    world = await reaction_world(project_reactions={"ci-failed": {"retries": 2}})
    number = failing_pr(world, "feat/1-work", LOG_A)
    session = await world.add_session(1, S.CI_FAILED, pr_number=number)

    await world.react(session.id)
    fail_again(world, number, LOG_B)
    await fix_failed(world, session.id)
    assert (await world.react(session.id)).status is S.CI_FIX_SENT
    wait_received(world.out / session.id, 2)

    fail_again(world, number, LOG_C)
    await fix_failed(world, session.id)
    after = await world.react(session.id)

    assert after.status is S.CI_FIX_FAILED
    assert len(await world.logged(E.REACTION_TRIGGERED)) == 2
    (escalated,) = await world.logged(E.REACTION_ESCALATED)
    assert "no retries are left" in escalated.message and escalated.data["attempts"] == 2
    (note,) = world.notifications()
    assert note["event"]["type"] == "reaction.escalated" and "needs a human" in note["title"]
    # escalated once per episode, even when the deadline passes later
    world.clock.advance(timedelta(hours=1))
    assert await world.engine.escalate_due() == 0


async def test_the_same_failure_after_a_fix_is_not_sent_again(reaction_world: World) -> None:
    world = await reaction_world()
    number = failing_pr(world, "feat/1-work", "rootdir: /tmp/ci-a81x/checkout\n" + LOG_A)
    session = await world.add_session(1, S.CI_FAILED, pr_number=number)
    await world.react(session.id)

    # a new head fails the same way; timings and temporary paths differ
    fail_again(world, number, "rootdir: /tmp/ci-8f3k2/checkout\n" + LOG_A.replace("0.03s", "0.31s"))
    world.github.add_check(REPO, world.github.repo(REPO).prs[number].head_sha, "lint", conclusion="success")
    await fix_failed(world, session.id)
    after = await world.react(session.id)

    assert after.status is S.CI_FIX_FAILED
    assert len(await world.logged(E.REACTION_TRIGGERED)) == 1
    (escalated,) = await world.logged(E.REACTION_ESCALATED)
    assert "same CI failure" in escalated.message
    assert len(world.received(session.id)) == 1


async def test_escalation_fires_once_the_deadline_passes(reaction_world: World) -> None:
    world = await reaction_world()
    number = failing_pr(world, "feat/1-work", LOG_A)
    session = await world.add_session(1, S.CI_FAILED, pr_number=number)
    await world.react(session.id)

    world.clock.advance(timedelta(minutes=29))
    assert await world.engine.escalate_due() == 0
    world.clock.advance(timedelta(minutes=2))
    assert await world.engine.escalate_due() == 1
    await world.router.drain()
    assert await world.engine.escalate_due() == 0

    (escalated,) = await world.logged(E.REACTION_ESCALATED)
    assert escalated.session_id == session.id and "still unresolved 30m" in escalated.message
    (note,) = world.notifications()
    assert note["event"]["id"] == escalated.id


async def test_a_resolved_condition_clears_its_state_and_its_escalation(reaction_world: World) -> None:
    world = await reaction_world()
    number = failing_pr(world, "feat/1-work", LOG_A)
    session = await world.add_session(1, S.CI_FAILED, pr_number=number)
    await world.react(session.id)

    sha = world.github.push_commit(REPO, number)
    world.github.add_check(REPO, sha, "test", conclusion="success")
    await world.db.sessions.transition(session.id, S.CI_PASSING, "CI passing")
    await world.react(session.id)

    assert await world.db.reactions.get(Scope.session(session.id), "ci-failed") is None
    world.clock.advance(timedelta(hours=2))
    assert await world.engine.escalate_due() == 0


async def test_a_restart_in_the_middle_neither_repeats_the_action_nor_forgets_the_escalation(
    reaction_world: World, reopen: Callable[[], Awaitable[object]]
) -> None:
    world = await reaction_world()
    number = failing_pr(world, "feat/1-work", LOG_A)
    session = await world.add_session(1, S.CI_FAILED, pr_number=number)

    # the first engine dies while it is sending: after the attempt was written, before the transition
    first = asyncio.create_task(world.react(session.id))

    async def attempt_written() -> bool:
        return await world.db.reactions.get(Scope.session(session.id), "ci-failed") is not None

    await async_wait_for(attempt_written, what="the attempt to be persisted")
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first

    # a new engine on a new connection to the same database
    db2 = await reopen()
    try:
        engine2 = world.new_engine(db2)  # type: ignore[arg-type]
        after = await world.react(session.id, engine=engine2)
        assert after.status is S.CI_FAILED  # untouched: no second send
        assert len(await world.logged(E.REACTION_TRIGGERED)) == 1
        assert len(world.received(session.id)) <= 1

        world.clock.advance(timedelta(minutes=31))
        assert await engine2.escalate_due() == 1
        await world.router.drain()
        assert [e.type for e in await world.logged(E.REACTION_ESCALATED)] == [E.REACTION_ESCALATED]
    finally:
        await db2.close()  # type: ignore[attr-defined]


async def test_an_agent_that_ignores_messages_gets_a_human_called(reaction_world: World) -> None:
    world = await reaction_world()
    runtime = world.plugins.runtime("tmux")
    runtime.echo_wait = runtime.enter_wait = 0.2  # type: ignore[attr-defined]
    number = failing_pr(world, "feat/1-work", LOG_A)
    session = await world.add_session(1, S.CI_FAILED, pr_number=number, modes=("--deaf",))

    after = await world.react(session.id)

    assert after.status is S.CI_FAILED  # not delivered, so no ci_fix_sent
    state = await world.db.reactions.get(Scope.session(session.id), "ci-failed")
    assert state is not None and state.attempts == 1 and "did not take" in state.data["error"]
    await world.react(session.id)
    assert len(await world.logged(E.REACTION_TRIGGERED)) == 1  # never repeated
    world.clock.advance(timedelta(minutes=30))
    assert await world.engine.escalate_due() == 1
    await world.router.drain()
    assert world.notifications()[-1]["event"]["type"] == "reaction.escalated"


# --------------------------------------------------------------------------- review comments


async def test_changes_requested_forwards_unresolved_comments_with_file_and_line(reaction_world: World) -> None:
    world = await reaction_world()
    pr = world.github.open_pr(REPO, "feat/1-work")
    world.github.add_review(REPO, pr.number, "alice", "CHANGES_REQUESTED")
    world.github.add_thread(REPO, pr.number, "alice", "Rename `x` to `count`.", path="src/app.py", line=3)
    session = await world.add_session(1, S.CHANGES_REQUESTED, pr_number=pr.number)

    await world.react(session.id)
    (text,) = wait_received(world.out / session.id, 1)
    assert "src/app.py:3 (alice):" in text and "Rename `x` to `count`." in text
    thread = world.github.repo(REPO).prs[pr.number].threads[0]
    assert [content for content, _ in thread.comments[0].reactions] == ["EYES"]

    await world.react(session.id)  # nothing new
    assert len(await world.logged(E.REVIEW_COMMENTS_SENT)) == 1

    world.github.add_thread(REPO, pr.number, "bob", "Add a docstring.", path="src/util.py", line=10)
    await world.react(session.id)
    second = wait_received(world.out / session.id, 2)[1]
    assert "src/util.py:10 (bob):" in second and "Rename" not in second
    sent = await world.logged(E.REVIEW_COMMENTS_SENT)
    assert len(sent) == 2


async def test_bot_comments_go_through_bugbot_comments(reaction_world: World) -> None:
    world = await reaction_world()
    pr = world.github.open_pr(REPO, "feat/1-work")
    world.github.add_check(REPO, pr.head_sha, "test", conclusion="success")
    world.github.add_thread(REPO, pr.number, "cursor", "Possible None dereference.", path="a.py", line=7, bot=True)
    session = await world.add_session(1, S.CI_PASSING, pr_number=pr.number)

    await world.react(session.id)

    (text,) = wait_received(world.out / session.id, 1)
    assert text.startswith("Automated reviewers left comments") and "a.py:7" in text
    (triggered,) = await world.logged(E.REACTION_TRIGGERED)
    assert triggered.data["reaction"] == "bugbot-comments"


# --------------------------------------------------------------------------- merging


async def test_merge_conflicts_ask_for_a_rebase_on_the_default_branch(reaction_world: World) -> None:
    world = await reaction_world()
    pr = world.github.open_pr(REPO, "feat/1-work")
    pr.mergeable = False
    session = await world.add_session(1, S.MERGE_CONFLICTS, pr_number=pr.number)

    await world.react(session.id)

    (text,) = wait_received(world.out / session.id, 1)
    assert "conflicts with main" in text and "Rebase your branch on the latest main" in text


async def test_approved_and_green_notifies_once_per_head(reaction_world: World) -> None:
    world = await reaction_world()
    pr = world.github.open_pr(REPO, "feat/1-work")
    world.github.add_check(REPO, pr.head_sha, "test", conclusion="success")
    world.github.add_review(REPO, pr.number, "alice", "APPROVED")
    session = await world.add_session(1, S.APPROVED, pr_number=pr.number)

    await world.react(session.id)
    await world.react(session.id)

    (note,) = world.notifications()
    assert note["title"] == f"{session.id}: ready to merge"
    assert "approved and CI is green" in note["body"]
    assert not world.github.repo(REPO).prs[pr.number].merged


async def test_approved_and_green_with_auto_merge_merges(reaction_world: World) -> None:
    world = await reaction_world(reactions={"approved-and-green": {"action": "auto_merge"}})
    pr = world.github.open_pr(REPO, "feat/1-work")
    world.github.add_check(REPO, pr.head_sha, "test", conclusion="success")
    world.github.add_review(REPO, pr.number, "alice", "APPROVED")
    session = await world.add_session(1, S.APPROVED, pr_number=pr.number)

    await world.react(session.id)

    assert world.github.repo(REPO).prs[pr.number].merged
    (done,) = await world.logged(E.MERGE_COMPLETED)
    assert done.session_id == session.id
    assert world.notifications() == []


async def test_a_failed_auto_merge_is_tried_again_then_a_human_is_called(reaction_world: World) -> None:
    world = await reaction_world(reactions={"approved-and-green": {"action": "auto_merge"}})
    prs = []
    for number in (1, 2):
        pr = world.github.open_pr(REPO, f"feat/{number}-work")
        world.github.add_check(REPO, pr.head_sha, "test", conclusion="success")
        world.github.add_review(REPO, pr.number, "alice", "APPROVED")
        prs.append(pr)
    first = await world.add_session(1, S.APPROVED, pr_number=prs[0].number)
    second = await world.add_session(2, S.APPROVED, pr_number=prs[1].number, branch="feat/2-work")

    # a passing failure: the next pass merges
    world.github.fail_next(r"PUT .*/pulls/\d+/merge", status=405, body={"message": "Base branch was modified"})
    await world.react(first.id)
    assert not world.github.repo(REPO).prs[prs[0].number].merged
    assert await world.logged(E.REACTION_ESCALATED) == []
    await world.react(first.id)
    assert world.github.repo(REPO).prs[prs[0].number].merged

    # failing every time: three attempts, then a human
    world.github.fail_next(r"PUT .*/pulls/\d+/merge", status=405, times=10)
    for _ in range(4):
        await world.react(second.id)
    assert len([e for e in await world.logged(E.REACTION_TRIGGERED) if e.session_id == second.id]) == 3
    (escalated,) = await world.logged(E.REACTION_ESCALATED)
    assert escalated.session_id == second.id and "failed 3 times" in escalated.message


# --------------------------------------------------------------------------- the agent itself


async def test_agent_stuck_fires_after_the_threshold_once_per_quiet_spell(reaction_world: World) -> None:
    world = await reaction_world()
    world.github.open_pr(REPO, "feat/other")
    session = await world.add_session(
        1, S.WORKING, activity=ActivityState.IDLE, last_activity_at=world.clock.now(), branch="feat/1-work"
    )

    world.clock.advance(timedelta(minutes=9))
    await world.react(session.id)
    assert world.notifications() == []
    world.clock.advance(timedelta(minutes=2))
    await world.react(session.id)
    await world.react(session.id)
    (note,) = world.notifications()
    assert note["title"] == f"{session.id}: agent stuck" and "11m" in note["body"]

    # activity changes: the spell ends, its state goes
    await world.db.sessions.update(session.id, activity=ActivityState.ACTIVE, last_activity_at=world.clock.now())
    await world.react(session.id)
    assert await world.db.reactions.get(Scope.session(session.id), "agent-stuck") is None


async def test_agent_needs_input_and_agent_exited_notify(reaction_world: World) -> None:
    world = await reaction_world()
    waiting = await world.add_session(1, S.WORKING, activity=ActivityState.WAITING_INPUT)
    exited = await world.add_session(2, S.EXITED, status_reason="the agent exited")

    await world.react(waiting.id)
    await world.react(exited.id, alive=False)

    titles = sorted(n["title"] for n in world.notifications())
    assert titles == [f"{waiting.id}: agent needs input", f"{exited.id}: agent exited"]


async def test_all_complete_fires_once_with_a_summary(reaction_world: World) -> None:
    world = await reaction_world()
    one = await world.add_session(1, S.DONE, pr_number=4, pr_url="https://github.com/acme/widgets/pull/4")
    two = await world.add_session(2, S.KILLED)
    three = await world.add_session(3, S.DONE, issue_id="12")
    sessions = [one, two, three]

    book = await world.engine.load()
    await world.engine.check_project(world.project, sessions, book)
    await world.engine.check_project(world.project, sessions, await world.engine.load())
    await world.router.drain()

    (event,) = await world.logged(E.ALL_COMPLETE)
    assert event.project_id == "widgets"
    summary = event.data["summary"]
    assert "widgets-1: done, branch feat/1-work, PR #4 https://github.com/acme/widgets/pull/4\n" in summary
    assert "widgets-3: done, issue 12" in summary
    (note,) = world.notifications()
    assert note["event"]["type"] == "summary.all_complete" and "widgets-2: killed" in note["body"]


# --------------------------------------------------------------------------- configuration


async def test_project_overrides_merge_key_by_key(reaction_world: World) -> None:
    world = await reaction_world(
        reactions={"ci-failed": {"escalate_after": "10m"}}, project_reactions={"ci-failed": {"retries": 1}}
    )
    merged = world.engine.reactions("widgets")["ci-failed"]
    assert (merged.action, merged.retries, merged.escalate_after) == ("send_to_agent", 1, timedelta(minutes=10))
    assert world.engine.reactions("widgets")["merge-conflicts"].retries == 2


async def test_a_disabled_reaction_does_nothing(reaction_world: World) -> None:
    world = await reaction_world(project_reactions={"ci-failed": {"enabled": False}})
    number = failing_pr(world, "feat/1-work", LOG_A)
    session = await world.add_session(1, S.CI_FAILED, pr_number=number)

    assert (await world.react(session.id)).status is S.CI_FAILED
    assert await world.logged(E.REACTION_TRIGGERED) == []


# --------------------------------------------------------------------------- bad input


async def test_a_notifier_that_is_down_or_failing_is_retried_logged_and_the_rest_go_on(
    reaction_world: World, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/fail", method="POST").respond_with_data("boom", status=500)
    world = await reaction_world(
        notifiers={
            "down": {"type": "webhook", "url": f"http://127.0.0.1:{closed_port()}/hook", "retries": 1, "backoff": 0.01},
            "broken": {"type": "webhook", "url": httpserver.url_for("/fail"), "retries": 2, "backoff": 0.01},
            "ops": {"type": "webhook", "url": httpserver.url_for("/hook"), "retries": 1, "backoff": 0.01},
        }
    )
    exited = await world.add_session(1, S.EXITED)
    number = failing_pr(world, "feat/2-work", LOG_A)
    failing = await world.add_session(2, S.CI_FAILED, pr_number=number)

    with caplog.at_level("WARNING", logger="ennio.notifications"):
        await world.react(exited.id, alive=False)
        # the engine went on with the next session
        assert (await world.react(failing.id)).status is S.CI_FIX_SENT

    paths = [request.path for request, _ in httpserver.log]
    assert paths.count("/fail") == 3  # first try + 2 retries
    assert paths.count("/hook") == 1
    assert world.notifications()[-1]["title"] == f"{exited.id}: agent exited"
    failures = " ".join(r.getMessage() for r in caplog.records)
    assert "'down'" in failures and "'broken'" in failures
