"""``/api/v1`` session routes: list, get (info), spawn, batch spawn, send, kill, restore, cleanup."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from ennio.core.session import Session, SessionStatus
from ennio.services.stack import Services
from ennio.web.errors import ERROR_RESPONSES
from ennio.web.models import (
    ActivityOut,
    BatchItemOut,
    BatchSpawnBody,
    CleanupBody,
    CleanupOut,
    EventOut,
    KillBody,
    SendBody,
    SendOut,
    SessionInfoOut,
    SpawnBody,
)

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["sessions"])


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


@router.get("/sessions", response_model=list[Session], summary="List sessions (oldest first)")
async def list_sessions(
    request: Request,
    project: Annotated[str | None, Query(description="Only this project's sessions.")] = None,
    status_: Annotated[list[SessionStatus] | None, Query(alias="status", description="Only these statuses.")] = None,
) -> list[Session]:
    return await services(request).sessions.list(project, status_)


@router.post("/sessions", response_model=Session, status_code=status.HTTP_201_CREATED, summary="Spawn a session")
async def spawn(request: Request, body: SpawnBody) -> Session:
    return await services(request).sessions.spawn(
        body.project,
        issue=body.issue,
        prompt=body.prompt,
        branch=body.branch,
        agent=body.agent,
        runtime=body.runtime,
        reuse_branch=body.reuse_branch,
    )


@router.post("/sessions/batch", response_model=list[BatchItemOut], summary="Spawn one session per issue")
async def batch_spawn(request: Request, body: BatchSpawnBody) -> list[BatchItemOut]:
    items = await services(request).sessions.batch_spawn(
        body.project,
        body.issues,
        prompt=body.prompt,
        agent=body.agent,
        runtime=body.runtime,
        concurrency=body.concurrency,
    )
    return [BatchItemOut.model_validate(item.to_dict()) for item in items]


@router.get("/sessions/{session_id}", response_model=SessionInfoOut, summary="A session with live activity")
async def get_session(
    request: Request, session_id: str, events: Annotated[int, Query(ge=0, le=200)] = 10
) -> SessionInfoOut:
    info = await services(request).sessions.info(session_id, events=events)
    activity = None
    if info.activity is not None:
        activity = ActivityOut(
            state=str(info.activity.state),
            detail=info.activity.detail,
            last_activity_at=info.activity.last_activity_at,
        )
    return SessionInfoOut(
        session=info.session,
        alive=info.alive,
        activity=activity,
        attach=info.attach,
        events=[EventOut.model_validate(e.to_dict()) for e in info.events],
    )


@router.post("/sessions/{session_id}/send", response_model=SendOut, summary="Type text into the agent")
async def send(request: Request, session_id: str, body: SendBody) -> SendOut:
    result = await services(request).sessions.send(session_id, body.text)
    return SendOut(delivered=result.delivered, attempts=result.attempts, detail=result.detail)


@router.post("/sessions/{session_id}/kill", response_model=Session, summary="Stop the agent (and the workspace)")
async def kill(request: Request, session_id: str, body: KillBody | None = None) -> Session:
    options = body or KillBody()
    return await services(request).sessions.kill(session_id, workspace=options.workspace, force=options.force)


@router.post("/sessions/{session_id}/restore", response_model=Session, summary="Restart an exited agent")
async def restore(request: Request, session_id: str) -> Session:
    return await services(request).sessions.restore(session_id)


@router.post("/cleanup", response_model=CleanupOut, summary="Clean up sessions whose PR merged or issue closed")
async def cleanup(request: Request, body: CleanupBody | None = None) -> CleanupOut:
    options = body or CleanupBody()
    report = await services(request).sessions.cleanup(options.project, dry_run=options.dry_run)
    return CleanupOut.model_validate(report.to_dict())
