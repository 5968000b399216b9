"""Running the real ``ennio`` console script against a project on a real repository with the echo agent.

``write_config`` writes an ``ennio.yaml`` (data dir, API on a free port, project ``app`` using the test
``echo`` agent); ``cli_env`` is the environment that lets a subprocess find ``echo`` through its entry point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.helpers.echo_agent_plugin import subprocess_pythonpath

#: the console script installed next to the interpreter running the tests
ENNIO = Path(sys.executable).with_name("ennio")


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def write_config(folder: Path, data_dir: Path, repo: Path, *, port: int = 0, **project: Any) -> Path:
    values: dict[str, Any] = {"name": "app", "path": str(repo), "agent": "echo", "tracker": {"provider": "local"}}
    values.update(project)
    path = folder / "ennio.yaml"
    document = {"data_dir": str(data_dir), "server": {"port": port}, "projects": [values]}
    path.write_text(yaml.safe_dump(document))
    return path


def cli_env(plugin_folder: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "PYTHONPATH": subprocess_pythonpath(plugin_folder)}
    env.pop("ENNIO_DEBUG", None)
    env.update(extra)
    return env


def run_ennio(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120, input: str | None = None) -> Ran:
    done = subprocess.run(
        [str(ENNIO), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return Ran(done.returncode, done.stdout, done.stderr)
