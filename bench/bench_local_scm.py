"""One lifecycle pass of the local SCM over many sessions: ``LocalSCM.snapshots`` for N open PRs.

Figures are ratios against a floor measured in the same run: the three store queries and the one
``git for-each-ref`` a pass cannot do without. Also prints the database queries per pass (they
must not grow with N) and what a pass costs right after the default branch moved (every trial
merge is stale). CI is seeded as finished (steady state); CI itself runs in the background and is
never part of a pass. Usage::

    python bench/bench_local_scm.py [--sessions 500] [--rounds 5] [--postgres]

``--postgres`` runs on a throw-away database created (and dropped) on the server named by
``ENNIO_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import event

from ennio.core.clock import SystemClock
from ennio.core.config import ProjectConfig
from ennio.core.plugins import BranchRef, PluginContext, PRState
from ennio.db import open_database
from ennio.plugins.scm import _local_git as g
from ennio.plugins.scm._local_docs import NAMESPACE, CIRun, Keys, PRDoc
from ennio.plugins.scm.local import LocalSCM


def sh(cwd: Path, *args: str, stdin: str | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, input=stdin, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, branches: int) -> None:
    """A repository with ``branches`` session branches, one commit each (via fast-import: seconds, not minutes)."""
    path.mkdir(parents=True)
    sh(path, "init", "-q", "-b", "main")
    stream = [
        "commit refs/heads/main",
        "committer B <b@b> 0 +0000",
        "data 4",
        "init",
        "M 644 inline README.md",
        "data 2",
        "r",
        "",
    ]
    for i in range(branches):
        content = f"work {i}\n"
        stream += [
            f"commit refs/heads/feat/{i}-work",
            "committer B <b@b> 1 +0000",
            "data 4",
            "work",
            "from refs/heads/main",
            f"M 644 inline work/{i}.txt",
            f"data {len(content)}",
            content.rstrip("\n"),
            "",
        ]
    sh(path, "fast-import", "--quiet", stdin="\n".join(stream) + "\n")
    sh(path, "checkout", "-q", "-f", "main")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.postgres:
        async with throwaway_postgres() as url:
            await bench(args, url)
    else:
        await bench(args, None)


@asynccontextmanager
async def throwaway_postgres() -> AsyncIterator[str]:
    import asyncpg

    admin = os.environ.get("ENNIO_TEST_PG_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    name = f"ennio_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        yield f"{admin.rpartition('/')[0]}/{name}"
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def bench(args: argparse.Namespace, database_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = root / "app"
        make_repo(repo, args.sessions)
        db = await open_database(database_url, root / "data")
        project = ProjectConfig.model_validate(
            {"name": "bench", "path": str(repo), "scm": {"provider": "local", "ci_command": ["true"]}}
        )
        keys = Keys(project.pid)
        heads = await g.branch_heads(repo)
        branches = [f"feat/{i}-work" for i in range(args.sessions)]
        for number, branch in enumerate(branches, 1):
            doc = PRDoc(number, branch, "main", branch, "", PRState.OPEN, False, heads[branch], "", "")
            await db.store.put(NAMESPACE, keys.pr(number), doc.to_doc())
            run = CIRun(number, heads[branch], "passing", {"host": "bench", "pid": 0, "token": "x"}, "")
            await db.store.put(NAMESPACE, keys.ci(number, heads[branch]), run.to_doc())
        scm = LocalSCM(project, PluginContext(data_dir=root / "data", clock=SystemClock(), store=db.store))
        refs = [BranchRef(f"bench-{i}", b) for i, b in enumerate(branches)]

        statements: list[str] = []

        def seen(conn: object, cursor: object, statement: str, *rest: object) -> None:
            if statement.lstrip().upper().startswith(("SELECT", "INSERT", "UPDATE", "DELETE")):
                statements.append(statement)

        async def floor() -> float:
            started = time.perf_counter()
            await asyncio.gather(*(db.store.list(NAMESPACE, p) for p in (keys.prs, keys.ci_runs, keys.reviews)))
            await g.branch_heads(repo)
            return time.perf_counter() - started

        async def one_pass() -> float:
            started = time.perf_counter()
            await scm.snapshots(refs)
            return time.perf_counter() - started

        cold = await one_pass()
        await scm.wait_for_trial_merges()
        floors = [await floor() for _ in range(args.rounds)]
        event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
        warm = [await one_pass() for _ in range(args.rounds)]
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
        per_pass = len(statements) / args.rounds

        sh(repo, "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "--allow-empty", "-m", "main moves")
        moved = await one_pass()
        started = time.perf_counter()
        await scm.wait_for_trial_merges()
        catch_up = moved + time.perf_counter() - started
        await scm.close()
        await db.close()

    base = statistics.median(floors)
    steady = statistics.median(warm)
    print(f"sessions: {args.sessions}  database: {'postgresql' if database_url else 'sqlite'}")
    print(f"floor (3 store lists + for-each-ref): {base * 1000:.1f} ms")
    print(f"steady pass: {steady * 1000:.1f} ms = {steady / base:.2f}x floor; database queries per pass: {per_pass:g}")
    print(f"first pass (no trial merges cached yet): {cold * 1000:.1f} ms = {cold / base:.2f}x floor")
    print(
        f"pass after the default branch moved: {moved * 1000:.1f} ms = {moved / base:.2f}x floor "
        f"(all {args.sessions} trial merges done after {catch_up:.2f} s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
