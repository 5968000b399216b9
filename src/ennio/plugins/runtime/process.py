"""Runtime ``process``: the agent on a pseudo-terminal owned by a small detached host process.

``start`` launches :mod:`ennio.plugins.runtime.ptyhost`, which detaches (so the agent survives the
CLI or daemon that started it), runs the agent on a pty, appends all output to a log file, keeps a
pid file and takes requests on a unix socket (mode 0600) under the data directory — so any Ennio
process can ``send`` to the agent. ``output`` is the tail of the log with terminal escapes
stripped. Not interactive: ``attach_command`` follows the log with ``tail -F``; use the tmux
runtime to type into an agent's terminal yourself.

Files, under ``<data dir>/run/process/``: ``NAME.json`` (pid file), ``NAME.sock``,
``NAME.host.log`` (the host's own errors). The agent's output goes to ``LaunchSpec.log_path``,
by default ``<data dir>/logs/NAME.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

from ennio.core.errors import Conflict, RuntimeFailure
from ennio.core.plugins import LaunchSpec, PluginContext, PluginManifest, RuntimeHandle, SendResult, Slot
from ennio.core.proc import pid_running, process_start_time
from ennio.plugins.runtime._spec import check_name, check_spec
from ennio.plugins.runtime._text import clean_input, strip_terminal

#: the longest unix socket path that binds everywhere (Linux allows 107 bytes, macOS 103)
_SOCKET_PATH_MAX = 100


class ProcessRuntime:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        "process",
        Slot.RUNTIME,
        "0.1.0",
        "agent on a pseudo-terminal under a detached host process; output to a log file (not interactive)",
    )

    width = 200
    height = 50
    #: how long ``send`` waits for typed text to be echoed before pressing Enter
    echo_wait = 1.0
    #: how long ``send`` waits, after each Enter, for the agent to react
    enter_wait = 2.0
    max_enters = 3
    #: seconds between TERM and KILL in ``destroy``
    kill_grace = 5.0
    #: the log is rotated to ``NAME.log.1`` beyond this size
    max_log_bytes = 20_000_000

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        self.run_dir = ctx.data_dir / "run" / "process"
        self.logs_dir = ctx.data_dir / "logs"

    # ------------------------------------------------------------------ files

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / f"{check_name(name)}.json"

    def _socket_path(self, name: str) -> Path:
        path = self.run_dir / f"{name}.sock"
        if len(os.fsencode(path)) <= _SOCKET_PATH_MAX:
            return path
        # a deep data directory: fall back to a private folder in /tmp, keyed by the full path
        short = Path(tempfile.gettempdir()) / f"ennio-{os.getuid()}"
        short.mkdir(mode=0o700, exist_ok=True)
        if short.stat().st_uid != os.getuid() or short.stat().st_mode & 0o077:
            raise RuntimeFailure(f"{short} is not a private folder of this user", hint="remove it and try again")
        return short / (hashlib.sha256(os.fsencode(path)).hexdigest()[:16] + ".sock")

    def _read_pid_file(self, name: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self._pid_file(name).read_text())
        except (OSError, ValueError):
            return None
        return data

    # ------------------------------------------------------------------ talking to a host

    async def _request(self, socket: str | Path, req: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The host's answer, or ``None`` if no host listens on ``socket``."""
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(socket)), 5.0)
        except (OSError, TimeoutError):
            return None
        try:
            writer.write(json.dumps(req).encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), timeout)
        except (ConnectionResetError, BrokenPipeError):
            return None  # the host was shutting down as we connected: same as no host
        except (OSError, TimeoutError) as exc:
            raise RuntimeFailure(f"the process runtime's host at {socket} did not answer: {exc!r}") from None
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if not line:
            return None
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _socket_of(self, handle: RuntimeHandle) -> str:
        socket = handle.data.get("socket") or (self._read_pid_file(handle.id) or {}).get("socket")
        return str(socket) if socket else str(self._socket_path(check_name(handle.id)))

    # ------------------------------------------------------------------ Runtime

    async def start(self, spec: LaunchSpec) -> RuntimeHandle:
        check_spec(spec)
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        socket = self._socket_path(spec.name)
        existing = self._read_pid_file(spec.name)
        if existing is not None:
            answer = await self._request(existing.get("socket", socket), {"op": "ping"}, 5.0)
            if answer and answer.get("alive"):
                raise Conflict(f"an agent named {spec.name} is already running", hint="destroy it first")
            await self._wait_host_gone(int(existing.get("host_pid", -1)))  # its last writes must not hit ours
        for stale in (self._pid_file(spec.name), socket):
            stale.unlink(missing_ok=True)
        log_path = spec.log_path or self.logs_dir / f"{spec.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        request = {
            "name": spec.name,
            "argv": spec.argv,
            "cwd": str(spec.cwd),
            "env": spec.env,
            "log": str(log_path),
            "pid_file": str(self._pid_file(spec.name)),
            "socket": str(socket),
            "width": self.width,
            "height": self.height,
            "max_log_bytes": self.max_log_bytes,
        }
        host_log = self.run_dir / f"{spec.name}.host.log"
        answer = await self._launch_host(request, host_log)
        if "error" in answer:
            self._pid_file(spec.name).unlink(missing_ok=True)
            raise RuntimeFailure(f"could not start {spec.name}: {answer['error']}")
        return RuntimeHandle(
            "process",
            spec.name,
            {
                "socket": str(socket),
                "log": str(log_path),
                "host_pid": answer["host_pid"],
                "child_pid": answer["child_pid"],
            },
        )

    async def _launch_host(self, request: dict[str, Any], host_log: Path) -> dict[str, Any]:
        line = await asyncio.to_thread(_run_host, json.dumps(request).encode() + b"\n", host_log)
        if not line:
            detail = host_log.read_text(errors="replace").strip().splitlines()[-1:] or ["no answer"]
            raise RuntimeFailure(f"the process runtime's host for {request['name']} failed: {detail[0]}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def send(self, handle: RuntimeHandle, text: str, *, submit: bool = True) -> SendResult:
        req = {
            "op": "send",
            "text": clean_input(text),
            "submit": submit,
            "echo_wait": self.echo_wait,
            "enter_wait": self.enter_wait,
            "max_enters": self.max_enters,
        }
        timeout = self.echo_wait + self.enter_wait * self.max_enters + 10.0
        answer = await self._request(self._socket_of(handle), req, timeout)
        if answer is None:
            info = self._read_pid_file(handle.id) or {}
            if "exit_code" in info:
                return SendResult(False, 0, f"the agent has exited (exit code {info['exit_code']})")
            return SendResult(False, 0, f"the agent {handle.id} is not running")
        return SendResult(bool(answer["delivered"]), int(answer["attempts"]), str(answer.get("detail", "")))

    async def output(self, handle: RuntimeHandle, lines: int = 200) -> str:
        log = handle.data.get("log")
        path = Path(str(log)) if log else self.logs_dir / f"{check_name(handle.id)}.log"
        raw = await asyncio.to_thread(_read_tail, path, max(64_000, lines * 1_000))
        kept = strip_terminal(raw).split("\n")
        while kept and not kept[-1].strip():
            kept.pop()
        return "\n".join(kept[-lines:]) if lines > 0 else ""

    async def alive(self, handle: RuntimeHandle) -> bool:
        answer = await self._request(self._socket_of(handle), {"op": "ping"}, 5.0)
        return bool(answer and answer.get("alive"))

    async def destroy(self, handle: RuntimeHandle) -> None:
        name = check_name(handle.id)
        socket = self._socket_of(handle)
        answer = await self._request(socket, {"op": "kill", "grace": self.kill_grace}, self.kill_grace + 15.0)
        info = self._read_pid_file(name)
        if answer is None and info is not None and "exit_code" not in info:
            await self._kill_orphan(info)  # the host died and left the agent running
        if info is not None:
            await self._wait_host_gone(int(info.get("host_pid", -1)))
        for path in (self._pid_file(name), Path(socket), self.run_dir / f"{name}.host.log"):
            path.unlink(missing_ok=True)

    async def _kill_orphan(self, info: dict[str, Any]) -> None:
        pid = int(info.get("child_pid", -1))
        if not _same_process(pid, info.get("child_start")):
            return  # gone, or the pid now belongs to another process
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            deadline = time.monotonic() + self.kill_grace
            # not our child: no event tells when it exits, so look every 50 ms
            while _same_process(pid, info.get("child_start")) and time.monotonic() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.05)

    async def _wait_host_gone(self, host_pid: int) -> None:
        """Until the host has exited (it does within moments of its agent), at most 5 s."""
        deadline = time.monotonic() + 5.0
        while pid_running(host_pid) and time.monotonic() < deadline:  # noqa: ASYNC110 - not our child
            await asyncio.sleep(0.02)

    async def list_alive(self, prefix: str) -> list[str]:
        if not self.run_dir.is_dir():
            return []
        names = [p.stem for p in self.run_dir.glob("*.json") if p.stem.startswith(prefix)]

        async def check(name: str) -> str | None:
            info = self._read_pid_file(name)
            if info is None or "exit_code" in info:
                return None
            answer = await self._request(str(info.get("socket", self._socket_path(name))), {"op": "ping"}, 5.0)
            return name if answer and answer.get("alive") else None

        found = await asyncio.gather(*(check(n) for n in names))
        return sorted(n for n in found if n)

    def attach_command(self, handle: RuntimeHandle) -> list[str]:
        log = handle.data.get("log") or str(self.logs_dir / f"{check_name(handle.id)}.log")
        return ["tail", "-n", "200", "-F", str(log)]


def _run_host(request: bytes, host_log: Path) -> bytes:
    """Start the host and return its first line (``{"ok": …}`` or ``{"error": …}``).

    The host forks away at once; its first child exits and is reaped here, and the host closes
    its end of stdout once it is listening, so this returns as soon as the agent is reachable.
    """
    err = os.open(host_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ennio.plugins.runtime.ptyhost"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            start_new_session=True,
        )
    finally:
        os.close(err)
    try:
        out, _ = proc.communicate(request, timeout=30.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return b""
    return out.split(b"\n", 1)[0]


def _read_tail(path: Path, size: int) -> str:
    """The last ``size`` bytes of the log (reaching into the rotated ``.1`` file if needed)."""
    chunks: list[bytes] = []
    for part in (path, path.with_name(path.name + ".1")):
        try:
            with open(part, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                end = fh.tell()
                fh.seek(max(0, end - size))
                chunk = fh.read()
        except FileNotFoundError:
            continue
        chunks.insert(0, chunk)
        size -= len(chunk)
        if size <= 0:
            break
    return b"".join(chunks).decode(errors="replace")


def _same_process(pid: int, start: object) -> bool:
    """Whether ``pid`` still runs and is the process that started at ``start`` (not a reused pid)."""
    return pid > 0 and process_start_time(pid) == start and pid_running(pid)
