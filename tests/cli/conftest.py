"""Fixtures for CLI tests: the real ``ennio`` console script, run as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.database import db_url  # noqa: F401  (fixture: SQLite, and PostgreSQL when marked)
from tests.helpers.plugins import make_plugin_distribution

#: the console script installed in the same environment as the interpreter running the tests
ENNIO = Path(sys.executable).with_name("ennio")


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


EnnioRunner = Callable[..., CliResult]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty folder with no ennio.yaml above it (the default working directory)."""
    path = tmp_path / "work"
    path.mkdir()
    return path


@pytest.fixture
def ennio(workdir: Path) -> EnnioRunner:
    """Run ``ennio ARGS`` and capture its exit code and output."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60) -> CliResult:
        full_env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", **(env or {})}
        full_env.pop("ENNIO_DEBUG", None)
        done = subprocess.run(
            [str(ENNIO), *args],
            cwd=cwd or workdir,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    return run


FAKE_AGENT = """
from ennio.core.plugins import PluginManifest, Slot


class GitAgent:
    manifest = PluginManifest("git-agent", Slot.AGENT, "1.2.3", "An agent whose program is git (for doctor tests).")
    executable = "git"
    install_hint = "install git"


class MissingAgent:
    manifest = PluginManifest("missing-agent", Slot.AGENT, "1.2.3", "An agent whose program is not installed.")
    executable = "ennio-test-no-such-agent-cli"
    install_hint = "npm install -g ennio-test-no-such-agent-cli"
"""


@pytest.fixture
def agent_plugins(tmp_path: Path) -> dict[str, str]:
    """Environment that installs two third-party agent plugins (``git-agent``, ``missing-agent``)."""
    site = make_plugin_distribution(
        tmp_path / "site",
        "ennio_test_agents",
        {"ennio.agent": ["git-agent = ennio_test_agents:GitAgent", "missing-agent = ennio_test_agents:MissingAgent"]},
        FAKE_AGENT,
    )
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


# --------------------------------------------------------------------------- a database with sessions and events


@pytest.fixture
def config_for_db(workdir: Path, db_url: str | None) -> Path:  # noqa: F811  (the imported fixture)
    """``ennio.yaml`` in the working directory naming the test's database (SQLite: the data dir)."""
    path = workdir / "ennio.yaml"
    path.write_text((f"database_url: {db_url}\n" if db_url else "") + "projects: []\n")
    return path
