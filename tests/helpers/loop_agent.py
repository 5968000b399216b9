"""A scripted coding agent for end-to-end loops (run by the ``script`` agent: ``python loop_agent.py PROMPT_FILE``).

Standard library only. In its workspace it commits ``calc.py`` with a bug, then waits at a prompt for
messages. A CI failure ("Failing checks") gets the bug fixed and committed; review comments that name
``calc.py`` get a docstring committed; anything else is noted. Every message it takes is appended to
``$LOOP_AGENT_LOG`` (JSON lines) so a test can see exactly what Ennio sent. It reports its activity
through ``$ENNIO_STATUS_FILE`` (``active`` / ``ready``), as the script agent reads it.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

PROMPT = "loop-agent> "
QUIET_SECONDS = 0.3
IDENTITY = ["-c", "user.name=Loop Agent", "-c", "user.email=loop-agent@ennio.invalid"]
BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
DOCUMENTED = 'def add(a, b):\n    """The sum of a and b."""\n    return a + b\n'


def status(word: str) -> None:
    path = Path(os.environ.get("ENNIO_STATUS_FILE") or ".ennio/status")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(word + "\n", encoding="utf-8")


def commit(content: str, message: str) -> None:
    status("active")
    Path("calc.py").write_text(content, encoding="utf-8")
    subprocess.run(["git", "add", "calc.py"], check=True, capture_output=True)
    subprocess.run(["git", *IDENTITY, "commit", "-q", "-m", message], check=True, capture_output=True)
    print(f"committed: {message}", flush=True)
    status("ready")


def record(message: str) -> None:
    log = os.environ.get("LOOP_AGENT_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps({"text": message}) + "\n")


def read_message() -> str | None:
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


def main(argv: list[str]) -> int:
    Path(argv[1]).read_text(encoding="utf-8")  # the prompt: this agent always does the same work
    commit(BUGGY, "Add calc.add")
    while True:
        sys.stdout.write(PROMPT)
        sys.stdout.flush()
        message = read_message()
        if message is None:
            return 0
        if not message.strip():
            continue
        record(message)
        if "Failing checks" in message:
            commit(FIXED, "Fix calc.add")
        elif "calc.py" in message:
            commit(DOCUMENTED, "Document calc.add")
        else:
            print("Noted.", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
