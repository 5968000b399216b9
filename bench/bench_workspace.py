"""Workspace creation overhead: ``WorktreeWorkspace.create`` / ``CloneWorkspace.create`` vs a bare ``git worktree add``.

The floor is measured in the same run on the same repository. Usage::

    python bench/bench_workspace.py [--files 500] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from ennio.core.clock import SystemClock
from ennio.core.config import ProjectConfig
from ennio.core.plugins import PluginContext, WorkspaceSpec
from ennio.plugins.workspace.clone import CloneWorkspace
from ennio.plugins.workspace.worktree import WorktreeWorkspace


def sh(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_repo(path: Path, files: int) -> None:
    path.mkdir(parents=True)
    sh(path, "init", "-q", "-b", "main")
    for i in range(files):
        (path / f"pkg{i % 20}").mkdir(exist_ok=True)
        (path / f"pkg{i % 20}" / f"mod{i}.py").write_text(f"VALUE = {i}\n" * 20)
    sh(path, "add", "-A")
    sh(path, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "init")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        repo = base / "repo"
        make_repo(repo, args.files)
        project = ProjectConfig.model_validate({"name": "bench", "path": str(repo)})
        ctx = PluginContext(data_dir=base / "data", clock=SystemClock())

        plugins = (WorktreeWorkspace(ctx), CloneWorkspace(ctx))
        floor: list[float] = []
        results: dict[str, list[float]] = {p.kind: [] for p in plugins}
        for i in range(args.rounds):  # interleaved, so machine noise hits all alike
            start = time.perf_counter()
            sh(repo, "worktree", "add", "-q", "-b", f"floor/{i}", str(base / "floor" / str(i)), "main")
            floor.append(time.perf_counter() - start)
            for plugin in plugins:
                spec = WorkspaceSpec(
                    project=project, session_id=f"s{i}", branch=f"{plugin.kind}/{i}", root=base / plugin.kind
                )
                start = time.perf_counter()
                await plugin.create(spec)
                results[plugin.kind].append(time.perf_counter() - start)

        f = statistics.median(floor)
        print(f"repo: {args.files} files, {args.rounds} rounds; medians")
        print(f"floor  git worktree add      {f * 1000:7.1f} ms  1.00x")
        for kind, took in results.items():
            m = statistics.median(took)
            print(f"{kind:8} create             {m * 1000:7.1f} ms  {m / f:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
