"""The host process of the ``process`` runtime: ``python -m ennio.plugins.runtime.ptyhost``.

It reads one JSON launch request on stdin, detaches (double fork, own session) so it outlives the
process that started it, runs the agent on a pseudo-terminal it owns, appends everything the agent
prints to the log file, keeps a pid file, and serves requests on a unix socket (mode 0600):

- ``{"op": "ping"}`` → ``{"alive": bool, "child_pid": int}``
- ``{"op": "send", "text", "submit", "echo_wait", "enter_wait", "max_enters"}`` → a send result
- ``{"op": "kill", "grace": seconds}`` → TERM to the agent's process group, KILL after the grace

When the agent exits the host records the exit code in the pid file, removes the socket and exits.
Standard library only, so it starts fast and depends on nothing but Python.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any, BinaryIO

from ennio.core.proc import process_start_time

PASTE_START = b"\x1b[200~"
PASTE_END = b"\x1b[201~"
_PASTE_ON = b"\x1b[?2004h"
_PASTE_OFF = b"\x1b[?2004l"
#: single lines up to this long are typed; anything else is pasted (bracketed when the app asked)
SHORT_TEXT = 200


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


class Host:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.name: str = spec["name"]
        self.argv: list[str] = spec["argv"]
        self.cwd: str = spec["cwd"]
        self.env: dict[str, str] = spec["env"]
        self.log_path = Path(spec["log"])
        self.pid_path = Path(spec["pid_file"])
        self.socket_path = Path(spec["socket"])
        self.size: tuple[int, int] = (int(spec.get("height", 50)), int(spec.get("width", 200)))
        self.max_log_bytes = int(spec.get("max_log_bytes", 20_000_000))
        self.master = -1
        self.child: subprocess.Popen[bytes] | None = None
        self.output_count = 0
        self.output_seen = asyncio.Event()
        self.bracketed_paste = False
        self._tail = b""
        self.exited = asyncio.Event()
        self.drained = asyncio.Event()
        self.exit_code: int | None = None
        self.send_lock = asyncio.Lock()
        self.listening = asyncio.Event()
        self.log = _open_log(self.log_path)

    # ------------------------------------------------------------------ start

    def spawn(self) -> None:
        master, slave = os.openpty()
        rows, cols = self.size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(os.environ)
        env["TERM"] = "xterm-256color"  # the terminal is ours, not the launcher's
        env.update(self.env)
        try:
            self.child = subprocess.Popen(
                self.argv,
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=self.cwd,
                env=env,
                start_new_session=True,
                preexec_fn=_take_controlling_tty,  # single-threaded here, so safe
            )
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self.master = master

    def write_pid_file(self, **extra: Any) -> None:
        assert self.child is not None
        data = {
            "name": self.name,
            "host_pid": os.getpid(),
            "child_pid": self.child.pid,
            "child_start": process_start_time(self.child.pid),
            "socket": str(self.socket_path),
            "log": str(self.log_path),
            "started_at": time.time(),
            **extra,
        }
        write_json_atomic(self.pid_path, data)

    # ------------------------------------------------------------------ terminal I/O

    def _on_output(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every process holding the terminal has closed it
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
            return
        self._log(data)
        window = self._tail + data
        on, off = window.rfind(_PASTE_ON), window.rfind(_PASTE_OFF)
        if on != off:
            self.bracketed_paste = on > off
        self._tail = window[-(len(_PASTE_ON) - 1) :]
        self.output_count += len(data)
        self.output_seen.set()

    def _log(self, data: bytes) -> None:
        self.log.write(data)
        self.log.flush()
        if self.log.tell() > self.max_log_bytes:
            self.log.close()
            os.replace(self.log_path, self.log_path.with_name(self.log_path.name + ".1"))
            self.log = _open_log(self.log_path)

    async def _write(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.master, view) :]
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(self.master, ready.set_result, None)
                try:
                    await asyncio.wait_for(ready, 5.0)
                finally:
                    loop.remove_writer(self.master)

    async def _output_after(self, mark: int, timeout: float) -> bool:
        """Whether the agent printed anything after ``mark`` within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.output_count <= mark and not self.exited.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.output_seen.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.output_seen.wait(), left)
        return self.output_count > mark

    async def _settle(self, mark: int, timeout: float) -> None:
        """Wait until typed text has been echoed and the output has held still briefly."""
        deadline = time.monotonic() + timeout
        if not await self._output_after(mark, timeout):
            return
        while time.monotonic() < deadline:
            mark = self.output_count
            if not await self._output_after(mark, min(0.05, max(deadline - time.monotonic(), 0))):
                return

    async def send(self, req: dict[str, Any]) -> dict[str, Any]:
        text: str = req["text"]
        enter_wait, max_enters = float(req["enter_wait"]), int(req["max_enters"])
        async with self.send_lock:
            if self.exited.is_set():
                return {"delivered": False, "attempts": 0, "detail": "the agent has exited"}
            if text:
                data = text.replace("\n", "\r").encode()
                if self.bracketed_paste and ("\n" in text or len(text) > SHORT_TEXT):
                    data = PASTE_START + data + PASTE_END
                mark = self.output_count
                await self._write(data)
                if not req["submit"]:
                    return {"delivered": True, "attempts": 0, "detail": "typed without pressing Enter"}
                await self._settle(mark, float(req["echo_wait"]))
            elif not req["submit"]:
                return {"delivered": True, "attempts": 0, "detail": "nothing to type"}
            for attempt in range(1, max_enters + 1):
                mark = self.output_count
                await self._write(b"\r")
                if await self._output_after(mark, enter_wait):
                    return {"delivered": True, "attempts": attempt, "detail": ""}
                if self.exited.is_set():
                    return {"delivered": False, "attempts": attempt, "detail": "the agent exited"}
            return {
                "delivered": False,
                "attempts": max_enters,
                "detail": f"the agent did not react to the text after {max_enters} Enter presses",
            }

    # ------------------------------------------------------------------ lifecycle

    def _reap(self) -> None:
        if self.child is not None and self.child.poll() is not None and not self.exited.is_set():
            self.exit_code = self.child.returncode
            self.exited.set()

    def _signal_group(self, sig: int) -> None:
        if self.child is not None and not self.exited.is_set():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.child.pid, sig)

    async def kill(self, grace: float) -> dict[str, Any]:
        self._signal_group(signal.SIGTERM)
        self._signal_group(signal.SIGHUP)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.exited.wait(), grace)
        if not self.exited.is_set():
            self._signal_group(signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.exited.wait(), 5.0)
        return {"stopped": self.exited.is_set(), "exit_code": self.exit_code}

    async def handle_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            req = json.loads(line) if line else {}
            op = req.get("op")
            if op == "ping":
                # alive until the last output is in the log, so a reader never misses the final screen
                reply: dict[str, Any] = {"alive": not self.drained.is_set(), "child_pid": self.child_pid}
            elif op == "send":
                reply = await self.send(req)
            elif op == "kill":
                reply = await self.kill(float(req.get("grace", 5.0)))
            else:
                reply = {"error": f"unknown request {op!r}"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (ConnectionError, ValueError) as exc:
            print(f"ptyhost {self.name}: bad request: {exc}", file=sys.stderr)
        finally:
            writer.close()

    @property
    def child_pid(self) -> int:
        return self.child.pid if self.child is not None else -1

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self.master, self._on_output)
        loop.add_signal_handler(signal.SIGCHLD, self._reap)
        loop.add_signal_handler(signal.SIGTERM, self._signal_group, signal.SIGTERM)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)
        self._reap()  # the agent may have exited before the handler was in place
        old_umask = os.umask(0o177)
        try:
            server = await asyncio.start_unix_server(self.handle_client, path=str(self.socket_path))
        finally:
            os.umask(old_umask)
        self.listening.set()
        await self.exited.wait()
        # let the terminal drain what the agent printed last
        await asyncio.sleep(0.05)
        with contextlib.suppress(OSError):
            while data := os.read(self.master, 65536):
                self._log(data)
        self.log.flush()
        self.drained.set()
        self.write_pid_file(exit_code=self.exit_code, exited_at=time.time())
        server.close()
        self.socket_path.unlink(missing_ok=True)
        await asyncio.sleep(0.1)  # replies in flight (a kill's answer) go out before the loop ends
        self.log.close()


def _open_log(path: Path) -> BinaryIO:
    """The agent's log, private to the user (agents print tokens and code)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")


def _take_controlling_tty() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _detach() -> None:
    """Double fork: the launcher reaps the first child at once; the host is adopted by init."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)


def main() -> int:
    spec = json.loads(sys.stdin.readline())
    _detach()
    try:
        host = Host(spec)
        host.spawn()
        host.write_pid_file()
    except OSError as exc:
        sys.stdout.write(json.dumps({"error": f"cannot run {spec['argv'][0]!r}: {exc.strerror or exc}"}) + "\n")
        sys.stdout.flush()
        return 1
    asyncio.run(_run(host))
    return 0


async def _run(host: Host) -> None:
    serving = asyncio.create_task(host.serve())
    listening = asyncio.create_task(host.listening.wait())
    await asyncio.wait([serving, listening], return_when=asyncio.FIRST_COMPLETED)
    listening.cancel()
    if serving.done():
        serving.result()  # raises what went wrong; the launcher sees the stream close
    sys.stdout.write(json.dumps({"ok": True, "host_pid": os.getpid(), "child_pid": host.child_pid}) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    await serving


if __name__ == "__main__":
    raise SystemExit(main())
