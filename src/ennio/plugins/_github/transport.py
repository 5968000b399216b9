"""The httpx transport under githubkit: budget tracking, ETag revalidation, backoff with jitter.

One seam for everything network-shaped about GitHub (see STYLE.md, "one seam per outside thing"):

* every response's ``x-ratelimit-*`` headers feed the :class:`RateTracker`;
* GET responses with an ``ETag`` are kept; the next GET of the same URL sends ``If-None-Match``
  and a ``304`` (which GitHub does not count against the budget) is answered from the copy;
* 429, 403-secondary-rate-limit and 5xx replies are retried with exponential backoff and
  jitter, waiting at least ``retry-after``; a spent primary budget raises :class:`RateLimited`
  at once (with the reset time) instead of hammering the API.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from ennio.core.errors import RateLimited
from ennio.plugins._github.budget import RateTracker

log = logging.getLogger("ennio.github")

Sleep = Callable[[float], Awaitable[None]]
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_DROP_ON_REPLAY = ("content-encoding", "content-length", "transfer-encoding")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    #: total tries of one request (1 = no retry)
    attempts: int = 4
    #: first backoff; doubles each retry, with jitter
    base_delay: float = 1.0
    max_delay: float = 30.0
    #: longest ``retry-after`` honoured in place; a longer one raises RateLimited to the caller
    max_wait: float = 60.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Equal-jitter exponential backoff for retry number ``attempt`` (0-based)."""
        ceiling = min(self.max_delay, self.base_delay * (2.0**attempt))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(slots=True)
class _Cached:
    etag: str
    headers: list[tuple[str, str]]
    content: bytes


class GitHubTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        tracker: RateTracker,
        *,
        inner: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        etag_capacity: int = 2048,
    ) -> None:
        self.tracker = tracker
        self._inner = inner or httpx.AsyncHTTPTransport(retries=1)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()  # jitter only, not security
        self._now = now
        self._etags: OrderedDict[str, _Cached] = OrderedDict()
        self._etag_capacity = etag_capacity

    # httpx.AsyncClient.aclose() closes its transport; githubkit makes a client per call, so the
    # pooled connections below must outlive each client. ``close()`` ends them for real.
    async def aclose(self) -> None:
        return None

    async def close(self) -> None:
        await self._inner.aclose()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        resource = "graphql" if request.url.path.endswith("/graphql") else "core"
        until = self.tracker.exhausted_until(resource, self._now())
        if until is not None:
            raise _rate_limited(resource, until.timestamp())
        key = self._cache_key(request)
        cached = self._etags.get(key) if key else None
        if cached is not None and "if-none-match" not in request.headers:
            request.headers["If-None-Match"] = cached.etag
        retryable = request.method in _IDEMPOTENT or _is_graphql_query(request)
        attempt = 0
        while True:
            response = await self._inner.handle_async_request(request)
            await response.aread()
            self._count(response, resource, attempt)
            self.tracker.record_headers(response.headers, resource)
            delay = self._retry_delay(request, response, resource, attempt, retryable)
            if delay is None:
                break
            attempt += 1
            self.tracker.counts.retried += 1
            log.info(
                "GitHub answered %s to %s %s; retry %d in %.1fs",
                response.status_code,
                request.method,
                request.url.path,
                attempt,
                delay,
            )
            await response.aclose()
            await self._sleep(delay)
        if response.status_code == 304 and cached is not None:
            return self._replay(request, response, cached)
        if key and response.status_code == 200 and (etag := response.headers.get("etag")):
            self._remember(key, _Cached(etag, list(response.headers.multi_items()), response.content))
        return response

    # ------------------------------------------------------------------ retries

    def _retry_delay(
        self, request: httpx.Request, response: httpx.Response, resource: str, attempt: int, retryable: bool
    ) -> float | None:
        """Seconds to wait before retrying, None to hand the response back; raises when spent."""
        status = response.status_code
        headers = response.headers
        if status not in (403, 429) and status not in RETRY_STATUSES:
            return None
        retry_after = _float(headers.get("retry-after"))
        remaining = headers.get("x-ratelimit-remaining")
        if status in (403, 429) and remaining == "0" and retry_after is None:
            reset = _float(headers.get("x-ratelimit-reset"))
            raise _rate_limited(resource, reset if reset is not None else self._now().timestamp() + 60)
        secondary = status in (403, 429) and (retry_after is not None or _says_secondary(response))
        if status == 403 and not secondary:
            return None  # a permission problem, not a rate limit
        if secondary or status == 429:
            wait = retry_after if retry_after is not None else 60.0
            wait += self._rng.uniform(0, self.retry.base_delay)
            if wait > self.retry.max_wait or attempt + 1 >= self.retry.attempts:
                raise _rate_limited(resource, self._now().timestamp() + wait, secondary=True)
            return wait
        # 5xx
        if not retryable or attempt + 1 >= self.retry.attempts:
            return None
        backoff = self.retry.backoff(attempt, self._rng)
        return max(backoff, retry_after or 0.0)

    # ------------------------------------------------------------------ ETags

    @staticmethod
    def _cache_key(request: httpx.Request) -> str | None:
        if request.method != "GET":
            return None
        auth = request.headers.get("authorization", "")
        who = hashlib.sha256(auth.encode()).hexdigest()[:16]
        return f"{who} {request.url}"

    def _remember(self, key: str, entry: _Cached) -> None:
        self._etags[key] = entry
        self._etags.move_to_end(key)
        while len(self._etags) > self._etag_capacity:
            self._etags.popitem(last=False)

    def _replay(self, request: httpx.Request, not_modified: httpx.Response, cached: _Cached) -> httpx.Response:
        headers = httpx.Headers([(k, v) for k, v in cached.headers if k.lower() not in _DROP_ON_REPLAY])
        for name, value in not_modified.headers.items():
            if name.lower().startswith("x-ratelimit-") or name.lower() == "etag":
                headers[name] = value
        return httpx.Response(
            200,
            headers=headers,
            content=cached.content,
            request=request,
            extensions={"ennio_not_modified": True},
        )

    def _count(self, response: httpx.Response, resource: str, attempt: int) -> None:
        counts = self.tracker.counts
        counts.sent += 1
        counts.by_resource[resource] += 1
        if response.status_code == 304:
            counts.not_modified += 1


def _is_graphql_query(request: httpx.Request) -> bool:
    if request.method != "POST" or not request.url.path.endswith("/graphql"):
        return False
    try:
        body = json.loads(request.content or b"{}")
    except ValueError:
        return False
    query = body.get("query") if isinstance(body, dict) else None
    return isinstance(query, str) and not query.lstrip().startswith("mutation")


def _says_secondary(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    message = body.get("message", "") if isinstance(body, dict) else ""
    return isinstance(message, str) and "secondary rate limit" in message.lower()


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _rate_limited(resource: str, retry_at: float, *, secondary: bool = False) -> RateLimited:
    when = datetime.fromtimestamp(retry_at, UTC).strftime("%H:%M:%S UTC")
    kind = "secondary rate limit" if secondary else f"{resource} rate limit"
    return RateLimited(
        f"GitHub {kind} reached; requests resume at {when}",
        retry_at=retry_at,
        hint="polling slows down on its own; lower the number of sessions or raise lifecycle.poll_interval",
    )
