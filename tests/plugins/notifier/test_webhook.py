"""Webhook notifier against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
from datetime import timedelta

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from ennio.core.clock import ManualClock
from ennio.core.config import WebhookNotifierConfig
from ennio.core.errors import NotifierError
from ennio.core.events import Priority
from ennio.core.plugins import Notification, PluginContext
from ennio.plugins.notifier.webhook import WebhookNotifier
from tests.helpers.notifiers import RecordingSleep, closed_port, expected_signature

SECRET = "s3cr3t-key"


def make(url: str, ctx: PluginContext, sleep: RecordingSleep, **settings: object) -> WebhookNotifier:
    config = WebhookNotifierConfig.model_validate({"url": url, "backoff": 0.5, **settings})
    return WebhookNotifier("ops", config, ctx, sleep=sleep)


async def test_posts_the_exact_document(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    await make(httpserver.url_for("/hook"), ctx, sleep).notify(notification)

    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Ennio-Event"] == "ci.failing"
    assert request.headers["X-Ennio-Timestamp"] == str(int(ctx.clock.now().timestamp()))
    assert "X-Ennio-Signature-256" not in request.headers
    assert json.loads(request.get_data()) == {
        "notifier": "ops",
        "title": "app-3: CI failing",
        "body": "2 checks failing: test, lint",
        "priority": "action",
        "event": {
            "id": "0000000000010000deadbeef",
            "type": "ci.failing",
            "priority": "action",
            "project_id": "app",
            "session_id": "app-3",
            "timestamp": "2026-03-04T05:06:07+00:00",
            "message": "2 checks failing: test, lint",
            "data": {"checks": ["test", "lint"]},
        },
        "summary": {
            "session_id": "app-3",
            "project_id": "app",
            "status": "ci_failed",
            "branch": "feat/3-add-login",
            "pr_url": "https://example.test/pr/7",
            "activity": "idle",
            "last_activity_at": "2026-03-04T05:00:00Z",
            "cost_usd": 1.5,
        },
        "actions": [],
    }
    assert sleep.delays == []


async def test_signature_covers_timestamp_and_exact_body(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    notifier = make(httpserver.url_for("/hook"), ctx, sleep, secret=SECRET, headers={"Authorization": "Bearer x"})
    await notifier.notify(notification)

    ((request, _),) = httpserver.log
    raw = request.get_data()
    timestamp = request.headers["X-Ennio-Timestamp"]
    assert request.headers["X-Ennio-Signature-256"] == expected_signature(SECRET, timestamp, raw)
    assert request.headers["Authorization"] == "Bearer x"
    # the signature does not verify for another timestamp (a replay with a fresh timestamp fails)
    assert request.headers["X-Ennio-Signature-256"] != expected_signature(SECRET, str(int(timestamp) + 600), raw)
    assert request.headers["X-Ennio-Signature-256"] != expected_signature("other", timestamp, raw)


async def test_configured_headers_cannot_forge_ennio_headers(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    notifier = make(
        httpserver.url_for("/hook"), ctx, sleep, secret=SECRET, headers={"x-ennio-signature-256": "sha256=forged"}
    )
    await notifier.notify(notification)
    ((request, _),) = httpserver.log
    assert request.headers.getlist("X-Ennio-Signature-256") == [
        expected_signature(SECRET, request.headers["X-Ennio-Timestamp"], request.get_data())
    ]


async def test_5xx_is_retried_with_exponential_backoff_then_succeeds(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    clock = ctx.clock
    assert isinstance(clock, ManualClock)

    async def advancing_sleep(seconds: float) -> None:
        await sleep(seconds)
        clock.advance(seconds)

    for status in (500, 503):
        httpserver.expect_oneshot_request("/hook").respond_with_data("busy", status=status)
    httpserver.expect_oneshot_request("/hook").respond_with_data("ok")
    config = WebhookNotifierConfig(
        url=httpserver.url_for("/hook"), secret=SecretStr(SECRET), backoff=timedelta(seconds=1)
    )
    await WebhookNotifier("ops", config, ctx, sleep=advancing_sleep).notify(notification)

    assert sleep.delays == [1.0, 2.0]
    requests = [r for r, _ in httpserver.log]
    assert len(requests) == 3
    # same delivery id on every attempt, each attempt signed afresh with its own timestamp
    assert len({r.headers["X-Ennio-Delivery"] for r in requests}) == 1
    assert len({r.headers["X-Ennio-Timestamp"] for r in requests}) == 3
    for r in requests:
        assert r.headers["X-Ennio-Signature-256"] == expected_signature(
            SECRET, r.headers["X-Ennio-Timestamp"], r.get_data()
        )


async def test_500_every_time_fails_after_all_retries(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    httpserver.expect_request("/hook").respond_with_data("boom", status=500)
    with pytest.raises(NotifierError) as info:
        await make(httpserver.url_for("/hook"), ctx, sleep, retries=3).notify(notification)
    assert "HTTP 500" in info.value.message
    assert "gave up after 4 attempts" in info.value.message
    assert sleep.delays == [0.5, 1.0, 2.0]
    assert len(httpserver.log) == 4


async def test_connection_refused_is_retried_then_reported(
    ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    with pytest.raises(NotifierError) as info:
        await make(url, ctx, sleep, retries=2).notify(notification)
    assert "ConnectError" in info.value.message
    assert "gave up after 3 attempts" in info.value.message
    assert sleep.delays == [0.5, 1.0]


@pytest.mark.parametrize("status", [400, 401, 404, 410])
async def test_4xx_is_not_retried(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification, status: int
) -> None:
    httpserver.expect_request("/hook").respond_with_data("nope", status=status)
    with pytest.raises(NotifierError) as info:
        await make(httpserver.url_for("/hook"), ctx, sleep).notify(notification)
    assert f"HTTP {status}: nope" in info.value.message
    assert len(httpserver.log) == 1
    assert sleep.delays == []


async def test_429_is_retried_honouring_retry_after(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    httpserver.expect_oneshot_request("/hook").respond_with_data("slow down", status=429, headers={"Retry-After": "7"})
    httpserver.expect_oneshot_request("/hook").respond_with_data("ok")
    await make(httpserver.url_for("/hook"), ctx, sleep).notify(notification)
    assert sleep.delays == [7.0]
    assert len(httpserver.log) == 2


async def test_timeout_is_retried(ctx: PluginContext, sleep: RecordingSleep, notification: Notification) -> None:
    # a listening socket that never answers: connections succeed, responses never come
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        with pytest.raises(NotifierError) as info:
            await make(url, ctx, sleep, timeout=0.2, retries=2).notify(notification)
    assert "ReadTimeout" in info.value.message
    assert sleep.delays == [0.5, 1.0]


async def test_errors_name_only_the_origin(
    ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/hooks/T000/token-in-path?key=abc"
    with pytest.raises(NotifierError) as info:
        await make(url, ctx, sleep, retries=0).notify(notification)
    assert "token-in-path" not in str(info.value)
    assert "key=abc" not in str(info.value)
    assert "127.0.0.1" in str(info.value)


def test_rejects_a_url_that_is_not_http(ctx: PluginContext, sleep: RecordingSleep) -> None:
    with pytest.raises(NotifierError, match="http:// or https://"):
        make("ftp://example.test/x", ctx, sleep)


async def test_notification_without_event_or_summary(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep
) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    await make(httpserver.url_for("/hook"), ctx, sleep).notify(Notification("Hello", "", Priority.INFO))
    ((request, _),) = httpserver.log
    assert request.headers["X-Ennio-Event"] == "notification"
    body = json.loads(request.get_data())
    assert (body["event"], body["summary"], body["title"]) == (None, None, "Hello")


async def test_request_log_shows_only_the_origin(
    httpserver: HTTPServer,
    ctx: PluginContext,
    sleep: RecordingSleep,
    notification: Notification,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_request("/hooks/tok3n").respond_with_data("ok")
    await make(httpserver.url_for("/hooks/tok3n") + "?key=abc", ctx, sleep, secret=SECRET).notify(notification)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    assert any("HTTP Request: POST" in m for m in ours)
    assert not any("tok3n" in m or "key=abc" in m or SECRET in m for m in ours)
