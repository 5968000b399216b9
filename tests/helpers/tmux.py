"""A private tmux server for tests that run real programs in a real terminal.

Each :class:`TmuxServer` uses its own socket (``tmux -L``) so tests never touch a person's tmux
or each other's. Panes stay around after their program exits (``remain-on-exit``) so a test can
read the last screen and see that the program died.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from tests.helpers.wait import wait_for


class TmuxServer:
    def __init__(self, conf_dir: Path) -> None:
        self.socket = f"ennio-test-{uuid.uuid4().hex[:10]}"
        self.conf = conf_dir / "tmux.conf"
        self.conf.write_text("set -g remain-on-exit on\nset -g history-limit 5000\nset -g status off\n")

    def tmux(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            ["tmux", "-L", self.socket, "-f", str(self.conf), *args], capture_output=True, text=True, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args[:3])} failed: {result.stderr.strip()}")
        return result.stdout

    def start(
        self,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        name: str | None = None,
        width: int = 160,
        height: int = 50,
    ) -> Pane:
        """Run ``argv`` (no shell) in a new detached session with exactly ``env`` as its environment."""
        name = name or f"s{uuid.uuid4().hex[:8]}"
        env_args = [f"{k}={v}" for k, v in env.items()]
        self.tmux(
            "new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), "-c", str(cwd),
            "env", "-i", *env_args, *argv,
        )  # fmt: skip
        return Pane(self, name)

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


class Pane:
    def __init__(self, server: TmuxServer, name: str) -> None:
        self.server = server
        self.name = name

    def screen(self, history: int = 0) -> str:
        """The visible screen (plus ``history`` lines of scrollback), trailing blank lines removed."""
        args = ["capture-pane", "-p", "-t", self.name]
        if history:
            args += ["-S", f"-{history}"]
        return self.server.tmux(*args).rstrip("\n") + "\n"

    def alive(self) -> bool:
        out = self.server.tmux("display-message", "-p", "-t", self.name, "#{pane_dead}", check=False).strip()
        return out == "0"

    def send_keys(self, *keys: str) -> None:
        self.server.tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        """Type ``text`` literally (no key names), without pressing Enter."""
        self.server.tmux("send-keys", "-t", self.name, "-l", text)

    def paste(self, text: str) -> None:
        """Paste ``text`` as one bracketed paste (newlines stay text), the way a runtime types a long prompt."""
        buffer = f"b{uuid.uuid4().hex[:8]}"
        self.server.tmux("set-buffer", "-b", buffer, "--", text)
        self.server.tmux("paste-buffer", "-p", "-d", "-b", buffer, "-t", self.name)

    def submit(self, text: str, timeout: float = 30.0) -> None:
        """Type one line, wait until it shows in the program's input, then press Enter."""
        self.type(text)
        self.wait_screen(text, timeout=timeout, what=f"typed text {text!r} on screen")
        self.send_keys("Enter")

    def wait_screen(
        self, test: str | re.Pattern[str] | Callable[[str], bool], timeout: float = 60.0, what: str | None = None
    ) -> str:
        """Wait until the screen contains ``test`` (text or regex) or ``test(screen)`` holds; return that screen."""
        if isinstance(test, str):
            needle = test
            check: Callable[[str], bool] = lambda s: needle in s  # noqa: E731
        elif isinstance(test, re.Pattern):
            pattern = test
            check = lambda s: pattern.search(s) is not None  # noqa: E731
        else:
            check = test
        seen: list[str] = [""]

        def probe() -> str | None:
            seen[0] = self.screen()
            return seen[0] if check(seen[0]) else None

        try:
            return wait_for(probe, timeout=timeout, interval=0.2, what=what or f"screen matching {test!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- last screen ---\n{seen[0]}") from None

    def wait_dead(self, timeout: float = 30.0) -> None:
        wait_for(lambda: not self.alive(), timeout=timeout, interval=0.2, what=f"{self.name} to exit")
