"""ReactionEngine: turns what the lifecycle observed into actions — send to the agent, notify a
person, auto-merge — with retries, escalation timers and loop guards that survive restarts.

Level-triggered: after each reconcile the lifecycle shows the engine every session as it is now
(:class:`SessionView`); for each of the nine reactions the engine asks whether its condition holds
and, when it does, whether this *occurrence* (a new failing head, new comments, a new episode) was
already handled. The state of each reaction per session (or per project, for ``all-complete``)
lives in ``db.reactions``:

* the attempt is written **before** acting, so a restart in the middle never repeats an action;
* ``escalate_at`` is written with the first reaction, so a restart never forgets the deadline;
  :meth:`ReactionEngine.escalate_due` notifies a human (``reaction.escalated``) once it passes;
* ``retries`` caps the sends; one more occurrence past the cap escalates at once;
* loop guard (``ci-failed``): the same failing checks with the same log signature after a fix was
  sent are never sent again — the engine escalates instead;
* when the condition stops holding, the state is cleared (the next episode starts afresh).

Global reactions are merged with the project's overrides key by key (``config.reactions_for``).

Size: over 400 lines because the nine reactions share one bookkeeping (handled occurrences, retries,
escalation, loop guard); split by reaction, that bookkeeping would be scattered. Texts are in
``reaction_messages``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig, ProjectConfig, ReactionConfig
from ennio.core.errors import EnnioError
from ennio.core.events import Event, EventType
from ennio.core.plugins import SCM, CheckRun, CIState, PRSnapshot, PRState, ReviewComment
from ennio.core.session import ActivityState, Session, SessionStatus
from ennio.db import Database
from ennio.db.records import ReactionState, Scope
from ennio.services.events.notifications import NotificationRouter
from ennio.services.lifecycle import reaction_messages as msg
from ennio.services.lifecycle.transitions import EventSink, move, session_event

log = logging.getLogger("ennio.reactions")

S = SessionStatus

CI_FAILED = "ci-failed"
CHANGES_REQUESTED = "changes-requested"
BUGBOT_COMMENTS = "bugbot-comments"
MERGE_CONFLICTS = "merge-conflicts"
APPROVED_AND_GREEN = "approved-and-green"
AGENT_STUCK = "agent-stuck"
AGENT_NEEDS_INPUT = "agent-needs-input"
AGENT_EXITED = "agent-exited"
ALL_COMPLETE = "all-complete"

#: Session reactions in the order they are evaluated.
SESSION_REACTIONS = (
    CI_FAILED,
    CHANGES_REQUESTED,
    BUGBOT_COMMENTS,
    MERGE_CONFLICTS,
    APPROVED_AND_GREEN,
    AGENT_STUCK,
    AGENT_NEEDS_INPUT,
    AGENT_EXITED,
)

_CI_HOLDS = frozenset({S.CI_FAILED, S.CI_FIX_SENT, S.CI_FIX_FAILED})
_CI_ACTS = frozenset({S.CI_FAILED, S.CI_FIX_FAILED})
#: Statuses in which the next move is the agent's (so a long silence means it is stuck).
_AGENT_OWES_WORK = frozenset(
    {S.SPAWNING, S.WORKING, S.CI_FAILED, S.CI_FIX_SENT, S.CI_FIX_FAILED, S.CHANGES_REQUESTED, S.MERGE_CONFLICTS}
)
#: In an event's data: a reaction already notified people of it (the router's bus feed skips it).
NOTIFIED = "notified"
#: Auto-merge attempts per head (a merge can fail for a passing reason) unless ``retries`` says otherwise.
AUTO_MERGE_ATTEMPTS = 3
#: How many handled occurrences a state remembers.
_HANDLED_KEEP = 50

_TITLES = {
    CI_FAILED: "CI failing",
    CHANGES_REQUESTED: "changes requested",
    BUGBOT_COMMENTS: "bot review comments",
    MERGE_CONFLICTS: "merge conflicts",
    APPROVED_AND_GREEN: "ready to merge",
    AGENT_STUCK: "agent stuck",
    AGENT_NEEDS_INPUT: "agent needs input",
    AGENT_EXITED: "agent exited",
    ALL_COMPLETE: "all sessions complete",
}


class AgentMessenger(Protocol):
    async def send(self, session: Session, text: str) -> None:
        """Deliver ``text`` to the session's agent; raise an ``EnnioError`` when it could not."""
        ...


@dataclass(slots=True)
class SessionView:
    """One session as the lifecycle sees it after this pass."""

    session: Session
    project: ProjectConfig
    snapshot: PRSnapshot | None = None
    alive: bool = True


class StateBook:
    """The reaction states of one pass (loaded in one query), kept current as the engine writes."""

    def __init__(self, states: Iterable[ReactionState] = ()) -> None:
        self._states: dict[tuple[str, str, str], ReactionState] = {}
        for state in states:
            self.put(state)

    def get(self, scope: Scope, reaction: str) -> ReactionState | None:
        return self._states.get((scope.kind, scope.id, reaction))

    def put(self, state: ReactionState) -> None:
        self._states[(state.scope.kind, state.scope.id, state.reaction)] = state

    def drop(self, scope: Scope, reaction: str | None = None) -> None:
        for key in [k for k in self._states if k[:2] == (scope.kind, scope.id) and reaction in (None, k[2])]:
            del self._states[key]

    def has(self, scope: Scope) -> bool:
        return any(k[:2] == (scope.kind, scope.id) for k in self._states)

    def fix_sent_for(self, session_id: str) -> str | None:
        """The PR head the last CI fix was sent for (the status rules wait for a newer one)."""
        state = self.get(Scope.session(session_id), CI_FAILED)
        if state is None or not state.data.get("sent"):
            return None
        head = state.data.get("sent_for")
        return head if isinstance(head, str) else None


@dataclass(slots=True)
class _Prepared:
    """What acting on one occurrence means: the text, and what to remember about it."""

    text: str
    signature: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    comments: list[ReviewComment] = field(default_factory=list)


def _head(snapshot: PRSnapshot | None) -> str:
    if snapshot is None or snapshot.pr is None:
        return "-"
    return snapshot.pr.head_sha or f"pr{snapshot.pr.number}"


class ReactionEngine:
    def __init__(
        self,
        config: EnnioConfig,
        db: Database,
        *,
        events: EventSink,
        messenger: AgentMessenger,
        clock: Clock,
        scm_for: Callable[[ProjectConfig], SCM | None] | None = None,
        router: NotificationRouter | None = None,
    ) -> None:
        """``scm_for(project) -> SCM | None`` gives a project's SCM (for logs, forwarding, merging)."""
        self.config = config
        self.db = db
        self.events = events
        self.messenger = messenger
        self.clock = clock
        self.scm_for = scm_for
        self.router = router
        self._reactions: dict[str, dict[str, ReactionConfig]] = {}
        self._merge_locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------------ entry points

    async def load(self) -> StateBook:
        """Every reaction state, in one query (once per reconcile pass)."""
        return StateBook(await self.db.reactions.list())

    def reactions(self, project_id: str) -> dict[str, ReactionConfig]:
        if project_id not in self._reactions:
            self._reactions[project_id] = self.config.reactions_for(project_id)
        return self._reactions[project_id]

    async def react(self, view: SessionView, book: StateBook) -> Session:
        """Evaluate every session reaction for ``view``; returns the session as it is afterwards."""
        for name in SESSION_REACTIONS:
            try:
                view.session = await self._evaluate(name, view, book)
            except Exception as exc:  # one reaction's failure must not stop the others
                log.error("%s: reaction %s failed: %s: %s", view.session.id, name, type(exc).__name__, exc)
                log.debug("reaction failure", exc_info=True)
        return view.session

    async def check_project(self, project: ProjectConfig, sessions: Sequence[Session], book: StateBook) -> None:
        """``all-complete``: every session of the project is done (killed ones aside), at least one."""
        scope = Scope.project(project.pid)
        finished = all(s.status in (S.DONE, S.KILLED) for s in sessions)
        holds = bool(sessions) and finished and any(s.status is S.DONE for s in sessions)
        state = book.get(scope, ALL_COMPLETE)
        if not holds:
            if state is not None:
                await self._clear(scope, ALL_COMPLETE, book)
            return
        reaction = self.reactions(project.pid)[ALL_COMPLETE]
        if not reaction.enabled or (state is not None and state.attempts > 0):
            return
        text = msg.all_complete(project.pid, sessions, reaction.message)
        await self._record(scope, ALL_COMPLETE, reaction, state, ["complete"], book, signature=None, data={})
        event = Event.of(
            EventType.ALL_COMPLETE,
            text.splitlines()[0],
            project_id=project.pid,
            priority=reaction.priority,
            data={
                "summary": text,
                "sessions": [{"id": s.id, "status": str(s.status)} for s in sessions],
                NOTIFIED: True,
            },
        )
        self.events.publish(self._triggered(None, project.pid, ALL_COMPLETE, reaction, 1))
        await self._deliver(ALL_COMPLETE, reaction, event, text, project.pid, publish=True)

    async def forget(self, session_id: str, book: StateBook | None = None) -> None:
        """Drop a finished session's reaction states (its escalations no longer apply)."""
        scope = Scope.session(session_id)
        if book is None or book.has(scope):
            await self.db.reactions.clear(scope)
        if book is not None:
            book.drop(scope)

    async def escalate_due(self, book: StateBook | None = None) -> int:
        """Notify a human for every reaction whose escalation deadline passed; returns how many."""
        count = 0
        for state in await self.db.reactions.due_escalations(self.clock.now()):
            try:
                if await self._escalate_due_one(state, book):
                    count += 1
            except Exception as exc:
                log.error("escalating %s of %s failed: %s: %s", state.reaction, state.scope.id, type(exc).__name__, exc)
        return count

    async def _escalate_due_one(self, state: ReactionState, book: StateBook | None) -> bool:
        if state.scope.kind == "session":
            session = await self.db.sessions.find(state.scope.id)
            if session is None or session.terminal:
                await self.forget(state.scope.id, book)
                return False
            project_id = session.project_id
        else:
            session, project_id = None, state.scope.id
        reaction = self._reaction_or_none(project_id, state.reaction)
        if reaction is None:
            return False
        after = reaction.escalate_after
        why = "still unresolved" + (f" {_human(after.total_seconds())}" if after else "") + " after Ennio first reacted"
        await self._escalate(state, reaction, why, session=session, project_id=project_id, book=book)
        return True

    def _reaction_or_none(self, project_id: str, name: str) -> ReactionConfig | None:
        try:
            return self.reactions(project_id).get(name)
        except EnnioError:  # the project left the configuration
            return self.config.reactions.get(name)

    # ------------------------------------------------------------------ conditions

    def _condition(self, name: str, view: SessionView, state: ReactionState | None) -> tuple[bool, str | None]:
        """Whether the reaction's condition holds, and the key of the occurrence to act on (if any)."""
        session, snapshot = view.session, view.snapshot
        status = session.status
        if name == CI_FAILED:
            return status in _CI_HOLDS, (f"ci@{_head(snapshot)}" if status in _CI_ACTS else None)
        if name in (CHANGES_REQUESTED, BUGBOT_COMMENTS):
            comments = self._comments(name, snapshot)
            forwarded = set(state.data.get("forwarded", [])) if state is not None else set()
            new = sorted(c.id for c in comments if c.id not in forwarded)
            if name == CHANGES_REQUESTED:
                holds = status is S.CHANGES_REQUESTED or bool(comments)
                if new:
                    return holds, "comments:" + ",".join(new)
                return holds, (f"review@{_head(snapshot)}" if status is S.CHANGES_REQUESTED else None)
            return bool(comments), ("comments:" + ",".join(new) if new else None)
        if name == MERGE_CONFLICTS:
            holds = status is S.MERGE_CONFLICTS
            return holds, (f"conflicts@{_head(snapshot)}" if holds else None)
        if name == APPROVED_AND_GREEN:
            green = (
                status is S.APPROVED
                and snapshot is not None
                and snapshot.pr is not None
                and snapshot.pr.state is PRState.OPEN
                and snapshot.ci in (CIState.PASSING, CIState.NONE)
                and snapshot.mergeable is not False
            )
            return green, (f"green@{_head(snapshot)}" if green else None)
        if name == AGENT_STUCK:
            threshold = self.reactions(view.project.pid)[AGENT_STUCK].threshold
            since = session.last_activity_at or session.created_at
            stuck = (
                threshold is not None
                and view.alive
                and status in _AGENT_OWES_WORK
                and session.activity not in (ActivityState.WAITING_INPUT, ActivityState.EXITED)
                and self.clock.now() - since >= threshold
            )
            return stuck, (f"stuck@{since.isoformat()}" if stuck else None)
        if name == AGENT_NEEDS_INPUT:
            waiting = view.alive and session.activity is ActivityState.WAITING_INPUT and not session.terminal
            return waiting, ("waiting" if waiting else None)
        if name == AGENT_EXITED:
            exited = status is S.EXITED
            return exited, ("exited" if exited else None)
        raise ValueError(f"unknown reaction {name!r}")

    @staticmethod
    def _comments(name: str, snapshot: PRSnapshot | None) -> list[ReviewComment]:
        if snapshot is None:
            return []
        return list(snapshot.bot_comments if name == BUGBOT_COMMENTS else snapshot.comments)

    # ------------------------------------------------------------------ evaluation

    async def _evaluate(self, name: str, view: SessionView, book: StateBook) -> Session:
        session = view.session
        scope = Scope.session(session.id)
        state = book.get(scope, name)
        holds, key = self._condition(name, view, state)
        if not holds:
            if state is not None:
                await self._clear(scope, name, book)
            return session
        reaction = self.reactions(view.project.pid)[name]
        if not reaction.enabled or key is None:
            return session
        if state is not None and key in state.data.get("handled", []):
            return session
        prepared = await self._prepare(name, reaction, view, state)
        attempts = state.attempts if state is not None else 0
        sends = reaction.action == "send_to_agent"
        if (
            name == CI_FAILED
            and state is not None
            and state.data.get("sent")
            and prepared.signature is not None
            and prepared.signature == state.last_failure_signature
        ):
            state = await self._mark_handled(state, key, book)
            await self._escalate(
                state,
                reaction,
                "the same CI failure came back after a fix was sent (same checks, same log); not sending it again",
                session=session,
                project_id=session.project_id,
                book=book,
            )
            return session
        if sends and reaction.retries is not None and attempts >= reaction.retries:
            if state is None:  # retries: 0 — never send, tell a human straight away
                state = ReactionState(scope=scope, reaction=name, first_fired_at=self.clock.now())
            state = await self._mark_handled(state, key, book)
            await self._escalate(
                state,
                reaction,
                f"{attempts} attempt{'s' if attempts != 1 else ''} made and no retries are left",
                session=session,
                project_id=session.project_id,
                book=book,
            )
            return session
        data: dict[str, Any] = dict(prepared.data)
        if name in (CHANGES_REQUESTED, BUGBOT_COMMENTS):
            earlier = list(state.data.get("forwarded", [])) if state is not None else []
            data["forwarded"] = earlier + [c.id for c in prepared.comments if c.id not in earlier]
        keys = [key]
        if name == CHANGES_REQUESTED:  # the review of this head is covered by the comments sent for it
            keys.append(f"review@{_head(view.snapshot)}")
        state = await self._record(scope, name, reaction, state, keys, book, signature=prepared.signature, data=data)
        triggered = self._triggered(session, session.project_id, name, reaction, state.attempts)
        self.events.publish(triggered)
        return await self._act(name, reaction, view, prepared, state, book, triggered)

    async def _prepare(
        self, name: str, reaction: ReactionConfig, view: SessionView, state: ReactionState | None
    ) -> _Prepared:
        session, snapshot = view.session, view.snapshot
        opening = reaction.message
        pr = snapshot.pr if snapshot is not None else None
        if name == CI_FAILED and snapshot is not None:
            checks = snapshot.failing_checks or [c for c in snapshot.checks if c.state is CIState.FAILING]
            with_logs = await self._check_logs(view, checks)
            return _Prepared(
                msg.ci_failure(session, snapshot, with_logs, opening),
                signature=msg.failure_signature(with_logs),
                data={"sent_for": _head(snapshot), "checks": [c.name for c in with_logs]},
            )
        if name in (CHANGES_REQUESTED, BUGBOT_COMMENTS):
            forwarded = set(state.data.get("forwarded", [])) if state is not None else set()
            comments = [c for c in self._comments(name, snapshot) if c.id not in forwarded]
            return _Prepared(
                msg.review_comments(session, pr, comments, opening, bots=name == BUGBOT_COMMENTS),
                comments=comments,
            )
        if name == MERGE_CONFLICTS and snapshot is not None:
            base = pr.base if pr is not None else view.project.default_branch
            return _Prepared(
                msg.merge_conflicts(session, snapshot, base, opening), data={"conflicts": list(snapshot.conflicts)}
            )
        if name == APPROVED_AND_GREEN:
            return _Prepared(msg.approved_and_green(session, pr, opening))
        if name == AGENT_STUCK:
            since = session.last_activity_at or session.created_at
            quiet = _human((self.clock.now() - since).total_seconds())
            text = opening or f"{session.id} has shown no change of activity for {quiet} (status {session.status})."
            return _Prepared(text)
        if name == AGENT_NEEDS_INPUT:
            return _Prepared(opening or f"{session.id} is waiting for input (a question or a permission prompt).")
        if name == AGENT_EXITED:
            return _Prepared(opening or f"The agent of {session.id} exited ({session.status_reason or 'exited'}).")
        return _Prepared(opening or f"{session.id}: {name}")

    async def _check_logs(self, view: SessionView, checks: list[CheckRun]) -> list[CheckRun]:
        snapshot = view.snapshot
        scm = self._scm(view.project)
        if scm is None or snapshot is None or snapshot.pr is None or not checks:
            return checks
        try:
            return await scm.check_logs(snapshot.pr, checks) or checks
        except EnnioError as exc:
            log.warning("%s: no CI logs: %s", view.session.id, exc.message)
            return checks

    def _scm(self, project: ProjectConfig) -> SCM | None:
        if self.scm_for is None:
            return None
        return self.scm_for(project)

    # ------------------------------------------------------------------ acting

    async def _act(
        self,
        name: str,
        reaction: ReactionConfig,
        view: SessionView,
        prepared: _Prepared,
        state: ReactionState,
        book: StateBook,
        triggered: Event,
    ) -> Session:
        session = view.session
        if reaction.action == "send_to_agent":
            try:
                await self.messenger.send(session, prepared.text)
            except EnnioError as exc:
                log.warning("%s: %s could not be sent to the agent: %s", session.id, name, exc.message)
                book.put(await self.db.reactions.upsert(replace(state, data={**state.data, "error": exc.message})))
                return session
            return await self._after_send(name, view, prepared, state, book)
        if reaction.action == "auto_merge" and name == APPROVED_AND_GREEN:
            return await self._auto_merge(reaction, view, prepared, state, book)
        if reaction.action == "auto_merge":
            log.warning("%s: auto_merge only applies to approved-and-green; notifying for %s", session.id, name)
        await self._deliver(name, reaction, triggered, prepared.text, session.id, publish=False)
        return session

    async def _after_send(
        self, name: str, view: SessionView, prepared: _Prepared, state: ReactionState, book: StateBook
    ) -> Session:
        session = view.session
        if name == CI_FAILED:
            book.put(await self.db.reactions.upsert(replace(state, data={**state.data, "sent": True})))
            checks = ", ".join(prepared.data.get("checks", []))
            moved = await move(self.db, self.events, session, S.CI_FIX_SENT, f"CI log sent to the agent ({checks})")
            self.events.publish(
                session_event(
                    moved or session,
                    EventType.CI_FIX_SENT,
                    f"{session.id}: failing checks sent to the agent: {checks}",
                    checks=prepared.data.get("checks", []),
                    attempt=state.attempts,
                )
            )
            return moved or session
        if name in (CHANGES_REQUESTED, BUGBOT_COMMENTS):
            scm = self._scm(view.project)
            pr = view.snapshot.pr if view.snapshot is not None else None
            if scm is not None and pr is not None:
                for comment in prepared.comments:
                    try:
                        await scm.mark_forwarded(pr, comment)
                    except EnnioError as exc:
                        log.warning("%s: could not mark comment %s forwarded: %s", session.id, comment.id, exc.message)
            self.events.publish(
                session_event(
                    session,
                    EventType.REVIEW_COMMENTS_SENT,
                    f"{session.id}: {len(prepared.comments)} review comment(s) sent to the agent",
                    comments=[c.id for c in prepared.comments],
                    bots=name == BUGBOT_COMMENTS,
                )
            )
        return session

    async def _auto_merge(
        self, reaction: ReactionConfig, view: SessionView, prepared: _Prepared, state: ReactionState, book: StateBook
    ) -> Session:
        session, snapshot = view.session, view.snapshot
        scm = self._scm(view.project)
        assert snapshot is not None and snapshot.pr is not None  # guaranteed by the condition
        if scm is None:
            await self._escalate(
                state, reaction, "auto-merge needs an SCM", session=session, project_id=session.project_id, book=book
            )
            return session
        lock = self._merge_locks.setdefault(view.project.pid, asyncio.Lock())
        try:
            async with lock:  # one merge into a project's base at a time
                await scm.merge(snapshot.pr)
        except EnnioError as exc:
            limit = reaction.retries if reaction.retries is not None else AUTO_MERGE_ATTEMPTS
            if state.attempts < limit:  # merging again is harmless: try again next pass
                log.warning("%s: auto-merge of PR #%s failed (will retry): %s", session.id, snapshot.pr.number, exc)
                handled = [k for k in state.data.get("handled", []) if k != f"green@{_head(snapshot)}"]
                book.put(await self.db.reactions.upsert(replace(state, data={**state.data, "handled": handled})))
                return session
            await self._escalate(
                state,
                reaction,
                f"auto-merge of PR #{snapshot.pr.number} failed {state.attempts} times: {exc.message}",
                session=session,
                project_id=session.project_id,
                book=book,
            )
            return session
        self.events.publish(
            session_event(
                session,
                EventType.MERGE_COMPLETED,
                f"{session.id}: PR #{snapshot.pr.number} merged by Ennio (approved and green)",
                pr_number=snapshot.pr.number,
            )
        )
        return session

    # ------------------------------------------------------------------ state, escalation, delivery

    async def _record(
        self,
        scope: Scope,
        name: str,
        reaction: ReactionConfig,
        state: ReactionState | None,
        keys: list[str],
        book: StateBook,
        *,
        signature: str | None,
        data: dict[str, Any],
    ) -> ReactionState:
        """Persist the attempt (before acting: a restart never repeats it); ``keys`` are the
        occurrences it handles."""
        now = self.clock.now()
        handled = [*(state.data.get("handled", []) if state else []), *keys][-_HANDLED_KEEP:]
        merged_data = {**(state.data if state else {}), **data, "handled": handled, "sent": False}
        merged_data.pop("error", None)
        first = state.first_fired_at if state is not None and state.first_fired_at else now
        escalate_at = state.escalate_at if state is not None else None
        if escalate_at is None and reaction.escalate_after is not None and not (state and state.escalated):
            escalate_at = first + reaction.escalate_after
        new = ReactionState(
            scope=scope,
            reaction=name,
            attempts=(state.attempts if state else 0) + 1,
            first_fired_at=first,
            last_fired_at=now,
            escalate_at=escalate_at,
            escalated=state.escalated if state else False,
            last_failure_signature=signature
            if signature is not None
            else (state.last_failure_signature if state else None),
            data=merged_data,
        )
        saved = await self.db.reactions.upsert(new)
        book.put(saved)
        return saved

    async def _mark_handled(self, state: ReactionState, key: str, book: StateBook) -> ReactionState:
        handled = [*state.data.get("handled", []), key][-_HANDLED_KEEP:]
        saved = await self.db.reactions.upsert(replace(state, data={**state.data, "handled": handled}))
        book.put(saved)
        return saved

    async def _clear(self, scope: Scope, name: str, book: StateBook) -> None:
        await self.db.reactions.clear(scope, name)
        book.drop(scope, name)

    async def _escalate(
        self,
        state: ReactionState,
        reaction: ReactionConfig,
        why: str,
        *,
        session: Session | None,
        project_id: str,
        book: StateBook | None,
    ) -> None:
        """Tell a human, once per episode."""
        if state.escalated:
            return
        saved = await self.db.reactions.upsert(replace(state, escalated=True))
        if book is not None:
            book.put(saved)
        subject = session.id if session is not None else project_id
        text = f"{subject}: {state.reaction} needs a human: {why}."
        data = {"reaction": state.reaction, "attempts": state.attempts, "why": why, NOTIFIED: True}
        if session is not None:
            event = session_event(session, EventType.REACTION_ESCALATED, text, **data)
        else:
            event = Event.of(EventType.REACTION_ESCALATED, text, project_id=project_id, data=data)
        log.warning("%s", text)
        self.events.publish(event)
        if self.router is not None:
            self.router.submit(
                event,
                notifiers=reaction.notifiers,
                fallback=True,
                title=f"{subject}: {_TITLES.get(state.reaction, state.reaction)} — needs a human",
                body=text,
            )

    def _triggered(
        self, session: Session | None, project_id: str, name: str, reaction: ReactionConfig, attempt: int
    ) -> Event:
        subject = session.id if session is not None else project_id
        text = f"{subject}: reaction {name} → {reaction.action} (attempt {attempt})"
        notifies = reaction.action == "notify" or (reaction.action == "auto_merge" and name != APPROVED_AND_GREEN)
        data = {"reaction": name, "action": reaction.action, "attempt": attempt, NOTIFIED: notifies}
        if session is not None:
            return session_event(session, EventType.REACTION_TRIGGERED, text, **data)
        return Event.of(EventType.REACTION_TRIGGERED, text, project_id=project_id, data=data)

    async def _deliver(
        self, name: str, reaction: ReactionConfig, event: Event, body: str, subject: str, *, publish: bool
    ) -> None:
        if publish:
            self.events.publish(event)
        if self.router is None:
            log.info("%s (no notifiers configured)", body.splitlines()[0] if body else name)
            return
        self.router.submit(
            event,
            notifiers=reaction.notifiers,
            fallback=True,
            title=f"{subject}: {_TITLES.get(name, name)}",
            body=body,
            priority=reaction.priority,
        )


def _human(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds >= 60:
        return f"{seconds // 60}m" + (f"{seconds % 60}s" if seconds % 60 and seconds < 600 else "")
    return f"{seconds}s"
