"""The FastAPI application over an open service stack (the daemon opens it and serves this app)."""

from __future__ import annotations

import os

from fastapi import Depends, FastAPI, Request, Response

from ennio import __version__
from ennio.services.lifecycle.webhook_receiver import WebhookReceiver
from ennio.services.stack import Services
from ennio.web import api, events, webhooks
from ennio.web.auth import bearer_check
from ennio.web.errors import ERROR_RESPONSES, install_error_handlers
from ennio.web.metrics import ApiMetrics
from ennio.web.models import Health


def create_app(services: Services) -> FastAPI:
    """The API for ``services``; every route but ``/healthz`` needs the bearer token when one is configured."""
    token = services.config.server.api_token
    guard = [Depends(bearer_check(token))]
    app = FastAPI(
        title="Ennio",
        version=__version__,
        description="Run many AI coding agents in parallel; this API drives the sessions of one Ennio daemon.",
    )
    app.state.services = services
    app.state.webhooks = WebhookReceiver(services.config, services.db, services.hub, services.clock)
    metrics = ApiMetrics()
    app.state.metrics = metrics
    app.middleware("http")(metrics.middleware)
    install_error_handlers(app)
    app.include_router(api.router, dependencies=guard)
    app.include_router(events.router, dependencies=guard)
    app.include_router(webhooks.router)  # signed by the forge, not by our bearer token

    @app.get("/healthz", response_model=Health, tags=["daemon"], summary="The daemon is up")
    async def healthz() -> Health:
        return Health(status="ok", version=__version__, pid=os.getpid())

    @app.get(
        "/metrics",
        tags=["daemon"],
        summary="Prometheus metrics",
        dependencies=guard,
        responses={**ERROR_RESPONSES, 200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
        response_class=Response,
    )
    async def prometheus(request: Request) -> Response:
        return await metrics.render(services)

    return app
