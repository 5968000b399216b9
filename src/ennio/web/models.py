"""Request and response bodies of the API (the OpenAPI schema is generated from these)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ennio.core.session import Session
from ennio.web.errors import ErrorBody

MAX_TEXT = 200_000
#: the largest integer the databases store (SQLite INTEGER, PostgreSQL BIGINT): larger ones are refused
#: as bad input instead of overflowing in the driver
MAX_SEQ = 2**63 - 1
MAX_POKED = 1000


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpawnBody(Body):
    project: str = Field(description="Project id.")
    issue: str | None = Field(None, description="Issue reference: 42, #42, owner/repo#42, ENG-123 or a URL.")
    prompt: str | None = Field(None, max_length=MAX_TEXT, description="Task text (with an issue: extra instructions).")
    branch: str | None = Field(None, description="Branch name (default: from the issue, else session/<id>).")
    agent: str | None = Field(None, description="Agent plugin (default: the project's).")
    runtime: str | None = Field(None, description="Runtime plugin (default: the project's).")
    reuse_branch: bool = Field(False, description="Use the branch even if it exists already.")
    when_unblocked: bool = Field(
        False,
        description=(
            "When the issue has unfinished blockers, queue the spawn (202 with the queued spawn) until every "
            "blocker's issue is closed or its session's PR merged, instead of refusing it (409)."
        ),
    )


class BatchSpawnBody(Body):
    project: str
    issues: list[str] = Field(min_length=1, max_length=200, description="One session per issue reference.")
    prompt: str | None = Field(None, max_length=MAX_TEXT, description="Extra instructions for every session.")
    agent: str | None = None
    runtime: str | None = None
    concurrency: int = Field(4, ge=1, le=32, description="Spawns running at once.")
    when_unblocked: bool = Field(False, description="Queue a blocked issue's spawn until its blockers are finished.")


class SendBody(Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="Text typed into the agent and submitted.")


class KillBody(Body):
    workspace: bool = Field(False, description="Also remove the workspace (refused if it holds work).")
    force: bool = Field(False, description="Remove the workspace even if it holds work.")


class CleanupBody(Body):
    project: str | None = Field(None, description="Only this project's sessions.")
    dry_run: bool = Field(False, description="Report what would be cleaned; change nothing.")


class KilledOut(Session):
    """The killed session, and what there really was to stop and remove."""

    stopped_terminal: str | None = Field(None, description="The terminal whose running agent was stopped.")
    removed_workspace: str | None = Field(None, description="The workspace folder removed.")


class SendOut(BaseModel):
    delivered: bool
    attempts: int
    detail: str


class ActivityOut(BaseModel):
    state: str
    detail: str
    last_activity_at: datetime | None = None


class EventOut(BaseModel):
    id: str
    type: str
    priority: str
    project_id: str | None
    session_id: str | None
    timestamp: datetime
    message: str
    data: dict[str, Any]
    #: position in the event log (resume a stream after it)
    seq: int | None = None


class SessionInfoOut(BaseModel):
    session: Session
    alive: bool | None
    activity: ActivityOut | None
    attach: list[str] | str | None
    events: list[EventOut]


class BatchItemOut(BaseModel):
    issue: str
    session: Session | None
    error: ErrorBody | None
    queued: QueuedSpawnOut | None = Field(
        None, description="With when_unblocked: the spawn queued for a blocked issue."
    )


class CleanupItemOut(BaseModel):
    session_id: str
    project_id: str
    reason: str
    workspace_removed: bool


class CleanupOut(BaseModel):
    dry_run: bool
    cleaned: list[CleanupItemOut]
    skipped: list[CleanupItemOut]


class Health(BaseModel):
    status: str
    version: str
    pid: int


class PokeBody(Body):
    sessions: list[str] | None = Field(
        None, max_length=MAX_POKED, description="Sessions to reconcile now (default: all, or the project's)."
    )
    project: str | None = Field(None, description="Reconcile this project's sessions.")


class PokeOut(BaseModel):
    #: the sessions asked for (empty with ``all``)
    sessions: list[str]
    all: bool


class QueuedSpawnOut(BaseModel):
    id: str = Field(description="Queue id (q1, q2 …).")
    project_id: str
    issue_id: str
    issue_ref: str
    blockers: list[str] = Field(description="Blockers still unfinished when last checked.")
    request: dict[str, Any]
    status: str = Field(description="waiting, spawning, spawned, failed or cancelled.")
    reason: str | None
    session_id: str | None
    created_at: datetime
    updated_at: datetime


class WebhookOut(BaseModel):
    outcome: str = Field(description="accepted (sessions reconcile now), ignored or duplicate (a replay).")
    provider: str
    event: str
    delivery: str
    projects: list[str]
    sessions: list[str]
