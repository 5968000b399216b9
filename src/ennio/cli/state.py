"""Global options (``-c/--config``, ``--debug``), set once by the root callback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class CliState:
    config_path: Path | None = None
    debug: bool = False


state = CliState()
