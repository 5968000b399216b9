from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from ennio.core.clock import ManualClock
from ennio.core.errors import InvalidId
from ennio.db import Database, ReactionState, Scope

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


async def test_upsert_get_roundtrip_and_replace(db: Database, clock: ManualClock) -> None:
    scope = Scope.session("app-1")
    state = ReactionState(
        scope,
        "ci-failed",
        attempts=1,
        first_fired_at=T0,
        last_fired_at=T0,
        escalate_at=T0 + timedelta(minutes=30),
        last_failure_signature="sha:abc",
        data={"checks": ["lint"]},
    )
    written = await db.reactions.upsert(state)
    assert written.updated_at == clock.now()
    assert await db.reactions.get(scope, "ci-failed") == written
    clock.advance(60)
    second = await db.reactions.upsert(replace(written, attempts=2, last_fired_at=T0 + timedelta(minutes=5)))
    loaded = await db.reactions.get(scope, "ci-failed")
    assert loaded == second
    assert loaded is not None and loaded.attempts == 2 and loaded.first_fired_at == T0
    assert await db.reactions.get(scope, "other") is None


async def test_list_by_scope_and_clear(db: Database) -> None:
    s1, s2, p = Scope.session("app-1"), Scope.session("app-2"), Scope.project("app")
    for scope, name in [(s1, "ci-failed"), (s1, "changes-requested"), (s2, "ci-failed"), (p, "all-complete")]:
        await db.reactions.upsert(ReactionState(scope, name))
    assert [r.reaction for r in await db.reactions.list(s1)] == ["changes-requested", "ci-failed"]
    assert len(await db.reactions.list()) == 4
    assert await db.reactions.clear(s1, "ci-failed") == 1
    assert [r.reaction for r in await db.reactions.list(s1)] == ["changes-requested"]
    assert await db.reactions.clear(s1) == 1
    assert await db.reactions.clear(s1) == 0
    assert [r.scope for r in await db.reactions.list()] == [p, s2]


async def test_due_escalations(db: Database) -> None:
    late = ReactionState(Scope.session("app-1"), "ci-failed", escalate_at=T0 - timedelta(minutes=1))
    exactly_now = ReactionState(Scope.session("app-2"), "ci-failed", escalate_at=T0)
    future = ReactionState(Scope.session("app-3"), "ci-failed", escalate_at=T0 + timedelta(seconds=1))
    done = ReactionState(Scope.session("app-4"), "ci-failed", escalate_at=T0 - timedelta(hours=1), escalated=True)
    none = ReactionState(Scope.project("app"), "all-complete")
    for state in (future, done, none, exactly_now, late):
        await db.reactions.upsert(state)
    due = await db.reactions.due_escalations(T0)
    assert [(d.scope.id, d.escalated) for d in due] == [("app-1", False), ("app-2", False)]
    # a non-UTC "now" means the same instant
    from datetime import timezone

    assert len(await db.reactions.due_escalations(T0.astimezone(timezone(timedelta(hours=-5))))) == 2


async def test_reaction_state_survives_reopen(db: Database, reopen) -> None:  # type: ignore[no-untyped-def]
    state = await db.reactions.upsert(ReactionState(Scope.project("app"), "x", attempts=3, escalate_at=T0))
    await db.close()
    again = await reopen()
    try:
        assert await again.reactions.get(Scope.project("app"), "x") == state
    finally:
        await again.close()


def test_scope_validates() -> None:
    with pytest.raises(ValueError):
        Scope("team", "x")  # type: ignore[arg-type]
    with pytest.raises(InvalidId):
        Scope.session("bad id")
