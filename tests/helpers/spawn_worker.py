"""A worker process spawning sessions: ``python -m tests.helpers.spawn_worker DATA_DIR REPO MAX COUNT``.

Prints ``ready``, waits for a line on stdin (so several workers start together), spawns ``COUNT``
sessions at once through its own SessionManager, and prints a JSON line ``{"made": [...], "refused": N}``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from ennio.core.errors import LimitReached
from tests.helpers.sessions_env import make_config, services


async def main(data_dir: Path, repo: Path, max_sessions: int, count: int) -> dict[str, object]:
    async with services(make_config(data_dir, repo, max_sessions=max_sessions)) as stack:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        results = await asyncio.gather(
            *(stack.sessions.spawn("app", prompt=f"task {i}") for i in range(count)), return_exceptions=True
        )
    made = [r.id for r in results if not isinstance(r, BaseException)]
    refused = sum(isinstance(r, LimitReached) for r in results)
    errors = [repr(r) for r in results if isinstance(r, BaseException) and not isinstance(r, LimitReached)]
    return {"made": made, "refused": refused, "errors": errors}


if __name__ == "__main__":
    data, repo_path, limit, n = sys.argv[1:5]
    print(json.dumps(asyncio.run(main(Path(data), Path(repo_path), int(limit), int(n)))), flush=True)
