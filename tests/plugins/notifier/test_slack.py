"""Slack notifier against a real HTTP server on 127.0.0.1 speaking the incoming-webhook answers."""

from __future__ import annotations

import json
import logging

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from ennio.core.config import SlackNotifierConfig
from ennio.core.errors import NotifierError
from ennio.core.events import Priority
from ennio.core.plugins import Notification, NotificationAction, PluginContext
from ennio.plugins.notifier.slack import SlackNotifier
from tests.helpers.notifiers import RecordingSleep

HOOK = "/services/T0001/B0002/XXXXsecretXXXX"


def make(httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, **settings: object) -> SlackNotifier:
    config = SlackNotifierConfig.model_validate({"webhook_url": httpserver.url_for(HOOK), **settings})
    return SlackNotifier("team", config, ctx, sleep=sleep)


def sent(httpserver: HTTPServer) -> dict[str, object]:
    ((request, _),) = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    payload: dict[str, object] = json.loads(request.get_data())
    return payload


async def test_blocks_with_summary_fields_and_buttons(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    httpserver.expect_request(HOOK, method="POST").respond_with_data("ok")
    notifier = make(httpserver, ctx, sleep, dashboard_url="http://127.0.0.1:8642/", channel="#agents", username="ennio")
    await notifier.notify(notification)

    assert sent(httpserver) == {
        "text": "app-3: CI failing: 2 checks failing: test, lint",
        "channel": "#agents",
        "username": "ennio",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": ":point_right: app-3: CI failing"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "2 checks failing: test, lint"},
                "fields": [
                    {"type": "mrkdwn", "text": "*Session*\napp-3"},
                    {"type": "mrkdwn", "text": "*Project*\napp"},
                    {"type": "mrkdwn", "text": "*Status*\nci_failed"},
                    {"type": "mrkdwn", "text": "*Branch*\nfeat/3-add-login"},
                    {"type": "mrkdwn", "text": "*PR*\nhttps://example.test/pr/7"},
                    {"type": "mrkdwn", "text": "*Activity*\nidle"},
                    {"type": "mrkdwn", "text": "*Last activity*\n2026-03-04T05:00:00Z"},
                    {"type": "mrkdwn", "text": "*Cost so far*\n$1.50"},
                ],
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": "priority: action · event: ci.failing · project: app"}],
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "open_pr",
                        "text": {"type": "plain_text", "text": "Open PR"},
                        "url": "https://example.test/pr/7",
                        "style": "primary",
                    },
                    {
                        "type": "button",
                        "action_id": "open_dashboard",
                        "text": {"type": "plain_text", "text": "Open in dashboard"},
                        "url": "http://127.0.0.1:8642/sessions/app-3",
                    },
                ],
            },
        ],
    }


async def test_no_buttons_without_pr_or_dashboard_and_text_is_escaped(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep
) -> None:
    httpserver.expect_request(HOOK).respond_with_data("ok")
    await make(httpserver, ctx, sleep).notify(Notification("All <done>", "a & b <!channel>", Priority.CRITICAL))
    payload = sent(httpserver)
    blocks = payload["blocks"]
    assert isinstance(blocks, list)
    assert [b["type"] for b in blocks] == ["header", "section", "context"]
    assert blocks[0]["text"]["text"] == ":rotating_light: All <done>"  # plain_text needs no escaping
    assert blocks[1] == {"type": "section", "text": {"type": "mrkdwn", "text": "a &amp; b &lt;!channel&gt;"}}
    assert "channel" not in payload and "username" not in payload


async def test_extra_actions_become_buttons(httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep) -> None:
    httpserver.expect_request(HOOK).respond_with_data("ok")
    note = Notification("t", "b", Priority.INFO, actions=[NotificationAction("CI log", "http://ci.test/1")])
    await make(httpserver, ctx, sleep).notify(note)
    blocks = sent(httpserver)["blocks"]
    assert isinstance(blocks, list)
    assert blocks[-1]["elements"] == [
        {
            "type": "button",
            "action_id": "action_0",
            "text": {"type": "plain_text", "text": "CI log"},
            "url": "http://ci.test/1",
        }
    ]


async def test_long_title_is_cut_to_slack_limit(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep
) -> None:
    httpserver.expect_request(HOOK).respond_with_data("ok")
    await make(httpserver, ctx, sleep).notify(Notification("x" * 400, "", Priority.INFO))
    blocks = sent(httpserver)["blocks"]
    assert isinstance(blocks, list)
    assert len(blocks[0]["text"]["text"]) == 150


@pytest.mark.parametrize(
    ("status", "answer"), [(400, "invalid_payload"), (404, "channel_not_found"), (403, "action_prohibited")]
)
async def test_slack_errors_are_reported_and_not_retried(
    httpserver: HTTPServer,
    ctx: PluginContext,
    sleep: RecordingSleep,
    notification: Notification,
    status: int,
    answer: str,
) -> None:
    httpserver.expect_request(HOOK).respond_with_data(answer, status=status)
    with pytest.raises(NotifierError) as info:
        await make(httpserver, ctx, sleep).notify(notification)
    assert f"HTTP {status}: {answer}" in info.value.message
    assert len(httpserver.log) == 1
    assert sleep.delays == []


@pytest.mark.parametrize("answer", ['{"ok": false, "error": "no_text"}', "maintenance page"])
async def test_a_200_that_is_not_ok_is_a_failure(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification, answer: str
) -> None:
    httpserver.expect_request(HOOK).respond_with_data(answer)
    with pytest.raises(NotifierError, match="did not answer ok"):
        await make(httpserver, ctx, sleep).notify(notification)


async def test_json_ok_answer_is_accepted(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    httpserver.expect_request(HOOK).respond_with_json({"ok": True})
    await make(httpserver, ctx, sleep).notify(notification)
    assert len(httpserver.log) == 1


async def test_server_errors_are_retried(
    httpserver: HTTPServer, ctx: PluginContext, sleep: RecordingSleep, notification: Notification
) -> None:
    httpserver.expect_oneshot_request(HOOK).respond_with_data("upstream", status=502)
    httpserver.expect_oneshot_request(HOOK).respond_with_data("ok")
    await make(httpserver, ctx, sleep).notify(notification)
    assert len(httpserver.log) == 2
    assert sleep.delays == [1.0]


async def test_webhook_url_never_logged_nor_in_errors(
    httpserver: HTTPServer,
    ctx: PluginContext,
    sleep: RecordingSleep,
    notification: Notification,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    httpserver.expect_oneshot_request(HOOK).respond_with_data("", status=500)
    httpserver.expect_oneshot_request(HOOK).respond_with_data("ok")
    notifier = make(httpserver, ctx, sleep)
    await notifier.notify(notification)
    httpserver.expect_request(HOOK).respond_with_data("channel_not_found", status=404)
    with pytest.raises(NotifierError) as info:
        await notifier.notify(notification)
    # (the stand-in Slack server's own access log, werkzeug, is the far side and may show its path)
    logged = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))
    assert "HTTP Request: POST" in logged  # httpx did log the requests ...
    assert "XXXXsecretXXXX" not in logged  # ... without the secret path
    assert "XXXXsecretXXXX" not in str(info.value) + str(info.value.hint)
    assert "XXXXsecretXXXX" not in repr(notifier.settings)


def test_rejects_a_webhook_url_that_is_not_http(ctx: PluginContext, sleep: RecordingSleep) -> None:
    config = SlackNotifierConfig(webhook_url=SecretStr("hooks.slack.com/services/T/B/secret"))
    with pytest.raises(NotifierError) as info:
        SlackNotifier("team", config, ctx, sleep=sleep)
    assert "secret" not in info.value.message
