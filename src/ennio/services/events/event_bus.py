"""In-process event broadcast: filtered subscribers, bounded queues, publishers that never wait.

``publish`` is a plain function: it never blocks and never awaits. Each subscriber has its own
bounded queue; when a subscriber falls behind, its *oldest* queued events are dropped, and its next
read returns a :class:`Lagged` item saying how many it missed, placed exactly where the gap is
(before the oldest event it still has). A reader therefore sees ``Event, Event, Lagged(3), Event …``
and can decide to re-read the event log. We deliver lag as an item rather than raising, so
``async for`` keeps going and nothing is lost by accident.

Sinks (``add_sink``) see every published event unfiltered and synchronously; the event log writer
and the NATS publisher are sinks. A sink must be cheap and must not raise (errors are logged).

Everything here runs on one event loop: call ``publish`` from the loop's thread (from another thread
use ``loop.call_soon_threadsafe(bus.publish, event)``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from ennio.core.events import Event, EventFilter, EventType, Priority

log = logging.getLogger(__name__)

_RANK: dict[Priority, int] = {p: p.rank for p in Priority}
_ALL_TYPES: tuple[EventType, ...] = tuple(EventType)

Sink = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class Lagged:
    """This subscriber fell behind and ``missed`` events were dropped at this point of its stream."""

    missed: int


class Subscription:
    """One subscriber's view of the bus; an async iterator of ``Event | Lagged``.

    Iteration ends after :meth:`close` (or the bus closing) once the queued items are read.
    """

    __slots__ = (
        "_bus",
        "_closed",
        "_min_rank",
        "_missed",
        "_project",
        "_queue",
        "_session",
        "_waiter",
        "filter",
        "maxsize",
        "missed_total",
    )

    def __init__(self, bus: EventBus, event_filter: EventFilter, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("a subscription's maxsize must be at least 1")
        self._bus = bus
        self.filter = event_filter
        self.maxsize = maxsize
        self._queue: deque[Event] = deque()
        self._missed = 0
        #: events dropped for this subscriber since it subscribed
        self.missed_total = 0
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False
        self._project = event_filter.project_id
        self._session = event_filter.session_id
        self._min_rank = _RANK[event_filter.min_priority]

    @property
    def pending(self) -> int:
        """Events queued and not read yet."""
        return len(self._queue)

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event | Lagged:
        while True:
            item = self.get_nowait()
            if item is not None:
                return item
            if self._closed:
                raise StopAsyncIteration
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None

    async def get(self) -> Event | Lagged:
        """The next item; raises :class:`StopAsyncIteration` once closed and empty."""
        return await self.__anext__()

    def get_nowait(self) -> Event | Lagged | None:
        """The next item, or ``None`` when nothing is queued."""
        if self._missed:
            missed, self._missed = self._missed, 0
            return Lagged(missed)
        if self._queue:
            return self._queue.popleft()
        return None

    def drain(self, limit: int | None = None) -> list[Event | Lagged]:
        """Everything queued now (at most ``limit`` items), without waiting."""
        items: list[Event | Lagged] = []
        if self._missed:
            items.append(Lagged(self._missed))
            self._missed = 0
        queue = self._queue
        count = len(queue) if limit is None else min(len(queue), max(limit - len(items), 0))
        items.extend(queue.popleft() for _ in range(count))
        return items

    def close(self) -> None:
        """Stop receiving; a reader waiting on this subscription wakes and ends after the queued items."""
        if self._closed:
            return
        self._closed = True
        self._bus._remove(self)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        #: event type -> subscriptions interested in it (rebuilt on (un)subscribe, read on publish)
        self._by_type: dict[EventType, tuple[Subscription, ...]] = {}
        self._sinks: tuple[Sink, ...] = ()
        #: events published since the bus was created
        self.published = 0

    def subscribe(self, event_filter: EventFilter | None = None, maxsize: int = 1000) -> Subscription:
        """A new subscription receiving the events that match ``event_filter`` from now on."""
        subscription = Subscription(self, event_filter or EventFilter(), maxsize)
        self._subscriptions.append(subscription)
        self._reindex()
        return subscription

    def add_sink(self, sink: Sink) -> None:
        """Call ``sink(event)`` for every published event, unfiltered, before subscribers get it."""
        self._sinks = (*self._sinks, sink)

    def remove_sink(self, sink: Sink) -> None:
        self._sinks = tuple(s for s in self._sinks if s != sink)  # == : bound methods are new objects each time

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every sink and matching subscriber. Never blocks, never awaits."""
        self.published += 1
        for sink in self._sinks:
            try:
                sink(event)
            except Exception:
                log.exception("event sink %r failed on %s", sink, event.type)
        subscriptions = self._by_type.get(event.type)
        if not subscriptions:
            return
        rank = _RANK[event.priority]
        project_id = event.project_id
        session_id = event.session_id
        for sub in subscriptions:
            # the filter's checks, inlined: this loop is the bus's hot path
            if rank < sub._min_rank:
                continue
            if sub._project is not None and sub._project != project_id:
                continue
            if sub._session is not None and sub._session != session_id:
                continue
            queue = sub._queue
            if len(queue) >= sub.maxsize:
                queue.popleft()
                sub._missed += 1
                sub.missed_total += 1
            queue.append(event)
            waiter = sub._waiter
            if waiter is not None:
                sub._waiter = None
                if not waiter.done():
                    waiter.set_result(None)

    def close(self) -> None:
        """Close every subscription (their readers end after draining). Sinks stay attached."""
        for subscription in list(self._subscriptions):
            subscription.close()

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
            self._reindex()

    def _reindex(self) -> None:
        self._by_type = {
            event_type: tuple(s for s in self._subscriptions if s.filter.types is None or event_type in s.filter.types)
            for event_type in _ALL_TYPES
        }
