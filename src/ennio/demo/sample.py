"""The demo's sample project: a small Python package whose tests specify three features, three local
issues asking for them, and the Ennio configuration that works on it with no forge and no network."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ennio.core.clock import SystemClock
from ennio.core.config import EnnioConfig, ProjectConfig
from ennio.core.plugins import PluginContext, Slot, Tracker
from ennio.core.proc import run
from ennio.demo.agent import PACE_ENV
from ennio.demo.tasks import TASKS
from ennio.services.registry import PluginRegistry, default_registry

PROJECT_ID = "textkit"
_GIT_IDENTITY = ["-c", "user.name=Ennio Demo", "-c", "user.email=demo@ennio.invalid"]

_README = """# textkit

A tiny text toolkit: the sample project of `ennio demo`. Its tests (`python -m unittest discover -s tests -t .`)
specify three functions that are not written yet; each has a local issue in `.ennio/issues/`.
"""


@dataclass(slots=True)
class Sample:
    root: Path
    repo: Path
    config_path: Path
    config: EnnioConfig
    #: issue keys, in task order
    issues: list[str]


def sample_files() -> dict[str, str]:
    files = {
        "README.md": _README,
        ".gitignore": ".ennio/\n__pycache__/\n*.pyc\n",
        "textkit/__init__.py": '"""A tiny text toolkit."""\n',
        "tests/__init__.py": "",
    }
    for task in TASKS:
        files[task.path] = task.stub
        files[task.test_path] = task.test
    return files


def ci_command() -> list[str]:
    return [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-t", ".", "-v"]


def agent_command() -> list[str]:
    return [sys.executable, "-m", "ennio.demo.agent", "{prompt_file}"]


def config_data(
    root: Path, repo: Path, *, poll_interval: str = "1s", pace: float = 0.5, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The demo's ``ennio.yaml``: local tracker and SCM, the script agent, auto-merge when green."""
    data: dict[str, Any] = {
        "data_dir": str(root / "data"),
        "lifecycle": {"poll_interval": poll_interval, "session_timeout": "60s"},
        "defaults": {"agent": "script", "runtime": "tmux", "workspace": "worktree"},
        "projects": [
            {
                "name": PROJECT_ID,
                "id": PROJECT_ID,
                "path": str(repo),
                "default_branch": "main",
                "agent": "script",
                "runtime": "tmux",
                "workspace": "worktree",
                "tracker": {"provider": "local"},
                "scm": {"provider": "local", "ci_command": ci_command(), "ci_timeout": "2m", "merge_method": "merge"},
                "agent_config": {"command": agent_command(), "env": {PACE_ENV: str(pace)}},
            }
        ],
        "reactions": {
            "approved-and-green": {"action": "auto_merge"},
            "ci-failed": {"retries": 2, "escalate_after": "5m"},
        },
    }
    for key, value in (extra or {}).items():
        data[key] = value
    return data


async def _git(repo: Path, *args: str) -> None:
    await run(["git", "-C", str(repo), *args], what=f"git {args[0]}")


async def create_sample(
    root: Path,
    *,
    registry: PluginRegistry | None = None,
    poll_interval: str = "1s",
    pace: float = 0.5,
    extra: dict[str, Any] | None = None,
) -> Sample:
    """Write the sample repository (one commit on ``main``), its issues and its configuration under ``root``."""
    repo = root / PROJECT_ID
    repo.mkdir(parents=True)
    await _git(repo, "init", "-q", "-b", "main")
    for rel, text in sample_files().items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    await _git(repo, "add", "-A")
    await _git(repo, *_GIT_IDENTITY, "commit", "-q", "-m", "textkit: tests for three features to come")

    data = config_data(root, repo, poll_interval=poll_interval, pace=pace, extra=extra)
    config = EnnioConfig.model_validate(data)
    config_path = root / "ennio.yaml"
    config_path.write_text(
        "# Written by `ennio demo`: the configuration the demo ran with.\n" + yaml.safe_dump(data, sort_keys=False),
        encoding="utf-8",
    )
    tracker = _tracker(config.projects[0], root, registry)
    issues = [(await tracker.create_issue(t.title, t.issue_body, labels=["demo"])).key for t in TASKS]
    return Sample(root=root, repo=repo, config_path=config_path, config=config, issues=issues)


def _tracker(project: ProjectConfig, root: Path, registry: PluginRegistry | None) -> Tracker:
    ctx = PluginContext(data_dir=root / "data", clock=SystemClock())
    plugin = (registry or default_registry()).get(Slot.TRACKER, "local")
    tracker: Tracker = plugin(project, ctx)
    return tracker
