"""Small helpers for reading an agent's terminal screen (tmux capture-pane text)."""

from __future__ import annotations

import re
from collections.abc import Iterable

#: box-drawing rules that agents draw around their input box
RULE = re.compile(r"^\s*[─━═╌-]{20,}\s*$")


def lines(screen: str) -> list[str]:
    """The screen's lines with trailing spaces removed and trailing blank lines dropped."""
    out = [line.rstrip() for line in screen.splitlines()]
    while out and not out[-1].strip():
        out.pop()
    return out


def nonblank(screen: str) -> list[str]:
    return [line for line in lines(screen) if line.strip()]


def first_match(patterns: Iterable[re.Pattern[str]], text: str) -> re.Match[str] | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return found
    return None


def line_of(text: str, match: re.Match[str]) -> str:
    """The whole (stripped) line of ``text`` that ``match`` is on, for readable details."""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start : end if end != -1 else len(text)].strip()[:200]
