from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ennio.core.events import Event, EventFilter, EventType, Priority
from ennio.services.events.event_bus import EventBus, Lagged, Subscription

E = EventType
TYPES = [E.SESSION_SPAWNED, E.CI_FAILING, E.STATUS_CHANGED, E.BUDGET_EXCEEDED]


def ev(
    type_: EventType = E.STATUS_CHANGED, project: str | None = "app", session: str | None = "app-1", **kw: object
) -> Event:
    return Event.of(type_, project_id=project, session_id=session, **kw)  # type: ignore[arg-type]


def test_publish_is_a_plain_function() -> None:
    assert not inspect.iscoroutinefunction(EventBus.publish)


async def test_each_subscriber_gets_what_its_filter_matches_in_order() -> None:
    bus = EventBus()
    by_type = bus.subscribe(EventFilter(types=frozenset({E.CI_FAILING})))
    by_project = bus.subscribe(EventFilter(project_id="web"))
    by_session = bus.subscribe(EventFilter(session_id="app-2"))
    urgent = bus.subscribe(EventFilter(min_priority=Priority.URGENT))
    everything = bus.subscribe()
    events = [
        ev(E.CI_FAILING, "app", "app-1"),
        ev(E.STATUS_CHANGED, "web", "web-1"),
        ev(E.BUDGET_EXCEEDED, None, None),
        ev(E.CI_FAILING, "app", "app-2", priority=Priority.CRITICAL),
    ]
    for event in events:
        bus.publish(event)
    assert by_type.drain() == [events[0], events[3]]
    assert by_project.drain() == [events[1]]
    assert by_session.drain() == [events[3]]
    assert urgent.drain() == [events[2], events[3]]
    assert everything.drain() == events


@given(
    events=st.lists(
        st.builds(
            Event.of,
            st.sampled_from(TYPES),
            project_id=st.none() | st.sampled_from(["a", "b"]),
            session_id=st.none() | st.sampled_from(["a-1", "b-1"]),
            priority=st.none() | st.sampled_from(list(Priority)),
        ),
        max_size=30,
    ),
    filters=st.lists(
        st.builds(
            EventFilter,
            types=st.none() | st.frozensets(st.sampled_from(TYPES)),
            project_id=st.none() | st.sampled_from(["a", "b"]),
            session_id=st.none() | st.sampled_from(["a-1", "b-1"]),
            min_priority=st.sampled_from(list(Priority)),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_delivery_equals_the_filter_semantics(events: list[Event], filters: list[EventFilter]) -> None:
    bus = EventBus()
    subs = [bus.subscribe(f, maxsize=100) for f in filters]
    for event in events:
        bus.publish(event)
    for f, sub in zip(filters, subs, strict=True):
        assert sub.drain() == [e for e in events if f.matches(e)]


def test_a_slow_subscriber_loses_the_oldest_and_is_told_how_many() -> None:
    bus = EventBus()
    slow = bus.subscribe(maxsize=3)
    fast = bus.subscribe(maxsize=100)
    events = [ev(message=str(i)) for i in range(10)]
    for event in events:
        bus.publish(event)
    assert slow.pending == 3
    assert slow.drain() == [Lagged(7), *events[7:]]
    assert slow.missed_total == 7
    assert fast.drain() == events
    bus.publish(events[0])
    assert slow.drain() == [events[0]]


@given(
    ops=st.lists(st.one_of(st.just("read"), st.integers(min_value=1, max_value=6)), max_size=40),
    maxsize=st.integers(1, 5),
)
def test_lag_reports_sit_exactly_where_events_were_dropped(ops: list[object], maxsize: int) -> None:
    """Against a reference model: the stream read is the published stream with each gap replaced by Lagged(n)."""
    bus = EventBus()
    sub = bus.subscribe(maxsize=maxsize)
    model: deque[Event] = deque()
    missed = 0
    counter = 0
    for op in ops:
        if op == "read":
            expected: object = None
            if missed:
                expected, missed = Lagged(missed), 0
            elif model:
                expected = model.popleft()
            assert sub.get_nowait() == expected
        else:
            for _ in range(int(op)):  # type: ignore[call-overload]
                event = ev(message=str(counter))
                counter += 1
                bus.publish(event)
                if len(model) >= maxsize:
                    model.popleft()
                    missed += 1
                model.append(event)
    assert sub.drain() == ([Lagged(missed)] if missed else []) + list(model)


def test_publishing_never_blocks_on_a_subscriber_that_never_reads() -> None:
    bus = EventBus()
    stuck = bus.subscribe(maxsize=10)
    for i in range(50_000):
        bus.publish(ev(message=str(i)))
    assert stuck.pending == 10
    assert stuck.missed_total == 49_990
    assert bus.published == 50_000


async def test_a_waiting_reader_wakes_on_publish() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    reader = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    assert not reader.done()
    event = ev()
    bus.publish(event)
    assert await asyncio.wait_for(reader, 5) == event


async def test_async_for_reads_until_close_after_draining() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    got: list[object] = []

    async def read() -> None:
        async for item in sub:
            got.append(item)

    task = asyncio.create_task(read())
    events = [ev(message=str(i)) for i in range(5)]
    for event in events[:3]:
        bus.publish(event)
    await asyncio.sleep(0)
    for event in events[3:]:
        bus.publish(event)
    bus.close()
    await asyncio.wait_for(task, 5)
    assert got == events
    assert bus.subscriber_count == 0


async def test_closed_subscription_gets_nothing_more() -> None:
    bus = EventBus()
    async with bus.subscribe() as sub:
        bus.publish(ev())
    assert sub.closed and bus.subscriber_count == 0
    bus.publish(ev())
    assert len(sub.drain()) == 1
    with pytest.raises(StopAsyncIteration):
        await sub.get()


async def test_a_cancelled_reader_does_not_break_the_subscription() -> None:
    bus = EventBus()
    sub = bus.subscribe()
    reader = asyncio.create_task(sub.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    event = ev()
    bus.publish(event)
    assert await asyncio.wait_for(sub.get(), 5) == event


def test_sinks_see_everything_and_a_failing_sink_harms_nobody(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    seen: list[Event] = []

    def broken(event: Event) -> None:
        raise RuntimeError("sink bug")

    bus.add_sink(broken)
    bus.add_sink(seen.append)
    sub = bus.subscribe(EventFilter(types=frozenset({E.CI_FAILING})))
    events = [ev(E.CI_FAILING), ev(E.PR_CREATED)]
    with caplog.at_level(logging.ERROR):
        for event in events:
            bus.publish(event)
    assert seen == events
    assert sub.drain() == [events[0]]
    assert "sink bug" in caplog.text
    bus.remove_sink(seen.append)
    bus.publish(events[0])
    assert len(seen) == 2


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError):
        EventBus().subscribe(maxsize=0)


def test_subscription_is_an_async_iterator() -> None:
    sub = EventBus().subscribe()
    assert isinstance(sub, Subscription) and sub.__aiter__() is sub
