"""A reaction-engine world for tests: a real database, a served fake GitHub behind the real GitHub
SCM, echo agents in a private tmux server, webhook notifiers at a local HTTP server, a manual clock."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_httpserver import HTTPServer

from ennio.core.clock import ManualClock
from ennio.core.config import EnnioConfig, ProjectConfig
from ennio.core.events import Event, EventType
from ennio.core.plugins import SCM, BranchRef, PluginContext, RuntimeHandle
from ennio.core.session import Session, SessionStatus
from ennio.db import Database
from ennio.plugins._github.settings import RETRY_KEY
from ennio.plugins._github.transport import RetryPolicy
from ennio.services.events.event_log import EventService
from ennio.services.events.notifications import NotificationRouter
from ennio.services.lifecycle.manager import LifecycleManager
from ennio.services.lifecycle.reactions import ReactionEngine, SessionView
from ennio.services.registry import default_registry
from ennio.services.sessions.ops import PluginCleaner, RuntimeMessenger
from ennio.services.sessions.plugins import SessionPlugins
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub
from tests.helpers.runtime import echo_spec, received, wait_ready
from tests.helpers.sessions import make_session

PROJECT = "widgets"
FAST_RETRY = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, max_wait=2)


def world_config(
    repo_path: Path,
    github: FakeGitHub,
    hook_url: str,
    *,
    reactions: dict[str, Any] | None = None,
    project_reactions: dict[str, Any] | None = None,
    notifiers: dict[str, Any] | None = None,
    lifecycle: dict[str, Any] | None = None,
) -> EnnioConfig:
    project: dict[str, Any] = {
        "name": PROJECT,
        "path": str(repo_path),
        "runtime": "tmux",
        "scm": {"provider": "github", "repo": REPO, "token": TOKEN, "base_url": github.base},
        "reactions": project_reactions or {},
    }
    return EnnioConfig.model_validate(
        {
            "projects": [project],
            "notifiers": notifiers
            if notifiers is not None
            else {"ops": {"type": "webhook", "url": hook_url, "retries": 1, "backoff": 0.01}},
            "reactions": reactions or {},
            "lifecycle": lifecycle or {},
        }
    )


@dataclass
class ReactionWorld:
    config: EnnioConfig
    db: Database
    clock: ManualClock
    plugins: SessionPlugins
    events: EventService
    router: NotificationRouter
    github: FakeGitHub
    hooks: HTTPServer
    out: Path
    engine: ReactionEngine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = self.new_engine(self.db)

    @property
    def project(self) -> ProjectConfig:
        return self.config.projects[0]

    @property
    def scm(self) -> SCM:
        scm = self.plugins.scm(self.project)
        assert scm is not None
        return scm

    def lifecycle(self, db: Database | None = None) -> LifecycleManager:
        """A LifecycleManager over this world (its own engine when ``db`` is another connection)."""
        db = db or self.db
        return LifecycleManager(
            self.config,
            db,
            events=self.events,
            plugins=self.plugins,
            clock=self.clock,
            reactions=self.engine if db is self.db else self.new_engine(db),
            cleaner=PluginCleaner(self.config, self.plugins),
        )

    def new_engine(self, db: Database) -> ReactionEngine:
        return ReactionEngine(
            self.config,
            db,
            events=self.events,
            messenger=RuntimeMessenger(self.plugins),
            clock=self.clock,
            scm_for=self.plugins.scm,
            router=self.router,
        )

    async def add_session(
        self,
        number: int,
        status: SessionStatus,
        *,
        branch: str | None = None,
        pr_number: int | None = None,
        modes: tuple[str, ...] = (),
        **fields: Any,
    ) -> Session:
        """A session whose agent is an echo agent in tmux (what it receives is recorded)."""
        session_id = f"{PROJECT}-{number}"
        runtime = self.plugins.runtime("tmux")
        handle = await runtime.start(echo_spec(session_id, self.out / session_id, *modes))
        await wait_ready(runtime, handle)
        fields.setdefault("agent", "script")
        fields.setdefault("runtime", "tmux")
        fields.setdefault("workspace_path", str(self.out / session_id))
        session = make_session(
            session_id,
            PROJECT,
            status=status,
            branch=branch or f"feat/{number}-work",
            pr_number=pr_number,
            runtime_handle=handle.to_dict(),
            created_at=self.clock.now(),
            updated_at=self.clock.now(),
            **fields,
        )
        return await self.db.sessions.insert(session)

    async def stop_agent(self, session: Session) -> None:
        assert session.runtime_handle is not None
        await self.plugins.runtime("tmux").destroy(RuntimeHandle.from_dict(session.runtime_handle))

    def received(self, session_id: str) -> list[str]:
        return received(self.out / session_id)

    async def view(self, session_id: str, *, alive: bool = True) -> SessionView:
        session = await self.db.sessions.get(session_id)
        assert session.branch is not None
        snapshots = await self.scm.snapshots([BranchRef(session.id, session.branch, session.pr_number)])
        return SessionView(session=session, project=self.project, snapshot=snapshots.get(session.branch), alive=alive)

    async def react(self, session_id: str, engine: ReactionEngine | None = None, **view: Any) -> Session:
        engine = engine or self.engine
        book = await engine.load()
        result = await engine.react(await self.view(session_id, **view), book)
        await self.router.drain()
        return result

    async def logged(self, *types: EventType) -> list[Event]:
        await self.events.flush()
        events = [stored.event for stored in await self.db.events.query(limit=10_000)]
        return [e for e in events if not types or e.type in types]

    def notifications(self) -> list[dict[str, Any]]:
        """Documents the webhook notifier delivered, in order."""
        return [json.loads(request.get_data()) for request, _ in self.hooks.log if request.path == "/hook"]


def make_world(
    *,
    db: Database,
    clock: ManualClock,
    github: FakeGitHub,
    hooks: HTTPServer,
    repo_path: Path,
    out: Path,
    data_dir: Path,
    events: EventService,
    **config: Any,
) -> ReactionWorld:
    hooks.expect_request("/hook", method="POST").respond_with_data("", status=204)
    cfg = world_config(repo_path, github, hooks.url_for("/hook"), **config)
    ctx = PluginContext(data_dir=data_dir, clock=clock, extra={RETRY_KEY: FAST_RETRY})
    plugins = SessionPlugins(default_registry(), ctx)
    router = NotificationRouter.from_config(cfg, ctx)
    return ReactionWorld(cfg, db, clock, plugins, events, router, github, hooks, out)
