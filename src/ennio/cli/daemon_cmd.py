"""``ennio start`` (the daemon, in the foreground or detached) and ``ennio stop``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ennio.core.config import EnnioConfig
    from ennio.services.config.loader import LoadedConfig

#: how long ``start --detach`` waits for the daemon to answer, and ``stop`` for it to exit
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def start(
    detach: Annotated[bool, typer.Option("--detach", "-d", help="Run in the background (log under logs/).")] = False,
) -> None:
    """Run the orchestrator daemon: the HTTP API, and watching every session."""
    from ennio.cli.state import state
    from ennio.services.config.loader import load_config

    loaded = load_config(state.config_path)
    if detach:
        _start_detached(loaded)
        return
    _run_foreground(loaded.config)


def _run_foreground(config: EnnioConfig) -> None:
    import asyncio
    import logging
    import signal
    import sys

    from ennio.daemon.server import Daemon, DaemonState

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )

    def ready(daemon: DaemonState) -> None:
        print(
            f"Ennio daemon {daemon.pid} listening on {daemon.url} (data: {daemon.data_dir})",
            file=sys.stderr,
            flush=True,
        )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Daemon(config).run(stop=stop, on_ready=ready)

    asyncio.run(main())


def _start_detached(loaded: LoadedConfig) -> None:
    import subprocess
    import sys

    from ennio.cli.output import console
    from ennio.core.errors import DaemonError
    from ennio.daemon.pidlock import running_pid
    from ennio.daemon.server import read_state
    from ennio.services.config.paths import data_dir, logs_dir, pid_file

    root = data_dir(loaded.config)
    running = running_pid(pid_file(root))
    if running is not None:
        raise DaemonError(f"an Ennio daemon already runs on {root} (pid {running})", hint="stop it with `ennio stop`")
    log_path = logs_dir(root) / "daemon.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "ennio"]
    if loaded.path is not None:
        argv += ["-c", str(loaded.path)]
    argv.append("start")
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise DaemonError(
                f"the daemon exited at start (exit {child.returncode}): {_tail(log_path)}",
                hint=f"see {log_path}",
            )
        info = read_state(root)
        if info is not None and info.get("pid") == child.pid:
            console().print(f"Ennio daemon {child.pid} listening on {info['url']}; log: {log_path}", markup=False)
            return
        time.sleep(0.05)
    child.terminate()
    raise DaemonError(f"the daemon did not start within {START_TIMEOUT:g}s", hint=f"see {log_path}")


def _tail(path: Path, lines: int = 3) -> str:
    try:
        kept = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "(no log)"
    return " | ".join(kept[-lines:]) or "(nothing logged)"


def stop(
    force: Annotated[bool, typer.Option("--force", help="Kill it (SIGKILL) if it does not stop in time.")] = False,
) -> None:
    """Stop the daemon of this data directory (sessions keep running; the next start re-adopts them)."""
    import os
    import signal

    from ennio.cli.output import console
    from ennio.cli.state import state
    from ennio.core.errors import DaemonError
    from ennio.daemon.pidlock import running_pid
    from ennio.services.config.loader import load_config
    from ennio.services.config.paths import data_dir, pid_file

    root = data_dir(load_config(state.config_path).config)
    path = pid_file(root)
    pid = running_pid(path)
    if not pid:
        raise DaemonError(f"no Ennio daemon runs on {root}", hint="start one with `ennio start`")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while running_pid(path) is not None:
        if time.monotonic() > deadline:
            if not force:
                raise DaemonError(
                    f"the daemon (pid {pid}) did not stop within {STOP_TIMEOUT:g}s",
                    hint="run `ennio stop --force` to kill it",
                )
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT
        time.sleep(0.05)
    console().print(f"stopped the daemon (pid {pid})", markup=False)
