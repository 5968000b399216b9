"""Bearer-token check for the API: required whenever ``server.api_token`` is set, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from fastapi import Request
from pydantic import SecretStr

from ennio.web.errors import Unauthorized


def bearer_check(token: SecretStr | None) -> Callable[[Request], Awaitable[None]]:
    """A FastAPI dependency that refuses requests without ``Authorization: Bearer <token>`` (when a token is set)."""
    expected = token.get_secret_value().encode() if token is not None else None

    async def check(request: Request) -> None:
        if expected is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
            raise Unauthorized(
                "missing or wrong API token", hint="send the header `Authorization: Bearer <server.api_token>`"
            )

    return check
