"""Apprise notifier: any apprise URL (ntfy, Discord, Telegram, e-mail, JSON …) through the apprise library.

apprise is blocking, so each delivery runs in a thread. Its URLs usually carry tokens: they are
checked at start-up and named only by position (``urls[1]``) in errors, never printed.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import apprise

from ennio import __version__
from ennio.core.config import AppriseNotifierConfig
from ennio.core.errors import NotifierError
from ennio.core.events import EventType, Priority
from ennio.core.plugins import Notification, PluginContext, PluginManifest, Slot
from ennio.plugins.notifier._format import plain_text

TIMEOUT = 60.0

_SUCCESS_EVENTS = frozenset(
    {
        EventType.PR_MERGED,
        EventType.MERGE_COMPLETED,
        EventType.CI_PASSING,
        EventType.REVIEW_APPROVED,
        EventType.ALL_COMPLETE,
    }
)


def notify_type(notification: Notification) -> str:
    """apprise's message kind: failure (critical), warning (urgent), success (good news), else info."""
    if notification.priority is Priority.CRITICAL:
        return str(apprise.NotifyType.FAILURE.value)
    if notification.priority is Priority.URGENT:
        return str(apprise.NotifyType.WARNING.value)
    if notification.event is not None and notification.event.type in _SUCCESS_EVENTS:
        return str(apprise.NotifyType.SUCCESS.value)
    return str(apprise.NotifyType.INFO.value)


class AppriseNotifier:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="apprise",
        slot=Slot.NOTIFIER,
        version=__version__,
        description="Any apprise URL (ntfy, Discord, Telegram, e-mail, …)",
    )

    def __init__(self, name: str, settings: AppriseNotifierConfig, ctx: PluginContext) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        for index, url in enumerate(settings.urls):
            if apprise.Apprise.instantiate(url.get_secret_value()) is None:
                raise NotifierError(
                    f"apprise notifier {name!r}: urls[{index}] is not a URL apprise understands",
                    hint="see https://github.com/caronc/apprise/wiki for the URL of each service",
                )

    def _send(self, title: str, body: str, kind: str) -> bool:
        client = apprise.Apprise()
        for url in self.settings.urls:
            client.add(url.get_secret_value())
        result: Any = client.notify(body=body, title=title, notify_type=kind)
        return bool(result)

    async def notify(self, notification: Notification) -> None:
        body = plain_text(notification) or notification.title
        try:
            ok = await asyncio.wait_for(
                asyncio.to_thread(self._send, notification.title, body, notify_type(notification)), TIMEOUT
            )
        except TimeoutError:
            raise NotifierError(f"apprise notifier {self.name!r}: delivery timed out after {TIMEOUT:g}s") from None
        if not ok:
            raise NotifierError(
                f"apprise notifier {self.name!r}: at least one of its {len(self.settings.urls)} URL(s) failed",
                hint="the apprise log (logger 'apprise') says which service refused and why",
            )
