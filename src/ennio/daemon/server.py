"""The daemon: the composition root of a long-running Ennio.

It holds the pid lock of its data directory, opens the services (database, event log, SessionManager),
re-adopts the sessions a previous daemon left running, starts its components (the hook where the
LifecycleManager and ReactionEngine plug in), and serves the HTTP API until told to stop; then it stops
everything in reverse order. Nothing is spawned at start: sessions are only ever re-adopted.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import uvicorn

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig
from ennio.core.errors import DaemonError
from ennio.daemon.pidlock import PidLock
from ennio.services.config.paths import daemon_state_file, pid_file
from ennio.services.config.paths import data_dir as resolve_data_dir
from ennio.services.registry import PluginRegistry
from ennio.services.sessions.adoption import AdoptionReport
from ennio.services.stack import Services, open_services

log = logging.getLogger("ennio.daemon")


class DaemonComponent(Protocol):
    """Something that runs inside the daemon next to the API (the lifecycle loop, the reaction engine)."""

    async def start(self) -> None:
        """Begin work (start background tasks); return promptly."""
        ...

    async def stop(self) -> None:
        """Finish or cancel background work; called once, in reverse start order."""
        ...


#: builds a component from the daemon's open services
ComponentFactory = Callable[[Services], DaemonComponent]


def default_components() -> list[ComponentFactory]:
    """What the daemon runs besides the API. The LifecycleManager and ReactionEngine join here, each as a
    factory taking the open :class:`Services` and returning an object with ``async start()``/``stop()``."""
    from ennio.services.orchestrator import Orchestrator

    return [Orchestrator.from_services]


@dataclass(slots=True)
class DaemonState:
    pid: int
    url: str
    data_dir: Path
    adoption: AdoptionReport

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "url": self.url, "data_dir": str(self.data_dir), "adoption": self.adoption.to_dict()}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_state(root: Path) -> dict[str, Any] | None:
    """What the running daemon wrote about itself (pid, url), if one runs."""
    try:
        data: dict[str, Any] = json.loads(daemon_state_file(root).read_text())
    except (OSError, ValueError):
        return None
    return data


class Daemon:
    def __init__(
        self,
        config: EnnioConfig,
        *,
        registry: PluginRegistry | None = None,
        clock: Clock | None = None,
        components: Sequence[ComponentFactory] | None = None,
        plugin_extra: dict[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.clock = clock
        self.components = list(default_components() if components is None else components)
        self.plugin_extra = plugin_extra
        self.data_dir = resolve_data_dir(config)

    async def run(
        self, *, stop: asyncio.Event | None = None, on_ready: Callable[[DaemonState], None] | None = None
    ) -> None:
        """Serve until ``stop`` is set (or the server fails)."""
        server = self.config.server
        if not is_loopback(server.host) and server.api_token is None:
            raise DaemonError(
                f"refusing to listen on {server.host} without an API token",
                hint="set server.api_token (e.g. ${ENNIO_API_TOKEN}) or bind to 127.0.0.1",
            )
        stop = stop or asyncio.Event()
        lock = PidLock(pid_file(self.data_dir))
        lock.acquire()
        try:
            async with open_services(
                self.config, registry=self.registry, clock=self.clock, plugin_extra=self.plugin_extra
            ) as services:
                adoption = await services.sessions.readopt()
                log.info(
                    "re-adopted %d session(s); %d exited, %d interrupted spawn(s)",
                    len(adoption.adopted),
                    len(adoption.exited),
                    len(adoption.interrupted),
                )
                with _bound(server.host, server.port) as sock:
                    async with self._components(services):
                        await self._serve(services, sock, adoption, stop, on_ready)
        finally:
            with contextlib.suppress(FileNotFoundError):
                daemon_state_file(self.data_dir).unlink()
            lock.release()

    @contextlib.asynccontextmanager
    async def _components(self, services: Services) -> Any:
        started: list[DaemonComponent] = []
        try:
            for factory in self.components:
                component = factory(services)
                await component.start()
                started.append(component)
            yield
        finally:
            for component in reversed(started):
                try:
                    await component.stop()
                except Exception:
                    log.exception("a daemon component failed to stop")

    async def _serve(
        self,
        services: Services,
        sock: socket.socket,
        adoption: AdoptionReport,
        stop: asyncio.Event,
        on_ready: Callable[[DaemonState], None] | None,
    ) -> None:
        from ennio.web.app import create_app

        app = create_app(services)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5)
        http = _Server(config)
        serving = asyncio.create_task(http.serve(sockets=[sock]))
        stopping = asyncio.create_task(stop.wait())
        try:
            while not http.started:
                if serving.done():
                    serving.result()
                    raise DaemonError("the HTTP server stopped while starting")
                await asyncio.sleep(0.01)
            host, port = sock.getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            state = DaemonState(os.getpid(), f"http://{shown}:{port}", self.data_dir, adoption)
            _write_state(daemon_state_file(self.data_dir), state)
            log.info("Ennio daemon %d listening on %s", state.pid, state.url)
            if on_ready is not None:
                on_ready(state)
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            http.should_exit = True
            stopping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serving


class _Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: the daemon's caller owns SIGTERM/SIGINT, so a
    shutdown always runs the daemon's cleanup (uvicorn would re-raise the signal and skip it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.contextmanager
def _bound(host: str, port: int) -> Iterator[socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # no Nagle: a response written in two parts (headers, body) would otherwise wait for the
        # client's delayed ACK, ~40 ms on every request (accepted sockets inherit the option)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise DaemonError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="another program uses the port; set server.port to a free one",
            ) from None
        sock.listen(128)
        sock.setblocking(False)
        yield sock
    finally:
        sock.close()


def _write_state(path: Path, state: DaemonState) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_dict(), indent=2))
    tmp.replace(path)
