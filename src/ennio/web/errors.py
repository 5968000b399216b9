"""Errors as one JSON body (``EnnioError.to_dict()``) with the status code that says what kind they are."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ennio.core.errors import (
    ConfigError,
    Conflict,
    DaemonError,
    EnnioError,
    InvalidInput,
    MissingTool,
    NotFound,
    PluginError,
    StorageError,
    UnsafeToDestroy,
)


class Unauthorized(EnnioError):
    """The request lacks the API's bearer token, or has a wrong one."""

    code = "unauthorized"


#: most specific first
_STATUS: tuple[tuple[type[EnnioError], int], ...] = (
    (Unauthorized, 401),
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (ConfigError, 422),
    (MissingTool, 503),
    (StorageError, 503),
    (DaemonError, 503),
    (PluginError, 502),
)


class ErrorBody(BaseModel):
    """Every error the API returns."""

    error: str
    message: str
    hint: str | None = None
    #: what still holds work, for ``unsafe_destroy``
    reasons: list[str] | None = None


def _described(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: the error responses every API route may give (documented so clients and schemathesis know them)
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _described("Invalid input (a bad id, branch name or body)"),
    401: _described("Missing or wrong bearer token"),
    404: _described("No such project, session or issue"),
    409: _described("Conflicts with the current state (a limit, a running agent, work that would be lost)"),
    422: _described("The configuration does not allow it"),
    502: _described("A plugin (tracker, SCM, runtime, agent) failed"),
    503: _described("A needed tool or the database is unavailable"),
}


def status_of(exc: EnnioError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_response(exc: EnnioError) -> JSONResponse:
    body: dict[str, Any] = dict(exc.to_dict())
    if isinstance(exc, UnsafeToDestroy):
        body["reasons"] = exc.reasons
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    return JSONResponse(body, status_code=status_of(exc), headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def ennio_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EnnioError)
        return error_response(exc)

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "request"
        return error_response(InvalidInput(f"{where}: {first.get('msg', 'invalid')}"))

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse({"error": code, "message": str(exc.detail)}, status_code=exc.status_code)

    app.add_exception_handler(EnnioError, ennio_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)
