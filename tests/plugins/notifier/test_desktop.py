"""Desktop notifier with a recording notify-send/osascript first on PATH (neither is installed here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ennio.core.config import DesktopNotifierConfig
from ennio.core.errors import NotifierError
from ennio.core.events import Priority
from ennio.core.plugins import Notification, PluginContext
from ennio.plugins.notifier.desktop import DesktopNotifier
from tests.helpers.notifiers import install_recording_program, recorded_calls


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return folder


@pytest.mark.parametrize(
    ("priority", "urgency"),
    [
        (Priority.INFO, "low"),
        (Priority.ACTION, "normal"),
        (Priority.URGENT, "critical"),
        (Priority.CRITICAL, "critical"),
    ],
)
async def test_notify_send_gets_urgency_title_and_body(
    bin_dir: Path, ctx: PluginContext, notification: Notification, priority: Priority, urgency: str
) -> None:
    record = install_recording_program(bin_dir, "notify-send")
    notification.priority = priority
    await DesktopNotifier("desk", DesktopNotifierConfig(), ctx, platform="linux").notify(notification)
    assert recorded_calls(record) == [
        [
            f"--urgency={urgency}",
            "--app-name=Ennio",
            "--",
            "app-3: CI failing",
            "2 checks failing: test, lint\n\nSession: app-3\nProject: app\nStatus: ci_failed\n"
            "Branch: feat/3-add-login\nPR: https://example.test/pr/7\nActivity: idle\n"
            "Last activity: 2026-03-04T05:00:00Z\nCost so far: $1.50",
        ]
    ]


async def test_text_that_looks_like_options_stays_text(bin_dir: Path, ctx: PluginContext) -> None:
    record = install_recording_program(bin_dir, "notify-send")
    note = Notification("--help", "$(touch /tmp/pwned) `id`", Priority.INFO)
    await DesktopNotifier("desk", DesktopNotifierConfig(), ctx, platform="linux").notify(note)
    assert recorded_calls(record)[0][-3:] == ["--", "--help", "$(touch /tmp/pwned) `id`"]


async def test_osascript_on_macos_passes_text_as_arguments(bin_dir: Path, ctx: PluginContext) -> None:
    record = install_recording_program(bin_dir, "osascript")
    note = Notification('He said "hi"', "back\\slash", Priority.URGENT)
    await DesktopNotifier("desk", DesktopNotifierConfig(), ctx, platform="darwin").notify(note)
    (call,) = recorded_calls(record)
    assert call[-2:] == ['He said "hi"', "back\\slash"]
    assert "display notification (item 2 of argv) with title (item 1 of argv)" in call


async def test_missing_program_is_reported_once_then_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctx: PluginContext, notification: Notification
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    notifier = DesktopNotifier("desk", DesktopNotifierConfig(), ctx, platform="linux")
    with pytest.raises(NotifierError) as info:
        await notifier.notify(notification)
    assert info.value.message == "desktop notifier 'desk': notify-send is not installed (or not on PATH)"
    assert info.value.hint is not None and "libnotify" in info.value.hint
    await notifier.notify(notification)  # quiet the second time

    # once the program appears, notifications flow again; if it vanishes, that is reported anew
    record = install_recording_program(empty, "notify-send")
    await notifier.notify(notification)
    assert len(recorded_calls(record)) == 1
    (empty / "notify-send").unlink()
    with pytest.raises(NotifierError):
        await notifier.notify(notification)


async def test_failing_program_is_a_notifier_error(
    bin_dir: Path, ctx: PluginContext, notification: Notification
) -> None:
    install_recording_program(bin_dir, "notify-send", exit_code=3)
    with pytest.raises(NotifierError, match="exit 3"):
        await DesktopNotifier("desk", DesktopNotifierConfig(), ctx, platform="linux").notify(notification)
