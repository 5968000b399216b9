"""Queued spawns: issues waiting for their blockers (``ennio spawn --when-unblocked``).

A row moves ``waiting`` → ``spawning`` (claimed by one process, atomically) → ``spawned`` or ``failed``;
a person can cancel a waiting one. Rows are kept after they finish, so ``ennio status`` can say what
became of a queued spawn.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update

from ennio.core.errors import Conflict, NotFound
from ennio.core.ids import validate_id
from ennio.db.records import OPEN_QUEUE_STATUSES, QueuedSpawn, QueueStatus, queued_from_values
from ennio.db.repos._base import Repository
from ennio.db.repos.projects import insert_missing_project
from ennio.db.schema import spawn_queue as table

_HINT = "run `ennio status` to see the queued spawns"


class SpawnQueueRepository(Repository):
    async def add(
        self,
        project_id: str,
        *,
        issue_id: str,
        issue_ref: str,
        blockers: Sequence[str],
        request: dict[str, Any],
        reason: str | None = None,
    ) -> QueuedSpawn:
        """Queue a spawn; :class:`Conflict` if the same issue of the project is already waiting."""
        validate_id(project_id, "project id")
        now = self._now()
        async with self._access.write() as conn:
            await insert_missing_project(conn, project_id, project_id, now)
            waiting = (
                await conn.execute(
                    select(table.c.id).where(
                        table.c.project_id == project_id,
                        table.c.issue_id == issue_id,
                        table.c.status.in_([s.value for s in OPEN_QUEUE_STATUSES]),
                    )
                )
            ).first()
            if waiting is not None:
                raise Conflict(
                    f"issue {issue_id} of project {project_id!r} is already queued as q{waiting[0]}",
                    hint=f"cancel it first (`ennio session cancel q{waiting[0]}`) to queue it again",
                )
            values = {
                "project_id": project_id,
                "issue_id": issue_id,
                "issue_ref": issue_ref,
                "blockers": list(blockers),
                "request": request,
                "status": QueueStatus.WAITING.value,
                "reason": reason,
                "session_id": None,
                "created_at": now,
                "updated_at": now,
            }
            result = await conn.execute(table.insert().values(values))
            key = result.inserted_primary_key
            assert key is not None
            new_id = int(key[0])
        return queued_from_values({"id": new_id, **values})

    async def find(self, queue_id: int) -> QueuedSpawn | None:
        async with self._access.read() as conn:
            row = (await conn.execute(select(table).where(table.c.id == queue_id))).mappings().first()
        return None if row is None else queued_from_values(row)

    async def get(self, queue_id: int) -> QueuedSpawn:
        found = await self.find(queue_id)
        if found is None:
            raise NotFound(f"no queued spawn q{queue_id}", hint=_HINT)
        return found

    async def list(
        self, project_id: str | None = None, statuses: Iterable[QueueStatus | str] | None = None
    ) -> builtins.list[QueuedSpawn]:
        """Queued spawns, oldest first, optionally of one project and/or with one of ``statuses``."""
        query = select(table).order_by(table.c.id)
        if project_id is not None:
            query = query.where(table.c.project_id == project_id)
        if statuses is not None:
            query = query.where(table.c.status.in_([QueueStatus(s).value for s in statuses]))
        async with self._access.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [queued_from_values(row) for row in rows]

    async def set_blockers(self, queue_id: int, blockers: Sequence[str]) -> None:
        """Record which blockers are still open (only while waiting)."""
        async with self._access.write() as conn:
            await conn.execute(
                update(table)
                .where(table.c.id == queue_id, table.c.status == QueueStatus.WAITING.value)
                .values(blockers=list(blockers), updated_at=self._now())
            )

    async def claim(self, queue_id: int) -> bool:
        """``waiting`` → ``spawning``; ``False`` when another process (or a cancel) got there first."""
        return await self._move(queue_id, (QueueStatus.WAITING,), QueueStatus.SPAWNING, None, None)

    async def finish(
        self, queue_id: int, status: QueueStatus, reason: str | None = None, session_id: str | None = None
    ) -> bool:
        """``spawning`` → ``spawned``/``failed`` (or back to ``waiting``), with why and the session made."""
        return await self._move(queue_id, (QueueStatus.SPAWNING,), status, reason, session_id)

    async def cancel(self, queue_id: int, reason: str = "cancelled") -> QueuedSpawn:
        """Cancel a waiting spawn; :class:`Conflict` when it already left the queue."""
        if not await self._move(queue_id, (QueueStatus.WAITING,), QueueStatus.CANCELLED, reason, None):
            current = await self.get(queue_id)
            raise Conflict(
                f"queued spawn q{queue_id} is {current.status}, so it cannot be cancelled",
                hint=f"its session is {current.session_id}" if current.session_id else _HINT,
            )
        return await self.get(queue_id)

    async def _move(
        self,
        queue_id: int,
        expected: Iterable[QueueStatus],
        status: QueueStatus,
        reason: str | None,
        session_id: str | None,
    ) -> bool:
        values: dict[str, Any] = {"status": status.value, "updated_at": self._now()}
        if reason is not None:
            values["reason"] = reason
        if session_id is not None:
            values["session_id"] = session_id
        async with self._access.write() as conn:
            result = await conn.execute(
                update(table)
                .where(table.c.id == queue_id, table.c.status.in_([s.value for s in expected]))
                .values(values)
            )
        return int(result.rowcount) == 1
