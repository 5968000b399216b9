"""Desktop notifier: ``notify-send`` on Linux, ``osascript`` on macOS.

Urgency follows priority (info → low, action → normal, urgent/critical → critical). When the
program is missing, the first notification raises a clear :class:`NotifierError` saying how to
install it; later ones are skipped quietly until the program appears, so a headless machine does
not fill the log with the same error.
"""

from __future__ import annotations

import logging
import shutil
import sys
from typing import ClassVar

from ennio import __version__
from ennio.core.config import DesktopNotifierConfig
from ennio.core.errors import MissingTool, NotifierError
from ennio.core.events import Priority
from ennio.core.plugins import Notification, PluginContext, PluginManifest, Slot
from ennio.core.proc import run
from ennio.plugins.notifier._format import plain_text

log = logging.getLogger("ennio.notifier.desktop")

URGENCY = {
    Priority.INFO: "low",
    Priority.ACTION: "normal",
    Priority.URGENT: "critical",
    Priority.CRITICAL: "critical",
}
APP_NAME = "Ennio"
TIMEOUT = 10.0

#: AppleScript that takes title and body as arguments, so no text is ever quoted into the script
_OSASCRIPT = [
    "-e",
    "on run argv",
    "-e",
    "display notification (item 2 of argv) with title (item 1 of argv)",
    "-e",
    "end run",
]


class DesktopNotifier:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="desktop",
        slot=Slot.NOTIFIER,
        version=__version__,
        description="Desktop notifications (notify-send on Linux, osascript on macOS)",
    )

    def __init__(
        self, name: str, settings: DesktopNotifierConfig, ctx: PluginContext, *, platform: str | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self.platform = platform or sys.platform
        self._missing_reported = False

    @property
    def program(self) -> str:
        return "osascript" if self.platform == "darwin" else "notify-send"

    @property
    def install_hint(self) -> str:
        if self.platform == "darwin":
            return "osascript ships with macOS; check PATH includes /usr/bin"
        return "install libnotify (Debian/Ubuntu: apt-get install libnotify-bin; Fedora: dnf install libnotify)"

    def argv(self, notification: Notification) -> list[str]:
        text = plain_text(notification)
        if self.platform == "darwin":
            return ["osascript", *_OSASCRIPT, notification.title, text]
        urgency = URGENCY.get(notification.priority, "normal")
        # "--" ends the options: a title starting with "-" is still a title
        return ["notify-send", f"--urgency={urgency}", f"--app-name={APP_NAME}", "--", notification.title, text]

    async def notify(self, notification: Notification) -> None:
        argv = self.argv(notification)
        if shutil.which(argv[0]) is None:
            self._missing(argv[0])
            return
        try:
            await run(argv, timeout=TIMEOUT, error=NotifierError, what=f"desktop notifier {self.name!r}: {argv[0]}")
        except MissingTool:
            self._missing(argv[0])
            return
        self._missing_reported = False

    def _missing(self, program: str) -> None:
        if self._missing_reported:
            log.debug("desktop notifier %r: %s still missing; notification skipped", self.name, program)
            return
        self._missing_reported = True
        raise NotifierError(
            f"desktop notifier {self.name!r}: {program} is not installed (or not on PATH)", hint=self.install_hint
        )
