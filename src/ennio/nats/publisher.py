"""Publishing every event to NATS, as a bus sink that never blocks the publisher.

Subject: ``<prefix>.<project id or _>.<event type>``, e.g. ``ennio.events.app.ci.failing``
(subscribe to ``ennio.events.app.>`` for one project, ``ennio.events.*.ci.failing`` for one type).
Payload: the event's JSON (``Event.to_dict``); header ``Nats-Msg-Id`` is the event id, so a
JetStream stream on these subjects drops duplicates.

NATS being down never stops Ennio: the publisher reconnects in the background and keeps up to
``max_buffer`` events meanwhile (the oldest are dropped and counted beyond that).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

from ennio.core.events import Event
from ennio.core.redaction import redact

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "ennio.events"


def subject_for(event: Event, prefix: str = DEFAULT_PREFIX) -> str:
    # project ids are validated ([A-Za-z0-9_-]) and event types are dotted lower-case words: both safe tokens
    return f"{prefix}.{event.project_id or '_'}.{event.type.value}"


class NatsEventPublisher:
    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_buffer: int = 10_000,
        connect_timeout: float = 2.0,
        retry_max: float = 10.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.max_buffer = max_buffer
        self._connect_timeout = connect_timeout
        self._retry_max = retry_max
        self._buffer: deque[Event] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._nc: Any = None
        self._closing = False
        self.published = 0
        self.dropped = 0

    @property
    def connected(self) -> bool:
        return self._nc is not None and bool(self._nc.is_connected)

    def submit(self, event: Event) -> None:
        """Queue ``event`` for NATS. Never blocks; a bus sink."""
        if self._closing:
            self.dropped += 1
            return
        self._buffer.append(event)
        self._idle.clear()
        if len(self._buffer) > self.max_buffer:
            self._buffer.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("NATS unreachable; %d events not published so far", self.dropped)
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="ennio-nats-publisher")

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued event is handed to the server (raises ``TimeoutError``)."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()
            if self.connected:
                await self._nc.flush(timeout)

    async def close(self, timeout: float = 5.0) -> None:
        """Publish what is queued (within ``timeout``, if connected), then disconnect."""
        if self.connected:
            with contextlib.suppress(TimeoutError):
                await self.flush(timeout)
        if self._buffer:
            log.warning("NATS: %d events not published at shutdown", len(self._buffer))
            self.dropped += len(self._buffer)
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._nc is not None:
            nc, self._nc = self._nc, None
            try:
                await nc.close()
            except Exception as exc:
                log.debug("NATS close failed: %s", exc)

    async def _connect(self) -> None:
        import nats

        delay = 0.2
        while True:
            try:
                self._nc = await nats.connect(
                    servers=[self.url],
                    connect_timeout=self._connect_timeout,
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    name="ennio",
                    error_cb=self._on_error,
                )
                log.info("NATS: connected to %s", redact(self.url))
                return
            except Exception as exc:
                log.warning("NATS: cannot connect to %s (%s); retrying in %.1f s", redact(self.url), exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    async def _on_error(self, exc: Exception) -> None:
        log.debug("NATS client error: %s", exc)

    async def _run(self) -> None:
        await self._connect()
        while True:
            if not self._buffer:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            event = self._buffer[0]
            try:
                await self._nc.publish(
                    subject_for(event, self.prefix),
                    json.dumps(event.to_dict(), default=str).encode(),
                    headers={"Nats-Msg-Id": event.id},
                )
            except Exception as exc:
                log.warning("NATS: publishing failed (%s); retrying", exc)
                await asyncio.sleep(0.5)
                continue
            if self._buffer and self._buffer[0] is event:
                self._buffer.popleft()
            self.published += 1
