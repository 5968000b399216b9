"""Reading agents' own session files (JSONL transcripts) cheaply and defensively.

These files belong to other programs and change under us: a line may be half-written, a format may
gain fields. Readers skip what they cannot parse instead of failing a whole poll.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: how much of a transcript's end the activity detectors read
TAIL_BYTES = 256 * 1024


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 timestamp (``...Z`` allowed) or epoch seconds/milliseconds, as an aware datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 10**11 else value
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def as_int(value: object) -> int:
    """A token count from someone else's file: numbers (or numeric text) as int, anything else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return 0
    return 0


def mtime(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
    except OSError:
        return None


def _parse_lines(data: bytes) -> Iterator[dict[str, Any]]:
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        if isinstance(item, dict):
            yield item


def read_jsonl_tail(path: Path, max_bytes: int = TAIL_BYTES) -> list[dict[str, Any]]:
    """The complete JSON objects in the last ``max_bytes`` of ``path`` (empty if unreadable)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - max_bytes)
            f.seek(start)
            data = f.read()
    except OSError:
        return []
    if start > 0:
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    return list(_parse_lines(data))


def read_jsonl_head(path: Path, lines: int = 1) -> list[dict[str, Any]]:
    """The first ``lines`` JSON objects of ``path`` (for session metadata)."""
    out: list[dict[str, Any]] = []
    try:
        with path.open("rb") as f:
            for raw in f:
                out.extend(_parse_lines(raw))
                if len(out) >= lines:
                    break
    except OSError:
        return []
    return out


@dataclass
class JsonlFollower:
    """Reads a growing JSONL file incrementally: each call returns only the objects added since the last.

    Starts over when the file shrinks or is replaced, so callers reset what they accumulated
    when :attr:`restarted` is true after a call.
    """

    path: Path
    offset: int = 0
    inode: int | None = None
    restarted: bool = False
    _partial: bytes = field(default=b"", repr=False)

    def read_new(self) -> list[dict[str, Any]]:
        self.restarted = False
        try:
            st = self.path.stat()
        except OSError:
            return []
        if st.st_ino != self.inode or st.st_size < self.offset:
            self.offset, self.inode, self._partial, self.restarted = 0, st.st_ino, b"", True
        if st.st_size == self.offset:
            return []
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        data = self._partial + data
        complete, _, self._partial = data.rpartition(b"\n")
        return list(_parse_lines(complete))
