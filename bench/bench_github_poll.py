"""Cost of one reconcile pass over 500 sessions with open PRs: batched GraphQL ``snapshots`` vs naive REST polling.

Both run in the same process against the same fake GitHub (REST payloads checked by githubkit's
models, GraphQL executed on GitHub's real schema) served from a child process on 127.0.0.1 with
20 ms added to every request. Usage::

    python bench/bench_github_poll.py [--sessions 500] [--latency 0.02] [--passes 5] [--naive-concurrency 8]

Targets (issue 5): ≤ 15 requests per pass, ≤ 2 s per pass, and 500 sessions polled every 30 s
fitting GitHub's 5,000 requests/hour (and 5,000 GraphQL points/hour) with room to spare.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, serve

from ennio.core.clock import SystemClock
from ennio.core.config import GitHubSCMConfig, ProjectConfig
from ennio.core.pacing import poll_delay
from ennio.core.plugins import BranchRef, PluginContext
from ennio.plugins.scm.github import GitHubSCM

INTERVAL = 30.0
HOURLY_BUDGET = 5000


def build_forge(sessions: int, latency: float) -> FakeGitHub:
    fake = FakeGitHub(latency=latency)
    fake.add_token(TOKEN)
    fake.add_repo(REPO)
    fake.protect(REPO, "main", ["tests", "lint"])
    for i in range(sessions):
        pr = fake.open_pr(REPO, f"feat/{i}-session")
        fake.add_check(REPO, pr.head_sha, "tests", conclusion="failure" if i % 9 == 0 else "success")
        fake.add_check(REPO, pr.head_sha, "lint", conclusion="success")
        fake.add_check(REPO, pr.head_sha, "e2e", status="in_progress")
        fake.add_status(REPO, pr.head_sha, "ci/coverage", "success")
        if i % 5 == 0:
            fake.add_thread(REPO, pr.number, "alice", f"Please look at line {i}")
        if i % 11 == 0:
            fake.add_thread(REPO, pr.number, "cursor[bot]", "Possible bug", bot=True)
        if i % 7 == 0:
            fake.add_review(REPO, pr.number, "bob", "APPROVED")
    return fake


def serve_forever(sessions: int, latency: float, ready: Any) -> None:
    fake = build_forge(sessions, latency)
    with serve(fake) as base:
        ready.send(base)
        ready.recv()  # parent says stop


async def stats(base: str) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{base}/_fake/stats")).json()  # type: ignore[no-any-return]


async def batched(base: str, sessions: int, passes: int, data_dir: Path) -> dict[str, Any]:
    project = ProjectConfig(
        name="bench",
        path=data_dir,
        scm=GitHubSCMConfig(repo=REPO, token=SecretStr(TOKEN), base_url=base),
    )
    scm = GitHubSCM(project, PluginContext(data_dir=data_dir, clock=SystemClock()))
    refs = [BranchRef(f"s{i}", f"feat/{i}-session") for i in range(sessions)]
    counts = scm.client.tracker.counts

    async def one_pass() -> tuple[int, float, int]:
        sent, points = counts.sent, scm._points
        start = time.perf_counter()
        snaps = await scm.snapshots(refs)
        elapsed = time.perf_counter() - start
        assert len(snaps) == sessions and all(s.pr is not None for s in snaps.values())
        return counts.sent - sent, elapsed, scm._points - points

    cold = await one_pass()
    warm = [await one_pass() for _ in range(passes)]
    budget = scm.rate_budget()
    await scm.close()
    return {"cold": cold, "warm": warm, "budget": budget}


async def naive(base: str, sessions: int, concurrency: int) -> tuple[int, float]:
    """What per-PR REST polling costs: PR, check runs, combined status, reviews, review comments."""
    headers = {"Authorization": f"token {TOKEN}", "Accept": "application/vnd.github+json"}
    gate = asyncio.Semaphore(concurrency)
    sent = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=60) as client:

        async def get(path: str) -> Any:
            nonlocal sent
            async with gate:
                sent += 1
                resp = await client.get(path)
                resp.raise_for_status()
                return resp.json()

        async def poll(number: int) -> None:
            pr = await get(f"/repos/{REPO}/pulls/{number}")
            sha = pr["head"]["sha"]
            await asyncio.gather(
                get(f"/repos/{REPO}/commits/{sha}/check-runs"),
                get(f"/repos/{REPO}/commits/{sha}/status"),
                get(f"/repos/{REPO}/pulls/{number}/reviews"),
                get(f"/repos/{REPO}/pulls/{number}/comments"),
            )

        start = time.perf_counter()
        await asyncio.gather(*(poll(n) for n in range(1, sessions + 1)))
        return sent, time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--naive-concurrency", type=int, default=8)
    args = parser.parse_args()

    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    forge = ctx.Process(target=serve_forever, args=(args.sessions, args.latency, child), daemon=True)
    forge.start()
    try:
        if not parent.poll(120):
            raise SystemExit("the fake forge did not start within 120 s")
        base = parent.recv()
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            result = await batched(base, args.sessions, args.passes, Path(tmp))
        naive_sent, naive_time = await naive(base, args.sessions, args.naive_concurrency)
        forge_stats = await stats(base)
    finally:
        parent.send("stop")
        forge.join(timeout=15)
        if forge.is_alive():
            forge.kill()

    cold_req, cold_time, cold_points = result["cold"]
    warm_reqs = [w[0] for w in result["warm"]]
    warm_times = [w[1] for w in result["warm"]]
    warm_points = [w[2] for w in result["warm"]]
    req = max(warm_reqs)
    wall = statistics.median(warm_times)
    points = max(warm_points)
    per_hour = 3600 / INTERVAL
    budget = result["budget"]

    print(f"{args.sessions} sessions with open PRs, {args.latency * 1000:.0f} ms added latency per request")
    print(
        f"  batched snapshots, first pass (PR numbers looked up): {cold_req} requests, {cold_time:.2f} s, {cold_points} GraphQL points"
    )
    print(
        f"  batched snapshots, steady pass: {req} requests (target <= 15), median {wall:.2f} s (target <= 2 s), {points} GraphQL points"
    )
    print(f"  naive REST polling (concurrency {args.naive_concurrency}): {naive_sent} requests, {naive_time:.2f} s")
    print(
        f"  projected per hour at {INTERVAL:.0f} s: batched {req * per_hour:.0f} requests and {points * per_hour:.0f} points "
        f"(budget {HOURLY_BUDGET} each: {100 * req * per_hour / HOURLY_BUDGET:.0f}% / {100 * points * per_hour / HOURLY_BUDGET:.0f}%); "
        f"naive {naive_sent * per_hour:.0f} requests ({naive_sent * per_hour / HOURLY_BUDGET:.0f}x the budget)"
    )
    print(
        f"  ratio naive/batched: {naive_sent / req:.0f}x fewer requests, {naive_time / wall:.1f}x less wall time per pass"
    )
    if budget is not None:
        print(
            f"  pacing after the run: {budget.resource} {budget.remaining}/{budget.limit} left, "
            f"next poll in {poll_delay(budget, INTERVAL, SystemClock().now()):.0f} s"
        )
    print(f"  fake forge: {forge_stats['requests']} requests served, {len(forge_stats['problems'])} impossible ones")
    if forge_stats["problems"]:
        print("\n".join(forge_stats["problems"][:5]))
        raise SystemExit(1)


if __name__ == "__main__":
    asyncio.run(main())
