from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ennio.core.clock import ManualClock
from ennio.core.errors import Conflict, IllegalTransition, InvalidId, InvalidInput, NotFound
from ennio.core.session import ActivityState, SessionStatus, can_transition
from ennio.db import Database, ReactionState, Scope, open_database
from tests.helpers.processes import run_released_together
from tests.helpers.sessions import make_session

S = SessionStatus


async def test_allocate_id_counts_per_project_and_creates_the_project(db: Database) -> None:
    assert await db.sessions.allocate_id("app", "app") == "app-1"
    assert await db.sessions.allocate_id("app", "app") == "app-2"
    assert await db.sessions.allocate_id("web", "w") == "w-1"
    project = await db.projects.get("app")
    assert project.next_session_number == 3


async def test_allocate_id_skips_ids_already_taken(db: Database) -> None:
    await db.sessions.insert(make_session("app-1"))
    await db.sessions.insert(make_session("app-2"))
    assert await db.sessions.allocate_id("app", "app") == "app-3"


async def test_allocate_id_rejects_unsafe_prefix(db: Database) -> None:
    with pytest.raises(InvalidId):
        await db.sessions.allocate_id("app", "bad prefix")
    assert await db.projects.find("app") is None


async def test_allocate_id_is_unique_under_concurrent_callers(
    db: Database, reopen: Callable[[], Awaitable[Database]]
) -> None:
    other = await reopen()
    try:
        ids = await asyncio.gather(*(database.sessions.allocate_id("app", "app") for database in [db, other] * 10))
    finally:
        await other.close()
    assert sorted(ids, key=lambda s: int(s.split("-")[1])) == [f"app-{n}" for n in range(1, 21)]


async def test_insert_and_get_roundtrip_every_field(db: Database) -> None:
    session = make_session(
        "app-7",
        status=S.WORKING,
        activity=ActivityState.WAITING_INPUT,
        branch="feat/7-login",
        base_branch="main",
        issue_id="ENG-7",
        issue_url="https://example.invalid/issues/7",
        workspace_path="/tmp/ws/app-7",
        runtime_handle={"tmux": "ennio-abc-app-7", "pid": 42, "nested": {"a": [1, 2]}},
        pr_number=12,
        pr_url="https://example.invalid/pull/12",
        role="orchestrator",
        prompt="Fix it ✓",
        metadata={"cost": 1.5, "tags": ["x"]},
        created_at=datetime(2026, 1, 2, 3, 4, 5, 0, tzinfo=UTC),
        updated_at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2))),
        last_activity_at=datetime(2026, 1, 3, tzinfo=UTC),
        status_reason="because",
    )
    await db.sessions.insert(session)
    loaded = await db.sessions.get("app-7")
    assert loaded == session
    assert loaded.updated_at.tzinfo is not None
    assert loaded.updated_at.utcoffset() == timedelta(0)


async def test_insert_twice_is_a_conflict_and_keeps_the_first(db: Database) -> None:
    await db.sessions.insert(make_session("app-1", branch="first"))
    with pytest.raises(Conflict, match="already exists"):
        await db.sessions.insert(make_session("app-1", branch="second"))
    assert (await db.sessions.get("app-1")).branch == "first"
    assert len(await db.sessions.history("app-1")) == 1


async def test_get_unknown_raises_not_found_with_hint(db: Database) -> None:
    with pytest.raises(NotFound) as info:
        await db.sessions.get("nope-1")
    assert info.value.hint and "session list" in info.value.hint
    assert await db.sessions.find("nope-1") is None


async def test_list_filters_by_project_and_status_oldest_first(db: Database) -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    await db.sessions.insert(make_session("app-2", created_at=base + timedelta(minutes=2), status=S.WORKING))
    await db.sessions.insert(make_session("app-1", created_at=base + timedelta(minutes=1)))
    await db.sessions.insert(make_session("web-1", project_id="web", created_at=base, status=S.WORKING))
    assert [s.id for s in await db.sessions.list()] == ["web-1", "app-1", "app-2"]
    assert [s.id for s in await db.sessions.list(project_id="app")] == ["app-1", "app-2"]
    assert [s.id for s in await db.sessions.list(statuses=[S.WORKING])] == ["web-1", "app-2"]
    assert [s.id for s in await db.sessions.list("app", ["working", "spawning"])] == ["app-1", "app-2"]
    assert await db.sessions.list(statuses=[]) == []
    with pytest.raises(ValueError):
        await db.sessions.list(statuses=["no-such-status"])


async def test_update_changes_fields_and_bumps_updated_at(db: Database, clock: ManualClock) -> None:
    await db.sessions.insert(make_session("app-1"))
    clock.advance(60)
    updated = await db.sessions.update("app-1", pr_number=5, metadata={"k": "v"}, activity="idle")
    assert updated.pr_number == 5 and updated.activity is ActivityState.IDLE
    assert updated.updated_at == clock.now()
    assert await db.sessions.get("app-1") == updated


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "working"}, "transition"),
        ({"id": "x"}, "cannot be updated"),
        ({"nonsense": 1}, "cannot be updated"),
        ({"pr_number": "not a number"}, "pr_number"),
        ({"activity": "dancing"}, "activity"),
    ],
)
async def test_update_rejects_bad_fields_and_writes_nothing(
    db: Database, fields: dict[str, object], message: str
) -> None:
    session = await db.sessions.insert(make_session("app-1"))
    with pytest.raises(InvalidInput) as info:
        await db.sessions.update("app-1", **fields)
    assert message in info.value.message + (info.value.hint or "")
    assert await db.sessions.get("app-1") == session


async def test_update_unknown_session_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await db.sessions.update("app-9", pr_number=1)


async def test_transition_writes_status_and_history_together(db: Database, clock: ManualClock) -> None:
    await db.sessions.insert(make_session("app-1", created_at=clock.now()))
    clock.advance(5)
    change = await db.sessions.transition("app-1", S.WORKING, "agent started")
    assert (change.from_status, change.to_status, change.at) == (S.SPAWNING, S.WORKING, clock.now())
    session = await db.sessions.get("app-1")
    assert session.status is S.WORKING
    assert session.status_reason == "agent started"
    assert session.updated_at == clock.now()
    history = await db.sessions.history("app-1")
    assert [(h.from_status, h.to_status, h.reason) for h in history] == [
        (None, S.SPAWNING, "created"),
        (S.SPAWNING, S.WORKING, "agent started"),
    ]
    assert history[1] == change


async def test_illegal_transition_raises_and_writes_nothing(db: Database) -> None:
    await db.sessions.insert(make_session("app-1"))
    before = await db.sessions.get("app-1")
    with pytest.raises(IllegalTransition) as info:
        await db.sessions.transition("app-1", S.MERGED, "skip ahead")
    assert "working" in (info.value.hint or "")
    assert await db.sessions.get("app-1") == before
    assert len(await db.sessions.history("app-1")) == 1


async def test_transition_with_stale_expectation_is_a_conflict(db: Database) -> None:
    await db.sessions.insert(make_session("app-1"))
    await db.sessions.transition("app-1", S.WORKING, "")
    with pytest.raises(Conflict, match="changed meanwhile"):
        await db.sessions.transition("app-1", S.PR_OPEN, "", expected_from=S.SPAWNING)
    assert (await db.sessions.get("app-1")).status is S.WORKING
    assert len(await db.sessions.history("app-1")) == 2


async def test_concurrent_transitions_with_expectation_exactly_one_wins(
    db: Database, reopen: Callable[[], Awaitable[Database]]
) -> None:
    await db.sessions.insert(make_session("app-1", status=S.WORKING))
    other = await reopen()
    try:
        results = await asyncio.gather(
            db.sessions.transition("app-1", S.PR_OPEN, "a", expected_from=S.WORKING),
            other.sessions.transition("app-1", S.KILLED, "b", expected_from=S.WORKING),
            return_exceptions=True,
        )
    finally:
        await other.close()
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(conflicts) == 1, results
    winner = next(r for r in results if not isinstance(r, BaseException))
    assert (await db.sessions.get("app-1")).status is winner.to_status
    assert len(await db.sessions.history("app-1")) == 2


async def test_transition_unknown_session_is_not_found(db: Database) -> None:
    with pytest.raises(NotFound):
        await db.sessions.transition("app-1", S.WORKING, "")


async def test_delete_removes_session_history_and_reaction_state(db: Database) -> None:
    await db.sessions.insert(make_session("app-1"))
    await db.sessions.insert(make_session("app-2"))
    await db.reactions.upsert(ReactionState(Scope.session("app-1"), "ci-failed", attempts=1))
    await db.reactions.upsert(ReactionState(Scope.session("app-2"), "ci-failed", attempts=1))
    await db.sessions.delete("app-1")
    assert await db.sessions.find("app-1") is None
    with pytest.raises(NotFound):
        await db.sessions.history("app-1")
    assert await db.reactions.list(Scope.session("app-1")) == []
    assert len(await db.reactions.list(Scope.session("app-2"))) == 1
    with pytest.raises(NotFound):
        await db.sessions.delete("app-1")


async def test_sessions_survive_reopen(db: Database, reopen: Callable[[], Awaitable[Database]]) -> None:
    session = await db.sessions.insert(make_session("app-1", metadata={"x": 1}))
    await db.sessions.transition("app-1", S.WORKING, "go")
    await db.close()
    again = await reopen()
    try:
        loaded = await again.sessions.get("app-1")
        changed = {"status", "status_reason", "updated_at"}
        assert loaded.model_dump(exclude=changed) == session.model_dump(exclude=changed)
        assert (loaded.status, loaded.status_reason) == (S.WORKING, "go")
        assert len(await again.sessions.history("app-1")) == 2
        # the counter lives in the database too: app-1 is taken, so the next id is app-2
        assert await again.sessions.allocate_id("app", "app") == "app-2"
    finally:
        await again.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.sampled_from(list(SessionStatus)), max_size=8))
async def test_random_transitions_follow_the_table(db: Database, moves: list[SessionStatus]) -> None:
    session_id = await db.sessions.allocate_id("prop", "prop")
    await db.sessions.insert(make_session(session_id, project_id="prop"))
    expected = [S.SPAWNING]
    for target in moves:
        if can_transition(expected[-1], target):
            await db.sessions.transition(session_id, target, "")
            expected.append(target)
        else:
            with pytest.raises(IllegalTransition):
                await db.sessions.transition(session_id, target, "")
    assert (await db.sessions.get(session_id)).status is expected[-1]
    assert [h.to_status for h in await db.sessions.history(session_id)] == expected


@pytest.mark.slow
async def test_allocate_id_from_several_processes_never_duplicates(db_url: str | None, data_dir: Path) -> None:
    # the schema exists before the workers start, so they race on allocation only
    await (await open_database(db_url, data_dir)).close()
    workers, each = 4, 15
    results = await run_released_together(
        "tests.helpers.db_worker", [[db_url or "", str(data_dir), "allocate", str(each)]] * workers
    )
    ids = [session_id for result in results for session_id in result]
    assert len(ids) == len(set(ids)) == workers * each
    assert sorted(int(i.removeprefix("app-")) for i in ids) == list(range(1, workers * each + 1))


async def test_insert_new_allocates_and_stores_in_one_step(db: Database) -> None:
    made = await db.sessions.insert_new("app", "app", lambda sid: make_session(sid, branch=f"session/{sid}"))
    again = await db.sessions.insert_new("app", "app", lambda sid: make_session(sid))
    assert (made.id, made.branch, again.id) == ("app-1", "session/app-1", "app-2")
    assert (await db.sessions.get("app-1")).branch == "session/app-1"
    assert [c.to_status for c in await db.sessions.history("app-1")] == [S.SPAWNING]
    with pytest.raises(InvalidInput, match="must make session app-3"):
        await db.sessions.insert_new("app", "app", lambda sid: make_session("app-99"))
    assert await db.sessions.find("app-99") is None


async def test_live_limit_counts_live_sessions_only_and_refusals_use_no_id(db: Database) -> None:
    from ennio.core.errors import LimitReached

    await db.sessions.insert_new("app", "app", lambda sid: make_session(sid), live_limit=2)
    await db.sessions.insert_new("app", "app", lambda sid: make_session(sid), live_limit=2)
    with pytest.raises(LimitReached, match="already has 2 live sessions"):
        await db.sessions.insert_new("app", "app", lambda sid: make_session(sid), live_limit=2)
    with pytest.raises(LimitReached):
        await db.sessions.insert(make_session("app-9"), live_limit=2)
    await db.sessions.transition("app-1", S.EXITED, "agent gone")  # exited sessions do not count
    assert await db.sessions.count_live("app") == 1
    third = await db.sessions.insert_new("app", "app", lambda sid: make_session(sid), live_limit=2)
    assert third.id == "app-3"


async def test_concurrent_inserts_never_pass_the_live_limit(db: Database) -> None:
    from ennio.core.errors import LimitReached

    results = await asyncio.gather(
        *(db.sessions.insert_new("app", "app", lambda sid: make_session(sid), live_limit=3) for _ in range(8)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 3
    assert sum(isinstance(r, LimitReached) for r in results) == 5
    assert await db.sessions.count_live("app") == 3


async def test_transition_can_change_other_fields_in_the_same_step(db: Database) -> None:
    await db.sessions.insert(make_session("app-1"))
    await db.sessions.transition("app-1", S.WORKING, "spawned", metadata={"k": "v"}, activity=ActivityState.READY)
    stored = await db.sessions.get("app-1")
    assert (stored.status, stored.metadata, stored.activity) == (S.WORKING, {"k": "v"}, ActivityState.READY)
    with pytest.raises(InvalidInput, match="'status' cannot be updated"):
        await db.sessions.transition("app-1", S.EXITED, "x", status="done")
    assert (await db.sessions.get("app-1")).status is S.WORKING
