"""A real daemon process started with ``ennio start --detach``, and what it wrote about itself."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.ennio_cli import Ran, run_ennio
from tests.helpers.wait import wait_for


@dataclass
class DaemonProcess:
    pid: int
    url: str


def start_daemon(work: Path, env: dict[str, str], data_dir: Path) -> DaemonProcess:
    started: Ran = run_ennio("start", "--detach", cwd=work, env=env, timeout=90)
    assert started.code == 0, started.stderr
    state = json.loads((data_dir / "daemon.json").read_text())
    return DaemonProcess(state["pid"], state["url"])


def kill_hard(daemon: DaemonProcess) -> None:
    """SIGKILL: no cleanup runs, as when the machine's OOM killer or a crash takes the daemon."""
    os.kill(daemon.pid, signal.SIGKILL)
    wait_for(lambda: not _alive(daemon.pid), 10, what=f"daemon {daemon.pid} to die")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (our child exited, not yet reaped) counts as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def stop_daemon(work: Path, env: dict[str, str]) -> None:
    """``ennio stop`` if one runs (test teardown)."""
    run_ennio("stop", "--force", cwd=work, env=env, timeout=60)
