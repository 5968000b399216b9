"""Plugin Protocols for the seven slots, and the values that cross them.

A plugin is a class with a ``manifest`` (name, slot, version, description). Constructors by
slot: agent/runtime/workspace/terminal ``cls(ctx)``; tracker/scm ``cls(project, ctx)``;
notifier ``cls(name, settings, ctx)`` — ``ctx`` being a :class:`PluginContext`. Built-ins and third-party plugins are found through entry points
(``ennio.agent``, ``ennio.runtime``, ...). Services talk to plugins only through these Protocols.

Size: over 400 lines because every slot's Protocol and the values that cross them are kept in one
place (the contract in one file, as STYLE.md asks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from ennio.core.clock import Clock
from ennio.core.config import AgentConfig, ProjectConfig
from ennio.core.events import Event, Priority
from ennio.core.session import ActivityState


class Slot(StrEnum):
    AGENT = "agent"
    RUNTIME = "runtime"
    WORKSPACE = "workspace"
    TRACKER = "tracker"
    SCM = "scm"
    NOTIFIER = "notifier"
    TERMINAL = "terminal"

    @property
    def entry_point_group(self) -> str:
        return f"ennio.{self.value}"


@dataclass(frozen=True, slots=True)
class PluginManifest:
    name: str
    slot: Slot
    version: str
    description: str


# --------------------------------------------------------------------------- shared context


class PluginStore(Protocol):
    """Small durable JSON documents a plugin keeps between runs (namespaced by plugin).

    Implemented by ``ennio.db``; plugins never import the database directly.
    """

    async def get(self, namespace: str, key: str) -> dict[str, Any] | None: ...

    async def put(self, namespace: str, key: str, value: dict[str, Any]) -> None: ...

    async def add(self, namespace: str, key: str, value: dict[str, Any]) -> bool:
        """Store ``value`` only if ``key`` is absent, atomically; ``True`` if this call stored it.

        The one compare-and-set a plugin needs to claim something (a number, a job) across processes.
        """
        ...

    async def delete(self, namespace: str, key: str) -> None: ...

    async def list(self, namespace: str, prefix: str = "") -> dict[str, dict[str, Any]]:
        """All documents of a namespace whose key starts with ``prefix``, in one query."""
        ...


@dataclass(slots=True)
class PluginContext:
    """What every plugin may use: where data lives, the clock, durable storage."""

    data_dir: Path
    clock: Clock
    store: PluginStore | None = None
    #: distinguishes Ennio installs on one machine (part of tmux names)
    instance: str = "main"
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Preflight(Protocol):
    """Optional for a plugin of any slot: say, before anything is made, whether it can work here.

    The SessionManager calls ``preflight`` before it creates a session, so a missing program (tmux,
    git) or an unusable repository is reported before any workspace, terminal or row exists.
    """

    async def preflight(self, project: ProjectConfig) -> None:
        """Raise ``MissingTool`` (with how to install it) or another ``EnnioError`` if it cannot work."""
        ...


# --------------------------------------------------------------------------- agent


@dataclass(slots=True)
class AgentContext:
    """Everything an agent plugin needs to build a launch for one session."""

    session_id: str
    project: ProjectConfig
    workspace_path: Path
    prompt: str
    config: AgentConfig
    rules: str | None = None
    #: the agent's own conversation/session id, when an earlier launch recorded one
    resume_id: str | None = None


#: How the prompt reaches the agent once its command runs:
#: ``argument`` — it is already in argv/env, nothing more to do;
#: ``file`` — it is in a file from ``AgentLaunch.files`` that argv/env point to, nothing more to do;
#: ``typed`` — type ``typed_prompt`` (and submit) once the agent's activity first reads ready;
#: ``stdin`` — type ``typed_prompt`` (and submit) into the program's input right after it starts.
PromptDelivery = Literal["argument", "typed", "file", "stdin"]


@dataclass(slots=True)
class AgentLaunch:
    """How to start an agent: argv, environment, and how the prompt reaches it."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    prompt_delivery: PromptDelivery = "argument"
    #: text to type into the agent once it is ready (when ``prompt_delivery == "typed"``)
    typed_prompt: str | None = None
    #: files to write into the workspace before launch: relative path -> content
    files: dict[str, str] = field(default_factory=dict)
    #: the agent's own conversation id, when the launch chose it (persist it for ``restore``)
    resume_id: str | None = None


@dataclass(slots=True)
class ActivityProbe:
    """What an agent's activity detector may look at."""

    workspace_path: Path
    screen: str
    alive: bool
    started_at: datetime
    now: datetime
    home: Path
    resume_id: str | None = None


@dataclass(slots=True)
class ActivityReading:
    state: ActivityState
    #: when the agent last did something, if the source knows
    last_activity_at: datetime | None = None
    #: where the reading came from ("transcript", "screen", …) and why
    detail: str = ""
    #: the agent's own conversation id, when found (used by restore)
    resume_id: str | None = None


@dataclass(slots=True)
class Usage:
    """Tokens and cost an agent reported for a session."""

    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None


@runtime_checkable
class Agent(Protocol):
    manifest: ClassVar[PluginManifest]
    #: the program the agent runs (for `ennio doctor` and "not installed" errors)
    executable: ClassVar[str]
    #: how to install that program
    install_hint: ClassVar[str]

    def launch(self, ctx: AgentContext) -> AgentLaunch:
        """The command line for a fresh interactive session that receives ``ctx.prompt``."""
        ...

    def restore(self, ctx: AgentContext) -> AgentLaunch:
        """The command line that resumes the agent's own conversation (or starts over)."""
        ...

    def detect_activity(self, probe: ActivityProbe) -> ActivityReading:
        """Active / ready / idle / waiting_input / blocked / exited, from session files or the screen."""
        ...

    def usage(self, probe: ActivityProbe) -> Usage | None:
        """Token usage and cost so far, where the agent records them."""
        ...


# --------------------------------------------------------------------------- runtime


@dataclass(slots=True)
class LaunchSpec:
    """What a runtime starts: a name (unique per session), argv, environment and folder."""

    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None


@dataclass(slots=True)
class RuntimeHandle:
    """Opaque to services; persisted in the session row as a dict."""

    runtime: str
    id: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "id": self.id, "data": dict(self.data)}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RuntimeHandle:
        return cls(runtime=str(raw["runtime"]), id=str(raw["id"]), data=dict(raw.get("data") or {}))


@dataclass(slots=True)
class SendResult:
    delivered: bool
    #: how many times Enter was pressed before the agent took the text
    attempts: int = 1
    detail: str = ""


@runtime_checkable
class Runtime(Protocol):
    manifest: ClassVar[PluginManifest]

    async def start(self, spec: LaunchSpec) -> RuntimeHandle: ...

    async def send(self, handle: RuntimeHandle, text: str, *, submit: bool = True) -> SendResult:
        """Deliver ``text`` exactly, then check the agent took it (press Enter again if not)."""
        ...

    async def output(self, handle: RuntimeHandle, lines: int = 200) -> str:
        """The last ``lines`` lines of what the agent shows."""
        ...

    async def alive(self, handle: RuntimeHandle) -> bool: ...

    async def destroy(self, handle: RuntimeHandle) -> None:
        """Stop the agent; no error if it is already gone."""
        ...

    async def list_alive(self, prefix: str) -> list[str]:
        """Ids of live handles whose id starts with ``prefix`` (for re-adoption after a restart)."""
        ...

    def attach_command(self, handle: RuntimeHandle) -> list[str]:
        """argv a person runs to attach to the agent's terminal."""
        ...


@runtime_checkable
class ScreenReader(Protocol):
    """Optional for a runtime: many agents' liveness and screens in a few calls, for the lifecycle,
    which reads every session's screen on every pass. Runtimes without it are asked one by one."""

    async def screens(self, handles: Sequence[RuntimeHandle], lines: int = 200) -> dict[str, str | None]:
        """Handle id -> the last ``lines`` lines of the agent's screen, or ``None`` when it is gone."""
        ...


@runtime_checkable
class EarlyStart(Protocol):
    """Optional for a runtime: open the terminal before the workspace exists, so the two are made at
    the same time. The terminal's program waits; ``start`` with a spec of the same name hands it the
    agent's command line. ``destroy`` removes a reserved terminal that was never started."""

    async def reserve(self, name: str) -> RuntimeHandle: ...


# --------------------------------------------------------------------------- workspace


@dataclass(slots=True)
class WorkspaceSpec:
    project: ProjectConfig
    session_id: str
    branch: str
    #: folder under which the workspace is created (never inside the repo)
    root: Path
    reuse_branch: bool = False

    @property
    def path(self) -> Path:
        """Where the workspace is made: ``root/<session id>``. Known before anything is made, so a spawn
        cut short leaves a record of what to clean up."""
        return Path(os.path.abspath(self.root)) / self.session_id


@dataclass(slots=True)
class WorkspaceInfo:
    path: Path
    branch: str
    base_branch: str
    kind: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "branch": self.branch,
            "base_branch": self.base_branch,
            "kind": self.kind,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> WorkspaceInfo:
        return cls(
            path=Path(raw["path"]),
            branch=str(raw["branch"]),
            base_branch=str(raw["base_branch"]),
            kind=str(raw["kind"]),
            data=dict(raw.get("data") or {}),
        )


@runtime_checkable
class Workspace(Protocol):
    manifest: ClassVar[PluginManifest]

    async def create(self, spec: WorkspaceSpec) -> WorkspaceInfo:
        """Make the workspace on its branch, run post_create, symlinks and copies; undo all on failure."""
        ...

    async def unsafe_reasons(
        self, info: WorkspaceInfo, project: ProjectConfig, *, merged_head: str | None = None
    ) -> list[str]:
        """Why destroying would lose work (uncommitted changes, unpushed commits); empty if safe.

        ``merged_head``: the head commit of the session's merged pull request. Commits it contains are
        saved even when nothing else holds them (a squash merge whose remote branch was deleted).
        """
        ...

    async def destroy(
        self,
        info: WorkspaceInfo,
        project: ProjectConfig,
        *,
        force: bool = False,
        agent_alive: bool = False,
        merged_head: str | None = None,
    ) -> None:
        """Remove the workspace; raise ``UnsafeToDestroy`` naming the reasons unless ``force``."""
        ...

    async def exists(self, info: WorkspaceInfo) -> bool: ...


# --------------------------------------------------------------------------- tracker


class IssueState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(slots=True)
class Issue:
    #: the tracker's own key: "42" (GitHub, local) or "ENG-123" (Linear)
    key: str
    title: str
    body: str = ""
    labels: list[str] = field(default_factory=list)
    url: str | None = None
    state: IssueState = IssueState.OPEN
    assignees: list[str] = field(default_factory=list)
    #: keys of issues that must be finished first
    blocked_by: list[str] = field(default_factory=list)
    #: branch name the tracker suggests (Linear does), if any
    branch_name: str | None = None
    updated_at: datetime | None = None


@dataclass(slots=True)
class IssueQuery:
    state: IssueState | Literal["all"] = IssueState.OPEN
    labels: list[str] = field(default_factory=list)
    assignee: str | None = None
    milestone: str | None = None
    team: str | None = None
    limit: int = 100


@runtime_checkable
class Tracker(Protocol):
    manifest: ClassVar[PluginManifest]

    async def get_issue(self, key: str) -> Issue: ...

    async def list_issues(self, query: IssueQuery) -> list[Issue]: ...

    async def issue_states(self, keys: Sequence[str]) -> dict[str, IssueState]:
        """States of many issues in as few requests as possible."""
        ...

    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue: ...

    async def comment(self, key: str, body: str) -> None: ...

    async def close_issue(self, key: str) -> None: ...

    def branch_name(self, issue: Issue) -> str:
        """``feat/42-add-login`` style branch for an issue."""
        ...

    def prompt_context(self, issue: Issue) -> str:
        """The issue as text for the agent's prompt (title, body, labels, URL)."""
        ...


# --------------------------------------------------------------------------- SCM


class PRState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    MERGED = "merged"


class CIState(StrEnum):
    NONE = "none"
    PENDING = "pending"
    PASSING = "passing"
    FAILING = "failing"


class ReviewDecision(StrEnum):
    NONE = "none"
    REVIEW_REQUIRED = "review_required"
    APPROVED = "approved"
    CHANGES_REQUESTED = "changes_requested"


@dataclass(slots=True)
class PullRequest:
    number: int
    url: str
    title: str
    branch: str
    base: str
    state: PRState = PRState.OPEN
    draft: bool = False
    head_sha: str | None = None
    body: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None
    #: the commit that landed the PR on its base, once merged (when the SCM knows it)
    merge_commit: str | None = None


@dataclass(slots=True)
class CheckRun:
    name: str
    #: pending / passing / failing, in the same vocabulary as CIState
    state: CIState
    url: str | None = None
    required: bool = True
    #: last lines of the log, filled for failing checks on request
    log_tail: str | None = None


@dataclass(slots=True)
class ReviewComment:
    id: str
    author: str
    body: str
    path: str | None = None
    line: int | None = None
    url: str | None = None
    is_bot: bool = False
    created_at: datetime | None = None


@dataclass(slots=True)
class PRSnapshot:
    """Everything the lifecycle needs about one branch's PR, from one batched call."""

    branch: str
    pr: PullRequest | None = None
    ci: CIState = CIState.NONE
    checks: list[CheckRun] = field(default_factory=list)
    review: ReviewDecision = ReviewDecision.NONE
    #: unresolved, not outdated comments from people, and from bots, separately
    comments: list[ReviewComment] = field(default_factory=list)
    bot_comments: list[ReviewComment] = field(default_factory=list)
    mergeable: bool | None = None
    conflicts: list[str] = field(default_factory=list)

    @property
    def failing_checks(self) -> list[CheckRun]:
        return [c for c in self.checks if c.state is CIState.FAILING and c.required]


@dataclass(slots=True)
class BranchRef:
    """A session's branch, and the PR number already known for it, if any."""

    session_id: str
    branch: str
    pr_number: int | None = None


@dataclass(slots=True)
class RateBudget:
    """What is left of a remote API's request budget."""

    limit: int
    remaining: int
    reset_at: datetime | None = None
    #: requests kept back for people and reactions; polling pauses below this
    reserve: int = 0
    #: what one reconcile pass (one ``snapshots`` call for every session) spent last time
    pass_cost: int = 1
    #: which budget this is ("graphql", "core", …), for display
    resource: str = ""


@runtime_checkable
class SCM(Protocol):
    manifest: ClassVar[PluginManifest]

    async def push(self, workspace_path: Path, branch: str) -> None: ...

    async def find_pr(self, branch: str) -> PullRequest | None: ...

    async def open_pr(self, *, branch: str, base: str, title: str, body: str, draft: bool = False) -> PullRequest: ...

    async def snapshots(self, refs: Sequence[BranchRef]) -> dict[str, PRSnapshot]:
        """State of every branch's PR, CI and review, keyed by branch — batched, not one call each."""
        ...

    async def check_logs(self, pr: PullRequest, checks: Sequence[CheckRun], lines: int = 80) -> list[CheckRun]:
        """The failing checks with ``log_tail`` filled in."""
        ...

    async def merge(self, pr: PullRequest, method: str | None = None) -> None: ...

    async def close_pr(self, pr: PullRequest) -> None: ...

    async def comment(self, pr: PullRequest, body: str) -> None: ...

    async def mark_forwarded(self, pr: PullRequest, comment: ReviewComment) -> None:
        """Acknowledge a comment Ennio forwarded to the agent (GitHub: a 👀 reaction)."""
        ...

    def rate_budget(self) -> RateBudget | None:
        """Remaining API budget, when the SCM is metered."""
        ...


@runtime_checkable
class ReadyMarker(Protocol):
    """An SCM that opens PRs as drafts and can mark them ready for review (``draft_until_green``).

    Optional: the lifecycle marks a draft PR ready once its CI passes when the SCM implements it."""

    async def mark_ready(self, pr: PullRequest) -> None: ...


@runtime_checkable
class BudgetProbe(Protocol):
    """A metered provider that can read its remaining API budget without spending it (``ennio doctor``).

    Optional. The probe also proves the credentials work and the repository exists: it raises
    ``AuthError`` or ``NotFound`` with what to fix."""

    async def probe_budget(self) -> list[RateBudget]: ...


@runtime_checkable
class ReviewableSCM(SCM, Protocol):
    """An SCM whose pull requests and reviews Ennio keeps itself (``local``).

    What ``ennio pr`` and ``ennio review`` need beyond :class:`SCM`; a forge (GitHub) has its own UI
    for this and does not implement it.
    """

    async def list_prs(self, state: PRState | None = None) -> list[PullRequest]:
        """The project's PRs, newest first (all states when ``state`` is ``None``)."""
        ...

    async def get_pr(self, number: int) -> PullRequest:
        """One PR by number; ``NotFound`` if there is none."""
        ...

    async def pr_statuses(self, prs: Sequence[PullRequest], *, mergeability: bool = True) -> dict[int, PRSnapshot]:
        """CI, review (and, if asked, mergeability) of these PRs by number, without starting anything."""
        ...

    async def approve(self, pr: PullRequest, author: str, comment: str = "") -> None: ...

    async def request_changes(
        self, pr: PullRequest, author: str, comments: Sequence[ReviewComment], body: str = ""
    ) -> None:
        """A review asking for changes; each comment may name a file (``path``) and ``line``."""
        ...


# --------------------------------------------------------------------------- notifier


@dataclass(slots=True)
class SessionSummary:
    session_id: str
    project_id: str
    status: str
    branch: str | None = None
    pr_url: str | None = None
    activity: str | None = None
    last_activity_at: datetime | None = None
    cost_usd: float | None = None


@dataclass(slots=True)
class NotificationAction:
    label: str
    url: str


@dataclass(slots=True)
class Notification:
    title: str
    body: str
    priority: Priority
    event: Event | None = None
    summary: SessionSummary | None = None
    actions: list[NotificationAction] = field(default_factory=list)


@runtime_checkable
class Notifier(Protocol):
    manifest: ClassVar[PluginManifest]

    async def notify(self, notification: Notification) -> None:
        """Deliver, retrying as configured; raise ``NotifierError`` if it finally fails."""
        ...


# --------------------------------------------------------------------------- terminal


@runtime_checkable
class Terminal(Protocol):
    manifest: ClassVar[PluginManifest]

    def attach(self, handle: RuntimeHandle, runtime: Runtime) -> list[str] | str:
        """argv to run (CLI) or a URL to open (web) so a person reaches the agent's terminal."""
        ...
