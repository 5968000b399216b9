"""``/metrics``: Prometheus text format from a registry of the app's own (no global state shared between apps)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.process_collector import ProcessCollector

from ennio.core.config import GitHubSCMConfig
from ennio.core.errors import EnnioError
from ennio.core.plugins import RateBudget
from ennio.core.session import SessionStatus
from ennio.services.stack import Services


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "ennio_http_requests",
            "HTTP requests served, by route and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ennio_http_request_seconds",
            "Time to answer an HTTP request, by route",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=self.registry,
        )
        self.sessions = Gauge(
            "ennio_sessions", "Sessions in the database, by status", ["status"], registry=self.registry
        )
        self.github_remaining = Gauge(
            "ennio_github_rate_remaining",
            "Requests (or GraphQL points) left in the tightest GitHub rate-limit budget of each project",
            ["project", "resource"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "ennio_webhook_deliveries",
            "Webhook deliveries received, by provider and outcome (accepted, ignored, duplicate, refused)",
            ["provider", "outcome"],
            registry=self.registry,
        )

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        self.requests.labels(request.method, path, str(response.status_code)).inc()
        self.latency.labels(request.method, path).observe(time.perf_counter() - start)
        return response

    async def render(self, services: Services) -> Response:
        counts = {status: 0 for status in SessionStatus}
        for session in await services.db.sessions.list():
            counts[session.status] += 1
        for status, count in counts.items():
            self.sessions.labels(str(status)).set(count)
        for project_id, budget in github_budgets(services):
            self.github_remaining.labels(project_id, budget.resource or "core").set(budget.remaining)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


def github_budgets(services: Services) -> list[tuple[str, RateBudget]]:
    """The tightest known budget of each GitHub project's SCM (``None`` until it made a request)."""
    found = []
    for project in services.config.projects:
        if not isinstance(project.scm, GitHubSCMConfig):
            continue
        try:
            scm = services.sessions.env.plugins.scm(project)
        except EnnioError:
            continue
        budget = scm.rate_budget() if scm is not None else None
        if budget is not None:
            found.append((project.pid, budget))
    return found
