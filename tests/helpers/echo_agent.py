"""A stand-in coding agent for runtime tests, run as a script: ``python echo_agent.py OUT_DIR [mode]``.

Like a real agent's TUI it puts its terminal in raw mode, turns on bracketed paste, echoes what
is typed, keeps pasted newlines inside the message and submits on Enter. Every submitted message
is appended to ``OUT_DIR/received.jsonl`` (so tests compare what the program really got), and
``OUT_DIR/start.json`` records its argv, folder and environment. ``/quit`` makes it exit.

Modes: ``--ignore-first-enter`` swallows the first Enter (as TUIs do when Enter follows a paste
too fast); ``--deaf`` never reads its input and echoes nothing (a hung agent).
"""

from __future__ import annotations

import codecs
import json
import os
import sys
import termios
import time
import tty

PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


def _write(text: str) -> None:
    os.write(1, text.encode())


def _record(out_dir: str, name: str, data: object) -> None:
    tmp = os.path.join(out_dir, f".{name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, os.path.join(out_dir, name))


def main(argv: list[str]) -> int:
    out_dir, modes = argv[1], set(argv[2:])
    _record(out_dir, "start.json", {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)})
    tty.setraw(0, termios.TCSANOW)  # keep anything typed before we got here
    if "--deaf" in modes:
        _write("deaf agent> ")
        while True:
            time.sleep(3600)
    swallow_enter = "--ignore-first-enter" in modes
    _write("\x1b[?2004hagent> ")
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending, message, in_paste, count = "", "", False, 0
    while True:
        data = os.read(0, 65536)
        if not data:
            return 0
        pending += decoder.decode(data)
        while pending:
            if pending.startswith("\x1b"):
                if pending.startswith(PASTE_START) or pending.startswith(PASTE_END):
                    in_paste = pending.startswith(PASTE_START)
                    pending = pending[len(PASTE_START) :]
                    continue
                if PASTE_START.startswith(pending) or PASTE_END.startswith(pending):
                    break  # an incomplete marker: wait for the rest
            ch, pending = pending[0], pending[1:]
            if ch in "\r\n" and in_paste:
                message += "\n"
                _write("\r\n")
            elif ch == "\r":
                if swallow_enter:
                    swallow_enter = False
                    continue
                count += 1
                with open(os.path.join(out_dir, "received.jsonl"), "a", encoding="utf-8") as fh:
                    fh.write(json.dumps({"n": count, "text": message}) + "\n")
                _write(f"\r\n[received #{count}: {len(message)} chars]\r\n")
                if message == "/quit":
                    return 0
                message = ""
                _write("agent> ")
            else:
                message += ch
                _write(ch)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
