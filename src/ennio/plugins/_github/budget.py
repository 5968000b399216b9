"""GitHub's rate-limit budgets as seen from the responses, per resource ("core", "graphql", …).

Fed by every response's ``x-ratelimit-*`` headers and by GraphQL's ``rateLimit`` field; read by
``rate_budget()``, the pacing policy (:mod:`ennio.core.pacing`) and the Prometheus gauge
``ennio_github_rate_remaining``. Also counts what was sent, so tests and the benchmark can
assert how many requests a reconcile pass cost.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Gauge

from ennio.core.pacing import poll_delay
from ennio.core.plugins import RateBudget

RATE_REMAINING = Gauge(
    "ennio_github_rate_remaining",
    "Requests (REST) or points (GraphQL) left in GitHub's rate-limit window.",
    ["host", "resource"],
)


@dataclass(slots=True)
class _Window:
    limit: int
    remaining: int
    reset_at: datetime | None


@dataclass(slots=True)
class RequestCounts:
    """What went over the wire (after retries and ETag revalidation)."""

    sent: int = 0
    not_modified: int = 0
    retried: int = 0
    by_resource: Counter[str] = field(default_factory=Counter)


class RateTracker:
    def __init__(self, host: str, reserve: int = 0) -> None:
        self.host = host
        self.reserve = reserve
        self._windows: dict[str, _Window] = {}
        self._pass_cost: dict[str, int] = {}
        self.counts = RequestCounts()

    # ------------------------------------------------------------------ feeding

    def record_headers(self, headers: Mapping[str, str], resource_hint: str = "core") -> None:
        """Update from ``x-ratelimit-limit/remaining/reset/resource`` headers, if present."""
        limit = _int(headers.get("x-ratelimit-limit"))
        remaining = _int(headers.get("x-ratelimit-remaining"))
        if limit is None or remaining is None:
            return
        reset = _int(headers.get("x-ratelimit-reset"))
        reset_at = datetime.fromtimestamp(reset, UTC) if reset is not None else None
        resource = headers.get("x-ratelimit-resource") or resource_hint
        self._set(resource, limit, remaining, reset_at)

    def record_graphql(self, rate_limit: Mapping[str, object]) -> None:
        """Update from a GraphQL ``rateLimit { limit remaining resetAt cost }`` selection."""
        limit = _int(rate_limit.get("limit"))
        remaining = _int(rate_limit.get("remaining"))
        if limit is None or remaining is None:
            return
        reset_at: datetime | None = None
        raw_reset = rate_limit.get("resetAt")
        if isinstance(raw_reset, str):
            try:
                reset_at = datetime.fromisoformat(raw_reset.replace("Z", "+00:00"))
            except ValueError:
                reset_at = None
        self._set("graphql", limit, remaining, reset_at)

    def record(self, resource: str, limit: int, remaining: int, reset_at: datetime | None) -> None:
        """Update from a ``GET /rate_limit`` answer."""
        self._set(resource, limit, remaining, reset_at)

    def record_pass_cost(self, resource: str, cost: int) -> None:
        """What the last reconcile pass spent of ``resource`` (used by the pacing policy)."""
        self._pass_cost[resource] = max(0, cost)

    def _set(self, resource: str, limit: int, remaining: int, reset_at: datetime | None) -> None:
        self._windows[resource] = _Window(limit, remaining, reset_at)
        RATE_REMAINING.labels(self.host, resource).set(remaining)

    # ------------------------------------------------------------------ reading

    def budget(self, resource: str) -> RateBudget | None:
        window = self._windows.get(resource)
        if window is None:
            return None
        return RateBudget(
            limit=window.limit,
            remaining=window.remaining,
            reset_at=window.reset_at,
            reserve=self.reserve,
            pass_cost=self._pass_cost.get(resource, 1),
            resource=resource,
        )

    def budgets(self) -> list[RateBudget]:
        return [b for r in sorted(self._windows) if (b := self.budget(r)) is not None]

    def tightest(self, interval: float, now: datetime) -> RateBudget | None:
        """The budget that makes polling wait longest (what ``rate_budget()`` reports)."""
        known = self.budgets()
        if not known:
            return None
        return max(known, key=lambda b: (poll_delay(b, interval, now), -b.remaining))

    def exhausted_until(self, resource: str, now: datetime) -> datetime | None:
        """When ``resource`` is spent (remaining 0), the reset time; else None."""
        window = self._windows.get(resource)
        if window is None or window.remaining > 0 or window.reset_at is None or window.reset_at <= now:
            return None
        return window.reset_at


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None
