"""Projects: one row per configured project, holding the counter session ids are allocated from."""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ennio.core.errors import NotFound
from ennio.core.ids import validate_id
from ennio.db.records import ProjectRecord
from ennio.db.repos._base import Repository, upsert_insert
from ennio.db.schema import projects


def _record(row: RowMapping) -> ProjectRecord:
    return ProjectRecord(
        id=row["id"],
        name=row["name"],
        next_session_number=row["next_session_number"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def insert_missing_project(conn: AsyncConnection, project_id: str, name: str, now: Any) -> None:
    stmt = upsert_insert(conn, projects).values(id=project_id, name=name, created_at=now, updated_at=now)
    await conn.execute(stmt.on_conflict_do_nothing(index_elements=["id"]))


class ProjectRepository(Repository):
    async def ensure(self, project_id: str, name: str | None = None) -> ProjectRecord:
        """Create the project row if missing; update its name if it changed. Returns the row."""
        validate_id(project_id, "project id")
        name = name or project_id
        now = self._now()
        async with self._access.write() as conn:
            await insert_missing_project(conn, project_id, name, now)
            row = (await conn.execute(select(projects).where(projects.c.id == project_id))).mappings().one()
            if row["name"] != name:
                await conn.execute(
                    projects.update().where(projects.c.id == project_id).values(name=name, updated_at=now)
                )
                row = (await conn.execute(select(projects).where(projects.c.id == project_id))).mappings().one()
            return _record(row)

    async def find(self, project_id: str) -> ProjectRecord | None:
        async with self._access.read() as conn:
            row = (await conn.execute(select(projects).where(projects.c.id == project_id))).mappings().first()
        return None if row is None else _record(row)

    async def get(self, project_id: str) -> ProjectRecord:
        record = await self.find(project_id)
        if record is None:
            raise NotFound(
                f"project {project_id!r} is not in the database",
                hint="check the project id in ennio.yaml; a project is recorded when its first session starts",
            )
        return record

    async def list(self) -> builtins.list[ProjectRecord]:
        async with self._access.read() as conn:
            rows = (await conn.execute(select(projects).order_by(projects.c.id))).mappings().all()
        return [_record(row) for row in rows]
