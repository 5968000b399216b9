"""Cold start of the CLI: median wall time of ``ennio --help`` and ``ennio status``.

``ennio status`` reads a small SQLite database (20 sessions, 200 events) through an ``ennio.yaml``,
as on a real machine. Each command runs RUNS times (default 25), interleaved with the floor,
``python -c pass`` on the same interpreter, measured in the same run. Target: median ≤ 250 ms.

    .venv/bin/python bench/bench_cli_startup.py [RUNS]
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ennio.core.events import Event, EventType
from ennio.core.session import Session, SessionStatus
from ennio.db import open_database

TARGET_MS = 250.0
ENNIO = str(Path(sys.executable).with_name("ennio"))


async def make_database(data_dir: Path) -> None:
    db = await open_database(None, data_dir)
    try:
        statuses = list(SessionStatus)
        for n in range(20):
            project = "app" if n % 2 else "web"
            session = Session(
                id=f"{project}-{n}",
                project_id=project,
                status=statuses[n % len(statuses)],
                agent="claude-code",
                runtime="tmux",
                workspace="worktree",
                branch=f"feat/{n}-bench",
            )
            await db.sessions.insert(session)
        await db.events.append_many(
            [
                Event.of(EventType.STATUS_CHANGED, f"event {i}", project_id="app", session_id=f"app-{i % 20 | 1}")
                for i in range(200)
            ]
        )
    finally:
        await db.close()


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run, in milliseconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
    return wall, cpu


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 25
    with tempfile.TemporaryDirectory(prefix="ennio-bench-") as tmp:
        root = Path(tmp)
        data_dir = root / "data"
        asyncio.run(make_database(data_dir))
        (root / "ennio.yaml").write_text(f"data_dir: {data_dir}\nprojects:\n  - name: app\n    path: .\n")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "ENNIO_CONFIG")}
        env["COLUMNS"] = "120"
        commands = {
            "python -c pass (floor)": [sys.executable, "-c", "pass"],
            "ennio --help": [ENNIO, "--help"],
            "ennio status": [ENNIO, "status", "--all"],
        }
        for argv in commands.values():  # warm-up: byte-code compiled, files in the page cache
            for _ in range(2):
                timed(argv, root, env)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(runs):
            for name, argv in commands.items():
                wall, cpu = timed(argv, root, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
    wall_median = {name: statistics.median(values) for name, values in walls.items()}
    cpu_median = {name: statistics.median(values) for name, values in cpus.items()}
    floor = wall_median["python -c pass (floor)"]
    print(f"CLI cold start, median of {runs} runs each; target: wall time ≤ {TARGET_MS:.0f} ms")
    print(f"  {'command':<24} {'wall':>9} {'× floor':>8} {'of target':>10}   {'cpu (user+sys)':>14}")
    failed = False
    for name, median in wall_median.items():
        verdict = ""
        if name.startswith("ennio"):
            ok = median <= TARGET_MS
            failed |= not ok
            verdict = f"{median / TARGET_MS:9.2f}  {'OK' if ok else 'MISSED'}"
        print(f"  {name:<24} {median:6.1f} ms {median / floor:7.1f}× {verdict:<16} {cpu_median[name]:6.1f} ms")
    print(f"  (machine load average over 1 min: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
