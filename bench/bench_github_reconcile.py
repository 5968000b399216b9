"""A full ``LifecycleManager`` reconcile pass over N active sessions on GitHub: open PRs on GitHub issues.

Everything a daemon pass does runs: the sessions query, every agent's screen (real tmux, one sleeping shell per
session, read in batches), activity detection, one ``git for-each-ref`` for the branch heads, the GitHub SCM's
batched ``snapshots`` (GraphQL, 50 PRs a query, review threads re-read only for PRs that changed or every 5 min),
the GitHub tracker's ``issue_states`` (asked only for sessions with no open PR: the issue's state cannot change
what happens to a session whose PR is open), the status rules, the reactions and the escalations. The forge is
the fake GitHub (REST checked by githubkit's models, GraphQL executed on GitHub's schema) in a child process with
20 ms added to every request. Figures, for a steady pass (nothing changed, what the daemon does nearly every
time) and for the pass every 5 minutes that re-reads the review threads:

* requests per pass (target ≤ 15), counted by the forge, and the share of the SCM and the tracker;
* wall time per pass (target ≤ 2 s), and its ratio to a floor measured in the same run (sessions query +
  batched screens + one ``snapshots`` call — what no pass can do without);
* projected requests and GraphQL points per hour at a 30 s interval (target: well inside 5,000 each), and at
  the 5 min interval used while webhooks arrive.

Usage::

    python bench/bench_github_reconcile.py [--sessions 500] [--latency 0.02] [--passes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))

from bench_local_scm import make_repo
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, serve

from ennio.core.clock import ManualClock, SystemClock
from ennio.core.config import EnnioConfig
from ennio.core.ids import tmux_session_name
from ennio.core.plugins import BranchRef, LaunchSpec, PluginContext, RuntimeHandle
from ennio.core.session import Session, SessionStatus
from ennio.db import open_database
from ennio.services.events.event_log import EventService
from ennio.services.events.notifications import NotificationRouter
from ennio.services.lifecycle import git_heads
from ennio.services.lifecycle.manager import RECONCILED_STATUSES, LifecycleManager
from ennio.services.lifecycle.reactions import ReactionEngine
from ennio.services.registry import default_registry
from ennio.services.sessions.ops import PluginCleaner, RuntimeMessenger
from ennio.services.sessions.plugins import SessionPlugins

INTERVAL = 30.0
WEBHOOK_INTERVAL = 300.0
HOURLY_BUDGET = 5000
AGENT = ["sh", "-c", "printf 'agent> '; exec sleep 86400"]
#: react by notifying (nobody): the benchmark is about what a pass asks the forge, not about typing into agents
QUIET_REACTIONS = {name: {"action": "notify"} for name in ("ci-failed", "changes-requested", "bugbot-comments")}


def build_forge(heads: dict[str, str], latency: float) -> FakeGitHub:
    """One GitHub issue and one open PR (``Closes #N``) per session branch, with checks, statuses, reviews, threads."""
    fake = FakeGitHub(latency=latency)
    fake.add_token(TOKEN)
    fake.add_repo(REPO)
    fake.protect(REPO, "main", ["tests", "lint"])
    count = sum(1 for branch in heads if branch.startswith("feat/"))
    for i in range(count):
        fake.add_issue(REPO, f"Task {i}", f"Do task {i}.")
    for i in range(count):
        branch = f"feat/{i}-work"
        pr = fake.open_pr(REPO, branch, sha=heads[branch], title=f"Task {i}", body=f"Closes #{i + 1}")
        fake.add_check(REPO, pr.head_sha, "tests", conclusion="success")
        fake.add_check(REPO, pr.head_sha, "lint", conclusion="success")
        fake.add_status(REPO, pr.head_sha, "ci/coverage", "success")
        if i % 5 == 0:
            fake.add_thread(REPO, pr.number, "alice", f"Please look at line {i}")
        if i % 11 == 0:
            fake.add_thread(REPO, pr.number, "cursor[bot]", "Possible bug", bot=True)
        if i % 7 == 0:
            fake.add_review(REPO, pr.number, "bob", "APPROVED")
    return fake


def serve_forever(heads: dict[str, str], latency: float, pipe: Any) -> None:
    fake = build_forge(heads, latency)
    with serve(fake) as base:
        pipe.send(base)
        pipe.recv()  # the parent says stop


async def forge_requests(client: httpx.AsyncClient, base: str) -> tuple[int, int]:
    stats = (await client.get(f"{base}/_fake/stats")).json()
    if stats["problems"]:
        raise SystemExit("the fake forge served impossible traffic:\n" + "\n".join(stats["problems"][:5]))
    return int(stats["requests"]), int(stats["counted"])


async def bench(root: Path, base: str, count: int, passes: int) -> dict[str, Any]:
    repo = root / "app"
    forge = {"repo": REPO, "token": TOKEN, "base_url": base}
    config = EnnioConfig.model_validate(
        {
            "projects": [
                {
                    "name": "bench",
                    "path": str(repo),
                    "agent": "script",
                    "runtime": "tmux",
                    "scm": {"provider": "github", **forge},
                    "tracker": {"provider": "github", **forge},
                }
            ],
            "reactions": QUIET_REACTIONS,
            "lifecycle": {"concurrency": 16, "session_timeout": "120s"},
        }
    )
    project = config.projects[0]
    clock = SystemClock()
    plugin_clock = ManualClock()  # the SCM's clock: moved 5 minutes on to measure the thread refresh
    db = await open_database(None, root / "data", clock=clock)
    plugins = SessionPlugins(default_registry(), PluginContext(data_dir=root / "data", clock=plugin_clock))
    runtime = plugins.runtime("tmux")
    scm, tracker = plugins.scm(project), plugins.tracker(project)
    assert scm is not None and tracker is not None
    handles: list[RuntimeHandle] = []
    for i in range(count):
        # named as spawns name their terminals (ennio-<instance>-<session id>)
        handle = await runtime.start(LaunchSpec(name=tmux_session_name("bench0", f"bench-{i}"), argv=AGENT, cwd=repo))
        handles.append(handle)
        await db.sessions.insert(
            Session(
                id=f"bench-{i}",
                project_id=project.pid,
                status=SessionStatus.REVIEW_PENDING,
                agent="script",
                runtime="tmux",
                workspace="worktree",
                branch=f"feat/{i}-work",
                base_branch="main",
                issue_id=str(i + 1),
                workspace_path=str(repo),
                runtime_handle=handle.to_dict(),
                pr_number=count + 1 + i,
            )
        )
    scm_counts = scm.client.tracker.counts  # type: ignore[attr-defined]
    tracker_counts = tracker.client.tracker.counts  # type: ignore[attr-defined]

    async with EventService(db.events) as events, httpx.AsyncClient(timeout=60) as client:
        engine = ReactionEngine(
            config,
            db,
            events=events,
            messenger=RuntimeMessenger(plugins),
            clock=clock,
            scm_for=plugins.scm,
            router=NotificationRouter({}, config.notification_routing),
        )
        lifecycle = LifecycleManager(
            config,
            db,
            events=events,
            plugins=plugins,
            clock=clock,
            reactions=engine,
            cleaner=PluginCleaner(config, plugins),
        )

        async def measured() -> dict[str, float]:
            sent, _ = await forge_requests(client, base)
            scm_sent, tracker_sent, points = scm_counts.sent, tracker_counts.sent, scm._points  # type: ignore[attr-defined]
            report = await lifecycle.run_once()
            assert not report.errors, report.errors
            after, _ = await forge_requests(client, base)
            return {
                "requests": after - sent,
                "scm": scm_counts.sent - scm_sent,
                "tracker": tracker_counts.sent - tracker_sent,
                "points": scm._points - points,  # type: ignore[attr-defined]
                "seconds": report.seconds,
                "transitions": report.transitions,
            }

        async def floor() -> float:
            started = time.perf_counter()
            listed = await db.sessions.list(statuses=RECONCILED_STATUSES)
            await runtime.screens(handles, 60)  # type: ignore[attr-defined]
            await scm.snapshots([BranchRef(s.id, s.branch or "", s.pr_number) for s in listed])
            return time.perf_counter() - started

        first = await measured()  # settles activity and what was observed of each PR (writes)
        await events.flush()
        steady = [await measured() for _ in range(passes)]
        floors = [await floor() for _ in range(passes)]
        plugin_clock.advance(timedelta(minutes=5, seconds=1).total_seconds())
        refresh = await measured()  # the review threads are re-read every 5 minutes
        sent = tracker_counts.sent
        unfolded_start = time.perf_counter()
        await tracker.issue_states([str(i + 1) for i in range(count)])
        unfolded = (tracker_counts.sent - sent, time.perf_counter() - unfolded_start)
    heads = await git_heads.branch_heads(repo)
    assert len(heads) == count + 1
    await plugins.aclose()
    await db.close()
    return {
        "first": first,
        "steady": steady,
        "refresh": refresh,
        "floor": statistics.median(floors),
        "unfolded": unfolded,
    }


def report(args: argparse.Namespace, result: dict[str, Any]) -> None:
    steady = result["steady"]
    refresh = result["refresh"]
    req = max(p["requests"] for p in steady)
    wall = statistics.median(p["seconds"] for p in steady)
    points = max(p["points"] for p in steady)
    per_hour = 3600 / INTERVAL
    refreshes = 3600 / 300  # the thread refresh happens every 5 minutes
    hourly = req * (per_hour - refreshes) + refresh["requests"] * refreshes
    hourly_points = points * (per_hour - refreshes) + refresh["points"] * refreshes
    quiet_hourly = refresh["requests"] * 3600 / WEBHOOK_INTERVAL
    first = result["first"]
    print(f"{args.sessions} sessions with open PRs on GitHub issues, {args.latency * 1000:.0f} ms added per request")
    print(
        f"  first pass: {first['requests']} requests (SCM {first['scm']}, tracker {first['tracker']}), "
        f"{first['seconds']:.2f} s, {first['transitions']} transitions"
    )
    print(
        f"  steady pass: {req} requests (target <= 15; SCM {max(p['scm'] for p in steady)}, "
        f"tracker {max(p['tracker'] for p in steady)}), median {wall:.2f} s (target <= 2 s) = "
        f"{wall / result['floor']:.2f}x the floor ({result['floor']:.2f} s: sessions query + batched screens + "
        f"one snapshots call), {points} GraphQL points"
    )
    print(
        f"  pass re-reading review threads (every 5 min): {refresh['requests']} requests, "
        f"{refresh['seconds']:.2f} s, {refresh['points']} GraphQL points"
    )
    print(
        f"  tracker, if asked about every session's issue (not folded): {result['unfolded'][0]} requests, "
        f"{result['unfolded'][1]:.2f} s"
    )
    print(
        f"  projected per hour at {INTERVAL:.0f} s: {hourly:.0f} requests ({100 * hourly / HOURLY_BUDGET:.0f}% of "
        f"{HOURLY_BUDGET}), {hourly_points:.0f} GraphQL points ({100 * hourly_points / HOURLY_BUDGET:.0f}%); "
        f"while webhooks arrive (every {WEBHOOK_INTERVAL / 60:.0f} min): {quiet_hourly:.0f} requests"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    socket = f"ennio-bench-{secrets.token_hex(4)}"
    os.environ["ENNIO_TMUX_SOCKET"] = socket
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_repo(root / "app", args.sessions)
        heads = asyncio.run(git_heads.branch_heads(root / "app"))
        parent, child = ctx.Pipe()
        forge = ctx.Process(target=serve_forever, args=(heads, args.latency, child), daemon=True)
        forge.start()
        try:
            deadline = time.monotonic() + 300
            while not parent.poll(1):
                if not forge.is_alive() or time.monotonic() > deadline:
                    raise SystemExit("the fake forge did not start")
            base = parent.recv()
            result = asyncio.run(bench(root, base, args.sessions, args.passes))
        finally:
            parent.send("stop")
            forge.join(timeout=15)
            if forge.is_alive():
                forge.kill()
            subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)
    report(args, result)


if __name__ == "__main__":
    main()
