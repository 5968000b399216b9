"""CI for the local SCM: the project's ``ci_command`` run in a clean checkout of one exact commit.

A run is claimed in the store before it starts (``PluginStore.add``: one claim per PR and commit,
whoever asks first), runs as an asyncio task owned by the plugin instance, a few at a time, and
records passing/failing with its log. A run whose owner is gone (the daemon restarted, the machine
rebooted) is claimed again and re-run. The command runs in its own process group with a timeout;
on timeout, or when the plugin closes, the whole group is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from ennio.core.clock import Clock
from ennio.core.durations import format_duration
from ennio.core.errors import EnnioError, SCMError
from ennio.core.plugins import CIState, PluginStore
from ennio.core.proc import pid_running
from ennio.plugins.scm import _local_git as g
from ennio.plugins.scm._local_docs import NAMESPACE, CIRun, Keys, parse_time, timestamp

log = logging.getLogger("ennio.scm.local")

#: the most of a log kept in the database (its end: that is where failures are)
LOG_LIMIT = 256 * 1024
#: a run on another machine counts as abandoned this long after its timeout should have hit
FOREIGN_GRACE = timedelta(minutes=5)
CHECK_NAME = "ci"

#: tokens of the runs alive in this process, whichever plugin instance owns them
_LIVE: set[str] = set()
_HOST = socket.gethostname()


@dataclass(slots=True)
class Outcome:
    passed: bool
    exit_code: int | None
    summary: str
    log: str
    truncated: bool = False


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def read_tail(path: Path, limit: int = LOG_LIMIT) -> tuple[str, bool]:
    """The last ``limit`` bytes of ``path`` as text, and whether anything was cut."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - limit))
            data = f.read()
    except FileNotFoundError:
        return "", False
    text = data.decode(errors="replace")
    if size > limit:
        text = text.split("\n", 1)[-1]  # drop the partial first line
    return text, size > limit


async def run_command(
    argv: Sequence[str], cwd: Path, log_path: Path, timeout: timedelta, env: dict[str, str]
) -> Outcome:
    """Run ``argv`` in its own process group, output to ``log_path``; kill the group on timeout."""
    started = time.monotonic()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as out:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=str(cwd),
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            message = f"ci_command {argv[0]!r} could not start: {exc.strerror or exc}"
            return Outcome(False, None, message, message)
    timed_out = False
    try:
        code = await asyncio.wait_for(proc.wait(), timeout.total_seconds())
    except TimeoutError:
        timed_out = True
        _kill_group(proc.pid)
        code = await proc.wait()
    except asyncio.CancelledError:
        _kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    finally:
        # whatever the command left behind in its group goes with it
        _kill_group(proc.pid)
    text, truncated = read_tail(log_path)
    if timed_out:
        summary = f"timed out after {format_duration(timeout)}; the command and its process group were killed"
        text = f"{text.rstrip()}\n\nennio: CI {summary}\n".lstrip()
        return Outcome(False, None, summary, text, truncated)
    elapsed = time.monotonic() - started
    summary = f"exit {code} after {elapsed:.1f}s"
    return Outcome(code == 0, code, summary, text, truncated)


class CIScheduler:
    """Starts and tracks one project's CI runs; owned by one plugin instance."""

    def __init__(
        self,
        *,
        repo: Path,
        argv: Sequence[str],
        timeout: timedelta,
        store: PluginStore,
        keys: Keys,
        work_dir: Path,
        clock: Clock,
        concurrency: int,
    ) -> None:
        self.repo = repo
        self.argv = list(argv)
        self.timeout = timeout
        self.store = store
        self.keys = keys
        self.work_dir = work_dir
        self.clock = clock
        self._gate = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._swept = False
        self._closed = False

    # ------------------------------------------------------------------ state

    def abandoned(self, run: CIRun) -> bool:
        """A pending run nobody is running any more (its process or its plugin instance is gone)."""
        if run.state != CIState.PENDING.value:
            return False
        token = str(run.owner.get("token") or "")
        if token in _LIVE:
            return False
        host, pid = run.owner.get("host"), run.owner.get("pid")
        if host == _HOST and isinstance(pid, int):
            return pid == os.getpid() or not pid_running(pid)
        since = parse_time(run.started_at or run.claimed_at)
        return since is None or self.clock.now() - since > self.timeout + FOREIGN_GRACE

    async def ensure(self, number: int, sha: str, known: CIRun | None) -> CIRun:
        """The run of ``sha``: ``known`` as it is, or a newly claimed (or re-claimed) one, started."""
        if self._closed:
            raise SCMError("the local SCM was closed; CI cannot start")
        if known is not None and not self.abandoned(known):
            return known
        token = os.urandom(8).hex()
        run = CIRun(
            number=number,
            sha=sha,
            state=CIState.PENDING.value,
            owner={"host": _HOST, "pid": os.getpid(), "token": token},
            claimed_at=timestamp(self.clock.now()),
            attempt=1 if known is None else known.attempt + 1,
        )
        key = self.keys.ci(number, sha)
        if known is None:
            if not await self.store.add(NAMESPACE, key, run.to_doc()):
                raced = await self.store.get(NAMESPACE, key)  # someone else claimed it first
                return CIRun.from_doc(raced) if raced else run
        else:
            log.info("re-running CI of PR #%s at %s (attempt %s was interrupted)", number, sha[:12], known.attempt)
            await self.store.put(NAMESPACE, key, run.to_doc())
        _LIVE.add(token)
        self._tasks[token] = asyncio.create_task(self._execute(run), name=f"ci-{self.keys.root}-{number}-{sha[:12]}")
        return run

    def running(self) -> int:
        return len(self._tasks)

    async def wait_idle(self) -> None:
        """Until every run this instance started has finished (for tests and orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self) -> None:
        """Stop every run (killing their commands); they stay pending and are re-run later."""
        self._closed = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ running

    async def _execute(self, run: CIRun) -> None:
        token = str(run.owner["token"])
        key = self.keys.ci(run.number, run.sha)
        try:
            async with self._gate:
                await self._sweep()
                run.started_at = timestamp(self.clock.now())
                await self.store.put(NAMESPACE, key, run.to_doc())
                outcome = await self._in_checkout(run, token)
            await self.store.put(
                NAMESPACE,
                self.keys.log(run.number, run.sha),
                {"text": outcome.log, "truncated": outcome.truncated, "summary": outcome.summary},
            )
            run.state = (CIState.PASSING if outcome.passed else CIState.FAILING).value
            run.exit_code = outcome.exit_code
            run.summary = outcome.summary
            run.finished_at = timestamp(self.clock.now())
            await self.store.put(NAMESPACE, key, run.to_doc())
            log.info("CI of PR #%s at %s: %s (%s)", run.number, run.sha[:12], run.state, outcome.summary)
        except asyncio.CancelledError:
            raise
        except Exception:
            # the run stays pending with an owner that is gone, so the next pass runs it again
            log.exception("CI of PR #%s at %s could not complete", run.number, run.sha[:12])
        finally:
            _LIVE.discard(token)
            self._tasks.pop(token, None)

    async def _in_checkout(self, run: CIRun, token: str) -> Outcome:
        name = f"{run.number}-{run.sha[:12]}-{os.getpid()}-{token}"
        checkout = self.work_dir / name
        log_path = self.work_dir / "logs" / f"{name}.log"
        try:
            try:
                await g.add_checkout(self.repo, checkout, run.sha)
            except EnnioError as exc:
                message = f"could not check out {run.sha[:12]} for CI: {exc.message}"
                return Outcome(False, None, message, message)
            try:
                env = g.clean_env(
                    {"CI": "true", "ENNIO_CI": "1", "ENNIO_PR_NUMBER": str(run.number), "ENNIO_COMMIT": run.sha},
                    for_git=False,
                )
                return await run_command(self.argv, checkout, log_path, self.timeout, env)
            finally:
                await g.remove_checkout(self.repo, checkout)
        finally:
            log_path.unlink(missing_ok=True)

    async def _sweep(self) -> None:
        """Remove checkouts left by runs that died with their process (once per instance)."""
        if self._swept or not self.work_dir.is_dir():
            self._swept = True
            return
        self._swept = True
        logs = self.work_dir / "logs"
        entries = [*self.work_dir.iterdir(), *(logs.iterdir() if logs.is_dir() else [])]
        for entry in sorted(entries):
            parts = entry.name.removesuffix(".log").split("-")
            if entry == logs or len(parts) != 4 or not parts[2].isdigit():
                continue
            pid, token = int(parts[2]), parts[3]
            if (pid == os.getpid() and token in _LIVE) or (pid != os.getpid() and pid_running(pid)):
                continue
            if entry.is_dir():
                log.info("removing the CI checkout %s left by an interrupted run", entry)
                await g.remove_checkout(self.repo, entry)
            else:
                entry.unlink(missing_ok=True)
