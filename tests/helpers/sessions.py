"""Building ``Session`` objects for tests."""

from __future__ import annotations

from typing import Any

from ennio.core.session import Session


def make_session(session_id: str = "app-1", project_id: str = "app", **fields: Any) -> Session:
    values: dict[str, Any] = {"agent": "claude-code", "runtime": "tmux", "workspace": "worktree"}
    values.update(fields)
    return Session(id=session_id, project_id=project_id, **values)
