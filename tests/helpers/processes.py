"""Running several Python worker processes released at the same moment."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]


async def run_released_together(module: str, argv_list: list[list[str]], timeout: float = 120.0) -> list[Any]:
    """Start ``python -m module *argv`` for each argv; once all print ``ready``, release them together
    (one line on stdin each) and return each one's JSON result (its last stdout line)."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *argv,
            cwd=REPO_ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for argv in argv_list
    ]
    try:
        async with asyncio.timeout(timeout):
            for proc in procs:
                assert proc.stdout is not None
                line = await proc.stdout.readline()
                if line.strip() != b"ready":
                    _, err = await proc.communicate()
                    raise AssertionError(f"worker failed before ready: {line!r} {err.decode()[-2000:]}")
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write(b"go\n")
                await proc.stdin.drain()
            results = []
            for proc in procs:
                out, err = await proc.communicate()
                if proc.returncode != 0:
                    raise AssertionError(f"worker exited {proc.returncode}: {err.decode()[-2000:]}")
                results.append(json.loads(out.decode().strip().splitlines()[-1]))
            return results
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
