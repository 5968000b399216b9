"""Ids of recent webhook deliveries, so a replayed delivery is refused even after a daemon restart."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete

from ennio.db.repos._base import Repository, upsert_insert
from ennio.db.schema import webhook_deliveries as table


class DeliveryRepository(Repository):
    async def record(self, provider: str, delivery_id: str) -> bool:
        """Remember a delivery; ``False`` when it was seen before (a replay)."""
        async with self._access.write() as conn:
            stmt = upsert_insert(conn, table).values(
                provider=provider, delivery_id=delivery_id, received_at=self._now()
            )
            result = await conn.execute(stmt.on_conflict_do_nothing(index_elements=["provider", "delivery_id"]))
        return int(result.rowcount) == 1

    async def forget_before(self, moment: datetime) -> int:
        """Drop ids received before ``moment``; returns how many went."""
        async with self._access.write() as conn:
            result = await conn.execute(delete(table).where(table.c.received_at < moment))
        return int(result.rowcount)
