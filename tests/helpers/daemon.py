"""A real Ennio daemon (HTTP API and all) in the test's event loop, or in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from ennio.core.config import EnnioConfig
from ennio.daemon.server import Daemon, DaemonState
from tests.helpers.sessions_env import echo_registry


def on_free_port(config: EnnioConfig, **server: Any) -> EnnioConfig:
    """``config`` with the API on a free loopback port (and any other server settings given)."""
    values = config.model_dump(mode="python")
    values["server"] = {**values["server"], "port": 0, **server}
    if values["server"].get("api_token") is not None and hasattr(values["server"]["api_token"], "get_secret_value"):
        values["server"]["api_token"] = values["server"]["api_token"].get_secret_value()
    return EnnioConfig.model_validate(values)


@asynccontextmanager
async def running_daemon(config: EnnioConfig, **kwargs: Any) -> AsyncIterator[DaemonState]:
    """Run the daemon as a task of this loop until the block ends."""
    kwargs.setdefault("registry", echo_registry())
    stop = asyncio.Event()
    ready: asyncio.Future[DaemonState] = asyncio.get_running_loop().create_future()
    task = asyncio.create_task(Daemon(config, **kwargs).run(stop=stop, on_ready=ready.set_result))
    await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        task.result()
    assert ready.done(), "the daemon did not start within 30 s"
    try:
        yield ready.result()
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


@contextmanager
def daemon_in_thread(config: EnnioConfig, **kwargs: Any) -> Iterator[DaemonState]:
    """Run the daemon in a thread with its own event loop (for synchronous tests such as schemathesis)."""
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        holder["loop"] = asyncio.get_running_loop()
        holder["stop"] = asyncio.Event()
        async with running_daemon(config, **kwargs) as state:
            holder["state"] = state
            started.set()
            await holder["stop"].wait()

    def target() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            holder["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=target, name="ennio-daemon", daemon=True)
    thread.start()
    started.wait(60)
    if "error" in holder:
        raise holder["error"]
    try:
        yield holder["state"]
    finally:
        holder["loop"].call_soon_threadsafe(holder["stop"].set)
        thread.join(60)
        if "error" in holder:
            raise holder["error"]
