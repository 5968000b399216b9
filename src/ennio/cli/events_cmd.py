"""``ennio events``."""

from __future__ import annotations


def events() -> None:
    """Recent events from the event log."""
    raise NotImplementedError
