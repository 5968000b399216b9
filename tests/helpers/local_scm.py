"""A project repository for the local SCM: a CI script whose outcome each branch chooses, and
commits made on any branch without touching a checkout (git plumbing, real objects)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from ennio.core.config import ProjectConfig
from tests.helpers.git import git, make_repo

#: ``ci.py``: reads ``ci-result.txt`` (pass / fail / hang / hang-once) and behaves accordingly. Every run appends
#: its commit to $CI_RUNS_FILE; when hanging it starts a child and writes that child's pid to $CI_CHILD_PID.
CI_SCRIPT = """\
import os, pathlib, subprocess, sys, time
mode = pathlib.Path("ci-result.txt").read_text().strip() if pathlib.Path("ci-result.txt").exists() else "pass"
runs = os.environ.get("CI_RUNS_FILE")
if runs:
    with open(runs, "a") as f:
        f.write(os.environ.get("ENNIO_COMMIT", "?") + "\\n")
if mode == "hang-once":  # hang on the first run of a commit, pass when it is run again
    seen = pathlib.Path(runs).read_text().split() if runs else []
    mode = "pass" if seen.count(os.environ.get("ENNIO_COMMIT", "?")) > 1 else "hang"
print("ci in", os.getcwd())
print("untracked file present:", pathlib.Path("untracked.txt").exists())
for i in range(1, 4):
    print(f"test_{i} ... ok")
if mode == "fail":
    print("test_4 ... FAILED")
    print("AssertionError: expected 4, got 5")
    sys.exit(1)
if mode == "hang":
    child = subprocess.Popen(["sleep", "300"])
    pid_file = os.environ.get("CI_CHILD_PID")
    if pid_file:
        pathlib.Path(pid_file).write_text(str(child.pid))
    print("waiting forever", flush=True)
    time.sleep(300)
print("4 passed")
"""

CI_COMMAND = [sys.executable, "ci.py"]


def make_project_repo(path: Path) -> Path:
    """A repo on ``main`` with ``ci.py`` (passing by default) and an app file."""
    return make_repo(path, files={"ci.py": CI_SCRIPT, "app.py": "VALUE = 1\n", "README.md": "# sample\n"})


def project_for(repo: Path, name: str = "app", **scm: Any) -> ProjectConfig:
    return ProjectConfig.model_validate({"name": name, "path": str(repo), "scm": {"provider": "local", **scm}})


def commit_on(repo: Path, branch: str, files: dict[str, str], message: str = "work", start: str = "main") -> str:
    """Commit ``files`` on ``branch`` (created from ``start`` if missing) without any checkout; the new head."""
    exists = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=repo, capture_output=True
    )
    parent = git(repo, "rev-parse", f"refs/heads/{branch}" if exists.returncode == 0 else f"refs/heads/{start}")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}

        def run(*args: str, stdin: str | None = None) -> str:
            return subprocess.run(
                ["git", *args], cwd=repo, env=env, input=stdin, capture_output=True, text=True, check=True
            ).stdout.strip()

        run("read-tree", parent)
        for rel, content in files.items():
            blob = run("hash-object", "-w", "--stdin", stdin=content)
            run("update-index", "--add", "--cacheinfo", f"100644,{blob},{rel}")
        tree = run("write-tree")
        commit = run("commit-tree", tree, "-p", parent, "-m", message)
    git(repo, "update-ref", f"refs/heads/{branch}", commit)
    return commit


def ci_outcome(repo: Path, branch: str, mode: str, start: str = "main") -> str:
    """A commit on ``branch`` whose CI will ``pass``, ``fail`` or ``hang``."""
    return commit_on(
        repo, branch, {"ci-result.txt": mode + "\n", f"work/{branch.replace('/', '_')}.txt": mode}, start=start
    )
