"""Where Ennio keeps its files: the data directory and what lives in it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config models are slow to import; `ennio status` only needs paths
    from ennio.core.config import EnnioConfig

DATA_DIR_ENV = "ENNIO_DATA_DIR"


def data_dir(config: EnnioConfig | None = None) -> Path:
    """``data_dir`` from the config, else ``$ENNIO_DATA_DIR``, else the platform's user data folder."""
    return resolve_data_dir(config.data_dir if config is not None else None)


def resolve_data_dir(configured: Path | None) -> Path:
    """``configured`` if given, else ``$ENNIO_DATA_DIR``, else the platform's user data folder."""
    if configured is not None:
        return configured
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("ennio", appauthor=False))


def instance_id(root: Path) -> str:
    """Short stable id of a data directory; part of tmux names so two installs never collide."""
    return hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:6]


def workspaces_dir(root: Path) -> Path:
    return root / "workspaces"


def logs_dir(root: Path) -> Path:
    return root / "logs"


def pid_file(root: Path) -> Path:
    return root / "ennio.pid"


def daemon_state_file(root: Path) -> Path:
    """Where a running daemon says where it listens (pid, URL); removed when it stops."""
    return root / "daemon.json"
