"""HTTP delivery for notifiers: one POST with a status check, retried with exponential backoff.

Connection errors, timeouts, 5xx and 429 are retried (429 honours ``Retry-After``); any other
non-2xx answer is final at once. Error messages name only the URL's origin, never its path or
query (a Slack webhook URL *is* the secret), and httpx's own request log is redacted for URLs
registered as secret.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from ennio.core.errors import NotifierError

log = logging.getLogger("ennio.notifier")

#: ``await sleep(seconds)``; injectable so tests of retries do not wait.
Sleep = Callable[[float], Awaitable[None]]
Send = Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]

_SECRET_URLS: set[str] = set()


class _RedactSecretUrls(logging.Filter):
    """httpx logs ``HTTP Request: POST <url> ...`` at INFO; hide URLs that are secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRET_URLS and isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(arg)) if isinstance(arg, (str, httpx.URL)) and str(arg) in _SECRET_URLS else arg
                for arg in record.args
            )
        return True


_httpx_logger = logging.getLogger("httpx")
if not any(isinstance(f, _RedactSecretUrls) for f in _httpx_logger.filters):
    _httpx_logger.addFilter(_RedactSecretUrls())


def register_secret_url(url: str) -> None:
    """Keep ``url`` out of httpx's request log (it is logged as its origin only)."""
    _SECRET_URLS.add(url)
    _SECRET_URLS.add(str(httpx.URL(url)))


def redact_url(url: str) -> str:
    """``https://hooks.slack.com/…`` — scheme, host and port only."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}/…"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    #: retries after the first attempt (so ``retries + 1`` attempts at most)
    retries: int = 3
    #: delay before the first retry, in seconds; doubles for each further retry
    backoff: float = 1.0
    #: no single wait is longer than this (a long ``Retry-After`` included)
    max_delay: float = 300.0

    def delay(self, retry_index: int, retry_after: float | None = None) -> float:
        base = self.backoff * 2.0**retry_index
        if retry_after is not None:
            base = max(base, retry_after)
        return min(base, self.max_delay)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to the backoff


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = " ".join(response.text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def _describe(exc: Exception, secret: str) -> str:
    text = str(exc).replace(secret, redact_url(secret)) if secret else str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def post_with_retries(
    send: Send,
    *,
    url: str,
    what: str,
    policy: RetryPolicy,
    timeout: float,
    sleep: Sleep = asyncio.sleep,
) -> httpx.Response:
    """Call ``send(client)`` until it returns a 2xx response; raise :class:`NotifierError` if it never does.

    ``send`` is called once per attempt so a caller can sign each attempt afresh. ``what`` names the
    delivery in messages ("webhook notifier 'ops': POST to http://host/…") and must hold no secret.
    """
    attempts = policy.retries + 1
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        for attempt in range(attempts):
            retry_after: float | None = None
            try:
                response = await send(client)
            except httpx.TransportError as exc:
                problem = f"{what} failed: {_describe(exc, url)}"
            else:
                if response.is_success:
                    return response
                problem = f"{what} returned HTTP {response.status_code}"
                body = _snippet(response)
                if body:
                    problem += f": {body}"
                if response.status_code != 429 and response.status_code < 500:
                    raise NotifierError(
                        problem, hint="the receiver rejected the request; check the notifier's settings"
                    )
                retry_after = _retry_after(response)
            if attempt + 1 >= attempts:
                raise NotifierError(
                    f"{problem} (gave up after {attempts} attempt{'s' if attempts != 1 else ''})",
                    hint="check that the receiver is up and reachable",
                )
            delay = policy.delay(attempt, retry_after)
            log.warning("%s; retry %d of %d in %.1fs", problem, attempt + 1, policy.retries, delay)
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
