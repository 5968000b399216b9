"""``/api/v1`` session routes: list, get (info), spawn, batch spawn, send, kill, restore, cleanup; the spawn
queue (list, cancel); poke (reconcile now)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import JSONResponse

from ennio.core.session import Session, SessionStatus
from ennio.services.lifecycle.reconcile_hub import request_reconcile
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
    KilledOut,
    PokeBody,
    PokeOut,
    QueuedSpawnOut,
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


@router.post(
    "/sessions",
    response_model=Session,
    status_code=status.HTTP_201_CREATED,
    summary="Spawn a session (or, with when_unblocked, queue it while its issue is blocked)",
    responses={202: {"model": QueuedSpawnOut, "description": "Queued until the issue's blockers are finished"}},
)
async def spawn(request: Request, body: SpawnBody) -> Session | JSONResponse:
    manager = services(request).sessions
    spawner = manager.spawn_or_queue if body.when_unblocked else manager.spawn
    made = await spawner(
        body.project,
        issue=body.issue,
        prompt=body.prompt,
        branch=body.branch,
        agent=body.agent,
        runtime=body.runtime,
        reuse_branch=body.reuse_branch,
    )
    if isinstance(made, Session):
        return made
    queued = QueuedSpawnOut.model_validate(made.to_dict())
    return JSONResponse(queued.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED)


@router.get("/queue", response_model=list[QueuedSpawnOut], summary="Queued spawns (oldest first)")
async def list_queue(
    request: Request,
    project: Annotated[str | None, Query(description="Only this project's.")] = None,
    all_: Annotated[bool, Query(alias="all", description="Include spawned, failed and cancelled ones.")] = False,
) -> list[QueuedSpawnOut]:
    found = await services(request).sessions.queued(project, open_only=not all_)
    return [QueuedSpawnOut.model_validate(q.to_dict()) for q in found]


@router.post("/queue/{queue_id}/cancel", response_model=QueuedSpawnOut, summary="Cancel a waiting queued spawn")
async def cancel_queued(request: Request, queue_id: str) -> QueuedSpawnOut:
    cancelled = await services(request).sessions.cancel_queued(queue_id)
    return QueuedSpawnOut.model_validate(cancelled.to_dict())


@router.post(
    "/poke",
    response_model=PokeOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Reconcile sessions now (all, a project's, or the ones named); the pass runs in the background",
)
async def poke(request: Request, body: PokeBody | None = None) -> PokeOut:
    options = body or PokeBody()
    stack = services(request)
    chosen = await request_reconcile(
        stack.hub, stack.db, stack.config, session_ids=options.sessions, project_id=options.project
    )
    return PokeOut(sessions=chosen or [], all=chosen is None)


@router.post("/sessions/batch", response_model=list[BatchItemOut], summary="Spawn one session per issue")
async def batch_spawn(request: Request, body: BatchSpawnBody) -> list[BatchItemOut]:
    items = await services(request).sessions.batch_spawn(
        body.project,
        body.issues,
        prompt=body.prompt,
        agent=body.agent,
        runtime=body.runtime,
        concurrency=body.concurrency,
        when_unblocked=body.when_unblocked,
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


@router.post("/sessions/{session_id}/kill", response_model=KilledOut, summary="Stop the agent (and the workspace)")
async def kill(request: Request, session_id: str, body: KillBody | None = None) -> KilledOut:
    options = body or KillBody()
    killed = await services(request).sessions.kill(session_id, workspace=options.workspace, force=options.force)
    return KilledOut(
        **killed.session.model_dump(),
        stopped_terminal=killed.stopped_terminal,
        removed_workspace=killed.removed_workspace,
    )


@router.post("/sessions/{session_id}/restore", response_model=Session, summary="Restart an exited agent")
async def restore(request: Request, session_id: str) -> Session:
    return await services(request).sessions.restore(session_id)


@router.post("/cleanup", response_model=CleanupOut, summary="Clean up sessions whose PR merged or issue closed")
async def cleanup(request: Request, body: CleanupBody | None = None) -> CleanupOut:
    options = body or CleanupBody()
    report = await services(request).sessions.cleanup(options.project, dry_run=options.dry_run)
    return CleanupOut.model_validate(report.to_dict())
