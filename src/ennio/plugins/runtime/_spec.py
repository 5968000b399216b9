"""Checks on a :class:`LaunchSpec` before any runtime touches tmux or starts a process."""

from __future__ import annotations

import re

from ennio.core.errors import InvalidId, InvalidInput
from ennio.core.plugins import LaunchSpec

#: ``ennio-<instance>-<session id>`` may be longer than one id, so names get their own limit
NAME_MAX_LENGTH = 140
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_ENV_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_name(name: object) -> str:
    """Return ``name`` if it is a safe runtime session name (letters, digits, ``_``, ``-``)."""
    if not isinstance(name, str) or not name:
        raise InvalidId("runtime session name is empty", hint="use ennio.core.ids.tmux_session_name(...)")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidId(f"runtime session name is {len(name)} characters long; the limit is {NAME_MAX_LENGTH}")
    if not _NAME_RE.fullmatch(name):
        bad = sorted({c for c in name if not (c.isascii() and (c.isalnum() or c in "_-"))})
        reason = "must not start with '-'" if name.startswith("-") else "contains " + ", ".join(map(repr, bad))
        raise InvalidId(f"runtime session name {name!r} {reason}", hint="use only letters, digits, '_' and '-'")
    return name


def check_spec(spec: LaunchSpec) -> None:
    """Raise a one-line error for a name, command, folder or environment a runtime must not use."""
    check_name(spec.name)
    if not spec.argv or not spec.argv[0]:
        raise InvalidInput(f"nothing to run for {spec.name}: the command line is empty")
    if any("\0" in arg for arg in spec.argv):
        raise InvalidInput(f"the command line for {spec.name} contains a NUL character")
    if not spec.cwd.is_dir():
        raise InvalidInput(
            f"working folder {spec.cwd} does not exist", hint="create the workspace before starting the agent"
        )
    for key, value in spec.env.items():
        if not _ENV_KEY_RE.fullmatch(key):
            raise InvalidInput(
                f"environment variable name {key!r} is not valid", hint="use letters, digits and '_' only"
            )
        if "\0" in value:
            raise InvalidInput(f"environment variable {key} contains a NUL character")
