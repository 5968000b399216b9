"""Start latency of the runtimes against the floor measured in the same run.

Floors are run through the same async runner (``ennio.core.proc.run``), so the ratios show what
the runtimes add. tmux: ``TmuxRuntime.start`` (exec wrapper, remain-on-exit) vs ``tmux new-session
-d`` by hand running the same program, on a private tmux server. process: ``ProcessRuntime.start`` (detached pty host,
reachable over its socket when ``start`` returns) vs starting (and ending) a bare Python interpreter,
the host's unavoidable cost.
Prints medians and ratios. Run: ``.venv/bin/python bench/runtime_start.py [N]``.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ennio.core.clock import SystemClock
from ennio.core.plugins import LaunchSpec, PluginContext, RuntimeHandle
from ennio.core.proc import run
from ennio.plugins.runtime.process import ProcessRuntime
from ennio.plugins.runtime.tmux import TmuxRuntime

PROGRAM = ["sleep", "600"]


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def bench_tmux(n: int, root: Path) -> tuple[float, float]:
    socket = f"ennio-bench-{os.getpid()}"
    os.environ["ENNIO_TMUX_SOCKET"] = socket
    runtime = TmuxRuntime(PluginContext(data_dir=root, clock=SystemClock()))
    floor, ours = [], []
    try:
        await run(["tmux", "-L", socket, "new-session", "-d", "-s", "warm", *PROGRAM])
        for i in range(n):
            t = time.perf_counter()
            await run(["tmux", "-L", socket, "new-session", "-d", "-s", f"floor-{i}", *PROGRAM])
            floor.append(time.perf_counter() - t)
            t = time.perf_counter()
            await runtime.start(LaunchSpec(f"ennio-bench-{i}", PROGRAM, root))
            ours.append(time.perf_counter() - t)
    finally:
        await run(["tmux", "-L", socket, "kill-server"], check=False)
    return median_ms(floor), median_ms(ours)


async def bench_process(n: int, root: Path) -> tuple[float, float]:
    runtime = ProcessRuntime(PluginContext(data_dir=root, clock=SystemClock()))
    floor, ours, handles = [], [], []
    try:
        for i in range(n):
            t = time.perf_counter()
            await run([sys.executable, "-c", "pass"])
            floor.append(time.perf_counter() - t)
            t = time.perf_counter()
            handles.append(await runtime.start(LaunchSpec(f"ennio-bench-{i}", PROGRAM, root)))
            ours.append(time.perf_counter() - t)
    finally:
        for handle in handles:
            await runtime.destroy(RuntimeHandle("process", handle.id, handle.data))
    return median_ms(floor), median_ms(ours)


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ennio-bench-") as tmp:
        root = Path(tmp)
        floor, ours = await bench_tmux(n, root)
        print(
            f"tmux    start: {ours:7.1f} ms  floor (tmux new-session -d): {floor:6.1f} ms  ratio {ours / floor:4.2f}x"
        )
        floor, ours = await bench_process(n, root)
        print(
            f"process start: {ours:7.1f} ms  floor (python -c pass):      {floor:6.1f} ms  ratio {ours / floor:4.2f}x"
        )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 20))
