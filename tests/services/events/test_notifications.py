"""NotificationRouter with the real notifier plugins (from the registry) against servers on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pytest_httpserver import HTTPServer

from ennio.core.clock import SystemClock
from ennio.core.errors import NotifierError
from ennio.core.events import Event, EventType, Priority
from ennio.core.plugins import Notification, PluginContext, PluginManifest, SessionSummary, Slot
from ennio.services.config.loader import load_config_text
from ennio.services.events.notifications import NotificationRouter, build_notification
from tests.helpers.notifiers import closed_port, install_recording_program, recorded_calls

ROUTED = """
defaults:
  notifiers: [desk]
notifiers:
  desk: {{type: desktop}}
  team: {{type: slack, webhook_url: "{base}/slack/T1/B2/secret"}}
  ops: {{type: webhook, url: "{base}/ops", retries: 1, backoff: 10ms}}
  audit: {{type: webhook, url: "{audit}", retries: 1, backoff: 10ms}}
notification_routing:
  priorities:
    action: [team]
  events:
    "ci.*": [ops]
    summary.all_complete: [audit]
"""

ALL = ["desk", "team", "ops", "audit"]


@pytest.fixture
def ctx(tmp_path: Path) -> PluginContext:
    return PluginContext(data_dir=tmp_path / "data", clock=SystemClock())


@pytest.fixture
def fake_notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recording notify-send first on PATH (the real one is not installed here)."""
    bin_dir = tmp_path / "bin"
    record = install_recording_program(bin_dir, "notify-send")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return record


RouterFactory = Callable[..., NotificationRouter]


@pytest.fixture
def make_router(httpserver: HTTPServer, ctx: PluginContext) -> RouterFactory:
    def factory(text: str = ROUTED, *, audit: str | None = None, **kwargs: Any) -> NotificationRouter:
        base = httpserver.url_for("").rstrip("/")
        config = load_config_text(text.format(base=base, audit=audit or f"{base}/audit")).config
        return NotificationRouter.from_config(config, ctx, **kwargs)

    return factory


def ev(event_type: EventType, priority: Priority | None = None, **kwargs: Any) -> Event:
    return Event.of(event_type, "something happened", project_id="app", session_id="app-3", priority=priority, **kwargs)


@pytest.mark.parametrize(
    ("event_type", "priority", "extra", "fallback", "expected"),
    [
        (EventType.SESSION_SPAWNED, Priority.INFO, None, False, []),
        (EventType.PR_MERGED, Priority.ACTION, None, False, ["team"]),
        (EventType.CI_FAILING, Priority.ACTION, None, False, ["team", "ops"]),
        (EventType.CI_PASSING, Priority.INFO, None, False, ["ops"]),
        (EventType.SESSION_EXITED, Priority.URGENT, None, False, ALL),
        (EventType.BUDGET_EXCEEDED, Priority.CRITICAL, None, False, ALL),
        (EventType.ALL_COMPLETE, Priority.ACTION, None, False, ["team", "audit"]),
        (EventType.SESSION_SPAWNED, Priority.INFO, ["audit"], False, ["audit"]),
        (EventType.CI_FAILING, Priority.ACTION, ["ops", "desk"], False, ["desk", "team", "ops"]),
        (EventType.SESSION_SPAWNED, Priority.INFO, None, True, ["desk"]),
        (EventType.PR_MERGED, Priority.ACTION, None, True, ["team"]),
        (EventType.SESSION_SPAWNED, Priority.INFO, ["*"], False, ALL),
    ],
)
def test_routing_table(
    make_router: RouterFactory,
    event_type: EventType,
    priority: Priority,
    extra: list[str] | None,
    fallback: bool,
    expected: list[str],
) -> None:
    router = make_router()
    assert router.route(ev(event_type, priority), extra=extra, fallback=fallback) == expected


def test_defaults_alone_route_urgent_and_critical_to_everyone(make_router: RouterFactory) -> None:
    text = ROUTED.split("notification_routing:")[0]
    router = make_router(text)
    assert router.route(ev(EventType.SESSION_EXITED)) == ALL  # urgent by default
    assert router.route(ev(EventType.BUDGET_EXCEEDED)) == ALL  # critical
    assert router.route(ev(EventType.CI_FAILING)) == []  # action: nobody unless routed
    assert router.route(ev(EventType.CI_FAILING), fallback=True) == ["desk"]  # defaults.notifiers


def test_listed_priorities_replace_only_their_own_defaults(make_router: RouterFactory) -> None:
    text = ROUTED.split("notification_routing:")[0] + "notification_routing:\n  priorities:\n    urgent: []\n"
    router = make_router(text)
    assert router.route(ev(EventType.SESSION_EXITED)) == []
    assert router.route(ev(EventType.BUDGET_EXCEEDED)) == ALL


def test_fallback_without_defaults_reaches_everyone(make_router: RouterFactory) -> None:
    text = ROUTED.replace("  notifiers: [desk]\n", "  notifiers: []\n", 1)
    assert make_router(text).route(ev(EventType.SESSION_SPAWNED), fallback=True) == ALL


def test_wildcard_event_rule(make_router: RouterFactory) -> None:
    text = ROUTED + '    "*": [audit]\n'
    router = make_router(text)
    assert router.route(ev(EventType.SESSION_SPAWNED)) == ["audit"]
    assert router.route(ev(EventType.CI_PASSING)) == ["ops", "audit"]


def test_build_notification_from_an_event() -> None:
    event = Event.of(
        EventType.CI_FIX_FAILED, "CI failed again after the fix", session_id="app-3", data={"pr_url": "http://pr/1"}
    )
    note = build_notification(event)
    assert (note.title, note.body, note.priority) == (
        "app-3: CI still failing after a fix",
        "CI failed again after the fix",
        Priority.URGENT,
    )
    assert [(a.label, a.url) for a in note.actions] == [("Open PR", "http://pr/1")]
    bare = build_notification(Event.of(EventType.ALL_COMPLETE, project_id="app"))
    assert (bare.title, bare.body) == ("app: all sessions complete", "All sessions complete.")
    assert build_notification(Event.of(EventType.NODE_HEALTH)).title == "Ennio: node health"


async def test_delivers_to_each_routed_notifier_with_summary(
    make_router: RouterFactory, httpserver: HTTPServer, fake_notify_send: Path
) -> None:
    httpserver.expect_request("/slack/T1/B2/secret").respond_with_data("ok")
    httpserver.expect_request("/ops").respond_with_data("ok")
    asked: list[str] = []

    async def summaries(event: Event) -> SessionSummary:
        asked.append(event.session_id or "")
        return SessionSummary(
            "app-3",
            "app",
            "ci_failed",
            branch="feat/3-x",
            pr_url="http://pr/3",
            cost_usd=0.25,
            last_activity_at=datetime(2026, 1, 1, tzinfo=UTC),
        )

    router = make_router(summaries=summaries)
    delivery = await router.notify(ev(EventType.CI_FAILING))
    assert (delivery.targets, delivery.delivered, delivery.failed) == (["team", "ops"], ["team", "ops"], {})
    assert asked == ["app-3"]
    by_path = {r.path: json.loads(r.get_data()) for r, _ in httpserver.log}
    assert by_path["/ops"]["summary"]["status"] == "ci_failed"
    assert by_path["/ops"]["summary"]["cost_usd"] == 0.25
    assert by_path["/ops"]["title"] == "app-3: CI failing"
    slack_fields = by_path["/slack/T1/B2/secret"]["blocks"][1]["fields"]
    assert {"type": "mrkdwn", "text": "*Branch*\nfeat/3-x"} in slack_fields
    assert recorded_calls(fake_notify_send) == []  # desk was not routed


async def test_include_summary_off_sends_none(make_router: RouterFactory, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ops").respond_with_data("ok")
    text = ROUTED + "  include_summary: false\n"

    async def summaries(event: Event) -> SessionSummary:
        raise AssertionError("not asked when include_summary is off")

    router = make_router(text, summaries=summaries)
    await router.notify(ev(EventType.CI_PASSING))
    ((request, _),) = httpserver.log
    assert json.loads(request.get_data())["summary"] is None


async def test_one_failing_notifier_never_stops_the_others(
    make_router: RouterFactory,
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    empty_bin = tmp_path / "no-programs"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))  # desk: notify-send missing
    httpserver.expect_request("/slack/T1/B2/secret").respond_with_data("ok")
    httpserver.expect_request("/ops").respond_with_data("down", status=500)  # ops: 500 after its retry
    audit = f"http://127.0.0.1:{closed_port()}/audit"  # audit: connection refused

    async def broken_summaries(event: Event) -> SessionSummary:
        raise RuntimeError("database is away")

    router = make_router(audit=audit, summaries=broken_summaries)
    caplog.set_level(logging.WARNING, logger="ennio")
    delivery = await router.notify(ev(EventType.SESSION_EXITED))  # urgent: everyone

    assert delivery.targets == ALL
    assert delivery.delivered == ["team"]
    assert sorted(delivery.failed) == ["audit", "desk", "ops"]
    assert "notify-send is not installed" in delivery.failed["desk"]
    assert "HTTP 500" in delivery.failed["ops"] and "gave up after 2 attempts" in delivery.failed["ops"]
    assert "ConnectError" in delivery.failed["audit"]
    assert len([r for r, _ in httpserver.log if r.path == "/ops"]) == 2
    messages = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("ennio"))
    for name in ("desk", "ops", "audit"):
        assert f"notifier {name!r} failed to deliver session.exited" in messages
    assert "database is away" in messages  # the summary failure is logged, delivery went on
    assert "secret" not in messages


class _CrashingNotifier:
    """A third-party notifier with a bug (stands in for code outside Ennio)."""

    manifest: ClassVar[PluginManifest] = PluginManifest("crashing", Slot.NOTIFIER, "0", "raises")

    async def notify(self, notification: Notification) -> None:
        raise KeyError("bug")


async def test_a_crashing_third_party_notifier_is_contained(
    make_router: RouterFactory, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_request("/ops").respond_with_data("ok")
    configured = make_router()
    router = NotificationRouter({"buggy": _CrashingNotifier(), "ops": configured.notifiers["ops"]}, configured.routing)
    delivery = await router.notify(ev(EventType.CI_PASSING), notifiers=["buggy", "nobody"])
    assert delivery.delivered == ["ops"]
    assert delivery.failed == {"buggy": "notifier 'buggy' crashed: KeyError", "nobody": "no notifier named 'nobody'"}
    assert any(r.exc_info for r in caplog.records if "crashed" in r.getMessage())


async def test_submit_delivers_in_the_background(make_router: RouterFactory, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/ops").respond_with_data("ok")
    router = make_router()
    task = router.submit(ev(EventType.CI_PASSING))
    await router.drain()
    assert task.done() and task.result().delivered == ["ops"]
    assert len(httpserver.log) == 1


async def test_nothing_routed_sends_nothing(make_router: RouterFactory, httpserver: HTTPServer) -> None:
    delivery = await make_router().notify(ev(EventType.SESSION_SPAWNED))
    assert (delivery.targets, delivery.ok) == ([], True)
    assert httpserver.log == []


def test_a_misconfigured_notifier_fails_at_start(make_router: RouterFactory) -> None:
    text = 'notifiers:\n  fan: {{type: apprise, urls: ["nosuch://tok3n@host"]}}\n'
    with pytest.raises(NotifierError) as info:
        make_router(text)
    assert "fan" in info.value.message and "tok3n" not in info.value.message
