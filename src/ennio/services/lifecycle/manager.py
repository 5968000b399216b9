"""LifecycleManager: the loop that watches every active session and moves it along.

Each pass, per project (see :meth:`LifecycleManager.run_once`):

1. runtime liveness and the agent's activity for each session (``runtime.alive``/``output`` and
   ``agent.detect_activity``), concurrently, at most ``lifecycle.concurrency`` at once;
2. the local heads of the session branches (one ``git for-each-ref`` per repository);
3. ONE ``scm.snapshots`` call for all the project's sessions, and ONE ``tracker.issue_states`` for those
   whose PR is not open — while the project's webhooks arrive, only for the sessions a delivery named,
   the rest reusing the last answers until they are ``webhook_poll_interval`` old;
4. per session: record activity changes, adopt or open the PR (push + ``open_pr`` once the agent
   has commits ahead of the base and is not active), push new commits, apply the status rules
   (:mod:`ennio.services.lifecycle.status_rules`), persist each transition with its reason, emit the events,
   clean up merged sessions (→ ``done``), and let the :class:`ReactionEngine` react;
5. escalations whose deadline passed, ``all-complete`` for projects that finished, and the spawn queue.

Before them, ``spawning`` rows whose spawner died (a CLI killed mid-spawn) are settled — terminal
stopped, session exited — so they do not hold a ``max_sessions`` slot until the daemon restarts.

A session's failure (an exception, or taking longer than ``lifecycle.session_timeout``) is logged
and reported in the :class:`PassReport`; the pass and the other sessions go on. The loop runs every
``lifecycle.poll_interval`` — slower when an SCM's rate budget runs low (:mod:`ennio.core.pacing`)
— and at once after :meth:`LifecycleManager.poke` (new sessions, API and webhook pokes). An
``AuthError`` from a tracker or SCM becomes the status reason of the project's sessions and one
``provider.error`` event until a pass goes by without it. Time comes
from the injected clock, so tests drive passes with :meth:`run_once` and a manual clock.

The pass's pieces live beside this module: probing agents (:mod:`.probes`), the forge's batched answers
(:mod:`.forge_facts`), the PR (:mod:`.pr_tracking`), credential problems (:mod:`.problems`) and the guard
around each piece (:mod:`.report`). This module keeps the loop, its schedule and the per-project pass.

Database cost of a pass where nothing changed: one query for the sessions, one for the reaction
states, one for due escalations — whatever the number of sessions — plus what the SCM plugin
needs. Writes happen only for what changed.

Size: a little over 400 lines because the loop, its schedule and the per-project pass read as one
story; the pieces of a pass live in the modules named above.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from typing import Any, TypeVar

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig, ProjectConfig
from ennio.core.errors import EnnioError
from ennio.core.events import Event, EventFilter, EventType
from ennio.core.pacing import poll_delay
from ennio.core.plugins import PRSnapshot
from ennio.core.session import ACTIVE_STATUSES, Session, SessionStatus
from ennio.db import Database
from ennio.db.records import Scope
from ennio.services.events.event_bus import Subscription
from ennio.services.lifecycle.forge_facts import ForgeFacts, ProjectFacts
from ennio.services.lifecycle.ports import (
    DeliveryLog,
    EventSource,
    PluginSource,
    QueueRunner,
    SessionCleaner,
    SpawnSettler,
)
from ennio.services.lifecycle.pr_tracking import PRTracker
from ennio.services.lifecycle.probes import AgentProbes, Probe
from ennio.services.lifecycle.problems import CredentialProblems
from ennio.services.lifecycle.reactions import ReactionEngine, SessionView, StateBook
from ennio.services.lifecycle.report import Guard, PassReport
from ennio.services.lifecycle.status_rules import Observation, derive_status
from ennio.services.lifecycle.transitions import EventSink, move, session_event, write_pending
from ennio.services.sessions.env import META_SPAWNER

log = logging.getLogger("ennio.lifecycle")

S = SessionStatus
T = TypeVar("T")

#: Statuses a pass looks at: every active one, and ``merged`` (cleanup still has to happen).
RECONCILED_STATUSES = frozenset(ACTIVE_STATUSES | {S.MERGED})
#: Events that make the loop look at a session at once.
_POKE_EVENTS = frozenset({EventType.SESSION_SPAWNED, EventType.SESSION_RESTORED})


def _being_spawned(session: Session) -> bool:
    """A spawn in progress (no runtime yet, or the spawner's mark still on it): the spawner moves it on,
    and one whose spawner died is settled at the start of each pass (``spawns``)."""
    return session.status is S.SPAWNING and (session.runtime_handle is None or META_SPAWNER in session.metadata)


class LifecycleManager:
    def __init__(
        self,
        config: EnnioConfig,
        db: Database,
        *,
        events: EventSink,
        plugins: PluginSource,
        clock: Clock,
        reactions: ReactionEngine | None = None,
        cleaner: SessionCleaner | None = None,
        deliveries: DeliveryLog | None = None,
        queue: QueueRunner | None = None,
        spawns: SpawnSettler | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.events = events
        self.plugins = plugins
        self.clock = clock
        self.reactions = reactions
        self.cleaner = cleaner
        self.deliveries = deliveries
        self.queue = queue
        self.spawns = spawns
        settings = config.lifecycle
        self.interval = settings.poll_interval.total_seconds()
        self.webhook_interval = max(self.interval, settings.webhook_poll_interval.total_seconds())
        self.webhook_window = settings.webhook_window
        self.session_timeout = settings.session_timeout.total_seconds()
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._wake = asyncio.Event()
        self._poke_all = True
        self._poked: set[str] = set()
        self._poke_queue = False
        #: project id -> when (loop time) its next full pass is due
        self._due: dict[str, float] = {}
        self._problems = CredentialProblems(db, events, clock)
        self._guarded = Guard(self.session_timeout, self._problems.announce)
        self._probes = AgentProbes(plugins, events, clock, self.session_timeout)
        self._forge = ForgeFacts(
            plugins, clock, self._guarded, webhook_fed=self.webhook_fed, webhook_interval=self.webhook_interval
        )
        self._prs = PRTracker(db, events, plugins, self._forge)
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        self._unknown_projects: set[str] = set()
        self.passes = 0
        self.last_report: PassReport | None = None

    # ------------------------------------------------------------------ the loop

    def poke(self, session_ids: Iterable[str] | None = None) -> None:
        """Reconcile now: the given sessions, or all of them."""
        if session_ids is None:
            self._poke_all = True
        else:
            self._poked.update(session_ids)
        self._wake.set()

    def poke_queue(self) -> None:
        """Look at the queued spawns now (a blocker may have finished)."""
        self._poke_queue = True
        self._wake.set()

    async def start(self, source: EventSource | None = None) -> None:
        """Run the loop in the background; with ``source``, new and restored sessions poke it."""
        if self._task is not None:
            return
        if source is not None:
            self._subscription = source.subscribe(EventFilter(types=_POKE_EVENTS))
            self._listener = asyncio.get_running_loop().create_task(self._listen(), name="lifecycle-pokes")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="lifecycle")

    async def stop(self) -> None:
        for task in (self._listener, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._listener = None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    async def _listen(self) -> None:
        assert self._subscription is not None
        async for item in self._subscription:
            if isinstance(item, Event) and item.session_id:
                self.poke([item.session_id])
            elif not isinstance(item, Event):  # lagged: look at everything
                self.poke()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            now = loop.time()
            ids = set(self._poked)
            everything = {p.pid for p in self.config.projects}
            due = everything if self._poke_all else {p for p in everything if self._due.get(p, 0.0) <= now}
            queue = self._poke_queue
            self._poke_all = self._poke_queue = False
            self._poked.clear()
            try:
                if due or ids or queue:
                    await self.run_once(ids, projects=due, queue=queue)
            except Exception:  # a pass must never end the loop
                log.exception("reconcile pass failed")
            finished = loop.time()
            for project_id in due:
                self._due[project_id] = finished + self.next_delay(project_id)
            if self._wake.is_set():
                continue
            wait = min((self._due.get(p, finished) for p in everything), default=finished + self.interval) - finished
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, wait))

    def next_delay(self, project_id: str | None = None) -> float:
        """Seconds until the next full pass of a project (the soonest of all when ``None``): the poll
        interval, stretched when its SCM's rate budget runs low (:func:`ennio.core.pacing.poll_delay`)."""
        projects = [p for p in self.config.projects if project_id is None or p.pid == project_id]
        delays = [self._project_delay(p) for p in projects]
        return min(delays) if delays else self.interval

    def webhook_fed(self, project_id: str) -> bool:
        """Whether the project's webhooks are arriving (a verified delivery within ``webhook_window``)."""
        last = self.deliveries.last_delivery(project_id) if self.deliveries is not None else None
        return last is not None and self.clock.now() - last <= self.webhook_window

    def forge_interval(self, project_id: str) -> float:
        """How often a full pass asks the project's SCM and tracker: every pass (``poll_interval``), or every
        ``webhook_poll_interval`` while its webhooks arrive — deliveries then say what changed, and the
        sessions they name are asked about at once."""
        return self.webhook_interval if self.webhook_fed(project_id) else self.interval

    def _project_delay(self, project: ProjectConfig) -> float:
        base = self.interval
        try:
            scm = self.plugins.scm(project)
        except EnnioError:
            return base
        if scm is None:
            return base
        return max(base, poll_delay(scm.rate_budget(), base, self.clock.now()))

    # ------------------------------------------------------------------ one pass

    async def run_once(
        self,
        session_ids: Iterable[str] | None = None,
        *,
        projects: Iterable[str] | None = None,
        queue: bool = False,
    ) -> PassReport:
        """One reconcile pass over every active session — or only over ``session_ids`` and the sessions
        of ``projects`` when either is given. Queued spawns of the projects passed over whole (all, by
        default) are looked at too; ``queue`` looks at every project's."""
        started = time.perf_counter()
        report = PassReport()
        sessions = await self.db.sessions.list(statuses=RECONCILED_STATUSES)
        whole = None if projects is None else set(projects)
        if session_ids is not None or whole is not None:
            wanted = set(session_ids or ())
            sessions = [s for s in sessions if s.id in wanted or (whole is not None and s.project_id in whole)]
            if session_ids is not None and whole is None:
                whole = set()
        if self.spawns is not None and (spawning := [s for s in sessions if _being_spawned(s)]):
            settled = await self._guarded("interrupted spawns", self.spawns.settle_interrupted(spawning), report)
            report.interrupted_spawns = list(settled or [])
        book = await self.reactions.load() if self.reactions is not None else StateBook()
        by_project: dict[str, list[Session]] = {}
        for session in sessions:
            by_project.setdefault(session.project_id, []).append(session)
        report.sessions = len(sessions)
        finished: set[str] = set()
        poked = set(session_ids or ())
        for project_id, members in by_project.items():
            project = self._project(project_id)
            covered = whole is None or project_id in whole
            if project is not None and await self._project_pass(project, members, book, report, poked, covered):
                finished.add(project_id)
        if self.reactions is not None:
            await self._guarded("escalations", self.reactions.escalate_due(book), report)
        if self.queue is not None and (queue or whole is None or whole or finished):
            # a finished session may be the blocker a queued spawn waits for
            queued_of = None if queue or whole is None else whole | finished
            await self._guarded("spawn queue", self.queue.process(queued_of), report)
        report.seconds = time.perf_counter() - started
        self.passes += 1
        self.last_report = report
        return report

    def _project(self, project_id: str) -> ProjectConfig | None:
        try:
            return self.config.project(project_id)
        except EnnioError:
            if project_id not in self._unknown_projects:
                self._unknown_projects.add(project_id)
                log.warning("sessions of project %r are not reconciled: it is not in the configuration", project_id)
            return None

    async def _limited(self, work: Callable[[], Awaitable[T]]) -> T:
        async with self._limit:
            return await work()

    async def _project_pass(
        self,
        project: ProjectConfig,
        sessions: list[Session],
        book: StateBook,
        report: PassReport,
        poked: set[str] = frozenset(),  # type: ignore[assignment]
        covered: bool = True,
    ) -> bool:
        """One project's sessions; ``True`` when one of them merged or finished."""
        sessions = [s for s in sessions if not _being_spawned(s)]
        live = [s for s in sessions if s.status is not S.MERGED]
        screens = await self._probes.screens(live)
        probes = await asyncio.gather(
            *(
                self._guarded(s.id, self._limited(partial(self._probes.probe, project, s, screens.get(s.id))), report)
                for s in live
            )
        )
        probe_of = {s.id: p for s, p in zip(live, probes, strict=True)}
        facts = await self._forge.gather(project, sessions, report, poked, covered)
        results = await asyncio.gather(
            *(
                self._guarded(
                    s.id,
                    self._limited(partial(self._apply, project, s, probe_of.get(s.id), facts, book, report)),
                    report,
                    project,
                )
                for s in sessions
                if s.status is S.MERGED or probe_of.get(s.id) is not None
            )
        )
        await self._problems.settle(project, sessions, results, report)
        finished = any(r is not None and r.status is S.DONE for r in results)
        if self.reactions is not None:
            if finished:
                everyone = await self.db.sessions.list(project_id=project.pid)
                await self._guarded(project.pid, self.reactions.check_project(project, everyone, book), report)
            elif book.get(Scope.project(project.pid), "all-complete") is not None and live:
                await self._guarded(project.pid, self.reactions.check_project(project, live, book), report)
        return finished or any(r is not None and r.status is S.MERGED for r in results)

    async def _apply(
        self,
        project: ProjectConfig,
        session: Session,
        probe: Probe | None,
        facts: ProjectFacts,
        book: StateBook,
        report: PassReport,
    ) -> Session:
        if session.status is S.MERGED:
            merged = facts.snapshots.get(session.branch) if facts.snapshots and session.branch else None
            head = merged.pr.head_sha if merged is not None and merged.pr is not None else None
            return await self._finish(project, session, "cleaned up after the merge", book, merged_head=head)
        assert probe is not None
        # field changes of this pass, written in one update (a status change is its own transition)
        pending: dict[str, Any] = {}
        session = self._probes.record_activity(session, probe, pending)
        snapshot = facts.snapshots.get(session.branch) if facts.snapshots is not None and session.branch else None
        if facts.snapshots is not None and session.branch and snapshot is None:
            snapshot = PRSnapshot(branch=session.branch)
        session, snapshot = await self._prs.track(project, session, probe, snapshot, facts, report, pending)
        decision = derive_status(
            Observation(
                status=session.status,
                alive=probe.alive,
                activity=session.activity,
                snapshot=snapshot,
                issue_state=facts.issue_states.get(session.issue_id) if session.issue_id else None,
                fix_sent_for=book.fix_sent_for(session.id),
            )
        )
        if decision is not None:
            if decision.status is S.DONE:
                session = await write_pending(self.db, session, pending)
                return await self._finish(project, session, decision.reason, book)
            moved = await move(self.db, self.events, session, decision.status, decision.reason)
            if moved is None:
                return await write_pending(self.db, session, pending)
            report.transitions += 1
            session = moved
        if snapshot is not None and snapshot.pr is not None:
            session = self._prs.observe(session, snapshot, pending)
            await self._prs.mark_ready_when_green(project, session, snapshot)
        session = await write_pending(self.db, session, pending)
        if session.status is S.MERGED:
            head = snapshot.pr.head_sha if snapshot is not None and snapshot.pr is not None else None
            return await self._finish(project, session, "cleaned up after the merge", book, merged_head=head)
        if self.reactions is not None:
            view = SessionView(session=session, project=project, snapshot=snapshot, alive=probe.alive)
            session = await self.reactions.react(view, book)
        return session

    # ------------------------------------------------------------------ the end

    async def _finish(
        self, project: ProjectConfig, session: Session, reason: str, book: StateBook, *, merged_head: str | None = None
    ) -> Session:
        """Clean up (agent and workspace), then ``done``. A failed cleanup is retried next pass."""
        if self.cleaner is not None:
            await self.cleaner.cleanup(session, merged_head=merged_head)
        await self._close_issue(project, session)
        done = await move(self.db, self.events, session, S.DONE, reason)
        if done is None:
            return session
        self.events.publish(session_event(done, EventType.SESSION_CLEANED, f"{session.id}: {reason}"))
        self._prs.forget(session.id)
        if self.reactions is not None:
            await self.reactions.forget(session.id, book)
        return done

    async def _close_issue(self, project: ProjectConfig, session: Session) -> None:
        """Close the issue of a merged session where the forge does not (GitHub closes it through
        ``Closes #N``); a tracker failure is logged and does not hold up the cleanup."""
        if session.status is not S.MERGED or not session.issue_id or project.tracker is None:
            return
        if project.tracker.provider == "github":
            return
        tracker = self.plugins.tracker(project)
        if tracker is None:
            return
        try:
            await tracker.close_issue(session.issue_id)
        except EnnioError as exc:
            log.warning("%s: could not close issue %s: %s", session.id, session.issue_id, exc.message)
