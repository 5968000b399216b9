"""The demo's scripted coding agent: ``python -m ennio.demo.agent PROMPT_FILE`` (run by the
``script`` agent plugin in the session's workspace).

It reads its task from the prompt (the issue's ``demo-task:`` line), makes a first change that is
partly wrong and commits it, then waits at a prompt for messages. When Ennio sends it a CI failure
(the failing checks and their log), it commits the fix. It reports its activity the way the
``script`` agent plugin reads it: ``active``/``ready`` in ``.ennio/status``.

Standard library only, and quick to start: it runs once per demo session.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from ennio.demo.tasks import Task, find_task

PROMPT = "demo-agent> "
#: a message is complete once its text stops arriving for this long
QUIET_SECONDS = 0.3
#: seconds one unit of "thinking" takes (``ENNIO_DEMO_PACE``), so the live view can be followed
PACE_ENV = "ENNIO_DEMO_PACE"


def think(task: Task) -> None:
    try:
        pace = float(os.environ.get(PACE_ENV) or "0.5")
    except ValueError:
        pace = 0.5
    time.sleep(max(0.0, pace) * task.effort)


_GIT_IDENTITY = ["-c", "user.name=Ennio Demo Agent", "-c", "user.email=demo-agent@ennio.invalid"]


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def set_status(state: str, detail: str = "") -> None:
    status = Path(os.environ.get("ENNIO_STATUS_FILE") or ".ennio/status")
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(f"{state} {detail}".strip() + "\n", encoding="utf-8")


def commit(path: str, content: str, message: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(content, encoding="utf-8")
    subprocess.run(["git", "add", "--", path], check=True, capture_output=True)
    subprocess.run(["git", *_GIT_IDENTITY, "commit", "-q", "-m", message], check=True, capture_output=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True)
    say(f"committed {head.stdout.strip()}: {message}")


def first_change(task: Task) -> None:
    set_status("active", f"implementing {task.name}")
    say(f"Task: {task.title}")
    think(task)
    commit(task.path, task.first_try, task.title)
    set_status("ready", "first change committed")


def fix(task: Task) -> None:
    set_status("active", "fixing the CI failure")
    say("CI failed; reading the log and fixing it")
    think(task)
    commit(task.path, task.fixed, f"Fix {task.name}: handle the cases the tests cover")
    set_status("ready", "fix committed")


def read_message() -> str | None:
    """The next message typed or pasted into the terminal (``None`` at end of input)."""
    fd = sys.stdin.fileno()
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([fd], [], [], QUIET_SECONDS if chunks else None)
        if not ready:
            return b"".join(chunks).decode(errors="replace")
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks).decode(errors="replace") if chunks else None
        chunks.append(data)


def serve(task: Task) -> None:
    fixed = False
    while True:
        sys.stdout.write(PROMPT)
        sys.stdout.flush()
        message = read_message()
        if message is None:
            return
        if not message.strip():
            continue
        if ("Failing checks" in message or "CI failed" in message) and not fixed:
            fix(task)
            fixed = True
        elif "Failing checks" in message or "CI failed" in message:
            say("The fix is already committed; waiting for CI.")
        else:
            say("Noted.")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        say("usage: python -m ennio.demo.agent PROMPT_FILE")
        return 2
    prompt = Path(argv[1]).read_text(encoding="utf-8")
    task = find_task(prompt)
    if task is None:
        say("no demo task in the prompt; nothing to do")
        set_status("ready", "no task")
        serve_idle()
        return 0
    first_change(task)
    serve(task)
    return 0


def serve_idle() -> None:
    while read_message() is not None:
        say("Noted.")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
