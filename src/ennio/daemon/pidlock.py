"""The daemon's pid file, held under an exclusive ``flock`` for as long as the daemon runs.

The lock, not the file's existence, says whether a daemon runs: after a crash (even SIGKILL) the kernel
drops the lock, so a stale pid file never blocks the next start, and two daemons on one data directory
can never both hold it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from ennio.core.errors import DaemonError


class PidLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and write our pid; :class:`DaemonError` naming the running daemon if it is held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _read_pid(self.path)
            raise DaemonError(
                f"an Ennio daemon already runs on {self.path.parent}" + (f" (pid {pid})" if pid else ""),
                hint="stop it with `ennio stop`, or give this one another data_dir",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None


def running_pid(path: Path) -> int | None:
    """The pid of the daemon holding ``path``'s lock, or ``None`` when no daemon holds it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(path) or 0  # held; 0 while the new daemon has not written its pid yet
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
