"""The daemon's HTTP API (FastAPI): ``/api/v1`` over the session services, an SSE event stream,
``/healthz`` and ``/metrics``. Thin: every route calls one service method."""
