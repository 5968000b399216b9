"""Webhook notifier: a JSON POST of the notification, signed with HMAC-SHA256 when a secret is set.

The request
    ``POST <url>`` with ``Content-Type: application/json`` and the body (UTF-8, compact JSON)::

        {"notifier": "ops", "title": …, "body": …, "priority": "urgent",
         "event": {id, type, priority, project_id, session_id, timestamp, message, data} | null,
         "summary": {session_id, project_id, status, branch, pr_url, activity,
                     last_activity_at, cost_usd} | null,
         "actions": [{"label": …, "url": …}]}

    Headers: ``X-Ennio-Event`` (event type, or ``notification``), ``X-Ennio-Delivery`` (one id per
    delivery, the same on every retry, so a receiver can drop duplicates), ``X-Ennio-Timestamp``
    (Unix seconds of this attempt), plus the configured ``headers``.

Signature (only when ``secret`` is set)
    ``X-Ennio-Signature-256: sha256=<hex>`` where ``<hex>`` is
    ``HMAC-SHA256(secret, X-Ennio-Timestamp + "." + raw body bytes)``. A receiver recomputes it
    over the exact bytes it received, compares in constant time (``hmac.compare_digest``), and
    rejects a timestamp more than a few minutes from its own clock: the timestamp is signed, so an
    old request cannot be replayed with a fresh one. Each retry is signed afresh.

Retries
    Connection errors, timeouts, 5xx and 429 are retried ``retries`` times, waiting ``backoff``,
    then twice that, and so on (429's ``Retry-After`` is honoured); other 4xx answers are final.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from typing import ClassVar

import httpx

from ennio import __version__
from ennio.core.config import WebhookNotifierConfig
from ennio.core.errors import NotifierError
from ennio.core.plugins import Notification, PluginContext, PluginManifest, Slot
from ennio.plugins.notifier._format import notification_dict
from ennio.plugins.notifier._http import RetryPolicy, Sleep, post_with_retries, redact_url, register_secret_url

SIGNATURE_HEADER = "X-Ennio-Signature-256"
TIMESTAMP_HEADER = "X-Ennio-Timestamp"
EVENT_HEADER = "X-Ennio-Event"
DELIVERY_HEADER = "X-Ennio-Delivery"
_OWN_HEADERS = {h.lower() for h in (SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_HEADER, DELIVERY_HEADER)}


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Ennio-Signature-256`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookNotifier:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="webhook",
        slot=Slot.NOTIFIER,
        version=__version__,
        description="JSON POST to a URL, HMAC-SHA256 signed, retried with backoff",
    )

    def __init__(
        self, name: str, settings: WebhookNotifierConfig, ctx: PluginContext, *, sleep: Sleep | None = None
    ) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self._sleep: Sleep = sleep or asyncio.sleep
        self._policy = RetryPolicy(retries=settings.retries, backoff=settings.backoff.total_seconds())
        try:
            parsed = httpx.URL(settings.url)
        except httpx.InvalidURL:
            parsed = None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
            raise NotifierError(
                f"webhook notifier {name!r}: url must be an http:// or https:// URL",
                hint="set notifiers.<name>.url to the receiver's full URL",
            )
        # receivers often put a token in the path or query: log the origin only
        register_secret_url(settings.url)

    def body(self, notification: Notification) -> bytes:
        """The exact bytes POSTed (and signed) for ``notification``."""
        document = {"notifier": self.name, **notification_dict(notification)}
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")

    async def notify(self, notification: Notification) -> None:
        body = self.body(notification)
        delivery = uuid.uuid4().hex
        event_type = str(notification.event.type) if notification.event is not None else "notification"
        secret = self.settings.secret

        async def send(client: httpx.AsyncClient) -> httpx.Response:
            timestamp = str(int(self.ctx.clock.now().timestamp()))
            headers = {k: v for k, v in self.settings.headers.items() if k.lower() not in _OWN_HEADERS}
            headers.update(
                {
                    "Content-Type": "application/json",
                    "User-Agent": f"ennio/{__version__}",
                    EVENT_HEADER: event_type,
                    DELIVERY_HEADER: delivery,
                    TIMESTAMP_HEADER: timestamp,
                }
            )
            if secret is not None:
                headers[SIGNATURE_HEADER] = sign(secret.get_secret_value().encode(), timestamp, body)
            return await client.post(self.settings.url, content=body, headers=headers)

        await post_with_retries(
            send,
            url=self.settings.url,
            what=f"webhook notifier {self.name!r}: POST to {redact_url(self.settings.url)}",
            policy=self._policy,
            timeout=self.settings.timeout.total_seconds(),
            sleep=self._sleep,
        )
