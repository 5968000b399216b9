"""Text going into and coming out of an agent's terminal.

Input: what a runtime types must not act as keystrokes. Control characters other than tab and
newline would (Ctrl-C interrupts, Escape, and ``ESC[201~`` ends a bracketed paste early so the
rest of a hostile review comment would be typed as commands), so they are shown as their Unicode
"control pictures" instead. Carriage returns become newlines.

Output: logs of a pseudo-terminal hold escape sequences; :func:`strip_terminal` turns them into
plain text.
"""

from __future__ import annotations

import re

_INPUT_TABLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_INPUT_TABLE[0x7F] = "\u2421"  # ␡
_INPUT_TABLE.update({c: "\ufffd" for c in range(0x80, 0xA0)})


def clean_input(text: str) -> str:
    """``text`` as it will be typed: CR/CRLF → LF, other control characters made visible."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_INPUT_TABLE)


_ESCAPES = re.compile(
    r"""
    \x1b\[[0-?]*[ -/]*[@-~]               # CSI: colours, cursor moves, modes
    | \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?  # OSC: titles, hyperlinks
    | \x1b[PX^_][^\x1b]*(?:\x1b\\)?       # DCS, SOS, PM, APC strings
    | \x1b[()*+][0-~]                     # character set selection
    | \x1b[ -/]*[0-~]                     # other two-byte escapes
    """,
    re.VERBOSE,
)
_OTHER_CONTROLS = re.compile(r"[\x00-\x07\x0b-\x1f\x7f]")


def strip_terminal(raw: str) -> str:
    """Plain text of terminal output: escapes removed, ``\\r`` overwrites and backspaces applied."""
    text = _ESCAPES.sub("", raw)
    lines = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if "\r" in line:
            line = _overwrite(line.split("\r"))
        if "\b" in line:
            line = _backspace(line)
        lines.append(_OTHER_CONTROLS.sub("", line))
    return "\n".join(lines)


def _overwrite(parts: list[str]) -> str:
    """What a terminal shows after ``a\\rb``: each part overwrites the start of the line."""
    shown = ""
    for part in parts:
        shown = part + shown[len(part) :]
    return shown


def _backspace(line: str) -> str:
    out: list[str] = []
    for ch in line:
        if ch == "\b":
            if out:
                out.pop()
        else:
            out.append(ch)
    return "".join(out)
