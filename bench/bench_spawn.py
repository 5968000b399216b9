"""Spawning through the running daemon's API, against the floor measured in the same run.

- Latency: ``POST /api/v1/sessions`` with the ``script`` agent (prompt delivered as a file, so no typing)
  against the floor — ``git worktree add -b`` plus ``tmux new-session -d`` by hand on the same repository,
  running the same program. Sequential, interleaved, medians. Target: ≤ 1.3× the floor.
- 20 sessions spawned in parallel through the API: all up (working, each with its tmux session), none
  lost, total time.
- The daemon's RSS with 50 live sessions. Target: ≤ 150 MB.

The daemon is a real process (``ennio start --detach``) on a private tmux server and data directory.
Run: ``.venv/bin/python bench/bench_spawn.py [--rounds N] [--files N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

PROGRAM = ["tail", "-f"]


def sh(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, files: int) -> None:
    path.mkdir(parents=True)
    sh("git", "init", "-q", "-b", "main", cwd=path)
    for i in range(files):
        sub = path / f"pkg{i % 20}"
        sub.mkdir(exist_ok=True)
        (sub / f"mod{i}.py").write_text(f"def f{i}():\n    return {i}\n" * 20)
    sh("git", "add", "-A", cwd=path)
    sh("git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "init", cwd=path)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def floor_once(repo: Path, root: Path, socket: str, i: int) -> float:
    path = root / f"floor-{i}"
    prompt = root / f"floor-{i}.md"
    prompt.write_text("the task\n")
    start = time.perf_counter()
    for argv in (
        ["git", "-C", str(repo), "worktree", "add", "--quiet", "-b", f"floor/{i}", str(path), "main"],
        ["tmux", "-L", socket, "new-session", "-d", "-s", f"floor-{i}", "-c", str(path), *PROGRAM, str(prompt)],
    ):
        proc = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = await proc.communicate()
        if proc.returncode:
            raise RuntimeError(f"{argv[:3]} failed: {err.decode()}")
    return time.perf_counter() - start


async def spawn_once(http: httpx.AsyncClient, prompt: str) -> tuple[float, dict[str, object]]:
    start = time.perf_counter()
    answer = await http.post("/api/v1/sessions", json={"project": "bench", "prompt": prompt})
    took = time.perf_counter() - start
    if answer.status_code != 201:
        raise RuntimeError(f"spawn failed: {answer.status_code} {answer.text}")
    return took, answer.json()


def tmux_count(socket: str, prefix: str) -> int:
    out = subprocess.run(
        ["tmux", "-L", socket, "list-sessions", "-F", "#{session_name}"], capture_output=True, text=True
    )
    return sum(1 for line in out.stdout.splitlines() if line.startswith(prefix))


def bench(root: Path, rounds: int, files: int) -> int:
    """Set up the repository and a daemon process, measure, and stop everything again."""
    socket = f"ennio-bench-spawn-{os.getpid()}"
    repo, data = root / "repo", root / "data"
    make_repo(repo, files)
    config = root / "ennio.yaml"
    project = {
        "name": "bench",
        "path": str(repo),
        "agent": "script",
        "agent_config": {"command": [*PROGRAM, "{prompt_file}"]},
    }
    config.write_text(yaml.safe_dump({"data_dir": str(data), "server": {"port": 0}, "projects": [project]}))
    env = {**os.environ, "ENNIO_TMUX_SOCKET": socket}
    ennio = [sys.executable, "-m", "ennio", "-c", str(config)]
    sh(*ennio, "start", "--detach", env=env)
    state = json.loads((data / "daemon.json").read_text())
    try:
        sh("tmux", "-L", socket, "new-session", "-d", "-s", "warm", "sleep", "600")
        return asyncio.run(measure(state["url"], state["pid"], repo, root, socket, rounds, files))
    finally:
        subprocess.run([*ennio, "stop", "--force"], env=env, capture_output=True)
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True)
        tmux_dir = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (tmux_dir / socket).unlink(missing_ok=True)


async def measure(url: str, pid: int, repo: Path, root: Path, socket: str, rounds: int, files: int) -> int:
    failures = 0
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        await spawn_once(http, "warm-up")  # first spawn pays imports and caches
        await floor_once(repo, root, socket, -1)
        floor, ours = [], []
        for i in range(rounds):
            floor.append(await floor_once(repo, root, socket, i))
            ours.append((await spawn_once(http, f"task {i}"))[0])
        f, o = statistics.median(floor) * 1000, statistics.median(ours) * 1000
        print(f"latency, {rounds} sequential spawns (medians; repo of {files} files)")
        print(f"  floor: git worktree add + tmux new-session   {f:7.1f} ms  1.00x")
        ratio = o / f
        print(f"  ennio: POST /api/v1/sessions (script agent)  {o:7.1f} ms  {ratio:.2f}x  (target <= 1.30x)")
        failures += ratio > 1.3

        before = len((await http.get("/api/v1/sessions")).json())
        start = time.perf_counter()
        answers = await asyncio.gather(
            *(http.post("/api/v1/sessions", json={"project": "bench", "prompt": f"p{i}"}) for i in range(20)),
            return_exceptions=True,
        )
        total = time.perf_counter() - start
        made = [a.json()["id"] for a in answers if isinstance(a, httpx.Response) and a.status_code == 201]
        listed = (await http.get("/api/v1/sessions")).json()
        working = {s["id"] for s in listed if s["status"] == "working"}
        lost = [sid for sid in made if sid not in working]
        print("parallel: 20 spawns at once through the API")
        print(
            f"  created {len(made)}/20, sessions in the database {len(listed) - before}, lost {len(lost)}, "
            f"total {total:.2f} s ({total / 20 * 1000:.0f} ms per session)"
        )
        failures += len(made) != 20 or len(lost) != 0 or len(listed) - before != 20

        live = len(working)
        while live < 50:
            await spawn_once(http, f"fill {live}")
            live += 1
        listed = (await http.get("/api/v1/sessions")).json()
        working = [s for s in listed if s["status"] == "working"]
        terminals = tmux_count(socket, "ennio-")
        rss = rss_mb(pid)
        print(
            f"memory: daemon RSS with {len(working)} live sessions ({terminals} tmux sessions): "
            f"{rss:.1f} MB  (target <= 150 MB)"
        )
        failures += rss > 150 or len(working) < 50 or terminals < 50
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="sequential spawns measured (default 10)")
    parser.add_argument("--files", type=int, default=500, help="files in the benchmark repository (default 500)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ennio-bench-spawn-") as tmp:
        failures = bench(Path(tmp), args.rounds, args.files)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
