"""Against the real NATS server (ENNIO_TEST_NATS_URL, default nats://127.0.0.1:4222)."""

from __future__ import annotations

import asyncio
import json

from ennio.core.events import Event, EventType
from ennio.db import Database
from ennio.nats.publisher import NatsEventPublisher, subject_for
from ennio.services.events.event_log import EventService
from tests.nats.conftest import NATS_URL


def test_subjects() -> None:
    assert subject_for(Event.of(EventType.CI_FAILING, project_id="app")) == "ennio.events.app.ci.failing"
    assert subject_for(Event.of(EventType.ALL_COMPLETE), "p") == "p._.summary.all_complete"


async def test_events_reach_nats_in_order_with_their_json(inbox) -> None:  # type: ignore[no-untyped-def]
    prefix, received = inbox
    publisher = NatsEventPublisher(NATS_URL, prefix=prefix)
    publisher.start()
    events = [
        Event.of(EventType.CI_FAILING, "red", project_id="app", session_id="app-1", data={"n": i}) for i in range(20)
    ] + [Event.of(EventType.ALL_COMPLETE, "done")]
    for event in events:
        publisher.submit(event)
    await publisher.flush()
    got = [await asyncio.wait_for(received.get(), 10) for _ in events]
    assert [s for s, _, _ in got] == [f"{prefix}.app.ci.failing"] * 20 + [f"{prefix}._.summary.all_complete"]
    assert [Event.from_dict(json.loads(data)) for _, data, _ in got] == events
    assert [h["Nats-Msg-Id"] for _, _, h in got] == [e.id for e in events]
    assert publisher.published == 21
    await publisher.close()


async def test_event_service_publishes_to_nats_and_the_log(db: Database, inbox) -> None:  # type: ignore[no-untyped-def]
    prefix, received = inbox
    service = EventService(db.events, nats_url=NATS_URL)
    assert service.nats is not None
    service.nats.prefix = prefix
    await service.start()
    event = Event.of(EventType.PR_CREATED, "pr", project_id="web")
    service.publish(event)
    subject, data, _ = await asyncio.wait_for(received.get(), 10)
    assert subject == f"{prefix}.web.pr.created"
    assert json.loads(data)["id"] == event.id
    await service.stop()
    assert [s.event for s in await db.events.query()] == [event]


async def test_nats_down_never_blocks_publishers_or_the_log(db: Database) -> None:
    service = EventService(db.events, nats_url="nats://127.0.0.1:1")
    await service.start()
    events = [Event.of(EventType.STATUS_CHANGED, str(i)) for i in range(5)]
    for event in events:
        service.publish(event)
    await service.flush()
    assert [s.event for s in await db.events.query()] == events
    assert service.nats is not None and not service.nats.connected
    await asyncio.wait_for(service.stop(timeout=5), 15)
