"""Sessions: id allocation, the row itself, and status changes with their history."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import RowMapping, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ennio.core.errors import Conflict, InvalidInput, LimitReached, NotFound
from ennio.core.ids import make_session_id, validate_id
from ennio.core.session import LIVE_STATUSES, Session, SessionStatus, StatusChange, check_transition
from ennio.db.codec import session_from_values, session_to_values
from ennio.db.repos._base import Repository
from ennio.db.repos.projects import insert_missing_project
from ennio.db.schema import projects, reaction_state, session_status_history, sessions

#: Fields ``update`` may change. ``status`` goes through ``transition`` (it writes history).
UPDATABLE_FIELDS = frozenset(Session.model_fields) - {"id", "project_id", "status", "created_at"}

_ORDER = (sessions.c.created_at, sessions.c.id)
_LIST_HINT = "run `ennio session list` to see the sessions there are"


def _not_found(session_id: str) -> NotFound:
    return NotFound(f"no session {session_id!r}", hint=_LIST_HINT)


def _session(row: RowMapping) -> Session:
    return session_from_values(row)


def _change(row: RowMapping) -> StatusChange:
    return StatusChange(
        session_id=row["session_id"],
        from_status=row["from_status"],
        to_status=row["to_status"],
        reason=row["reason"],
        at=row["at"],
    )


def _check_updatable(fields: dict[str, Any]) -> None:
    unknown = set(fields) - UPDATABLE_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        hint = (
            "change the status with transition(), which also records the history"
            if name == "status"
            else "updatable fields: " + ", ".join(sorted(UPDATABLE_FIELDS))
        )
        raise InvalidInput(f"session field {name!r} cannot be updated", hint=hint)


def _changed(current: Session, fields: dict[str, Any]) -> tuple[Session, dict[str, Any]]:
    """``current`` with ``fields`` applied (validated like ``Session``), and the column values that changed."""
    try:
        updated = Session.model_validate({**current.model_dump(), **fields})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise InvalidInput(f"session field {where}: {error['msg']}") from exc
    values = session_to_values(updated)
    return updated, {k: values[k] for k in fields}


class SessionRepository(Repository):
    async def allocate_id(self, project_id: str, prefix: str) -> str:
        """The next free ``prefix-N`` of the project. Atomic across processes: no two callers get the same id."""
        validate_id(project_id, "project id")
        validate_id(prefix, "session prefix")
        now = self._now()
        async with self._access.write() as conn:
            await insert_missing_project(conn, project_id, project_id, now)
            return await self._next_id(conn, project_id, prefix, now)

    @staticmethod
    async def _next_id(conn: AsyncConnection, project_id: str, prefix: str, now: Any) -> str:
        while True:
            number = await conn.scalar(
                projects.update()
                .where(projects.c.id == project_id)
                .values(next_session_number=projects.c.next_session_number + 1, updated_at=now)
                .returning(projects.c.next_session_number - 1)
            )
            assert number is not None
            session_id = make_session_id(prefix, number)
            taken = await conn.scalar(select(exists().where(sessions.c.id == session_id)))
            if not taken:
                return session_id

    async def insert_new(
        self, project_id: str, prefix: str, build: Callable[[str], Session], *, live_limit: int | None = None
    ) -> Session:
        """Allocate the next ``prefix-N`` id and store ``build(id)``, in one transaction (see :meth:`insert`
        for ``live_limit``): a refused insert uses up no id, and no other writer gets in between."""
        validate_id(project_id, "project id")
        validate_id(prefix, "session prefix")
        now = self._now()
        async with self._access.write() as conn:
            await insert_missing_project(conn, project_id, project_id, now)
            if live_limit is not None:
                await self._check_live_limit(conn, project_id, live_limit)
            session_id = await self._next_id(conn, project_id, prefix, now)
            session = build(session_id)
            if session.id != session_id or session.project_id != project_id:
                raise InvalidInput(f"build() must make session {session_id} of project {project_id}")
            await self._insert_row(conn, session)
        return session

    async def insert(self, session: Session, *, live_limit: int | None = None) -> Session:
        """Store a new session (and its first history entry). The project row is created if missing.

        With ``live_limit``, the insert is refused with :class:`LimitReached` when the project already has
        that many live sessions (:data:`LIVE_STATUSES`). Count and insert are one transaction under the
        project row's lock (SQLite: the database write lock), so concurrent spawns, from any number of
        processes, never exceed the limit.
        """
        async with self._access.write() as conn:
            await insert_missing_project(conn, session.project_id, session.project_id, self._now())
            if live_limit is not None:
                await self._check_live_limit(conn, session.project_id, live_limit)
            await self._insert_row(conn, session)
        return session

    @staticmethod
    async def _insert_row(conn: AsyncConnection, session: Session) -> None:
        try:
            await conn.execute(sessions.insert().values(session_to_values(session)))
        except IntegrityError as exc:
            raise Conflict(
                f"session {session.id!r} already exists",
                hint="allocate a fresh id with allocate_id()",
            ) from exc
        await conn.execute(
            session_status_history.insert().values(
                session_id=session.id,
                from_status=None,
                to_status=session.status.value,
                reason="created",
                at=session.created_at,
            )
        )

    async def count_live(self, project_id: str) -> int:
        """How many of the project's sessions count against ``max_sessions``."""
        async with self._access.read() as conn:
            return await self._live_count(conn, project_id)

    @staticmethod
    async def _live_count(conn: AsyncConnection, project_id: str) -> int:
        live = [s.value for s in LIVE_STATUSES]
        query = select(func.count()).where(sessions.c.project_id == project_id, sessions.c.status.in_(live))
        return int(await conn.scalar(query) or 0)

    async def _check_live_limit(self, conn: AsyncConnection, project_id: str, limit: int) -> None:
        await conn.execute(select(projects.c.id).where(projects.c.id == project_id).with_for_update())
        live = await self._live_count(conn, project_id)
        if live >= limit:
            raise LimitReached(
                f"project {project_id!r} already has {live} live session{'s' if live != 1 else ''} "
                f"(max_sessions is {limit})",
                hint="kill or clean up a session first (`ennio session kill ID`), or raise the project's max_sessions",
            )

    async def find(self, session_id: str) -> Session | None:
        async with self._access.read() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).mappings().first()
        return None if row is None else _session(row)

    async def get(self, session_id: str) -> Session:
        session = await self.find(session_id)
        if session is None:
            raise _not_found(session_id)
        return session

    async def list(
        self, project_id: str | None = None, statuses: Iterable[SessionStatus | str] | None = None
    ) -> builtins.list[Session]:
        """Sessions, oldest first, optionally of one project and/or with one of ``statuses``."""
        query = select(sessions).order_by(*_ORDER)
        if project_id is not None:
            query = query.where(sessions.c.project_id == project_id)
        if statuses is not None:
            query = query.where(sessions.c.status.in_([SessionStatus(s).value for s in statuses]))
        async with self._access.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_session(row) for row in rows]

    async def update(self, session_id: str, **fields: Any) -> Session:
        """Change some fields (validated like ``Session``); ``updated_at`` becomes now unless given."""
        _check_updatable(fields)
        fields.setdefault("updated_at", self._now())
        async with self._access.write() as conn:
            current = await self._locked(conn, session_id)
            updated, values = _changed(current, fields)
            await conn.execute(sessions.update().where(sessions.c.id == session_id).values(values))
        return updated

    async def transition(
        self,
        session_id: str,
        to_status: SessionStatus | str,
        reason: str = "",
        *,
        expected_from: SessionStatus | str | None = None,
        **fields: Any,
    ) -> StatusChange:
        """Move the session to ``to_status`` if the transition table allows it; writes status and history
        in one transaction. With ``expected_from``, a session that is no longer in that status (someone
        else moved it) raises :class:`Conflict` and nothing is written. ``fields`` are other columns
        changed in the same transaction (as with :meth:`update`)."""
        _check_updatable(fields)
        target = SessionStatus(to_status)
        expected = SessionStatus(expected_from) if expected_from is not None else None
        now = self._now()
        async with self._access.write() as conn:
            current = await self._locked(conn, session_id)
            if expected is not None and current.status != expected:
                raise Conflict(
                    f"session {session_id} is {current.status}, not {expected}: it changed meanwhile",
                    hint="re-read the session and decide again",
                )
            check_transition(current.status, target)
            _, values = _changed(current, {**fields, "updated_at": now}) if fields else (None, {"updated_at": now})
            await conn.execute(
                sessions.update()
                .where(sessions.c.id == session_id)
                .values({**values, "status": target.value, "status_reason": reason or None})
            )
            await conn.execute(
                session_status_history.insert().values(
                    session_id=session_id,
                    from_status=current.status.value,
                    to_status=target.value,
                    reason=reason,
                    at=now,
                )
            )
        return StatusChange(session_id=session_id, from_status=current.status, to_status=target, reason=reason, at=now)

    async def history(self, session_id: str) -> builtins.list[StatusChange]:
        """Every status the session went through, oldest first."""
        async with self._access.read() as conn:
            rows = (
                (
                    await conn.execute(
                        select(session_status_history)
                        .where(session_status_history.c.session_id == session_id)
                        .order_by(session_status_history.c.id)
                    )
                )
                .mappings()
                .all()
            )
            if not rows and not await conn.scalar(select(exists().where(sessions.c.id == session_id))):
                raise _not_found(session_id)
        return [_change(row) for row in rows]

    async def merged_issues(self, project_id: str, issue_ids: Iterable[str]) -> set[str]:
        """Which of ``issue_ids`` have a session of the project whose PR merged (it reached ``merged``)."""
        keys = sorted(set(issue_ids))
        if not keys:
            return set()
        query = (
            select(sessions.c.issue_id)
            .distinct()
            .join(session_status_history, session_status_history.c.session_id == sessions.c.id)
            .where(
                sessions.c.project_id == project_id,
                sessions.c.issue_id.in_(keys),
                session_status_history.c.to_status == SessionStatus.MERGED.value,
            )
        )
        async with self._access.read() as conn:
            rows = (await conn.execute(query)).all()
        return {str(row[0]) for row in rows}

    async def delete(self, session_id: str) -> None:
        """Remove the session, its history and its reaction state. Its events stay in the log."""
        async with self._access.write() as conn:
            result = await conn.execute(delete(sessions).where(sessions.c.id == session_id))
            if result.rowcount == 0:
                raise _not_found(session_id)
            await conn.execute(
                delete(reaction_state).where(
                    reaction_state.c.scope_kind == "session", reaction_state.c.scope_id == session_id
                )
            )

    async def _locked(self, conn: AsyncConnection, session_id: str) -> Session:
        """The session row, locked against concurrent writers until the transaction ends."""
        row = (
            (await conn.execute(select(sessions).where(sessions.c.id == session_id).with_for_update()))
            .mappings()
            .first()
        )
        if row is None:
            raise _not_found(session_id)
        return _session(row)
