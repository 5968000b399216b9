from __future__ import annotations

import pytest

from ennio.core.clock import ManualClock
from ennio.core.errors import Conflict, InvalidId, NotFound
from ennio.core.session import SessionStatus
from ennio.db import Database
from ennio.db.records import QueueStatus, parse_qid
from tests.helpers.sessions import make_session

Q = QueueStatus


async def test_add_get_list_and_the_queue_id(db: Database, clock: ManualClock) -> None:
    first = await db.queue.add(
        "app", issue_id="7", issue_ref="#7", blockers=["3", "4"], request={"prompt": "go", "agent": None}
    )
    second = await db.queue.add("web", issue_id="ENG-2", issue_ref="ENG-2", blockers=["ENG-1"], request={})
    assert first.qid == f"q{first.id}" and parse_qid(first.qid) == first.id
    assert (
        first.status is Q.WAITING and first.blockers == ["3", "4"] and first.request == {"prompt": "go", "agent": None}
    )
    assert first.created_at == clock.now()
    assert await db.queue.get(first.id) == first
    assert [q.id for q in await db.queue.list()] == [first.id, second.id]
    assert await db.queue.list(project_id="web") == [second]
    assert await db.queue.list(statuses=[Q.SPAWNED]) == []
    with pytest.raises(NotFound, match="no queued spawn q999"):
        await db.queue.get(999)


async def test_the_same_issue_cannot_wait_twice_but_can_after_a_cancel(db: Database) -> None:
    queued = await db.queue.add("app", issue_id="7", issue_ref="7", blockers=["3"], request={})
    with pytest.raises(Conflict, match=f"already queued as {queued.qid}"):
        await db.queue.add("app", issue_id="7", issue_ref="#7", blockers=["3"], request={})
    cancelled = await db.queue.cancel(queued.id, "not needed")
    assert cancelled.status is Q.CANCELLED and cancelled.reason == "not needed"
    again = await db.queue.add("app", issue_id="7", issue_ref="#7", blockers=["3"], request={})
    assert again.id != queued.id


async def test_claim_is_won_once_and_finish_records_the_session(db: Database) -> None:
    queued = await db.queue.add("app", issue_id="7", issue_ref="7", blockers=["3"], request={})
    await db.queue.set_blockers(queued.id, ["3"])
    assert await db.queue.claim(queued.id) is True
    assert await db.queue.claim(queued.id) is False
    with pytest.raises(Conflict, match="is spawning"):
        await db.queue.cancel(queued.id)
    assert await db.queue.finish(queued.id, Q.SPAWNED, "blockers done", session_id="app-4") is True
    done = await db.queue.get(queued.id)
    assert (done.status, done.reason, done.session_id) == (Q.SPAWNED, "blockers done", "app-4")
    assert await db.queue.finish(queued.id, Q.FAILED, "again") is False


def test_queue_ids_are_checked() -> None:
    assert parse_qid("Q12") == 12
    for bad in ("12", "q0", "q-1", "qx", "q1;rm", ""):
        with pytest.raises(InvalidId):
            parse_qid(bad)


async def test_merged_issues_come_from_the_status_history(db: Database) -> None:
    for sid, issue in (("app-1", "3"), ("app-2", "4"), ("app-3", "5")):
        await db.sessions.insert(make_session(sid, "app", status=SessionStatus.WORKING, issue_id=issue))
    await db.sessions.transition("app-1", SessionStatus.MERGED, "merged")
    await db.sessions.transition("app-1", SessionStatus.DONE, "cleaned up")
    await db.sessions.transition("app-2", SessionStatus.DONE, "issue closed")
    assert await db.sessions.merged_issues("app", ["3", "4", "5", "6"]) == {"3"}
    assert await db.sessions.merged_issues("web", ["3"]) == set()
    assert await db.sessions.merged_issues("app", []) == set()
