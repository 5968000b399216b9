"""Durations in configuration: ``30s``, ``5m``, ``2h``, ``1d``, ``1h30m`` or plain seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_MAX_SECONDS = 366 * 86400.0


def parse_duration(value: Any) -> timedelta:
    """Parse a duration; raise ``ValueError`` with a readable message on anything else."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise ValueError("a duration must be a number of seconds or text like '30s', '5m', '2h'")
    elif isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if not text:
            raise ValueError("empty duration; write e.g. '30s', '5m' or '2h'")
        try:
            seconds = float(text)
        except ValueError:
            pos = 0
            seconds = 0.0
            for match in _PART_RE.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or pos == 0:
                raise ValueError(f"cannot read duration {value!r}; write e.g. '30s', '5m', '2h' or '1h30m'") from None
    else:
        raise ValueError("a duration must be a number of seconds or text like '30s', '5m', '2h'")
    if seconds != seconds or seconds < 0:
        raise ValueError(f"duration {value!r} must not be negative")
    if seconds > _MAX_SECONDS:
        raise ValueError(f"duration {value!r} is longer than a year")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """Short human form: ``90s`` → ``1m30s``."""
    total = value.total_seconds()
    if total < 1:
        return f"{int(total * 1000)}ms"
    seconds = round(total)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "description": "seconds"},
                {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?(ms|s|m|h|d)\s*)+$"},
            ],
            "description": "duration: seconds, or text like '30s', '5m', '2h', '1h30m'",
        }
    ),
]
