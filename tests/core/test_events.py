from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ennio.core.events import (
    DEFAULT_PRIORITY,
    Event,
    EventFilter,
    EventType,
    Priority,
    new_event_id,
)

P = Priority
E = EventType

# Every event type the issue asks for, by its wire name.
EXPECTED_TYPES = {
    "session.spawned", "session.working", "session.exited", "session.killed", "session.restored",
    "session.cleaned", "session.status_changed", "session.activity_changed",
    "pr.created", "pr.updated", "pr.merged", "pr.closed",
    "ci.passing", "ci.failing", "ci.fix_sent", "ci.fix_failed",
    "review.pending", "review.approved", "review.changes_requested", "review.comments_sent",
    "merge.ready", "merge.conflicts", "merge.completed",
    "reaction.triggered", "reaction.escalated", "summary.all_complete",
    "budget.warning", "budget.exceeded",
    "node.connected", "node.disconnected", "node.launched", "node.health",
    "spawn.queued", "spawn.cancelled", "spawn.failed", "provider.error",
}  # fmt: skip


def test_the_full_set_of_event_types() -> None:
    assert {str(t) for t in EventType} == EXPECTED_TYPES


def test_every_type_has_a_default_priority() -> None:
    assert set(DEFAULT_PRIORITY) == set(EventType)
    assert DEFAULT_PRIORITY[E.BUDGET_EXCEEDED] is P.CRITICAL
    assert DEFAULT_PRIORITY[E.SESSION_EXITED] is P.URGENT
    assert DEFAULT_PRIORITY[E.SESSION_SPAWNED] is P.INFO


def test_priorities_are_ordered_info_action_urgent_critical() -> None:
    order = [P.INFO, P.ACTION, P.URGENT, P.CRITICAL]
    assert [p.rank for p in order] == [0, 1, 2, 3]
    for i, low in enumerate(order):
        for j, high in enumerate(order):
            assert high.at_least(low) is (j >= i)


def test_event_of_uses_the_default_priority_unless_told() -> None:
    event = Event.of(E.CI_FAILING, "CI failed", project_id="app", session_id="app-1", data={"run": 7})
    assert event.priority is P.ACTION
    assert Event.of(E.CI_FAILING, priority=P.CRITICAL).priority is P.CRITICAL
    assert event.timestamp.tzinfo is UTC
    assert event.data == {"run": 7}
    with pytest.raises(AttributeError):
        event.message = "changed"  # type: ignore[misc]


def test_event_dict_round_trip_through_json() -> None:
    event = Event.of(E.PR_CREATED, "PR #3", project_id="app", session_id="app-1", data={"pr": 3, "url": "u"})
    raw = json.loads(json.dumps(event.to_dict()))
    assert raw["type"] == "pr.created"
    assert raw["priority"] == "info"
    assert Event.from_dict(raw) == event


def test_from_dict_accepts_a_datetime_and_fills_defaults() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    event = Event.from_dict({"id": "x", "type": "ci.passing", "timestamp": now})
    assert event.priority is P.INFO
    assert event.message == ""
    assert event.data == {}
    with pytest.raises(ValueError):
        Event.from_dict({"id": "x", "type": "ci.exploded", "timestamp": now})


def test_event_ids_are_unique_and_time_ordered() -> None:
    ids = [new_event_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert [i[:16] for i in ids] == sorted(i[:16] for i in ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)


events = st.builds(
    Event.of,
    st.sampled_from(list(EventType)),
    st.text(max_size=20),
    project_id=st.sampled_from([None, "app", "web"]),
    session_id=st.sampled_from([None, "app-1", "web-2"]),
    priority=st.sampled_from([None, *Priority]),
)
filters = st.builds(
    EventFilter,
    types=st.one_of(st.none(), st.frozensets(st.sampled_from(list(EventType)), max_size=5)),
    project_id=st.sampled_from([None, "app", "web"]),
    session_id=st.sampled_from([None, "app-1", "web-2"]),
    min_priority=st.sampled_from(list(Priority)),
)


@given(events, filters)
def test_filter_matches_exactly_when_every_condition_holds(event: Event, flt: EventFilter) -> None:
    expected = (
        (flt.types is None or event.type in flt.types)
        and (flt.project_id is None or flt.project_id == event.project_id)
        and (flt.session_id is None or flt.session_id == event.session_id)
        and event.priority.rank >= flt.min_priority.rank
    )
    assert flt.matches(event) is expected


def test_empty_filter_matches_everything() -> None:
    assert EventFilter().matches(Event.of(E.NODE_HEALTH))
