"""Slack notifier: an incoming-webhook POST with Block Kit blocks and action buttons.

The message is a header (the title), a section with the body and the session summary as fields,
a context line (priority, event type, project) and buttons to the PR and to the session on the
dashboard (when ``dashboard_url`` is set). Slack answers ``ok`` on success and an error code
(``invalid_payload``, ``channel_not_found`` …) otherwise; both the status and that body are checked.
The webhook URL is the secret: it is never logged nor put in an error message.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

import httpx

from ennio import __version__
from ennio.core.config import SlackNotifierConfig
from ennio.core.errors import NotifierError
from ennio.core.events import Priority
from ennio.core.plugins import Notification, PluginContext, PluginManifest, Slot
from ennio.plugins.notifier._format import summary_fields
from ennio.plugins.notifier._http import RetryPolicy, Sleep, post_with_retries, register_secret_url

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
MAX_FIELDS = 10
BUTTON_LIMIT = 75
MAX_BUTTONS = 25

PRIORITY_EMOJI = {
    Priority.INFO: ":information_source:",
    Priority.ACTION: ":point_right:",
    Priority.URGENT: ":warning:",
    Priority.CRITICAL: ":rotating_light:",
}


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_mrkdwn(text: str) -> str:
    """Slack's mrkdwn treats ``&``, ``<`` and ``>`` as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class SlackNotifier:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="slack",
        slot=Slot.NOTIFIER,
        version=__version__,
        description="Slack incoming webhook with Block Kit blocks and buttons",
    )

    #: Slack is retried like a webhook, with a short fixed policy (it has no settings for it)
    retry_policy: ClassVar[RetryPolicy] = RetryPolicy(retries=2, backoff=1.0)
    timeout: ClassVar[float] = 10.0

    def __init__(
        self, name: str, settings: SlackNotifierConfig, ctx: PluginContext, *, sleep: Sleep | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self._sleep: Sleep = sleep or asyncio.sleep
        url = settings.webhook_url.get_secret_value()
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise NotifierError(
                f"slack notifier {name!r}: webhook_url is not an http(s) URL",
                hint="paste the incoming-webhook URL from Slack's app settings (https://hooks.slack.com/services/…)",
            )
        register_secret_url(url)

    def dashboard_link(self, notification: Notification) -> str | None:
        base = self.settings.dashboard_url
        if not base:
            return None
        session_id = notification.summary.session_id if notification.summary else None
        if session_id is None and notification.event is not None:
            session_id = notification.event.session_id
        base = base.rstrip("/")
        return f"{base}/sessions/{session_id}" if session_id else base

    def payload(self, notification: Notification) -> dict[str, Any]:
        """The JSON document sent to Slack."""
        emoji = PRIORITY_EMOJI.get(notification.priority, "")
        blocks: list[dict[str, Any]] = [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": _cut(f"{emoji} {notification.title}".strip(), HEADER_LIMIT)},
            }
        ]
        section: dict[str, Any] = {"type": "section"}
        if notification.body:
            section["text"] = {"type": "mrkdwn", "text": _cut(escape_mrkdwn(notification.body), SECTION_LIMIT)}
        if notification.summary is not None:
            section["fields"] = [
                {"type": "mrkdwn", "text": _cut(f"*{label}*\n{escape_mrkdwn(value)}", FIELD_LIMIT)}
                for label, value in summary_fields(notification.summary)[:MAX_FIELDS]
            ]
        if len(section) > 1:
            blocks.append(section)
        context = [f"priority: {notification.priority}"]
        if notification.event is not None:
            context.append(f"event: {notification.event.type}")
            if notification.event.project_id:
                context.append(f"project: {notification.event.project_id}")
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": escape_mrkdwn(" · ".join(context))}]})
        buttons = self._buttons(notification)
        if buttons:
            blocks.append({"type": "actions", "elements": buttons})
        payload: dict[str, Any] = {"text": _cut(f"{notification.title}: {notification.body}", SECTION_LIMIT)}
        payload["blocks"] = blocks
        if self.settings.channel:
            payload["channel"] = self.settings.channel
        if self.settings.username:
            payload["username"] = self.settings.username
        return payload

    def _buttons(self, notification: Notification) -> list[dict[str, Any]]:
        links: list[tuple[str, str, str]] = []
        if notification.summary is not None and notification.summary.pr_url:
            links.append(("open_pr", "Open PR", notification.summary.pr_url))
        dashboard = self.dashboard_link(notification)
        if dashboard:
            links.append(("open_dashboard", "Open in dashboard", dashboard))
        seen = {url for _, _, url in links}
        for index, action in enumerate(notification.actions):
            if action.url not in seen:
                links.append((f"action_{index}", action.label, action.url))
                seen.add(action.url)
        buttons: list[dict[str, Any]] = []
        for action_id, label, url in links[:MAX_BUTTONS]:
            button: dict[str, Any] = {
                "type": "button",
                "action_id": action_id,
                "text": {"type": "plain_text", "text": _cut(label, BUTTON_LIMIT)},
                "url": url,
            }
            if action_id == "open_pr":
                button["style"] = "primary"
            buttons.append(button)
        return buttons

    async def notify(self, notification: Notification) -> None:
        url = self.settings.webhook_url.get_secret_value()
        body = json.dumps(self.payload(notification), ensure_ascii=False).encode("utf-8")
        what = f"slack notifier {self.name!r}: POST to the Slack webhook"

        async def send(client: httpx.AsyncClient) -> httpx.Response:
            return await client.post(url, content=body, headers={"Content-Type": "application/json"})

        response = await post_with_retries(
            send, url=url, what=what, policy=self.retry_policy, timeout=self.timeout, sleep=self._sleep
        )
        _check_slack_answer(response, what)


def _check_slack_answer(response: httpx.Response, what: str) -> None:
    """Incoming webhooks answer ``ok``; some gateways answer ``{"ok": true}`` or ``{"ok": false, "error": …}``."""
    text = response.text.strip()
    if text == "ok":
        return
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("ok") is True:
        return
    if isinstance(answer, dict) and answer.get("error"):
        error = str(answer["error"])[:200]
    else:
        error = (" ".join(text.split())[:200]) or "an empty answer"
    raise NotifierError(f"{what}: Slack did not answer ok but {error!r}", hint="check the webhook URL and channel")
