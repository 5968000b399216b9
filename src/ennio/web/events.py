"""``/api/v1/events``: the event log, as a page or as a Server-Sent Events stream.

The stream follows the database log (not just this process's bus), so it also carries events written
by other Ennio processes — a CLI spawning next to the daemon. Each SSE message has the log's ``seq``
as its id; a client reconnecting with ``Last-Event-ID`` resumes right after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette.sse import EventSourceResponse

from ennio.core.events import EventFilter, EventType, Priority
from ennio.core.ids import validate_id
from ennio.db import StoredEvent
from ennio.services.stack import Services
from ennio.web.errors import ERROR_RESPONSES
from ennio.web.models import MAX_SEQ, EventOut

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["events"])

#: how often the stream looks at the log when nothing woke it
POLL_INTERVAL = 0.5


def _out(stored: StoredEvent) -> EventOut:
    return EventOut.model_validate({**stored.event.to_dict(), "seq": stored.seq})


def _ids(session: str | None, project: str | None) -> None:
    if session is not None:
        validate_id(session, "session id")
    if project is not None:
        validate_id(project, "project id")


@router.get("/events", response_model=list[EventOut], summary="Events from the log")
async def list_events(
    request: Request,
    session: Annotated[str | None, Query(description="Only this session's events.")] = None,
    project: Annotated[str | None, Query(description="Only this project's events.")] = None,
    type_: Annotated[list[EventType] | None, Query(alias="type", description="Only these types.")] = None,
    min_priority: Annotated[Priority | None, Query(description="At least this priority.")] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_SEQ, description="Only events after this log position.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    newest_first: bool = False,
) -> list[EventOut]:
    _ids(session, project)
    services: Services = request.app.state.services
    await services.events.flush()  # include what this process emitted a moment ago
    found = await services.db.events.query(
        session_id=session,
        project_id=project,
        types=type_,
        min_priority=min_priority,
        after_seq=after,
        limit=limit,
        newest_first=newest_first,
    )
    return [_out(item) for item in found]


@router.get(
    "/events/stream",
    summary="Follow the event log (Server-Sent Events)",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "One SSE message per event"}},
)
async def stream_events(
    request: Request,
    session: Annotated[str | None, Query(description="Only this session's events.")] = None,
    project: Annotated[str | None, Query(description="Only this project's events.")] = None,
    type_: Annotated[list[EventType] | None, Query(alias="type", description="Only these types.")] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_SEQ, description="Start after this log position (default: now).")
    ] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_SEQ, description="End the stream after this many events.")] = None,
    last_event_id: Annotated[str | None, Header(description="Resume after this SSE id (a log position).")] = None,
) -> EventSourceResponse:
    _ids(session, project)
    services: Services = request.app.state.services
    if after is None and last_event_id and last_event_id.isdigit() and len(last_event_id) < 19:
        after = int(last_event_id)
    if after is None:
        after = await services.db.events.last_seq()
    wanted = EventFilter(
        types=frozenset(type_) if type_ else None, project_id=project, session_id=session, min_priority=Priority.INFO
    )
    return EventSourceResponse(_follow(request, services, wanted, after, limit), ping=15)


async def _follow(
    request: Request, services: Services, wanted: EventFilter, after: int, limit: int | None
) -> AsyncIterator[dict[str, Any]]:
    wake = asyncio.Event()
    subscription = services.events.subscribe(wanted, maxsize=100)

    async def watch() -> None:
        async for _ in subscription:
            wake.set()

    watcher = asyncio.create_task(watch())
    sent = 0
    try:
        while not await request.is_disconnected():
            wake.clear()
            found = await services.db.events.query(
                session_id=wanted.session_id,
                project_id=wanted.project_id,
                types=wanted.types,
                after_seq=after,
                limit=500,
            )
            for item in found:
                after = item.seq
                yield {
                    "id": str(item.seq),
                    "event": str(item.event.type),
                    "data": json.dumps(_out(item).model_dump(mode="json")),
                }
                sent += 1
                if limit is not None and sent >= limit:
                    return
            if found:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL_INTERVAL)
            if wake.is_set():
                await services.events.flush()  # the log writer batches; make what woke us readable
    finally:
        subscription.close()
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
