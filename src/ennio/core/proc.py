"""Running external programs (git, tmux, agent CLIs) for plugins and services: argv lists only, never a shell.

Every command is logged with its argv (secrets belong in the environment, not in argv), has a
timeout, and failures come back as the plugin's own error type carrying the command's stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ennio.core.errors import EnnioError, MissingTool, PluginError

log = logging.getLogger("ennio.proc")


@dataclass(slots=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


async def run(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    input: str | bytes | None = None,
    timeout: float | None = 60.0,
    check: bool = True,
    error: type[EnnioError] = PluginError,
    what: str | None = None,
) -> Completed:
    """Run ``argv`` and capture its output.

    ``check`` raises ``error`` (with the last lines of stderr) on a non-zero exit; a missing
    program raises :class:`MissingTool`; a timeout kills the process group and raises ``error``.
    """
    args = [str(a) for a in argv]
    if not args:
        raise ValueError("empty command")
    full_env: dict[str, str] | None = None
    if env is not None or extra_env:
        full_env = dict(os.environ if env is None else env)
        full_env.update(extra_env or {})
    log.debug("run %s (cwd=%s)", args, cwd)
    data = input.encode() if isinstance(input, str) else input
    try:
        proc = await asyncio.create_subprocess_exec(
            *args,
            cwd=str(cwd) if cwd is not None else None,
            env=full_env,
            stdin=asyncio.subprocess.PIPE if data is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        if cwd is not None and not Path(cwd).is_dir():
            raise error(f"folder {cwd} does not exist") from None
        raise MissingTool(f"{args[0]} is not installed (or not on PATH)") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except TimeoutError:
        _kill_group(proc)
        await proc.wait()
        raise error(f"{what or args[0]} timed out after {timeout:g}s: {' '.join(args)}") from None
    except asyncio.CancelledError:
        _kill_group(proc)
        raise
    result = Completed(args, proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))
    if check and not result.ok:
        raise error(
            f"{what or ' '.join(args[:3])} failed (exit {result.returncode}): {tail(result.stderr or result.stdout)}"
        )
    return result


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, 9)


def tail(text: str, lines: int = 5) -> str:
    """Last non-empty lines of ``text`` joined by ' | ' (for one-line error messages)."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept) or "(no output)"


def require(program: str, install_hint: str) -> str:
    """Full path of ``program``, or :class:`MissingTool` saying how to install it."""
    found = shutil.which(program)
    if found is None:
        raise MissingTool(f"{program} is not installed (or not on PATH)", hint=install_hint)
    return found


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (Linux ``/proc``), which tells a process from a later one
    given the same pid; ``None`` where it cannot be read."""
    stat = _proc_stat(pid)
    return stat[1] if stat else None


def pid_running(pid: object, start: str | None = None) -> bool:
    """Whether process ``pid`` runs. A zombie (dead, not yet reaped) counts as gone, and so, when
    ``start`` (from :func:`process_start_time`) is given, does a pid now used by another process."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    stat = _proc_stat(pid)
    if stat is None:
        return True  # no /proc (macOS): the pid exists, trust it
    state, started = stat
    return state != "Z" and (start is None or start == started)


def _proc_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks) of ``pid`` from /proc, or ``None``."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None
