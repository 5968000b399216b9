"""EventBus throughput: events/s published to 4 filtered subscribers, each reading with ``async for``.

Measured end to end (until every subscriber has read every event it matches). For scale, the same
fan-out through one ``asyncio.Queue`` per subscriber is measured in the same run. Target: 200,000/s.

    .venv/bin/python bench/bench_event_bus.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from ennio.core.events import Event, EventFilter, EventType, Priority
from ennio.services.events.event_bus import EventBus, Lagged

TARGET = 200_000
CHUNK = 500  # events published between two yields to the loop

FILTERS = [
    EventFilter(types=frozenset({EventType.STATUS_CHANGED, EventType.ACTIVITY_CHANGED})),
    EventFilter(project_id="p1"),
    EventFilter(min_priority=Priority.ACTION),
    EventFilter(project_id="p2", types=frozenset({EventType.CI_FAILING, EventType.STATUS_CHANGED})),
]
TYPES = [
    EventType.STATUS_CHANGED,
    EventType.ACTIVITY_CHANGED,
    EventType.CI_FAILING,
    EventType.PR_CREATED,
    EventType.REVIEW_PENDING,
]


def make_events(n: int) -> list[Event]:
    return [
        Event.of(TYPES[i % len(TYPES)], "m", project_id=f"p{i % 3}", session_id=f"s-{i % 17}", data={"i": i})
        for i in range(n)
    ]


async def run_bus(events: list[Event]) -> tuple[float, int]:
    bus = EventBus()
    subs = [bus.subscribe(f, maxsize=len(events)) for f in FILTERS]
    expected = [sum(1 for e in events if f.matches(e)) for f in FILTERS]
    lagged = 0

    async def consume(sub: object, want: int) -> None:
        nonlocal lagged
        got = 0
        async for item in sub:  # type: ignore[attr-defined]
            if isinstance(item, Lagged):
                lagged += item.missed
                got += item.missed
            else:
                got += 1
            if got >= want:
                return

    tasks = [asyncio.create_task(consume(s, n)) for s, n in zip(subs, expected, strict=True)]
    await asyncio.sleep(0)
    start = time.perf_counter()
    publish = bus.publish
    for i in range(0, len(events), CHUNK):
        for event in events[i : i + CHUNK]:
            publish(event)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    return time.perf_counter() - start, lagged


async def run_asyncio_queues(events: list[Event]) -> float:
    queues: list[asyncio.Queue[Event]] = [asyncio.Queue(maxsize=len(events)) for _ in FILTERS]
    expected = [sum(1 for e in events if f.matches(e)) for f in FILTERS]

    async def consume(q: asyncio.Queue[Event], want: int) -> None:
        for _ in range(want):
            await q.get()

    tasks = [asyncio.create_task(consume(q, n)) for q, n in zip(queues, expected, strict=True)]
    await asyncio.sleep(0)
    start = time.perf_counter()
    pairs = list(zip(FILTERS, queues, strict=True))
    for i in range(0, len(events), CHUNK):
        for event in events[i : i + CHUNK]:
            for f, q in pairs:
                if f.matches(event):
                    q.put_nowait(event)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    return time.perf_counter() - start


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    events = make_events(n)
    bus_times, queue_times, lag = [], [], 0
    for _ in range(5):
        elapsed, lagged = asyncio.run(run_bus(events))
        bus_times.append(elapsed)
        lag += lagged
        queue_times.append(asyncio.run(run_asyncio_queues(events)))
    bus_rate = n / statistics.median(bus_times)
    queue_rate = n / statistics.median(queue_times)
    print(f"events: {n}, subscribers: {len(FILTERS)} (filtered), runs: 5 (median)")
    print(f"EventBus:              {bus_rate:>12,.0f} events/s  (lagged: {lag})")
    print(f"asyncio.Queue fan-out: {queue_rate:>12,.0f} events/s  (baseline, same run)")
    print(f"EventBus / asyncio.Queue baseline: {bus_rate / queue_rate:.2f}x")
    print(f"EventBus / target {TARGET:,}/s: {bus_rate / TARGET:.2f} -> {'MET' if bus_rate >= TARGET else 'NOT MET'}")


if __name__ == "__main__":
    main()
