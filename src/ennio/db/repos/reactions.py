"""Reaction state per scope (session or project), so retries and escalations survive restarts."""

from __future__ import annotations

import builtins
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, delete, select

from ennio.db.records import ReactionState, Scope
from ennio.db.repos._base import Repository, upsert_insert
from ennio.db.schema import reaction_state as table

_KEY_COLUMNS = ("scope_kind", "scope_id", "reaction")


def _state(row: RowMapping) -> ReactionState:
    return ReactionState(
        scope=Scope(row["scope_kind"], row["scope_id"]),
        reaction=row["reaction"],
        attempts=row["attempts"],
        first_fired_at=row["first_fired_at"],
        last_fired_at=row["last_fired_at"],
        escalate_at=row["escalate_at"],
        escalated=bool(row["escalated"]),
        last_failure_signature=row["last_failure_signature"],
        data=dict(row["data"] or {}),
        updated_at=row["updated_at"],
    )


def _scope_filter(scope: Scope) -> tuple[Any, Any]:
    return table.c.scope_kind == scope.kind, table.c.scope_id == scope.id


class ReactionRepository(Repository):
    async def get(self, scope: Scope, reaction: str) -> ReactionState | None:
        async with self._access.read() as conn:
            row = (
                (await conn.execute(select(table).where(*_scope_filter(scope), table.c.reaction == reaction)))
                .mappings()
                .first()
            )
        return None if row is None else _state(row)

    async def upsert(self, state: ReactionState) -> ReactionState:
        """Write the whole state (insert or replace); returns it with ``updated_at`` set."""
        state = replace(state, updated_at=self._now())
        values = {
            "scope_kind": state.scope.kind,
            "scope_id": state.scope.id,
            "reaction": state.reaction,
            "attempts": state.attempts,
            "first_fired_at": state.first_fired_at,
            "last_fired_at": state.last_fired_at,
            "escalate_at": state.escalate_at,
            "escalated": state.escalated,
            "last_failure_signature": state.last_failure_signature,
            "data": state.data,
            "updated_at": state.updated_at,
        }
        async with self._access.write() as conn:
            stmt = upsert_insert(conn, table).values(values)
            changed = {k: stmt.excluded[k] for k in values if k not in _KEY_COLUMNS}
            await conn.execute(stmt.on_conflict_do_update(index_elements=list(_KEY_COLUMNS), set_=changed))
        return state

    async def list(self, scope: Scope | None = None) -> builtins.list[ReactionState]:
        """All states of a scope (or every state), ordered by scope and reaction name."""
        query = select(table).order_by(table.c.scope_kind, table.c.scope_id, table.c.reaction)
        if scope is not None:
            query = query.where(*_scope_filter(scope))
        async with self._access.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_state(row) for row in rows]

    async def due_escalations(self, now: datetime) -> builtins.list[ReactionState]:
        """States whose escalation deadline has passed and that were not escalated yet, soonest first."""
        query = (
            select(table)
            .where(table.c.escalate_at <= now, table.c.escalated.is_(False))
            .order_by(table.c.escalate_at, table.c.scope_kind, table.c.scope_id, table.c.reaction)
        )
        async with self._access.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_state(row) for row in rows]

    async def clear(self, scope: Scope, reaction: str | None = None) -> int:
        """Forget a scope's state (one reaction, or all of them). Returns how many rows went."""
        stmt = delete(table).where(*_scope_filter(scope))
        if reaction is not None:
            stmt = stmt.where(table.c.reaction == reaction)
        async with self._access.write() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount)
