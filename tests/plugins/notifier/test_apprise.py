"""Apprise notifier delivering through apprise's json:// service to a real server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from ennio.core.config import AppriseNotifierConfig
from ennio.core.errors import NotifierError
from ennio.core.events import Event, EventType, Priority
from ennio.core.plugins import Notification, PluginContext
from ennio.plugins.notifier.apprise import AppriseNotifier
from tests.helpers.notifiers import closed_port


def json_url(httpserver: HTTPServer, path: str) -> SecretStr:
    return SecretStr(f"json://127.0.0.1:{httpserver.port}{path}")


async def test_delivers_title_body_and_kind(
    httpserver: HTTPServer, ctx: PluginContext, notification: Notification
) -> None:
    httpserver.expect_request("/apprise/hook", method="POST").respond_with_data("ok")
    config = AppriseNotifierConfig(urls=[json_url(httpserver, "/apprise/hook")])
    await AppriseNotifier("fanout", config, ctx).notify(notification)

    ((request, _),) = httpserver.log
    payload = json.loads(request.get_data())
    assert payload["title"] == "app-3: CI failing"
    assert payload["message"].startswith("2 checks failing: test, lint\n\nSession: app-3\n")
    assert "Cost so far: $1.50" in payload["message"]
    assert payload["type"] == "info"


@pytest.mark.parametrize(
    ("priority", "event_type", "kind"),
    [
        (Priority.CRITICAL, None, "failure"),
        (Priority.URGENT, None, "warning"),
        (Priority.ACTION, EventType.PR_MERGED, "success"),
        (Priority.ACTION, EventType.CI_FAILING, "info"),
    ],
)
async def test_kind_follows_priority_and_event(
    httpserver: HTTPServer, ctx: PluginContext, priority: Priority, event_type: EventType | None, kind: str
) -> None:
    httpserver.expect_request("/k").respond_with_data("ok")
    event = Event.of(event_type) if event_type else None
    await AppriseNotifier("fanout", AppriseNotifierConfig(urls=[json_url(httpserver, "/k")]), ctx).notify(
        Notification("t", "b", priority, event=event)
    )
    ((request, _),) = httpserver.log
    assert json.loads(request.get_data())["type"] == kind


async def test_every_url_receives_it(httpserver: HTTPServer, ctx: PluginContext, notification: Notification) -> None:
    httpserver.expect_request("/a").respond_with_data("ok")
    httpserver.expect_request("/b").respond_with_data("ok")
    config = AppriseNotifierConfig(urls=[json_url(httpserver, "/a"), json_url(httpserver, "/b")])
    await AppriseNotifier("fanout", config, ctx).notify(notification)
    assert sorted(r.path for r, _ in httpserver.log) == ["/a", "/b"]


async def test_server_error_is_a_notifier_error(
    httpserver: HTTPServer, ctx: PluginContext, notification: Notification
) -> None:
    httpserver.expect_request("/down").respond_with_data("no", status=500)
    with pytest.raises(NotifierError, match="failed"):
        await AppriseNotifier("fanout", AppriseNotifierConfig(urls=[json_url(httpserver, "/down")]), ctx).notify(
            notification
        )


async def test_unreachable_is_a_notifier_error(ctx: PluginContext, notification: Notification) -> None:
    config = AppriseNotifierConfig(urls=[SecretStr(f"json://127.0.0.1:{closed_port()}/x")])
    with pytest.raises(NotifierError):
        await AppriseNotifier("fanout", config, ctx).notify(notification)


def test_bad_url_rejected_at_start_without_showing_it(ctx: PluginContext) -> None:
    config = AppriseNotifierConfig(urls=[SecretStr("json://127.0.0.1/ok"), SecretStr("nosuchservice://tok3n@x")])
    with pytest.raises(NotifierError) as info:
        AppriseNotifier("fanout", config, ctx)
    assert "urls[1]" in info.value.message
    assert "tok3n" not in info.value.message
