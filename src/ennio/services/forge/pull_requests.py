"""Pull requests for the front ends: a project's SCM (through the registry), and the PR a person means.

``ennio pr`` and ``ennio review`` name a PR by session (its branch's PR) or by number; the
session's project and branch come from the database. Reviews and listing need an SCM that keeps
its own PRs (:class:`~ennio.core.plugins.ReviewableSCM`, the ``local`` one).
"""

from __future__ import annotations

import getpass
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ennio.core.clock import SystemClock
from ennio.core.config import EnnioConfig, ProjectConfig
from ennio.core.errors import ConfigError, Conflict, InvalidInput, NotFound, PluginError
from ennio.core.ids import validate_id
from ennio.core.plugins import SCM, PluginContext, PRSnapshot, PRState, PullRequest, ReviewableSCM, Slot
from ennio.db import Database, open_database
from ennio.services.config.paths import data_dir
from ennio.services.forge.trackers import pick_project
from ennio.services.registry import PluginRegistry, default_registry

_NUMBER_RE = re.compile(r"#?(\d+)")


@asynccontextmanager
async def database(config: EnnioConfig) -> AsyncIterator[Database]:
    url = config.database_url.get_secret_value() if config.database_url is not None else None
    db = await open_database(url, data_dir(config))
    try:
        yield db
    finally:
        await db.close()


def open_scm(config: EnnioConfig, project: ProjectConfig, db: Database, registry: PluginRegistry | None = None) -> SCM:
    """The project's SCM plugin, as ``cls(project, ctx)`` with the database as its store."""
    if project.scm is None:
        raise ConfigError(
            f"project {project.pid!r} has no scm",
            hint="add `scm: {provider: local}` (PRs kept by Ennio) or `scm: {provider: github}` to the project",
        )
    plugin = (registry or default_registry()).get(Slot.SCM, project.scm.provider)
    ctx = PluginContext(data_dir=data_dir(config), clock=SystemClock(), store=db.store)
    scm: SCM = plugin(project, ctx)
    return scm


def reviewable(scm: SCM, project: ProjectConfig) -> ReviewableSCM:
    if not isinstance(scm, ReviewableSCM):
        raise PluginError(
            f"project {project.pid!r} uses the {scm.manifest.name} SCM, whose pull requests live on the forge",
            hint="use the forge's own tools there; `ennio pr` and `ennio review` work with `scm: {provider: local}`",
        )
    return scm


def parse_number(text: str) -> int | None:
    """``"12"`` or ``"#12"`` → 12; anything else is not a PR number."""
    match = _NUMBER_RE.fullmatch(text.strip())
    return int(match.group(1)) if match and int(match.group(1)) > 0 else None


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "reviewer"


@dataclass(slots=True)
class PRTarget:
    project: ProjectConfig
    scm: ReviewableSCM
    pr: PullRequest
    session_id: str | None


@dataclass(slots=True)
class PRRow:
    pr: PullRequest
    status: PRSnapshot
    session_id: str | None


async def resolve(
    config: EnnioConfig,
    db: Database,
    target: str,
    project_id: str | None = None,
    registry: PluginRegistry | None = None,
) -> PRTarget:
    """The PR ``target`` names: a session id (the PR of its branch) or a PR number (in ``project_id``)."""
    number = parse_number(target)
    if number is not None:
        project = pick_project(config, project_id)
        scm = reviewable(open_scm(config, project, db, registry), project)
        pr = await scm.get_pr(number)
        sessions = {s.branch: s.id for s in await db.sessions.list(project.pid) if s.branch}
        return PRTarget(project, scm, pr, sessions.get(pr.branch))
    session_id = validate_id(target.strip(), "session id")
    session = await db.sessions.get(session_id)
    if project_id is not None and session.project_id != project_id:
        raise InvalidInput(f"session {session_id!r} belongs to project {session.project_id!r}, not {project_id!r}")
    project = config.project(session.project_id)
    scm = reviewable(open_scm(config, project, db, registry), project)
    if not session.branch:
        raise Conflict(f"session {session_id!r} has no branch yet", hint="wait until its workspace is created")
    found = await scm.find_pr(session.branch)
    if found is None:
        raise NotFound(
            f"session {session_id!r} has no pull request yet (branch {session.branch})",
            hint="Ennio opens one when the agent's work is ready; `ennio pr list` shows the open ones",
        )
    return PRTarget(project, scm, found, session_id)


async def list_prs(
    config: EnnioConfig,
    db: Database,
    project_id: str | None,
    *,
    state: PRState | None = PRState.OPEN,
    registry: PluginRegistry | None = None,
) -> tuple[ProjectConfig, list[PRRow]]:
    """A project's PRs (``state`` ``None``: all), newest first, with CI, review and the session of each."""
    project = pick_project(config, project_id)
    scm = reviewable(open_scm(config, project, db, registry), project)
    prs = await scm.list_prs(state)
    statuses = await scm.pr_statuses(prs, mergeability=False) if prs else {}
    sessions = {s.branch: s.id for s in await db.sessions.list(project.pid) if s.branch}
    return project, [PRRow(p, statuses[p.number], sessions.get(p.branch)) for p in prs]
