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

A session's failure (an exception, or taking longer than ``lifecycle.session_timeout``) is logged
and reported in the :class:`PassReport`; the pass and the other sessions go on. The loop runs every
``lifecycle.poll_interval`` — slower when an SCM's rate budget runs low (:mod:`ennio.core.pacing`)
— and at once after :meth:`LifecycleManager.poke` (new sessions, API and webhook pokes). An
``AuthError`` from a tracker or SCM becomes the status reason of the project's sessions and one
``provider.error`` event until a pass goes by without it. Time comes
from the injected clock, so tests drive passes with :meth:`run_once` and a manual clock.

Database cost of a pass where nothing changed: one query for the sessions, one for the reaction
states, one for due escalations — whatever the number of sessions — plus what the SCM plugin
needs. Writes happen only for what changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig, ProjectConfig
from ennio.core.errors import AuthError, EnnioError
from ennio.core.events import Event, EventFilter, EventType
from ennio.core.pacing import poll_delay
from ennio.core.plugins import (
    SCM,
    ActivityProbe,
    ActivityReading,
    Agent,
    BranchRef,
    CIState,
    IssueState,
    PRSnapshot,
    PRState,
    PullRequest,
    ReadyMarker,
    ReviewDecision,
    Runtime,
    RuntimeHandle,
    ScreenReader,
    Tracker,
)
from ennio.core.session import ACTIVE_STATUSES, ActivityState, Session, SessionStatus
from ennio.db import Database
from ennio.db.records import Scope
from ennio.services.events.event_bus import Subscription
from ennio.services.lifecycle import git_heads
from ennio.services.lifecycle.reactions import ReactionEngine, SessionView, StateBook
from ennio.services.lifecycle.status_rules import Observation, derive_status
from ennio.services.lifecycle.transitions import EventSink, move, session_event
from ennio.services.sessions.env import META_RESUME_ID, META_SPAWNER

log = logging.getLogger("ennio.lifecycle")

S = SessionStatus
T = TypeVar("T")

#: Statuses a pass looks at: every active one, and ``merged`` (cleanup still has to happen).
RECONCILED_STATUSES = frozenset(ACTIVE_STATUSES | {S.MERGED})
#: Lines of the agent's screen given to its activity detector.
SCREEN_LINES = 60
#: A reading's ``last_activity_at`` is written back only when it moved by more than this
#: (so an agent that is busy all the time does not cost a write per pass).
ACTIVITY_WRITE_GRANULARITY = timedelta(seconds=60)
#: Session metadata: the credential problem shown as its status reason, and the reason it replaced.
META_PROBLEM = "provider_problem"
META_REASON_BEFORE = "reason_before_problem"
#: Events that make the loop look at a session at once.
_POKE_EVENTS = frozenset({EventType.SESSION_SPAWNED, EventType.SESSION_RESTORED})


def _being_spawned(session: Session) -> bool:
    """A spawn in progress (no runtime yet, or the spawner's mark still on it): the spawner moves it on,
    and an interrupted one is the re-adoption's to settle."""
    return session.status is S.SPAWNING and (session.runtime_handle is None or META_SPAWNER in session.metadata)


def _pr_open(snapshots: dict[str, PRSnapshot] | None, branch: str | None) -> bool:
    found = snapshots.get(branch) if snapshots is not None and branch else None
    return found is not None and found.pr is not None and found.pr.state is PRState.OPEN


class PluginSource(Protocol):
    """Where the lifecycle gets plugin instances (the SessionManager's :class:`SessionPlugins`)."""

    def runtime(self, name: str) -> Runtime: ...

    def agent(self, name: str) -> Agent: ...

    def scm(self, project: ProjectConfig) -> SCM | None: ...

    def tracker(self, project: ProjectConfig) -> Tracker | None: ...


class SessionCleaner(Protocol):
    async def cleanup(self, session: Session, *, merged_head: str | None = None) -> None:
        """Stop the agent and remove the workspace, refusing to lose work; raise ``EnnioError`` if not done.

        ``merged_head`` is the head of the merged PR, when known: commits it contains are saved even
        if a squash merge left them on no branch."""
        ...


class EventSource(Protocol):
    def subscribe(self, event_filter: EventFilter | None = None, maxsize: int = 1000) -> Subscription: ...


class DeliveryLog(Protocol):
    """When each project's last verified webhook delivery arrived (the daemon's ``ReconcileHub``)."""

    def last_delivery(self, project_id: str) -> datetime | None: ...


class QueueRunner(Protocol):
    """Queued spawns to release once their blockers are finished (the SessionManager's ``SpawnQueue``)."""

    async def process(self, project_ids: Iterable[str] | None = None) -> Sequence[object]: ...


@dataclass(slots=True)
class PassReport:
    """What one pass did (for logs, tests and the benchmark)."""

    sessions: int = 0
    transitions: int = 0
    opened_prs: int = 0
    pushes: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    #: project id -> a credential problem (``AuthError``) its tracker or SCM reported this pass
    problems: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(slots=True)
class _Probe:
    alive: bool
    reading: ActivityReading | None = None


@dataclass(slots=True, frozen=True)
class _Screen:
    """A screen read in a batch: its text, or ``None`` when the agent is gone."""

    text: str | None


@dataclass(slots=True)
class _ForgeCache:
    """The last answers of a project's SCM (by branch) and tracker (by issue key), and when they were complete."""

    fetched_at: datetime
    snapshots: dict[str, PRSnapshot]
    issue_states: dict[str, IssueState]


@dataclass(slots=True)
class _ProjectFacts:
    """What the batched calls returned for one project."""

    snapshots: dict[str, PRSnapshot] | None
    issue_states: dict[str, IssueState]
    heads: dict[str, str]


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
        #: project id -> the credential problem its tracker/SCM reported, while it lasts
        self._problems: dict[str, str] = {}
        #: project id -> the forge's last answers (the webhook-fed schedule reuses them)
        self._forge: dict[str, _ForgeCache] = {}
        self._task: asyncio.Task[None] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._subscription: Subscription | None = None
        #: (session, head) -> commits ahead of the base
        self._ahead: dict[tuple[str, str], int] = {}
        #: session -> the last head Ennio pushed (an SCM may report the new head a little later)
        self._pushed: dict[str, str] = {}
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

    async def _guarded(
        self, what: str, work: Awaitable[T], report: PassReport, project: ProjectConfig | None = None
    ) -> T | None:
        """``work`` within the session timeout; a failure is logged and reported, never raised. A
        credential problem (``AuthError``) is also noted against ``project``, so its sessions and a
        person hear of it."""
        try:
            async with asyncio.timeout(self.session_timeout):
                return await work
        except TimeoutError:
            report.errors[what] = f"took longer than {self.session_timeout:g}s"
            log.warning("%s: reconcile took longer than %gs; skipped this pass", what, self.session_timeout)
        except AuthError as exc:
            report.errors[what] = exc.message
            if project is not None:
                report.problems.setdefault(project.pid, exc.message)
                self._announce_problem(project, exc)
            log.warning("%s: %s", what, exc.message)
        except EnnioError as exc:
            report.errors[what] = exc.message
            log.warning("%s: %s", what, exc.message)
        except Exception as exc:
            report.errors[what] = f"{type(exc).__name__}: {exc}"
            log.error("%s: reconcile failed: %s: %s", what, type(exc).__name__, exc, exc_info=True)
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
        screens = await self._screens(live)
        probes = await asyncio.gather(
            *(
                self._guarded(s.id, self._limited(partial(self._probe, project, s, screens.get(s.id))), report)
                for s in live
            )
        )
        probe_of = {s.id: p for s, p in zip(live, probes, strict=True)}
        facts = await self._facts(project, sessions, report, poked, covered)
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
        await self._settle_problem(project, sessions, results, report)
        finished = any(r is not None and r.status is S.DONE for r in results)
        if self.reactions is not None:
            if finished:
                everyone = await self.db.sessions.list(project_id=project.pid)
                await self._guarded(project.pid, self.reactions.check_project(project, everyone, book), report)
            elif book.get(Scope.project(project.pid), "all-complete") is not None and live:
                await self._guarded(project.pid, self.reactions.check_project(project, live, book), report)
        return finished or any(r is not None and r.status is S.MERGED for r in results)

    async def _facts(
        self,
        project: ProjectConfig,
        sessions: list[Session],
        report: PassReport,
        poked: set[str],
        covered: bool,
    ) -> _ProjectFacts:
        """The batched SCM and tracker answers for these sessions (``covered``: all of the project's).

        While the project's webhooks arrive and the last full answer is younger than ``webhook_poll_interval``,
        only sessions that were poked (a delivery named them) or are new to the cache are asked about; the
        others keep their cached answer — nothing changed for them, or a delivery would have said so."""
        now = self.clock.now()
        cache = self._forge.get(project.pid)
        fresh = (
            cache is not None
            and self.webhook_fed(project.pid)
            and (now - cache.fetched_at).total_seconds() < self.webhook_interval
        )
        known = cache if fresh and cache is not None else None
        scm = self.plugins.scm(project)
        snapshots: dict[str, PRSnapshot] | None = None
        heads: dict[str, str] = {}
        with_branch = [s for s in sessions if s.branch]
        if scm is not None and with_branch:
            ask = [s for s in with_branch if known is None or s.id in poked or s.branch not in known.snapshots]
            refs = [BranchRef(s.id, s.branch, s.pr_number) for s in ask if s.branch]
            fetched = await self._guarded(f"{project.pid} (SCM)", scm.snapshots(refs), report, project) if refs else {}
            if fetched is not None:
                merged = {**(known.snapshots if known is not None else {}), **fetched}
                snapshots = {s.branch: merged[s.branch] for s in with_branch if s.branch and s.branch in merged}
            heads = await self._heads(project, [s for s in with_branch if s.status is not S.MERGED])
        issue_states: dict[str, IssueState] = {}
        # the issue's state only matters while no PR is open (status rules: "issue closed with no open PR
        # → done"), so sessions whose PR the snapshots show open cost the tracker nothing
        wanted = {
            s.id: s.issue_id
            for s in sessions
            if s.issue_id and s.status is not S.MERGED and not _pr_open(snapshots, s.branch)
        }
        keys = sorted(
            {key for sid, key in wanted.items() if known is None or sid in poked or key not in known.issue_states}
        )
        tracker = self.plugins.tracker(project) if keys else None
        if tracker is not None:
            issue_states = (
                await self._guarded(f"{project.pid} (tracker)", tracker.issue_states(keys), report, project) or {}
            )
        if known is not None:
            issue_states = {**{k: v for k, v in known.issue_states.items() if k in wanted.values()}, **issue_states}
        self._remember(project.pid, now, snapshots, issue_states, refreshed=covered and known is None)
        return _ProjectFacts(snapshots, issue_states, heads)

    def _remember(
        self,
        project_id: str,
        now: datetime,
        snapshots: dict[str, PRSnapshot] | None,
        issue_states: dict[str, IssueState],
        *,
        refreshed: bool,
    ) -> None:
        """Keep the forge's answers for the webhook-fed schedule: a full answer starts a new cache; a partial one
        (poked sessions) is merged into the current one without making it younger."""
        if snapshots is None:
            return
        cache = self._forge.get(project_id)
        if refreshed or cache is None:
            self._forge[project_id] = _ForgeCache(now, dict(snapshots), dict(issue_states))
        else:
            cache.snapshots.update(snapshots)
            cache.issue_states.update(issue_states)

    async def _heads(self, project: ProjectConfig, sessions: Sequence[Session]) -> dict[str, str]:
        """Session id -> local head of its branch (one git call for the repository, one per clone)."""
        if not sessions:
            return {}
        branches = await git_heads.branch_heads(project.path)
        heads: dict[str, str] = {}
        for s in sessions:
            assert s.branch is not None
            head = branches.get(s.branch)
            if head is None and s.workspace_path:
                head = await git_heads.workspace_head(Path(s.workspace_path))
            if head is not None:
                heads[s.id] = head
        return heads

    # ------------------------------------------------------------------ one session

    async def _screens(self, sessions: Sequence[Session]) -> dict[str, _Screen]:
        """Screens read in batches from runtimes that can (:class:`ScreenReader`); the rest, and any
        batch that fails, are read one session at a time by ``_probe``."""
        by_runtime: dict[str, list[Session]] = {}
        for s in sessions:
            if s.runtime_handle is not None:
                by_runtime.setdefault(s.runtime, []).append(s)
        found: dict[str, _Screen] = {}
        for name, members in by_runtime.items():
            try:
                runtime = self.plugins.runtime(name)
            except EnnioError:
                continue  # reported per session by _probe
            if not isinstance(runtime, ScreenReader):
                continue
            handles = [RuntimeHandle.from_dict(s.runtime_handle) for s in members if s.runtime_handle is not None]
            # the runtime answers by handle id (a tmux session name), not by session id
            session_of = {handle.id: s.id for handle, s in zip(handles, members, strict=True)}
            try:
                async with asyncio.timeout(self.session_timeout):
                    screens = await runtime.screens(handles, SCREEN_LINES)
            except (TimeoutError, EnnioError) as exc:
                log.info("runtime %s: batched screens failed (%s); reading one by one", name, exc)
                continue
            for handle_id, screen in screens.items():
                if handle_id in session_of:
                    found[session_of[handle_id]] = _Screen(screen)
        return found

    async def _probe(self, project: ProjectConfig, session: Session, known: _Screen | None = None) -> _Probe:
        if session.runtime_handle is None:
            return _Probe(alive=False)
        if known is not None:
            screen = known.text
        else:
            runtime = self.plugins.runtime(session.runtime)
            handle = RuntimeHandle.from_dict(session.runtime_handle)
            screen = await runtime.output(handle, SCREEN_LINES) if await runtime.alive(handle) else None
        if screen is None:
            return _Probe(alive=False, reading=ActivityReading(ActivityState.EXITED, detail="runtime gone"))
        agent = self.plugins.agent(session.agent)
        resume = session.metadata.get(META_RESUME_ID)
        probe = ActivityProbe(
            workspace_path=Path(session.workspace_path) if session.workspace_path else project.path,
            screen=screen,
            alive=True,
            started_at=session.created_at,
            now=self.clock.now(),
            home=Path.home(),
            resume_id=resume if isinstance(resume, str) else None,
        )
        reading = await asyncio.to_thread(agent.detect_activity, probe)
        return _Probe(alive=reading.state is not ActivityState.EXITED, reading=reading)

    async def _apply(
        self,
        project: ProjectConfig,
        session: Session,
        probe: _Probe | None,
        facts: _ProjectFacts,
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
        session = self._record_activity(session, probe, pending)
        snapshot = facts.snapshots.get(session.branch) if facts.snapshots is not None and session.branch else None
        if facts.snapshots is not None and session.branch and snapshot is None:
            snapshot = PRSnapshot(branch=session.branch)
        session, snapshot = await self._track_pr(project, session, probe, snapshot, facts, report, pending)
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
                session = await self._flush(session, pending)
                return await self._finish(project, session, decision.reason, book)
            moved = await move(self.db, self.events, session, decision.status, decision.reason)
            if moved is None:
                return await self._flush(session, pending)
            report.transitions += 1
            session = moved
        if snapshot is not None and snapshot.pr is not None:
            session = self._observe_pr(session, snapshot, pending)
            await self._mark_ready_when_green(project, session, snapshot)
        session = await self._flush(session, pending)
        if session.status is S.MERGED:
            head = snapshot.pr.head_sha if snapshot is not None and snapshot.pr is not None else None
            return await self._finish(project, session, "cleaned up after the merge", book, merged_head=head)
        if self.reactions is not None:
            view = SessionView(session=session, project=project, snapshot=snapshot, alive=probe.alive)
            session = await self.reactions.react(view, book)
        return session

    async def _flush(self, session: Session, pending: dict[str, Any]) -> Session:
        if not pending:
            return session
        updated = await self.db.sessions.update(session.id, **pending)
        pending.clear()
        return updated.model_copy(update={"status": session.status, "status_reason": session.status_reason})

    def _record_activity(self, session: Session, probe: _Probe, pending: dict[str, Any]) -> Session:
        reading = probe.reading
        state = reading.state if reading is not None else (None if probe.alive else ActivityState.EXITED)
        if state is None:
            return session
        now = self.clock.now()
        fields: dict[str, Any] = {}
        if state is not session.activity:
            fields["activity"] = state
            fields["last_activity_at"] = (reading.last_activity_at if reading else None) or now
        elif reading is not None and reading.last_activity_at is not None:
            last = session.last_activity_at
            if last is None or reading.last_activity_at - last > ACTIVITY_WRITE_GRANULARITY:
                fields["last_activity_at"] = reading.last_activity_at
        if reading is not None and reading.resume_id and reading.resume_id != session.metadata.get(META_RESUME_ID):
            fields["metadata"] = {**session.metadata, META_RESUME_ID: reading.resume_id}
        if not fields:
            return session
        pending.update(fields)
        updated = session.model_copy(update=fields)
        if "activity" in fields:
            self.events.publish(
                session_event(
                    updated,
                    EventType.ACTIVITY_CHANGED,
                    f"{session.id}: {session.activity or 'unknown'} → {state}",
                    **{"from": str(session.activity) if session.activity else None, "to": str(state)},
                    detail=reading.detail if reading else "",
                )
            )
        return updated

    # ------------------------------------------------------------------ the PR

    async def _track_pr(
        self,
        project: ProjectConfig,
        session: Session,
        probe: _Probe,
        snapshot: PRSnapshot | None,
        facts: _ProjectFacts,
        report: PassReport,
        pending: dict[str, Any],
    ) -> tuple[Session, PRSnapshot | None]:
        """Adopt a PR found for the branch, open one when the work is ready, push new commits."""
        pr = snapshot.pr if snapshot is not None else None
        head = facts.heads.get(session.id)
        if pr is not None and pr.number != session.pr_number:
            first = session.pr_number is None
            session = await self._flush(
                session.model_copy(update={"pr_number": pr.number, "pr_url": pr.url}),
                {**pending, "pr_number": pr.number, "pr_url": pr.url},
            )
            pending.clear()
            if first:
                self._publish_pr_created(session, pr, opened_by="found")
        elif (
            snapshot is not None
            and pr is None
            and session.pr_number is None
            and session.status is S.WORKING
            and probe.alive
            and session.activity is not ActivityState.ACTIVE
            and head is not None
            and session.workspace_path
            and await self._commits_ahead(project, session, head) > 0
        ):
            opened = await self._open_pr(project, session, head)
            report.opened_prs += 1
            fields = {**pending, "pr_number": opened.number, "pr_url": opened.url}
            session = await self._flush(session.model_copy(update=fields), fields)
            pending.clear()
            self._publish_pr_created(session, opened, opened_by="ennio")
            snapshot = PRSnapshot(branch=opened.branch, pr=opened, ci=CIState.PENDING)
            cache = self._forge.get(project.pid)
            if cache is not None:  # the cached answer said "no PR": do not let it close this one again
                cache.snapshots[opened.branch] = snapshot
            return session, snapshot
        if (
            pr is not None
            and pr.state is PRState.OPEN
            and head is not None
            and pr.head_sha is not None
            and head != pr.head_sha
            and self._pushed.get(session.id) != head
            and session.workspace_path
            and session.branch
        ):
            scm = self.plugins.scm(project)
            assert scm is not None
            if await self._commits_ahead(project, session, head, since=pr.head_sha) > 0:
                await scm.push(Path(session.workspace_path), session.branch)
                self._pushed[session.id] = head
                report.pushes += 1
                self.events.publish(
                    session_event(
                        session, EventType.PR_UPDATED, f"{session.id}: new commits pushed to PR #{pr.number}", head=head
                    )
                )
        return session, snapshot

    async def _commits_ahead(
        self, project: ProjectConfig, session: Session, head: str, since: str | None = None
    ) -> int:
        key = (session.id, f"{head}..{since or ''}")
        if key not in self._ahead:
            path = Path(session.workspace_path) if session.workspace_path else project.path
            if since is None:
                base = session.base_branch or project.default_branch
                self._ahead[key] = await git_heads.commits_ahead(path, head, base)
            else:
                self._ahead[key] = await git_heads.commits_since(path, head, since)
        return self._ahead[key]

    async def _open_pr(self, project: ProjectConfig, session: Session, head: str) -> PullRequest:
        scm = self.plugins.scm(project)
        assert scm is not None and session.branch is not None and session.workspace_path is not None
        title, body = await self._pr_text(project, session, head)
        await scm.push(Path(session.workspace_path), session.branch)
        self._pushed[session.id] = head
        return await scm.open_pr(
            branch=session.branch, base=session.base_branch or project.default_branch, title=title, body=body
        )

    async def _pr_text(self, project: ProjectConfig, session: Session, head: str) -> tuple[str, str]:
        footer = f"Opened by Ennio for session `{session.id}`."
        tracker = self.plugins.tracker(project) if session.issue_id else None
        if tracker is not None and session.issue_id:
            issue = await tracker.get_issue(session.issue_id)
            provider = project.tracker.provider if project.tracker is not None else ""
            if provider == "github":
                link = f"Closes #{issue.key}"
            elif provider == "linear":
                link = f"Fixes {issue.key}"
            else:
                link = f"Issue {issue.key}: {issue.title}"
            return issue.title, f"{link}\n\n{footer}"
        subject = None
        if session.workspace_path:
            subject = await git_heads.last_subject(Path(session.workspace_path), head)
        prompt_line = (session.prompt or "").strip().splitlines()[0][:100] if session.prompt else None
        return subject or prompt_line or f"Work from {session.branch}", footer

    def _publish_pr_created(self, session: Session, pr: PullRequest, *, opened_by: str) -> None:
        self.events.publish(
            session_event(
                session,
                EventType.PR_CREATED,
                f"{session.id}: PR #{pr.number} opened ({pr.title})",
                pr_number=pr.number,
                pr_url=pr.url,
                opened_by=opened_by,
            )
        )

    def _observe_pr(self, session: Session, snapshot: PRSnapshot, pending: dict[str, Any]) -> Session:
        """Emit CI and review events when the PR's CI, review or readiness changed since last pass."""
        assert snapshot.pr is not None
        head = snapshot.pr.head_sha or ""
        ready = (
            snapshot.review is ReviewDecision.APPROVED
            and snapshot.ci in (CIState.PASSING, CIState.NONE)
            and snapshot.mergeable is not False
            and snapshot.pr.state is PRState.OPEN
        )
        now = {"ci": str(snapshot.ci), "review": str(snapshot.review), "head": head, "ready": ready}
        before = session.metadata.get("pr_observed") or {}
        if before == now:
            return session
        number = snapshot.pr.number
        if (before.get("ci"), before.get("head")) != (now["ci"], head):
            if snapshot.ci is CIState.PASSING:
                self.events.publish(session_event(session, EventType.CI_PASSING, f"{session.id}: CI passing"))
            elif snapshot.ci is CIState.FAILING:
                names = [c.name for c in snapshot.failing_checks]
                self.events.publish(
                    session_event(
                        session, EventType.CI_FAILING, f"{session.id}: CI failing: {', '.join(names)}", checks=names
                    )
                )
        if before.get("review") != now["review"]:
            review_event = {
                ReviewDecision.REVIEW_REQUIRED: EventType.REVIEW_PENDING,
                ReviewDecision.APPROVED: EventType.REVIEW_APPROVED,
                ReviewDecision.CHANGES_REQUESTED: EventType.REVIEW_CHANGES_REQUESTED,
            }.get(snapshot.review)
            if review_event is not None:
                self.events.publish(
                    session_event(session, review_event, f"{session.id}: PR #{number} {snapshot.review}")
                )
        if ready and not before.get("ready"):
            self.events.publish(
                session_event(session, EventType.MERGE_READY, f"{session.id}: PR #{number} is approved and green")
            )
        metadata = {**session.metadata, "pr_observed": now}
        pending["metadata"] = metadata
        return session.model_copy(update={"metadata": metadata})

    async def _mark_ready_when_green(self, project: ProjectConfig, session: Session, snapshot: PRSnapshot) -> None:
        """``draft_until_green``: a draft PR whose CI passes is marked ready for review (once; the next
        snapshot shows it ready)."""
        pr = snapshot.pr
        if (
            pr is None
            or not pr.draft
            or pr.state is not PRState.OPEN
            or snapshot.ci is not CIState.PASSING
            or not getattr(project.scm, "draft_until_green", False)
        ):
            return
        scm = self.plugins.scm(project)
        if not isinstance(scm, ReadyMarker):
            return
        await scm.mark_ready(pr)
        pr.draft = False
        self.events.publish(
            session_event(
                session, EventType.PR_UPDATED, f"{session.id}: PR #{pr.number} is green; marked ready for review"
            )
        )

    # ------------------------------------------------------------------ credential problems

    def _announce_problem(self, project: ProjectConfig, exc: AuthError) -> None:
        """Tell a person once (an urgent ``provider.error``) until a pass goes by without a credential problem,
        not once per pass nor once per failing call (the SCM and the tracker often fail together)."""
        if project.pid in self._problems:
            return
        self._problems[project.pid] = exc.message
        self.events.publish(
            Event.of(
                EventType.PROVIDER_ERROR,
                exc.message,
                project_id=project.pid,
                data={"hint": exc.hint, "error": exc.code},
                timestamp=self.clock.now(),
            )
        )

    async def _settle_problem(
        self, project: ProjectConfig, sessions: Sequence[Session], results: Sequence[Session | None], report: PassReport
    ) -> None:
        """Put the project's credential problem in its sessions' status reason while it lasts, and take it
        out (restoring the reason it replaced) after a pass without it."""
        problem = report.problems.get(project.pid)
        if problem is None:
            self._problems.pop(project.pid, None)
        current = {s.id: s for s in sessions}
        current.update({r.id: r for r in results if r is not None})
        for session in current.values():
            if session.status in (S.DONE, S.MERGED):
                continue
            noted = session.metadata.get(META_PROBLEM)
            if noted == problem:
                continue
            fresh = await self.db.sessions.find(session.id)
            if fresh is None:
                continue
            session = fresh
            if problem is not None:
                before = session.metadata.get(META_REASON_BEFORE, session.status_reason)
                metadata = {**session.metadata, META_PROBLEM: problem, META_REASON_BEFORE: before}
                await self.db.sessions.update(session.id, status_reason=problem, metadata=metadata)
            else:
                noted = session.metadata.get(META_PROBLEM)
                metadata = {k: v for k, v in session.metadata.items() if k not in (META_PROBLEM, META_REASON_BEFORE)}
                fields: dict[str, Any] = {"metadata": metadata}
                if session.status_reason == noted:
                    fields["status_reason"] = session.metadata.get(META_REASON_BEFORE)
                await self.db.sessions.update(session.id, **fields)

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
        self._forget(session.id)
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

    def _forget(self, session_id: str) -> None:
        self._pushed.pop(session_id, None)
        for key in [k for k in self._ahead if k[0] == session_id]:
            del self._ahead[key]
