"""Durable JSON documents for plugins: the database side of ``ennio.core.plugins.PluginStore``."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import delete, func, select

from ennio.core.errors import InvalidInput
from ennio.db.repos._base import Repository, upsert_insert
from ennio.db.schema import plugin_store as table

_NAMESPACE_MAX = 100
_KEY_MAX = 255


def _check(namespace: str, key: str | None = None) -> None:
    if not namespace or len(namespace) > _NAMESPACE_MAX:
        raise InvalidInput(f"plugin store namespace must be 1..{_NAMESPACE_MAX} characters, got {len(namespace)}")
    if key is not None and (not key or len(key) > _KEY_MAX):
        raise InvalidInput(f"plugin store key must be 1..{_KEY_MAX} characters, got {len(key)}")


class PluginStoreRepository(Repository):
    """Implements :class:`ennio.core.plugins.PluginStore`."""

    async def get(self, namespace: str, key: str) -> dict[str, Any] | None:
        _check(namespace, key)
        async with self._access.read() as conn:
            value = await conn.scalar(select(table.c.value).where(table.c.namespace == namespace, table.c.key == key))
        return None if value is None else dict(value)

    async def put(self, namespace: str, key: str, value: dict[str, Any]) -> None:
        _check(namespace, key)
        if not isinstance(value, dict):
            raise InvalidInput(f"plugin store values are JSON objects, got {type(value).__name__}")
        async with self._access.write() as conn:
            stmt = upsert_insert(conn, table).values(namespace=namespace, key=key, value=value, updated_at=self._now())
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["namespace", "key"],
                    set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
                )
            )

    async def add(self, namespace: str, key: str, value: dict[str, Any]) -> bool:
        """Insert unless ``key`` exists (``INSERT … ON CONFLICT DO NOTHING``); ``True`` if inserted."""
        _check(namespace, key)
        if not isinstance(value, dict):
            raise InvalidInput(f"plugin store values are JSON objects, got {type(value).__name__}")
        async with self._access.write() as conn:
            stmt = upsert_insert(conn, table).values(namespace=namespace, key=key, value=value, updated_at=self._now())
            result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=["namespace", "key"]))
        return bool(result.rowcount == 1)

    async def delete(self, namespace: str, key: str) -> None:
        _check(namespace, key)
        async with self._access.write() as conn:
            await conn.execute(delete(table).where(table.c.namespace == namespace, table.c.key == key))

    async def list(self, namespace: str, prefix: str = "") -> builtins.dict[str, builtins.dict[str, Any]]:
        """Documents of ``namespace`` whose key starts with ``prefix`` (case-sensitive), by key."""
        _check(namespace)
        query = select(table.c.key, table.c.value).where(table.c.namespace == namespace).order_by(table.c.key)
        if prefix:
            query = query.where(func.substr(table.c.key, 1, len(prefix)) == prefix)
        async with self._access.read() as conn:
            rows = (await conn.execute(query)).all()
        return {key: dict(value) for key, value in rows}
