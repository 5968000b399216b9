"""Running the demo: sample project, orchestrator in-process, one session per issue, a reviewer.

The demo plays the human's part only where a human is needed: it approves each PR once CI passes
(what ``ennio review approve`` does). Everything else is Ennio's own loop: PRs opened when the agent
has committed, CI run, the CI log sent back to the agent, the fix CI-checked, the approved and green
PR merged (``approved-and-green: auto_merge``), the session cleaned up, ``all-complete`` fired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ennio.core.errors import EnnioError
from ennio.core.events import Event, EventFilter, EventType
from ennio.core.session import Session, SessionStatus
from ennio.demo.sample import PROJECT_ID, Sample, create_sample
from ennio.demo.tasks import TASKS
from ennio.services.forge import pull_requests
from ennio.services.orchestrator import Orchestrator
from ennio.services.stack import Services, open_services

log = logging.getLogger("ennio.demo")

S = SessionStatus
REVIEWER = "demo-reviewer"
#: how often the demo looks at the sessions (to approve, and to redraw the live view)
TICK_SECONDS = 0.5
_READY_FOR_REVIEW = frozenset({S.REVIEW_PENDING, S.CI_PASSING})

#: called with the sessions as they are now, on every tick (the live view)
Watcher = Callable[[list[Session]], None]


@dataclass(slots=True)
class DemoSummary:
    ok: bool
    root: str
    seconds: float
    sessions: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)
    all_complete: str | None = None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "root": self.root,
            "seconds": round(self.seconds, 1),
            "sessions": self.sessions,
            "events": self.events,
            "all_complete": self.all_complete,
            "problems": self.problems,
        }


async def run_demo(
    root: Path | None = None,
    *,
    watch: Watcher | None = None,
    timeout: float = 300.0,
    pace: float = 0.5,
    extra_config: dict[str, Any] | None = None,
) -> DemoSummary:
    """Run the whole demo under ``root`` (a new temporary folder by default) and sum it up.

    ``pace``: seconds the scripted agents and the reviewer take per step (0 runs flat out)."""
    root = root or Path(tempfile.mkdtemp(prefix="ennio-demo-"))
    started = time.monotonic()
    sample = await create_sample(root, pace=pace, extra=extra_config)
    async with open_services(sample.config) as services:
        orchestrator = Orchestrator.from_services(services)
        subscription = services.events.subscribe(EventFilter(types=frozenset({EventType.ALL_COMPLETE})))
        await orchestrator.start()
        problems: list[str] = []
        complete: Event | None = None
        try:
            complete = await _drive(services, orchestrator, sample, subscription, watch, timeout, pace, problems)
        finally:
            await orchestrator.stop()
            subscription.close()
            await _stop_leftovers(services)
        await services.events.flush()
        summary = await _summarise(services, sample, complete, problems, time.monotonic() - started)
    return summary


async def _drive(
    services: Services,
    orchestrator: Orchestrator,
    sample: Sample,
    subscription: Any,
    watch: Watcher | None,
    timeout: float,
    pace: float,
    problems: list[str],
) -> Event | None:
    items = await services.sessions.batch_spawn(PROJECT_ID, sample.issues, concurrency=len(sample.issues))
    for item in items:
        if item.error is not None:
            problems.append(f"issue {item.issue}: {item.error.message}")
    if problems:
        return None
    approved: set[str] = set()
    #: session -> when the reviewer started reading its PR
    reading: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while True:
        sessions = await services.db.sessions.list(PROJECT_ID)
        if watch is not None:
            watch(sessions)
        now = time.monotonic()
        for session in sessions:
            ready = session.status in _READY_FOR_REVIEW and session.pr_number and session.id not in approved
            if ready and now - reading.setdefault(session.id, now) >= pace:
                await _approve(services, session)
                approved.add(session.id)
                orchestrator.poke([session.id])
        with contextlib.suppress(TimeoutError):
            item = await asyncio.wait_for(subscription.get(), TICK_SECONDS)
            if isinstance(item, Event):
                if watch is not None:
                    watch(await services.db.sessions.list(PROJECT_ID))
                return item
        if time.monotonic() > deadline:
            problems.append(f"not complete after {timeout:g}s")
            return None


async def _approve(services: Services, session: Session) -> None:
    """The human's part: approve the PR once CI is green (as ``ennio review approve`` does)."""
    try:
        target = await pull_requests.resolve(services.config, services.db, session.id)
        await target.scm.approve(target.pr, REVIEWER, "Looks good to me.")
    except EnnioError as exc:
        log.warning("%s: could not approve: %s", session.id, exc.message)


async def _stop_leftovers(services: Services) -> None:
    """Stop the agents of sessions that did not finish (a timeout, an interrupt)."""
    for session in await services.db.sessions.list(PROJECT_ID):
        if not session.terminal:
            with contextlib.suppress(EnnioError):
                await services.sessions.kill(session.id)


async def _summarise(
    services: Services, sample: Sample, complete: Event | None, problems: list[str], seconds: float
) -> DemoSummary:
    sessions = await services.db.sessions.list(PROJECT_ID)
    events = [s.event for s in await services.db.events.query(project_id=PROJECT_ID, limit=10_000)]
    counts = Counter(str(e.type) for e in events)
    titles = {key: task.title for key, task in zip(sample.issues, TASKS, strict=True)}
    rows = []
    for session in sessions:
        history = await services.db.sessions.history(session.id)
        mine = [e for e in events if e.session_id == session.id]
        rows.append(
            {
                "id": session.id,
                "issue": session.issue_id,
                "title": titles.get(session.issue_id or "", ""),
                "branch": session.branch,
                "pr": session.pr_number,
                "status": str(session.status),
                "path": [str(h.to_status) for h in history],
                "ci_failures": sum(1 for e in mine if e.type is EventType.CI_FAILING),
                "fixes_sent": sum(1 for e in mine if e.type is EventType.CI_FIX_SENT),
                "merged": any(e.type is EventType.PR_MERGED for e in mine),
            }
        )
    ok = (
        not problems
        and complete is not None
        and len(rows) == len(sample.issues)
        and all(r["status"] == "done" and r["merged"] for r in rows)
    )
    return DemoSummary(
        ok=ok,
        root=str(sample.root),
        seconds=seconds,
        sessions=rows,
        events=dict(sorted(counts.items())),
        all_complete=str(complete.data.get("summary")) if complete is not None else None,
        problems=problems,
    )
