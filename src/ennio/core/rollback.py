"""Undo steps for work made in several steps, so a failure part-way leaves nothing half-made."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any


class Rollback:
    """Undo steps, run in reverse; a failing step is logged (as ``label: could not …``) and the others still run."""

    def __init__(self, log: logging.Logger, label: str = "rollback") -> None:
        self._log = log
        self._label = label
        self._steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = []

    def add(self, what: str, step: Callable[[], Awaitable[Any]]) -> None:
        """Register the undo of a step just about to be made (``what`` names it for the log)."""
        self._steps.append((what, step))

    async def run(self) -> None:
        for what, step in reversed(self._steps):
            try:
                await step()
            except Exception:
                self._log.warning("%s: could not %s", self._label, what, exc_info=True)
        self._steps.clear()
