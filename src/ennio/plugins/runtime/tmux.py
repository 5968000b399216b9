"""Runtime ``tmux`` (default): each agent in its own detached tmux session.

- The session is named by ``LaunchSpec.name`` (``ennio.core.ids.tmux_session_name``) and runs a tiny
  exec wrapper (:mod:`ennio.plugins.runtime._tmux_exec`) that reads argv, environment and folder from
  a private file and execs the agent, so nothing the agent gets passes through a shell or tmux's own
  argument parsing, and secrets never appear in an argv.
- ``remain-on-exit`` keeps the pane (and its last screen) after the agent exits; ``alive`` reports
  the pane dead.
- ``reserve`` (the optional ``EarlyStart``) opens the session before the agent's workspace exists: the
  wrapper then reads its spec from a private FIFO, blocking until ``start`` writes it, so tmux starts
  while git makes the worktree.
- ``ENNIO_TMUX_SOCKET`` selects a private tmux server (``tmux -L NAME``); unset means the user's
  default server. A handle remembers the server it was started on.
- ``send`` types short single lines with ``send-keys -l`` and pastes anything else from a named
  buffer (bracketed paste, so a TUI keeps it in its input box), presses Enter, and then watches the
  screen: if the input line still holds the text, the agent did not take it and Enter is pressed
  again, a bounded number of times.

Size: over 400 lines because start, send with its take-checks, batched screens and the early start
share the wrapper spec and the server-exit retry; split, each half would need the other's internals.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ennio.core.config import ProjectConfig
from ennio.core.errors import Conflict, InvalidId, RuntimeFailure
from ennio.core.plugins import LaunchSpec, PluginContext, PluginManifest, RuntimeHandle, SendResult, Slot
from ennio.core.proc import Completed, require, run, tail
from ennio.plugins.runtime import _tmux_exec
from ennio.plugins.runtime._spec import check_name, check_spec
from ennio.plugins.runtime._text import clean_input

SOCKET_ENV = "ENNIO_TMUX_SOCKET"
#: screens read by one tmux invocation in ``screens`` (its argv stays far below the system limit)
SCREENS_PER_CALL = 50
INSTALL_HINT = "install tmux: `apt-get install tmux` (Debian/Ubuntu), `brew install tmux` (macOS)"
#: single lines up to this long are typed with send-keys; anything else is pasted from a buffer
SHORT_TEXT = 200
_EXEC_SCRIPT = Path(_tmux_exec.__file__)
_PANE_ID_RE = re.compile(r"%[0-9]+")
_GONE_MARKERS = ("can't find", "no server running", "error connecting", "server exited")
#: what tmux says when a new session's client met the server as it exited (its last session just ended)
_SERVER_RACE_MARKERS = ("server exited unexpectedly", "no server running", "lost server")
SERVER_RACE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class _Screen:
    """One look at a pane: its visible lines, cursor and state."""

    session: str
    dead: bool
    in_mode: bool
    cursor: tuple[int, int]
    lines: tuple[str, ...]


class TmuxRuntime:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        "tmux", Slot.RUNTIME, "0.1.0", "each agent in its own detached tmux session (default)"
    )

    #: pane size of new sessions (agents' TUIs render for this size until someone attaches)
    width = 200
    height = 50
    #: how long ``send`` waits for typed text to show before pressing Enter
    echo_wait = 1.0
    #: how long ``send`` waits, after each Enter, for the agent to take the text
    enter_wait = 2.0
    #: how many times ``send`` presses Enter before it reports the text was not taken
    max_enters = 3
    #: longest wait (seconds) for a reserved session's wrapper to open its FIFO
    handover_timeout = 30.0

    def __init__(self, ctx: PluginContext) -> None:
        self._ctx = ctx
        socket = os.environ.get(SOCKET_ENV) or None
        if socket is not None:
            try:
                check_name(socket)
            except InvalidId as exc:
                raise InvalidId(f"{SOCKET_ENV}: {exc.message}", hint=exc.hint) from None
        self.socket = socket
        self._binary: str | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        #: reserved sessions not started yet: name -> (handle, FIFO the wrapper waits on)
        self._reserved: dict[str, tuple[RuntimeHandle, Path]] = {}

    # ------------------------------------------------------------------ tmux commands

    def _tmux_path(self) -> str:
        if self._binary is None:
            self._binary = require("tmux", INSTALL_HINT)
        return self._binary

    async def _tmux(
        self,
        socket: str | None,
        *commands: Sequence[str],
        input: bytes | None = None,
        check: bool = True,
        timeout: float = 15.0,
    ) -> Completed:
        """Run one or more tmux commands (joined with ``;``) on ``socket``'s server."""
        argv = [self._tmux_path()]
        if socket:
            argv += ["-L", socket]
        for i, command in enumerate(commands):
            if i:
                argv.append(";")
            argv += [_arg(a) for a in command]
        return await run(
            argv, input=input, check=check, timeout=timeout, error=RuntimeFailure, what=f"tmux {commands[0][0]}"
        )

    def _socket_of(self, handle: RuntimeHandle) -> str | None:
        """The server the handle's session lives on; a handle that does not say (one rebuilt from just the
        session name, e.g. for a spawn cut short before its handle was stored) means this runtime's server."""
        if "socket" not in handle.data:
            return self.socket
        socket = handle.data.get("socket")
        return str(socket) if socket else None

    @staticmethod
    def _target(handle: RuntimeHandle) -> str:
        pane = str(handle.data.get("pane") or "")
        return pane if _PANE_ID_RE.fullmatch(pane) else f"={check_name(handle.id)}:"

    # ------------------------------------------------------------------ Runtime

    async def preflight(self, project: ProjectConfig) -> None:
        """tmux is installed (checked before a session's workspace is made)."""
        self._tmux_path()

    async def start(self, spec: LaunchSpec) -> RuntimeHandle:
        """Start the agent in a new session; a dead session of the same name (kept for its screen) is replaced.
        A session reserved under the name gets the spec instead."""
        check_spec(spec)
        self._tmux_path()
        reserved = self._reserved.pop(spec.name, None)
        if reserved is not None:
            return await self._hand_over(spec, *reserved)
        try:
            return await self._start(spec)
        except Conflict:
            old = RuntimeHandle("tmux", spec.name, {"socket": self.socket})
            if await self.alive(old):
                raise
            await self.destroy(old)
            return await self._start(spec)

    async def _start(self, spec: LaunchSpec) -> RuntimeHandle:
        spec_file = self._spec_path(spec.name)
        _write_private(spec_file, _wrapper_spec(spec))
        return await self._new_session(spec.name, spec.cwd, spec_file)

    async def reserve(self, name: str) -> RuntimeHandle:
        """Open session ``name`` now, its wrapper waiting on a private FIFO for ``start`` to hand it the spec."""
        check_name(name)
        self._tmux_path()
        fifo = self._spec_path(name)
        os.mkfifo(fifo, 0o600)
        handle = await self._new_session(name, fifo.parent, fifo)
        self._reserved[name] = (handle, fifo)
        return handle

    async def _hand_over(self, spec: LaunchSpec, handle: RuntimeHandle, fifo: Path) -> RuntimeHandle:
        """Write the spec into the reserved session's FIFO (the wrapper then execs the agent)."""
        data = json.dumps(_wrapper_spec(spec)).encode()
        try:
            await asyncio.to_thread(_write_fifo, fifo, data, self.handover_timeout)
        except BaseException as exc:
            await asyncio.shield(asyncio.ensure_future(self.destroy(handle)))
            if isinstance(exc, OSError):
                raise RuntimeFailure(
                    f"tmux session {spec.name} did not take its agent: {exc.strerror or exc}",
                    hint="run `ennio doctor`; the session was removed, so spawning again is safe",
                ) from None
            raise
        return handle

    def _spec_path(self, name: str) -> Path:
        run_dir = self._ctx.data_dir / "run" / "tmux"
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return run_dir / f"{name}.{os.getpid()}.{time.monotonic_ns()}.json"

    async def _new_session(self, name: str, cwd: Path, spec_file: Path) -> RuntimeHandle:
        """A detached session ``name`` running the exec wrapper on ``spec_file``; nothing is left behind
        when this fails or is cancelled."""
        program = [sys.executable, "-I", "-S", str(_EXEC_SCRIPT), str(spec_file)]
        new_session = ["new-session", "-d", "-s", name, "-c", str(cwd).replace("#", "##")]
        new_session += ["-x", str(self.width), "-y", str(self.height), "-P", "-F", "#{pane_id}", "--", *program]
        keep_dead_pane = ["set-option", "-w", "-t", f"={name}:", "remain-on-exit", "on"]
        try:
            result = await self._tmux(self.socket, new_session, keep_dead_pane, check=False)
            for _ in range(SERVER_RACE_RETRIES):
                if result.ok or not any(m in result.stderr for m in _SERVER_RACE_MARKERS):
                    break
                # the server was exiting with its last session as this client connected: a new one starts now
                await asyncio.sleep(0.05)
                result = await self._tmux(self.socket, new_session, keep_dead_pane, check=False)
        except BaseException:
            # cancelled or timed out: tmux may have made the session already; leave nothing behind
            spec_file.unlink(missing_ok=True)
            kill = self._tmux(self.socket, ["kill-session", "-t", f"={name}"], check=False)
            await asyncio.shield(asyncio.ensure_future(kill))
            raise
        pane = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
        if result.ok and pane.startswith("%"):
            return RuntimeHandle("tmux", name, {"socket": self.socket, "pane": pane})
        spec_file.unlink(missing_ok=True)
        if "duplicate session" in result.stderr:
            raise Conflict(
                f"tmux session {name} already exists",
                hint=f"attach with `tmux attach -t {name}` or kill it first",
            )
        if pane:  # the session was made but setting it up failed: leave nothing behind
            await self._tmux(self.socket, ["kill-session", "-t", f"={name}"], check=False)
        raise RuntimeFailure(f"tmux could not start session {name}: {tail(result.stderr or result.stdout)}")

    async def send(self, handle: RuntimeHandle, text: str, *, submit: bool = True) -> SendResult:
        text = clean_input(text)
        lock = self._locks.setdefault(handle.id, asyncio.Lock())
        async with lock:
            try:
                return await self._send(handle, text, submit)
            except RuntimeFailure:
                now = await self._screen(handle)
                if now is None or now.dead:  # the agent went away while we typed
                    return SendResult(False, 0, f"the agent {handle.id} exited while the text was being sent")
                raise

    async def _send(self, handle: RuntimeHandle, text: str, submit: bool) -> SendResult:
        socket, target = self._socket_of(handle), self._target(handle)
        before = await self._screen(handle)
        if before is None:
            return SendResult(False, 0, f"tmux session {handle.id} is gone")
        if before.dead:
            return SendResult(False, 0, "the agent has exited")
        if before.in_mode:  # someone left the pane in copy mode: keys would go there
            await self._tmux(socket, ["send-keys", "-t", target, "-X", "cancel"], check=False)
        if text:
            await self._type(handle, text)
        if not submit:
            return SendResult(True, 0, "typed without pressing Enter")
        shown = await self._settled(handle, before) if text else before
        probe = _probe(text)
        for attempt in range(1, self.max_enters + 1):
            await self._tmux(socket, ["send-keys", "-t", target, "Enter"])
            after = await self._poll(handle, lambda s: s is None or s.dead or _taken(shown, s, probe))
            if after is not None and (after.dead or _taken(shown, after, probe)):
                return SendResult(True, attempt)
            if after is None:
                return SendResult(False, attempt, f"tmux session {handle.id} went away")
        return SendResult(
            False,
            self.max_enters,
            f"the agent did not take the text: its input line was unchanged after {self.max_enters} Enter presses",
        )

    async def _type(self, handle: RuntimeHandle, text: str) -> None:
        socket, target = self._socket_of(handle), self._target(handle)
        if "\n" not in text and len(text) <= SHORT_TEXT:
            await self._tmux(socket, ["send-keys", "-t", target, "-l", "--", text])
            return
        buffer = f"ennio-{handle.id}-{os.getpid()}-{time.monotonic_ns()}"
        await self._tmux(
            socket,
            ["load-buffer", "-b", buffer, "-"],
            ["paste-buffer", "-d", "-p", "-b", buffer, "-t", target],
            input=text.encode(),
        )

    async def _screen(self, handle: RuntimeHandle) -> _Screen | None:
        """The pane's visible screen and state, or ``None`` if its session is gone."""
        target = self._target(handle)
        fmt = "#{session_name}\t#{pane_dead}\t#{pane_in_mode}\t#{cursor_x}\t#{cursor_y}"
        result = await self._tmux(
            self._socket_of(handle),
            ["display-message", "-p", "-t", target, fmt],
            ["capture-pane", "-p", "-t", target],
            check=False,
        )
        if not result.ok:
            if _gone(result):
                return None
            raise RuntimeFailure(f"tmux could not read session {handle.id}: {tail(result.stderr)}")
        head, _, body = result.stdout.partition("\n")
        session, dead, in_mode, x, y = head.split("\t")
        if session != handle.id:
            return None
        lines = tuple(body[:-1].split("\n")) if body.endswith("\n") else tuple(body.split("\n"))
        return _Screen(session, dead == "1", in_mode == "1", (int(x), int(y)), lines)

    async def _poll(self, handle: RuntimeHandle, done: Callable[[_Screen | None], bool]) -> _Screen | None:
        """Look at the screen until ``done`` says so or ``enter_wait`` passes; the last look."""
        deadline = time.monotonic() + self.enter_wait
        delay = 0.02
        while True:
            screen = await self._screen(handle)
            if done(screen) or time.monotonic() >= deadline:
                return screen
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    async def _settled(self, handle: RuntimeHandle, before: _Screen) -> _Screen:
        """The screen once typed text has shown (it changed, then held still), within ``echo_wait``."""
        deadline = time.monotonic() + self.echo_wait
        last = before
        changed = False
        while time.monotonic() < deadline:
            await asyncio.sleep(0.03)
            screen = await self._screen(handle)
            if screen is None:
                return last
            if changed and screen.lines == last.lines and screen.cursor == last.cursor:
                return screen
            changed = changed or screen.lines != before.lines or screen.cursor != before.cursor
            last = screen
        return last

    async def output(self, handle: RuntimeHandle, lines: int = 200) -> str:
        target = self._target(handle)
        result = await self._tmux(
            self._socket_of(handle),
            ["display-message", "-p", "-t", target, "#{session_name}"],
            ["capture-pane", "-p", "-J", "-S", f"-{max(lines, 1)}", "-t", target],
            check=False,
        )
        session, _, body = result.stdout.partition("\n")
        if not result.ok or session != handle.id:
            if result.ok or _gone(result):
                raise RuntimeFailure(
                    f"tmux session {handle.id} is gone", hint="the agent was stopped; its screen is no longer kept"
                )
            raise RuntimeFailure(f"tmux could not read session {handle.id}: {tail(result.stderr)}")
        kept = body.rstrip("\n").split("\n")
        while kept and not kept[-1].strip():
            kept.pop()
        return "\n".join(kept[-lines:]) if lines > 0 else ""

    async def alive(self, handle: RuntimeHandle) -> bool:
        result = await self._tmux(
            self._socket_of(handle),
            ["display-message", "-p", "-t", self._target(handle), "#{session_name}\t#{pane_dead}"],
            check=False,
        )
        if not result.ok:
            if _gone(result):
                return False
            raise RuntimeFailure(f"tmux could not check session {handle.id}: {tail(result.stderr)}")
        return result.stdout.strip() == f"{handle.id}\t0"

    async def destroy(self, handle: RuntimeHandle) -> None:
        name = check_name(handle.id)
        self._reserved.pop(name, None)
        result = await self._tmux(self._socket_of(handle), ["kill-session", "-t", f"={name}"], check=False)
        for leftover in (self._ctx.data_dir / "run" / "tmux").glob(f"{name}.*.json"):
            leftover.unlink(missing_ok=True)
        if not result.ok and not _gone(result):
            raise RuntimeFailure(f"tmux could not kill session {name}: {tail(result.stderr)}")

    async def list_alive(self, prefix: str) -> list[str]:
        result = await self._tmux(self.socket, ["list-panes", "-a", "-F", "#{session_name}\t#{pane_dead}"], check=False)
        if not result.ok:
            if _gone(result):
                return []
            raise RuntimeFailure(f"tmux could not list sessions: {tail(result.stderr)}")
        names = set()
        for line in result.stdout.splitlines():
            name, _, dead = line.rpartition("\t")
            if dead == "0" and name.startswith(prefix):
                names.add(name)
        return sorted(names)

    async def screens(self, handles: Sequence[RuntimeHandle], lines: int = 200) -> dict[str, str | None]:
        """Liveness of every handle from one ``list-panes`` per server, then the screens of the live
        ones, ``SCREENS_PER_CALL`` per tmux invocation (``display-message`` markers between them)."""
        out: dict[str, str | None] = {}
        by_socket: dict[str | None, list[RuntimeHandle]] = {}
        for handle in handles:
            by_socket.setdefault(self._socket_of(handle), []).append(handle)
        for socket, group in by_socket.items():
            result = await self._tmux(socket, ["list-panes", "-a", "-F", "#{session_name}\t#{pane_dead}"], check=False)
            if not result.ok and not _gone(result):
                raise RuntimeFailure(f"tmux could not list sessions: {tail(result.stderr)}")
            live = {n for n, _, dead in (line.rpartition("\t") for line in result.stdout.splitlines()) if dead == "0"}
            alive = []
            for handle in group:
                if handle.id in live:
                    alive.append(handle)
                else:
                    out[handle.id] = None
            for start in range(0, len(alive), SCREENS_PER_CALL):
                out.update(await self._screens(socket, alive[start : start + SCREENS_PER_CALL], lines))
        return out

    async def _screens(self, socket: str | None, handles: Sequence[RuntimeHandle], lines: int) -> dict[str, str | None]:
        marker = f"@@ennio-screen-{secrets.token_hex(6)}@@"
        commands: list[list[str]] = []
        for handle in handles:
            commands.append(["display-message", "-p", f"{marker}{handle.id}"])
            commands.append(["capture-pane", "-p", "-J", "-S", f"-{max(lines, 1)}", "-t", self._target(handle)])
        result = await self._tmux(socket, *commands, check=False)
        if not result.ok:  # one of them went away meanwhile: ask one by one
            out: dict[str, str | None] = {}
            for handle in handles:
                try:
                    out[handle.id] = await self.output(handle, lines)
                except RuntimeFailure:
                    out[handle.id] = None
            return out
        screens: dict[str, list[str]] = {}
        current: list[str] | None = None
        for line in result.stdout.split("\n"):
            if line.startswith(marker):
                current = screens.setdefault(line[len(marker) :], [])
            elif current is not None:
                current.append(line)
        found: dict[str, str | None] = {}
        for handle in handles:
            kept = screens.get(handle.id)
            if kept is None:
                found[handle.id] = None
                continue
            while kept and not kept[-1].strip():
                kept.pop()
            found[handle.id] = "\n".join(kept[-lines:]) if lines > 0 else ""
        return found

    def attach_command(self, handle: RuntimeHandle) -> list[str]:
        socket = self._socket_of(handle)
        return ["tmux", *(["-L", socket] if socket else []), "attach-session", "-t", check_name(handle.id)]


# ---------------------------------------------------------------------- helpers


def _arg(value: str) -> str:
    """Escape an argument for tmux's command line, where a trailing ``;`` ends the command."""
    return value[:-1] + "\\;" if value.endswith(";") else value


def _gone(result: Completed) -> bool:
    return any(marker in result.stderr for marker in _GONE_MARKERS)


def _wrapper_spec(spec: LaunchSpec) -> dict[str, object]:
    """What the exec wrapper reads: the agent's argv, environment and folder."""
    return {"argv": spec.argv, "env": spec.env, "cwd": str(spec.cwd)}


def _write_fifo(fifo: Path, data: bytes, timeout: float) -> None:
    """Write ``data`` into ``fifo`` once its reader has opened it (``ENXIO`` until then), then remove it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
            if time.monotonic() >= deadline:
                raise OSError(
                    errno.ETIMEDOUT, f"its program did not read its launch spec within {timeout:g}s"
                ) from None
            time.sleep(0.002)
    try:
        os.set_blocking(fd, True)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
        fifo.unlink(missing_ok=True)


def _write_private(path: Path, data: object) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


def _probe(text: str) -> str | None:
    """A short piece of the text's end, to find the input line on screen (``None`` if none usable)."""
    for line in reversed(text.split("\n")):
        piece = line.rsplit("\t", 1)[-1].strip()
        if piece:
            return piece[-24:]
    return None


def _taken(before: _Screen, after: _Screen, probe: str | None) -> bool:
    """Whether the screen shows the agent took the submitted text.

    With the text visible on the screen before Enter, the agent took it once the cursor moved or
    the line holding the text changed (cleared input box, or output moved on). Without visible
    text (an agent that folds a paste into ``[Pasted text]``, or prints nothing), any change of the
    screen counts.
    """
    if after.cursor != before.cursor:
        return True
    row = before.cursor[1]
    if _line(after, row) != _line(before, row):
        return True
    if probe is None:
        return after.lines != before.lines
    for i in range(len(before.lines) - 1, -1, -1):
        if probe in before.lines[i]:
            return _line(after, i) != before.lines[i]
    return after.lines != before.lines


def _line(screen: _Screen, row: int) -> str:
    return screen.lines[row] if 0 <= row < len(screen.lines) else ""
