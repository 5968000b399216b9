"""Runtimes under test: real tmux servers of their own, process hosts, and the echo agent."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ennio.core.clock import SystemClock
from ennio.core.ids import random_suffix
from ennio.core.plugins import LaunchSpec, PluginContext, Runtime, RuntimeHandle
from tests.helpers.wait import async_wait_for, wait_for

ECHO_AGENT = Path(__file__).with_name("echo_agent.py")
TMUX_SOCKET_ENV = "ENNIO_TMUX_SOCKET"
PROMPT = "agent> "
#: resolved once, so teardown still finds tmux when a test has emptied PATH
TMUX = shutil.which("tmux") or "tmux"


def plugin_context(data_dir: Path) -> PluginContext:
    return PluginContext(data_dir=data_dir, clock=SystemClock())


def echo_agent_argv(out_dir: Path, *modes: str) -> list[str]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [sys.executable, str(ECHO_AGENT), str(out_dir), *modes]


def echo_spec(
    name: str, out_dir: Path, *modes: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> LaunchSpec:
    return LaunchSpec(name=name, argv=echo_agent_argv(out_dir, *modes), cwd=cwd or out_dir, env=env or {})


def received(out_dir: Path) -> list[str]:
    """Messages the echo agent has taken so far, in order."""
    path = out_dir / "received.jsonl"
    if not path.exists():
        return []
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


def wait_received(out_dir: Path, count: int, timeout: float = 15.0) -> list[str]:
    wait_for(lambda: len(received(out_dir)) >= count, timeout, what=f"{count} messages at the echo agent")
    return received(out_dir)


def started(out_dir: Path, timeout: float = 15.0) -> dict[str, Any]:
    """What the echo agent recorded at start: argv, cwd, env."""
    path = out_dir / "start.json"
    wait_for(path.exists, timeout, what="the echo agent to start")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


async def wait_ready(runtime: Runtime, handle: RuntimeHandle, marker: str = PROMPT, timeout: float = 15.0) -> str:
    """The agent's output once ``marker`` shows in it (the echo agent's prompt by default)."""

    async def shown() -> str:
        text = await runtime.output(handle, 50)
        return text if marker in text else ""

    return await async_wait_for(shown, timeout, what=f"{marker!r} on {handle.id}'s screen")


def new_tmux_socket() -> str:
    return f"ennio-test-{os.getpid()}-{random_suffix()}"


def kill_tmux_server(socket: str) -> None:
    """Stop the test's tmux server and remove its socket file (tmux leaves it behind)."""
    subprocess.run([TMUX, "-L", socket, "kill-server"], capture_output=True, check=False)
    tmp = Path(os.environ.get("TMUX_TMPDIR") or "/tmp")
    (tmp / f"tmux-{os.getuid()}" / socket).unlink(missing_ok=True)


@contextmanager
def tmux_socket_env(monkeypatch: Any) -> Iterator[str]:
    """A private tmux server for the test (``ENNIO_TMUX_SOCKET``), killed afterwards."""
    socket = new_tmux_socket()
    monkeypatch.setenv(TMUX_SOCKET_ENV, socket)
    try:
        yield socket
    finally:
        kill_tmux_server(socket)


async def stop_process_hosts(runtime: Any) -> None:
    """Destroy every agent a ``ProcessRuntime`` still has a pid file for (test teardown)."""
    if runtime.run_dir.is_dir():
        for pid_file in runtime.run_dir.glob("*.json"):
            await runtime.destroy(RuntimeHandle("process", pid_file.stem))
