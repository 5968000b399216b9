"""Fixtures for the shared GitHub helpers: a served fake GitHub and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pydantic import SecretStr

from ennio.core.errors import SCMError
from ennio.plugins._github.client import GitHubClient
from ennio.plugins._github.transport import RetryPolicy
from tests.helpers.fake_github import TOKEN, FakeGitHub, github  # noqa: F401


class RecordingSleep:
    """Injected instead of asyncio.sleep: records each backoff and yields once (no real waiting)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        import asyncio

        self.delays.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def make_client(
    github: FakeGitHub,  # noqa: F811
    sleeps: RecordingSleep,
) -> AsyncIterator[Callable[..., GitHubClient]]:
    made: list[GitHubClient] = []

    def factory(**kwargs: Any) -> GitHubClient:
        kwargs.setdefault("base_url", github.base)
        kwargs.setdefault("token", SecretStr(TOKEN))
        kwargs.setdefault("error", SCMError)
        kwargs.setdefault("retry", RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0, max_wait=90))
        kwargs.setdefault("sleep", sleeps)
        client = GitHubClient(**kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.close()
