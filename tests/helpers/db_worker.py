"""A separate process using the database, for tests of concurrent access from several processes.

    python -m tests.helpers.db_worker URL DATA_DIR open|allocate N

Prints ``ready``, waits for a line on stdin (so the test releases every worker at once), does the
work and prints its result as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from ennio.db import open_database


async def main(url: str | None, data_dir: Path, action: str, count: int) -> None:
    if action == "open":
        print("ready", flush=True)
        sys.stdin.readline()
        db = await open_database(url, data_dir)
        result: object = "opened"
    else:
        db = await open_database(url, data_dir)
        print("ready", flush=True)
        sys.stdin.readline()
        result = [await db.sessions.allocate_id("app", "app") for _ in range(count)]
    await db.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] or None, Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 0))
