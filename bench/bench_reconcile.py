"""One LifecycleManager pass over N active sessions on the local SCM, with real tmux agents.

Each session has its branch (one commit ahead of ``main``), an open local PR with CI passing and a
review pending, and an agent in a private tmux server (a shell prompt that sleeps). The figures are
for a steady pass (nothing changed since the last one), which is what the daemon does almost every
time: wall time, the ratio to a floor measured in the same run (the calls a pass cannot do
without: the sessions query, one batched read of every screen, ``LocalSCM.snapshots``), and the
database statements per pass, counted with a SQLAlchemy listener — shown for each N so one can see
they do not grow with the sessions. Usage::

    python bench/bench_reconcile.py [--sessions 100,500] [--rounds 3] [--postgres]

Target: ≤ 2 s per pass for 500 sessions; statements per pass the same for every N.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from ennio.core.clock import SystemClock
from ennio.core.config import EnnioConfig
from ennio.core.ids import tmux_session_name
from ennio.core.plugins import BranchRef, LaunchSpec, PluginContext, PRState, RuntimeHandle
from ennio.core.session import Session, SessionStatus
from ennio.db import open_database
from ennio.plugins.scm import _local_git as g
from ennio.plugins.scm._local_docs import NAMESPACE, CIRun, Keys, PRDoc
from ennio.services.events.event_log import EventService
from ennio.services.events.notifications import NotificationRouter
from ennio.services.lifecycle.manager import RECONCILED_STATUSES, LifecycleManager
from ennio.services.lifecycle.reactions import ReactionEngine
from ennio.services.registry import default_registry
from ennio.services.sessions.ops import PluginCleaner, RuntimeMessenger
from ennio.services.sessions.plugins import SessionPlugins

sys.path.insert(0, str(Path(__file__).parent))
from bench_local_scm import make_repo, throwaway_postgres

AGENT = ["sh", "-c", "printf 'agent> '; exec sleep 86400"]


def bench(sessions: int, rounds: int, postgres: bool) -> dict[str, float]:
    """One measurement on a private tmux server, killed afterwards."""
    socket = f"ennio-bench-{secrets.token_hex(4)}"
    os.environ["ENNIO_TMUX_SOCKET"] = socket

    async def measure(root: Path) -> dict[str, float]:
        if not postgres:
            return await _bench(root, sessions, rounds, None)
        async with throwaway_postgres() as url:
            return await _bench(root, sessions, rounds, url)

    try:
        with tempfile.TemporaryDirectory() as tmp:
            return asyncio.run(measure(Path(tmp)))
    finally:
        subprocess.run(["tmux", "-L", socket, "kill-server"], capture_output=True, check=False)


async def _bench(root: Path, count: int, rounds: int, database_url: str | None) -> dict[str, float]:
    repo = root / "app"
    make_repo(repo, count)
    config = EnnioConfig.model_validate(
        {
            "projects": [
                {
                    "name": "bench",
                    "path": str(repo),
                    "agent": "script",
                    "runtime": "tmux",
                    "scm": {"provider": "local", "ci_command": ["true"]},
                }
            ],
            "lifecycle": {"concurrency": 16, "session_timeout": "120s"},
        }
    )
    project = config.projects[0]
    clock = SystemClock()
    db = await open_database(database_url, root / "data", clock=clock)
    ctx = PluginContext(data_dir=root / "data", clock=clock, store=db.store)
    plugins = SessionPlugins(default_registry(), ctx)
    runtime = plugins.runtime("tmux")

    # the PRs (CI passing) the local SCM keeps, and the sessions with their agents
    keys = Keys(project.pid)
    heads = await g.branch_heads(repo)
    handles: list[RuntimeHandle] = []
    for number in range(1, count + 1):
        branch = f"feat/{number - 1}-work"
        doc = PRDoc(number, branch, "main", branch, "", PRState.OPEN, False, heads[branch], "", "")
        await db.store.put(NAMESPACE, keys.pr(number), doc.to_doc())
        run = CIRun(number, heads[branch], "passing", {"host": "bench", "pid": 0, "token": "x"}, "")
        await db.store.put(NAMESPACE, keys.ci(number, heads[branch]), run.to_doc())
        # named as spawns name their terminals (ennio-<instance>-<session id>)
        name = tmux_session_name("bench0", f"bench-{number}")
        handle = await runtime.start(LaunchSpec(name=name, argv=AGENT, cwd=repo))
        handles.append(handle)
        await db.sessions.insert(
            Session(
                id=f"bench-{number}",
                project_id=project.pid,
                status=SessionStatus.REVIEW_PENDING,
                agent="script",
                runtime="tmux",
                workspace="worktree",
                branch=branch,
                base_branch="main",
                workspace_path=str(repo),
                runtime_handle=handle.to_dict(),
                pr_number=number,
            )
        )

    async with EventService(db.events) as events:
        router = NotificationRouter({}, config.notification_routing)
        engine = ReactionEngine(
            config,
            db,
            events=events,
            messenger=RuntimeMessenger(plugins),
            clock=clock,
            scm_for=plugins.scm,
            router=router,
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
        scm = plugins.scm(project)
        assert scm is not None

        async def floor() -> float:
            started = time.perf_counter()
            listed = await db.sessions.list(statuses=RECONCILED_STATUSES)
            await runtime.screens(handles, 60)  # type: ignore[attr-defined]
            await scm.snapshots([BranchRef(s.id, s.branch or "", s.pr_number) for s in listed])
            return time.perf_counter() - started

        first = await lifecycle.run_once()  # settles activity and the observed PR state (writes)
        assert not first.errors, first.errors
        await events.flush()
        floors = [await floor() for _ in range(rounds)]
        statements: list[str] = []

        def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
                statements.append(statement)

        event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
        passes = []
        for _ in range(rounds):
            report = await lifecycle.run_once()
            assert not report.errors and report.transitions == 0, report
            passes.append(report.seconds)
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
        statuses = {s.status for s in await db.sessions.list()}
    await plugins.aclose()
    await db.close()
    return {
        "first": first.seconds,
        "steady": statistics.median(passes),
        "floor": statistics.median(floors),
        "queries": len(statements) / rounds,
        "statuses": len(statuses),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", default="100,500", help="comma-separated session counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="a throw-away database on ENNIO_TEST_PG_URL's server")
    args = parser.parse_args()
    print(f"database: {'postgresql' if args.postgres else 'sqlite'}")
    for count in (int(n) for n in args.sessions.split(",")):
        r = bench(count, args.rounds, args.postgres)
        print(
            f"{count} sessions: steady pass {r['steady'] * 1000:.0f} ms = {r['steady'] / r['floor']:.2f}x floor "
            f"({r['floor'] * 1000:.0f} ms: sessions query + batched screens + local SCM snapshots); "
            f"first pass {r['first'] * 1000:.0f} ms; database statements per pass: {r['queries']:g}"
        )


if __name__ == "__main__":
    main()
