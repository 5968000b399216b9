"""NATS tests use the real server at ENNIO_TEST_NATS_URL (default nats://127.0.0.1:4222)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest

import nats
from tests.helpers.database import clock, db, db_url, reopen  # noqa: F401  (fixtures)

NATS_URL = os.environ.get("ENNIO_TEST_NATS_URL", "nats://127.0.0.1:4222")


@pytest.fixture
async def inbox() -> AsyncIterator[tuple[str, asyncio.Queue[tuple[str, bytes, dict[str, str]]]]]:
    """A unique subject prefix and the messages received under it."""
    prefix = f"ennio-test.{os.urandom(4).hex()}"
    received: asyncio.Queue[tuple[str, bytes, dict[str, str]]] = asyncio.Queue()
    nc = await nats.connect(NATS_URL)

    async def on_message(msg: object) -> None:
        await received.put((msg.subject, msg.data, dict(msg.headers or {})))  # type: ignore[attr-defined]

    await nc.subscribe(f"{prefix}.>", cb=on_message)
    await nc.flush()
    yield prefix, received
    await nc.close()
