"""The spawn queue: sessions waiting until every issue blocking theirs is finished.

``ennio spawn --when-unblocked`` (or ``when_unblocked`` in the API) on an issue whose blockers are not
finished adds a row to the ``spawn_queue`` table instead of spawning. The lifecycle calls
:meth:`SpawnQueue.process` on its passes: one batched ``issue_states`` per project for every waiting
entry's blockers (and the queued issues themselves), one query for blockers whose session's PR merged;
an entry with nothing left blocking it is claimed (atomically, so two daemons on one PostgreSQL never
both spawn it) and spawned in the background, so a slow agent start never holds up a pass. The
outcome is recorded on the row (``spawned`` with the session id, or ``failed`` with the reason, which
also notifies a person). A queued issue that closes meanwhile is cancelled. Rows survive restarts;
a spawn interrupted by a stop goes back to ``waiting``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any

from ennio.core.errors import Conflict, EnnioError
from ennio.core.events import Event, EventType
from ennio.core.plugins import IssueState
from ennio.core.session import Session
from ennio.db.records import QueuedSpawn, QueueStatus, parse_qid
from ennio.services.forge.blockers import Blocked, open_blockers
from ennio.services.forge.issue_refs import issue_display
from ennio.services.sessions.env import SessionEnv
from ennio.services.sessions.spawn import SpawnRequest

log = logging.getLogger("ennio.queue")

#: a ``spawning`` row not touched for this long, and not being spawned by this process, was interrupted
STALE_SPAWN = timedelta(minutes=15)

SpawnFn = Callable[[SpawnRequest], Awaitable[Session]]


class SpawnQueue:
    def __init__(self, env: SessionEnv, spawn: SpawnFn) -> None:
        self.env = env
        self._spawn = spawn
        self._tasks: dict[int, asyncio.Task[None]] = {}

    # ------------------------------------------------------------------ people

    async def enqueue(self, request: SpawnRequest, blocked: Blocked) -> QueuedSpawn:
        """Queue ``request`` (whose issue ``blocked`` says is blocked)."""
        queued = await self.env.db.queue.add(
            request.project_id,
            issue_id=blocked.issue.key,
            issue_ref=request.issue or blocked.issue.key,
            blockers=blocked.open_blockers,
            request={
                "prompt": request.prompt,
                "branch": request.branch,
                "agent": request.agent,
                "runtime": request.runtime,
                "reuse_branch": request.reuse_branch,
            },
            reason=blocked.message,
        )
        waits = ", ".join(issue_display(b) for b in queued.blockers)
        await self._publish(
            EventType.SPAWN_QUEUED,
            queued,
            f"{queued.qid}: issue {issue_display(queued.issue_id)} queued until {waits} finish",
            blockers=queued.blockers,
        )
        return queued

    async def entries(
        self, project_id: str | None = None, statuses: Iterable[QueueStatus | str] | None = None
    ) -> list[QueuedSpawn]:
        return await self.env.db.queue.list(project_id, statuses)

    async def get(self, qid: str) -> QueuedSpawn:
        return await self.env.db.queue.get(parse_qid(qid))

    async def cancel(self, qid: str) -> QueuedSpawn:
        """Cancel a waiting spawn (``ennio session cancel q3``); ``Conflict`` once it left the queue."""
        cancelled = await self.env.db.queue.cancel(parse_qid(qid), "cancelled by a person")
        await self._publish(EventType.SPAWN_CANCELLED, cancelled, f"{cancelled.qid}: cancelled")
        return cancelled

    # ------------------------------------------------------------------ the lifecycle

    async def process(self, project_ids: Iterable[str] | None = None) -> list[QueuedSpawn]:
        """Release every waiting spawn (of these projects) that nothing blocks any more; returns those
        whose spawn was started. A tracker failure leaves that project's entries waiting."""
        wanted = None if project_ids is None else set(project_ids)
        entries = [
            e
            for e in await self.env.db.queue.list(statuses=[QueueStatus.WAITING, QueueStatus.SPAWNING])
            if wanted is None or e.project_id in wanted
        ]
        by_project: dict[str, list[QueuedSpawn]] = {}
        for entry in entries:
            if entry.status is QueueStatus.SPAWNING:
                await self._recover(entry)
            else:
                by_project.setdefault(entry.project_id, []).append(entry)
        started: list[QueuedSpawn] = []
        for project_id, waiting in by_project.items():
            try:
                started += await self._process_project(project_id, waiting)
            except EnnioError as exc:
                log.warning("queued spawns of %s stay queued: %s", project_id, exc.message)
        return started

    async def _process_project(self, project_id: str, waiting: list[QueuedSpawn]) -> list[QueuedSpawn]:
        env = self.env
        project = env.config.project(project_id)
        tracker = env.plugins.tracker(project)
        if tracker is None:
            return []
        keys = list(dict.fromkeys([k for e in waiting for k in (e.issue_id, *e.blockers)]))
        states = await tracker.issue_states(keys)
        started = []
        for entry in waiting:
            if states.get(entry.issue_id) is IssueState.CLOSED:
                with contextlib.suppress(Conflict):
                    closed = await env.db.queue.cancel(entry.id, f"issue {issue_display(entry.issue_id)} was closed")
                    await self._publish(EventType.SPAWN_CANCELLED, closed, f"{entry.qid}: its issue was closed")
                continue
            still = await open_blockers(env.db, tracker, project_id, entry.blockers, states=states)
            if still:
                if still != entry.blockers:
                    await env.db.queue.set_blockers(entry.id, still)
                continue
            if await env.db.queue.claim(entry.id):
                started.append(entry)
                self._tasks[entry.id] = asyncio.get_running_loop().create_task(
                    self._run(entry), name=f"queued-spawn-{entry.qid}"
                )
        return started

    async def _run(self, entry: QueuedSpawn) -> None:
        raw: dict[str, Any] = entry.request
        request = SpawnRequest(
            project_id=entry.project_id,
            issue=entry.issue_ref,
            prompt=raw.get("prompt"),
            branch=raw.get("branch"),
            agent=raw.get("agent"),
            runtime=raw.get("runtime"),
            reuse_branch=bool(raw.get("reuse_branch")),
            check_blockers=False,
        )
        db = self.env.db
        try:
            session = await self._spawn(request)
        except asyncio.CancelledError:
            await asyncio.shield(
                db.queue.finish(entry.id, QueueStatus.WAITING, "interrupted while spawning; it will be tried again")
            )
            raise
        except Exception as exc:
            message = exc.message if isinstance(exc, EnnioError) else f"{type(exc).__name__}: {exc}"
            log.warning("%s: the queued spawn failed: %s", entry.qid, message)
            await db.queue.finish(entry.id, QueueStatus.FAILED, message)
            failed = await db.queue.get(entry.id)
            await self._publish(
                EventType.SPAWN_FAILED,
                failed,
                f"{entry.qid}: issue {issue_display(entry.issue_id)} is unblocked but its spawn failed: {message}",
                error=message,
            )
        else:
            await db.queue.finish(entry.id, QueueStatus.SPAWNED, "its blockers are finished", session_id=session.id)
        finally:
            self._tasks.pop(entry.id, None)

    async def _recover(self, entry: QueuedSpawn) -> None:
        """A ``spawning`` row this process is not working on, untouched for long: its spawner died."""
        if entry.id in self._tasks or self.env.clock.now() - entry.updated_at < STALE_SPAWN:
            return
        made = [
            s
            for s in await self.env.db.sessions.list(project_id=entry.project_id)
            if s.issue_id == entry.issue_id and s.created_at >= entry.updated_at - timedelta(seconds=1)
        ]
        if made:
            await self.env.db.queue.finish(entry.id, QueueStatus.SPAWNED, "spawned", session_id=made[0].id)
        else:
            await self.env.db.queue.finish(entry.id, QueueStatus.WAITING, "interrupted while spawning; tried again")

    async def wait_idle(self) -> None:
        """Until every spawn started here has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the spawns in flight (each rolls back and goes back to ``waiting``)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _publish(self, type: EventType, entry: QueuedSpawn, message: str, **data: Any) -> None:
        self.env.events.publish(
            Event.of(
                type,
                message,
                project_id=entry.project_id,
                data={"queue_id": entry.qid, "issue": entry.issue_id, **data},
                timestamp=self.env.clock.now(),
            )
        )
        await self.env.events.flush()
