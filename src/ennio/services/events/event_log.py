"""Writing every published event to the database event log, and the bus + log (+ NATS) wiring, EventService.

The writer is a bus sink: ``submit`` only appends to a buffer (publishers never wait on the
database); one task writes the buffer in order, in batches of up to ``batch_size`` or whatever
gathered within ``flush_interval``. A failed write is logged and retried with backoff, the batch
kept in place so order holds. ``close()`` writes everything still buffered. The buffer is bounded
(``max_buffer``): if the database stays down long enough to fill it, the oldest unwritten events are
dropped and counted (an error is logged), so memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from ennio.core.events import Event, EventFilter
from ennio.services.events.event_bus import EventBus, Subscription

if TYPE_CHECKING:
    from ennio.nats.publisher import NatsEventPublisher

log = logging.getLogger(__name__)


class EventStore(Protocol):
    """Where the log goes: ``Database.events`` satisfies this."""

    async def append_many(self, batch: Sequence[Event]) -> None: ...


class EventLogWriter:
    def __init__(
        self,
        store: EventStore,
        *,
        batch_size: int = 500,
        flush_interval: float = 0.05,
        max_buffer: int = 100_000,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
    ) -> None:
        if batch_size < 1 or max_buffer < batch_size:
            raise ValueError("need 1 <= batch_size <= max_buffer")
        self._store = store
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_buffer = max_buffer
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._buffer: deque[Event] = deque()
        self._inflight: list[Event] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._accepting = True
        self._closing = False
        self._flush_now = False
        self._gave_up = False
        self._flush_waiters: list[tuple[int, asyncio.Future[None]]] = []
        #: counters: events submitted, written, dropped (buffer overflow or refused after close), write failures
        self.submitted = 0
        self.written = 0
        self.dropped = 0
        self.failures = 0

    @property
    def pending(self) -> int:
        """Events submitted and not written yet."""
        return len(self._buffer) + len(self._inflight)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ennio-event-log")

    def submit(self, event: Event) -> None:
        """Queue ``event`` for the log. Never blocks; a bus sink."""
        if not self._accepting:
            self.dropped += 1
            log.warning("event log is closed; not recording %s %s", event.type, event.id)
            return
        buffer = self._buffer
        buffer.append(event)
        self.submitted += 1
        size = len(buffer)
        if size == 1 or size >= self.batch_size:
            self._wake.set()
        if size > self.max_buffer:
            buffer.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.error("event log buffer is full (database unavailable?); %d events dropped so far", self.dropped)

    async def flush(self) -> None:
        """Return once every event submitted before this call is written (or dropped)."""
        target = self.submitted
        if self.written + self.dropped >= target:
            return
        if self._task is None:
            raise RuntimeError("the event log writer is not started")
        future = asyncio.get_running_loop().create_future()
        self._flush_waiters.append((target, future))
        self._flush_now = True
        self._wake.set()
        await future

    async def close(self, timeout: float = 30.0) -> None:
        """Stop accepting events, write what is buffered, stop the task. Gives up after ``timeout``
        (database down), logging how many events were not written."""
        self._accepting = False
        self._closing = True
        if self._task is None and self.pending:
            self.start()  # never started: still write what was submitted
        self._wake.set()
        task, self._task = self._task, None
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            task.cancel()
            lost = self.pending
            self.dropped += lost
            log.error("event log: gave up after %.0f s; %d events were not written", timeout, lost)
            self._gave_up = True
            self._release_flush_waiters()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        delay = self._retry_initial
        while True:
            if not self._inflight:
                if not self._buffer:
                    if self._closing:
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                if len(self._buffer) < self.batch_size and not (self._closing or self._flush_now):
                    # let a batch gather, unless it fills up first
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.flush_interval)
                count = min(len(self._buffer), self.batch_size)
                self._inflight = [self._buffer.popleft() for _ in range(count)]
            try:
                await self._store.append_many(self._inflight)
            except Exception as exc:
                self.failures += 1
                log.warning(
                    "event log: writing %d events failed (%s); retrying in %.1f s", len(self._inflight), exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)
                continue
            delay = self._retry_initial
            self.written += len(self._inflight)
            self._inflight = []
            if not self._buffer:
                self._flush_now = False
            self._release_flush_waiters()

    def _release_flush_waiters(self) -> None:
        done = self.written + self.dropped
        keep = []
        for target, future in self._flush_waiters:
            if done >= target or self._gave_up:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((target, future))
        self._flush_waiters = keep


class EventService:
    """The bus with the event log attached (and NATS when ``nats_url`` is given): what the daemon and
    the CLI start and stop.

    ``publish`` goes to the log writer (every event), to NATS, and to matching subscribers.
    """

    def __init__(
        self,
        store: EventStore,
        *,
        bus: EventBus | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.05,
        max_buffer: int = 100_000,
        retry_initial: float = 0.2,
        retry_max: float = 5.0,
        nats_url: str | None = None,
    ) -> None:
        self.bus = bus or EventBus()
        self.log = EventLogWriter(
            store,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_buffer=max_buffer,
            retry_initial=retry_initial,
            retry_max=retry_max,
        )
        self.bus.add_sink(self.log.submit)
        self.nats: NatsEventPublisher | None = None
        if nats_url:
            from ennio.nats.publisher import NatsEventPublisher

            self.nats = NatsEventPublisher(nats_url)
            self.bus.add_sink(self.nats.submit)

    async def start(self) -> None:
        self.log.start()
        if self.nats is not None:
            self.nats.start()

    def publish(self, event: Event) -> None:
        self.bus.publish(event)

    def subscribe(self, event_filter: EventFilter | None = None, maxsize: int = 1000) -> Subscription:
        return self.bus.subscribe(event_filter, maxsize)

    async def flush(self) -> None:
        await self.log.flush()

    async def stop(self, timeout: float = 30.0) -> None:
        """Write out the log, then end every subscription."""
        await self.log.close(timeout)
        self.bus.remove_sink(self.log.submit)
        if self.nats is not None:
            await self.nats.close()
            self.bus.remove_sink(self.nats.submit)
        self.bus.close()

    async def __aenter__(self) -> EventService:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
