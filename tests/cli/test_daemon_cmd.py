"""``ennio start`` / ``ennio stop`` as real processes: pid file, log file, one daemon per data directory."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers.daemon_process import start_daemon, stop_daemon
from tests.helpers.ennio_cli import ENNIO, cli_env, run_ennio, write_config
from tests.helpers.wait import wait_for


@pytest.fixture
def work(tmp_path: Path, data_dir: Path, git_repo: Callable[..., Path]) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    write_config(folder, data_dir, git_repo("app"))
    return folder


@pytest.fixture
def env(tmp_path: Path, tmux_socket: str, work: Path) -> Iterator[dict[str, str]]:
    environment = cli_env(tmp_path / "plugins")
    yield environment
    stop_daemon(work, environment)


def test_start_detached_then_stop(work: Path, env: dict[str, str], data_dir: Path) -> None:
    daemon = start_daemon(work, env, data_dir)
    assert (data_dir / "ennio.pid").read_text().strip() == str(daemon.pid)
    assert httpx.get(f"{daemon.url}/healthz").json()["pid"] == daemon.pid
    assert (data_dir / "logs" / "daemon.log").exists()

    again = run_ennio("start", "--detach", cwd=work, env=env)
    assert again.code != 0 and f"already runs on {data_dir} (pid {daemon.pid})" in again.stderr
    foreground = run_ennio("start", cwd=work, env=env)
    assert foreground.code != 0 and "already runs" in foreground.stderr

    stopped = run_ennio("stop", cwd=work, env=env)
    assert stopped.code == 0 and f"stopped the daemon (pid {daemon.pid})" in stopped.stdout
    assert not (data_dir / "ennio.pid").exists() and not (data_dir / "daemon.json").exists()
    gone = run_ennio("stop", cwd=work, env=env)
    assert gone.code != 0 and "no Ennio daemon runs" in gone.stderr


def test_foreground_daemon_stops_cleanly_on_sigterm(work: Path, env: dict[str, str], data_dir: Path) -> None:
    proc = subprocess.Popen([str(ENNIO), "start"], cwd=work, env=env, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (data_dir / "daemon.json").exists(), 60, what="the daemon to listen")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert proc.stderr is not None
        assert "listening on http://127.0.0.1:" in proc.stderr.read()
        assert not (data_dir / "ennio.pid").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_stale_pid_file_does_not_block_a_start(work: Path, env: dict[str, str], data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "ennio.pid").write_text(f"{os.getpid()}\n")  # a pid file nobody holds the lock of
    daemon = start_daemon(work, env, data_dir)
    assert daemon.pid != os.getpid()
