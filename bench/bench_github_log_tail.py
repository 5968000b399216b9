"""Memory of reading the tail of a failing GitHub Actions job's log: a small log vs a huge one.

``GitHubSCM.check_logs`` follows the job log's redirect to its storage URL and streams it, keeping only
the last ``LOG_TAIL_BYTES``. The fake GitHub (REST checked by githubkit's models) runs in a child
process on 127.0.0.1 so only Ennio's side is measured; Python's allocations are traced (``tracemalloc``)
while each tail is read. Usage::

    python bench/bench_github_log_tail.py [--small-mb 1] [--huge-mb 64]

Target (issue 11): the peak while tailing the huge log is at most 1.5x the peak for the small one
(bounded memory: the old code held the whole log, ~64x).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._targets import finish, ratio
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, serve

from ennio.core.clock import SystemClock
from ennio.core.config import GitHubSCMConfig, ProjectConfig
from ennio.core.plugins import BranchRef, PluginContext
from ennio.plugins.scm.github import GitHubSCM

LINE = "2026-01-01T00:00:00.0000000Z " + "a line of a busy build log, " * 3 + "\n"


def build_forge(sizes_mb: list[int]) -> FakeGitHub:
    fake = FakeGitHub()
    fake.add_token(TOKEN)
    fake.add_repo(REPO)
    for size in sizes_mb:
        pr = fake.open_pr(REPO, f"feat/{size}-mb")
        log = LINE * (size * 1024 * 1024 // len(LINE)) + f"FAILED at the end of {size} MB\n"
        fake.add_check(REPO, pr.head_sha, "tests", conclusion="failure", log=log)
    return fake


def serve_forever(sizes_mb: list[int], ready: Any) -> None:
    fake = build_forge(sizes_mb)
    with serve(fake) as base:
        ready.send(base)
        ready.recv()  # parent says stop


async def tail_peak(scm: GitHubSCM, size: int) -> tuple[int, float]:
    """Peak traced bytes and seconds while reading the tail of the ``size`` MB log."""
    branch = f"feat/{size}-mb"
    snap = (await scm.snapshots([BranchRef("s", branch)]))[branch]
    assert snap.pr is not None
    tracemalloc.reset_peak()
    start_bytes = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    (check,) = await scm.check_logs(snap.pr, snap.checks, lines=5)
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] - start_bytes
    assert check.log_tail is not None and check.log_tail.endswith(f"FAILED at the end of {size} MB"), check.log_tail
    return peak, elapsed


async def measure(base: str, small: int, huge: int) -> dict[int, tuple[int, float]]:
    with tempfile.TemporaryDirectory() as tmp:
        project = ProjectConfig(
            name="bench", path=Path(tmp), scm=GitHubSCMConfig(repo=REPO, token=SecretStr(TOKEN), base_url=base)
        )
        scm = GitHubSCM(project, PluginContext(data_dir=Path(tmp), clock=SystemClock()))
        try:
            await tail_peak(scm, small)  # warm up: connections, imports, caches
            tracemalloc.start()
            return {size: await tail_peak(scm, size) for size in (small, huge)}
        finally:
            tracemalloc.stop()
            await scm.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small-mb", type=int, default=1)
    parser.add_argument("--huge-mb", type=int, default=64)
    args = parser.parse_args()
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    forge = ctx.Process(target=serve_forever, args=([args.small_mb, args.huge_mb], child), daemon=True)
    forge.start()
    try:
        if not parent.poll(120):
            raise SystemExit("the fake forge did not start within 120 s")
        result = asyncio.run(measure(parent.recv(), args.small_mb, args.huge_mb))
    finally:
        parent.send("stop")
        forge.join(timeout=15)
        if forge.is_alive():
            forge.kill()
    (small_peak, small_s), (huge_peak, huge_s) = result[args.small_mb], result[args.huge_mb]
    print(f"tail of a {args.small_mb} MB log: peak {small_peak / 1024:,.0f} KiB traced, {small_s:.2f} s")
    print(f"tail of a {args.huge_mb} MB log: peak {huge_peak / 1024:,.0f} KiB traced, {huge_s:.2f} s")
    finish([ratio("peak memory, huge log vs small log", huge_peak / 1024, small_peak / 1024, 1.5, "max", "KiB")])


if __name__ == "__main__":
    main()
