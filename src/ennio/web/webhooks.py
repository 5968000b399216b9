"""``POST /webhooks/github`` and ``POST /webhooks/linear``: signed deliveries from the forges.

No bearer token here (GitHub and Linear cannot send one): the signature is the authentication, checked
by :class:`~ennio.services.lifecycle.webhook_receiver.WebhookReceiver` before anything else. 202 when sessions
reconcile (in the background), 200 for a replay or a delivery about nothing Ennio follows, 401 for a
missing or wrong signature, 400 for a malformed body — nothing is done in the last two cases.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from ennio.core.errors import AuthError, InvalidInput
from ennio.services.lifecycle.webhook_receiver import WebhookReceiver, WebhookResult
from ennio.web.errors import ErrorBody, Unauthorized
from ennio.web.models import WebhookOut

#: GitHub caps webhook payloads at 25 MB
MAX_BODY = 25 * 1024 * 1024

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": WebhookOut, "description": "Already processed (a replay), or about nothing Ennio follows"},
    400: {"model": ErrorBody, "description": "Malformed body or delivery headers; nothing was done"},
    401: {"model": ErrorBody, "description": "Missing or wrong signature (or no secret configured); nothing done"},
}
_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


def receiver(request: Request) -> WebhookReceiver:
    found: WebhookReceiver = request.app.state.webhooks
    return found


async def read_body(request: Request) -> bytes:
    """The raw body (signatures are over the exact bytes), refusing anything larger than GitHub sends."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise InvalidInput(f"webhook body of {declared} bytes is larger than {MAX_BODY}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidInput(f"webhook body is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _deliver(request: Request, provider: Literal["github", "linear"]) -> JSONResponse:
    """Hand the delivery to the receiver; a bad signature is 401, counted as refused."""
    body = await read_body(request)
    handle = receiver(request).github if provider == "github" else receiver(request).linear
    try:
        result = await handle(request.headers, body)
    except AuthError as exc:
        request.app.state.metrics.webhooks.labels(provider, "refused").inc()
        raise Unauthorized(exc.message, hint=exc.hint) from None
    return _answer(result, request)


def _answer(result: WebhookResult, request: Request) -> JSONResponse:
    request.app.state.metrics.webhooks.labels(result.provider, result.outcome).inc()
    body = WebhookOut(
        outcome=result.outcome,
        provider=result.provider,
        event=result.event,
        delivery=result.delivery,
        projects=result.projects,
        sessions=result.sessions,
    )
    return JSONResponse(body.model_dump(), status_code=202 if result.outcome == "accepted" else 200)


@router.post(
    "/github",
    status_code=202,
    response_model=WebhookOut,
    responses=_RESPONSES,
    openapi_extra=_BODY,
    summary="A GitHub webhook delivery: reconcile the sessions it touches",
)
async def github(
    request: Request,
    x_hub_signature_256: Annotated[str | None, Header(description="sha256=<HMAC of the body>")] = None,
    x_github_event: Annotated[str | None, Header(description="pull_request, check_run, issues …")] = None,
    x_github_delivery: Annotated[str | None, Header(description="Unique id of the delivery")] = None,
) -> JSONResponse:
    return await _deliver(request, "github")


@router.post(
    "/linear",
    status_code=202,
    response_model=WebhookOut,
    responses=_RESPONSES,
    openapi_extra=_BODY,
    summary="A Linear webhook delivery: reconcile the sessions of the issues it names",
)
async def linear(
    request: Request,
    linear_signature: Annotated[str | None, Header(description="hex HMAC-SHA256 of the body")] = None,
    linear_delivery: Annotated[str | None, Header(description="Unique id of the delivery")] = None,
) -> JSONResponse:
    return await _deliver(request, "linear")
