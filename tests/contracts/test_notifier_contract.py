"""What every notifier does: deliver the title and body, and fail only with NotifierError."""

from __future__ import annotations

import pytest

from ennio.core.errors import NotifierError
from ennio.core.events import Event, EventType, Priority
from ennio.core.plugins import Notification, Notifier, SessionSummary, Slot
from tests.contracts.conftest import NotifierHarness


def sample() -> Notification:
    return Notification(
        title="app-1: agent exited",
        body="The agent stopped without a PR.",
        priority=Priority.URGENT,
        event=Event.of(EventType.SESSION_EXITED, "The agent stopped without a PR.", session_id="app-1"),
        summary=SessionSummary("app-1", "app", "exited", branch="feat/1-x"),
    )


def test_is_a_notifier_with_a_manifest(notifier_harness: NotifierHarness) -> None:
    notifier = notifier_harness.make()
    assert isinstance(notifier, Notifier)
    assert notifier.manifest.slot is Slot.NOTIFIER
    assert notifier.manifest.version and notifier.manifest.description


async def test_delivers_title_body_and_summary(notifier_harness: NotifierHarness) -> None:
    await notifier_harness.make().notify(sample())
    (received,) = notifier_harness.received()
    for part in ("app-1: agent exited", "The agent stopped without a PR.", "feat/1-x"):
        assert part in received


async def test_a_refusing_receiver_is_a_notifier_error(notifier_harness: NotifierHarness) -> None:
    notifier_harness.break_receiver()
    with pytest.raises(NotifierError):
        await notifier_harness.make().notify(sample())
