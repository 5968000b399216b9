"""Configuration models: the whole ``ennio.yaml`` schema.

Loading (file discovery, ``${VAR}`` expansion, line numbers in errors) lives in
``ennio.services.config.loader``; these models only validate.

Size: over 400 lines because it is the whole configuration schema in one place, so ``config schema``
and the README's reference come from one module.
"""

from __future__ import annotations

import difflib
import os
import shlex
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from ennio.core.durations import Duration
from ennio.core.errors import InvalidId, NotFound
from ennio.core.events import EventType, Priority
from ennio.core.ids import slugify, validate_branch_name, validate_id

DEFAULT_PORT = 8642


def suggest(value: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """The closest known name to ``value``, if one is close enough to be a likely typo."""
    matches = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _expand_path(value: Any) -> Any:
    # return text, not a Path: pydantic's JSON mode accepts only strings for Path fields
    if isinstance(value, (str, Path)):
        return os.path.expanduser(str(value))
    return value


def _to_argv(value: Any) -> Any:
    """A command given as text is split like a shell would split words (no shell runs it)."""
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command {value!r}: {exc}") from None
        if not argv:
            raise ValueError("command is empty")
        return argv
    if isinstance(value, list) and (not value or not all(isinstance(a, str) for a in value)):
        raise ValueError("command must be text or a non-empty list of strings")
    return value


def _as_value_error(check: Callable[[Any], str]) -> Callable[[Any], str]:
    """``check`` raising ``ValueError`` instead of ``InvalidId``.

    pydantic turns a ``ValueError`` into a validation error at the key's path, so the loader can
    name the key and its line; any other exception would escape without either.
    """

    def checked(value: Any) -> str:
        try:
            return check(value)
        except InvalidId as exc:
            raise ValueError(f"{exc.message}; {exc.hint}" if exc.hint else exc.message) from None

    return checked


def _config_id(kind: str) -> Callable[[Any], str]:
    return _as_value_error(lambda value: validate_id(value, kind))


ExpandedPath = Annotated[Path, BeforeValidator(_expand_path)]
#: A command line: ``"pytest -q"`` or ``["pytest", "-q"]``; always run as an argv list, never by a shell.
Command = Annotated[list[str], BeforeValidator(_to_argv)]
BranchName = Annotated[str, AfterValidator(_as_value_error(validate_branch_name))]
ConfigProjectId = Annotated[str, AfterValidator(_config_id("project id"))]
PositiveInt = Annotated[int, Field(ge=1)]


class StrictModel(BaseModel):
    """Unknown keys are errors (so a misspelt key is reported, with a suggestion)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- server & daemon


class ServerConfig(StrictModel):
    host: str = Field("127.0.0.1", description="Address the daemon's HTTP API binds to (loopback by default).")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="Port of the daemon's HTTP API.")
    api_token: SecretStr | None = Field(
        None, description="Bearer token required by the HTTP API. Required when host is not loopback."
    )
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS.")

    @model_validator(mode="after")
    def _token_off_loopback(self) -> ServerConfig:
        if self.host not in ("127.0.0.1", "localhost", "::1") and self.api_token is None:
            raise ValueError(f"server.host {self.host!r} is not loopback, so server.api_token must be set")
        return self


class LifecycleConfig(StrictModel):
    poll_interval: Duration = Field(timedelta(seconds=30), description="How often every session is reconciled.")
    session_timeout: Duration = Field(
        timedelta(seconds=60), description="Longest one session's reconcile may take before it is abandoned."
    )
    concurrency: PositiveInt = Field(8, description="Sessions reconciled at once.")
    webhook_poll_interval: Duration = Field(
        timedelta(minutes=5),
        description=(
            "While a project's webhooks arrive, how often its SCM and tracker are asked about every session "
            "(deliveries reconcile the sessions they name at once; agents are still watched every poll_interval)."
        ),
    )
    webhook_window: Duration = Field(
        timedelta(hours=1),
        description="A project counts as fed by webhooks while its last verified delivery is younger than this.",
    )


class DefaultsConfig(StrictModel):
    agent: str = Field("claude-code", description="Agent plugin used when a project names none.")
    runtime: str = Field("tmux", description="Runtime plugin used when a project names none.")
    workspace: str = Field("worktree", description="Workspace plugin used when a project names none.")
    notifiers: list[str] = Field(
        default_factory=list,
        description="Notifiers told when a deliberate notification (a notify reaction, an escalation) matches no routing rule.",
    )


# --------------------------------------------------------------------------- agents


PermissionMode = Literal["ask", "accept-edits", "bypass", "plan"]


class AgentConfig(StrictModel):
    permissions: PermissionMode = Field(
        "accept-edits",
        description=(
            "How much the agent may do unasked: ask (every action), accept-edits (file edits), "
            "bypass (everything; only in sandboxes), plan (read-only planning)."
        ),
    )
    model: str | None = Field(None, description="Model name passed to the agent CLI.")
    passthrough: list[str] = Field(
        default_factory=list, description="Extra flags appended to the agent's command line."
    )
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment variables for the agent.")
    command: Command | None = Field(
        None,
        description="Command to run (the script agent's program, or another path to an agent's CLI).",
    )

    @model_validator(mode="after")
    def _env_names(self) -> AgentConfig:
        for name in self.env:
            if not name or not (name[0].isalpha() or name[0] == "_") or not name.replace("_", "a").isalnum():
                raise ValueError(f"agent_config.env: {name!r} is not a valid environment variable name")
        return self


# --------------------------------------------------------------------------- trackers


class GitHubTrackerConfig(StrictModel):
    provider: Literal["github"] = "github"
    repo: str | None = Field(None, description="owner/repo; defaults to the project's repo or its origin URL.")
    token: SecretStr | None = Field(None, description="GitHub token (e.g. ${GITHUB_TOKEN}).")
    base_url: str = Field(
        "https://api.github.com", description="REST base URL (GitHub Enterprise: https://HOST/api/v3)."
    )
    labels: list[str] = Field(default_factory=list, description="Only issues with these labels are listed.")


class LinearTrackerConfig(StrictModel):
    provider: Literal["linear"] = "linear"
    api_key: SecretStr | None = Field(None, description="Linear API key (e.g. ${LINEAR_API_KEY}).")
    team: str | None = Field(None, description="Team key (ENG) whose issues are listed.")
    base_url: str = Field("https://api.linear.app/graphql", description="Linear GraphQL endpoint.")
    webhook_secret: SecretStr | None = Field(None, description="Signing secret of the Linear webhook.")
    in_progress_state: str | None = Field("In Progress", description="State an issue moves to when a session starts.")
    done_state: str | None = Field("Done", description="State an issue moves to when its PR merges.")


class LocalTrackerConfig(StrictModel):
    provider: Literal["local"] = "local"
    path: str = Field(".ennio/issues", description="Folder of the repo holding issues as Markdown files.")


TRACKER_PROVIDERS = ("github", "linear", "local")
SCM_PROVIDERS = ("github", "local")

TrackerConfig = Annotated[
    Annotated[GitHubTrackerConfig, Tag("github")]
    | Annotated[LinearTrackerConfig, Tag("linear")]
    | Annotated[LocalTrackerConfig, Tag("local")],
    Discriminator("provider"),
]


# --------------------------------------------------------------------------- SCM


class GitHubAppConfig(StrictModel):
    app_id: int = Field(description="The GitHub App's id.")
    installation_id: int = Field(description="The app's installation id on the repository's owner.")
    private_key: SecretStr = Field(description="PEM private key of the GitHub App (e.g. ${GITHUB_APP_KEY}).")


class GitHubSCMConfig(StrictModel):
    provider: Literal["github"] = "github"
    repo: str | None = Field(None, description="owner/repo; defaults to the project's repo or its origin URL.")
    token: SecretStr | None = Field(None, description="GitHub token (e.g. ${GITHUB_TOKEN}).")
    app: GitHubAppConfig | None = Field(
        None, description="Authenticate as a GitHub App installation instead of a token."
    )
    base_url: str = Field(
        "https://api.github.com", description="REST base URL (GitHub Enterprise: https://HOST/api/v3)."
    )
    graphql_url: str | None = Field(None, description="GraphQL URL; derived from base_url when empty.")
    remote: str = Field("origin", description="Git remote session branches are pushed to.")
    draft_until_green: bool = Field(False, description="Open PRs as drafts and mark them ready once CI passes.")
    merge_method: Literal["merge", "squash", "rebase"] = Field("squash", description="How PRs are merged.")
    required_checks_only: bool = Field(True, description="Count only the checks branch protection requires.")
    bot_authors: list[str] = Field(
        default_factory=list, description="Review comment authors treated as bots (bugbot-comments)."
    )
    review_authors: list[str] | None = Field(
        None, description="Only forward review comments from these authors (default: everyone)."
    )
    webhook_secret: SecretStr | None = Field(None, description="Secret of the repository webhook.")
    rate_limit_reserve: int = Field(200, ge=0, description="Requests kept in reserve; polling pauses below this.")


class LocalSCMConfig(StrictModel):
    provider: Literal["local"] = "local"
    ci_command: Command | None = Field(None, description="CI: a command run in a clean checkout of each new head.")
    ci_timeout: Duration = Field(timedelta(minutes=10), description="CI runs longer than this fail.")
    merge_method: Literal["merge", "squash"] = Field("merge", description="How a reviewed branch is merged.")
    bot_authors: list[str] = Field(default_factory=list, description="Reviewers treated as bots (bugbot-comments).")


SCMConfig = Annotated[
    Annotated[GitHubSCMConfig, Tag("github")] | Annotated[LocalSCMConfig, Tag("local")],
    Discriminator("provider"),
]


# --------------------------------------------------------------------------- notifiers


class DesktopNotifierConfig(StrictModel):
    type: Literal["desktop"] = "desktop"


class SlackNotifierConfig(StrictModel):
    type: Literal["slack"] = "slack"
    webhook_url: SecretStr = Field(description="Slack incoming-webhook URL.")
    channel: str | None = Field(None, description="Channel to post in, instead of the webhook's own.")
    username: str | None = Field(None, description="Name the messages are posted under.")
    dashboard_url: str | None = Field(None, description="Base URL used for the action buttons.")


class WebhookNotifierConfig(StrictModel):
    type: Literal["webhook"] = "webhook"
    url: str = Field(description="URL that receives the JSON POST.")
    secret: SecretStr | None = Field(None, description="HMAC-SHA256 key; the signature goes in X-Ennio-Signature-256.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra HTTP headers sent with each POST.")
    retries: int = Field(3, ge=0, le=10, description="Retries after a failed POST.")
    timeout: Duration = Field(timedelta(seconds=10), description="Time allowed for one POST.")
    backoff: Duration = Field(timedelta(seconds=1), description="First retry delay; doubles each retry.")


class AppriseNotifierConfig(StrictModel):
    type: Literal["apprise"] = "apprise"
    urls: list[SecretStr] = Field(min_length=1, description="Apprise URLs (they often carry secrets).")


NOTIFIER_TYPES = ("desktop", "slack", "webhook", "apprise")

NotifierConfig = Annotated[
    Annotated[DesktopNotifierConfig, Tag("desktop")]
    | Annotated[SlackNotifierConfig, Tag("slack")]
    | Annotated[WebhookNotifierConfig, Tag("webhook")]
    | Annotated[AppriseNotifierConfig, Tag("apprise")],
    Discriminator("type"),
]


class NotificationRouting(StrictModel):
    priorities: dict[Priority, list[str]] = Field(
        default_factory=lambda: {Priority.URGENT: ["*"], Priority.CRITICAL: ["*"]},
        description="Notifier names per priority; '*' means every configured notifier.",
    )
    events: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Notifier names per event type ('ci.failing') or prefix ('ci.*'); adds to priorities.",
    )
    include_summary: bool = Field(True, description="Add the session summary to notifications.")

    @model_validator(mode="after")
    def _known_events(self) -> NotificationRouting:
        known = {str(t) for t in EventType}
        prefixes = {t.split(".")[0] for t in known}
        for key in self.events:
            ok = key in known or (key.endswith(".*") and key[:-2] in prefixes) or key == "*"
            if not ok:
                hint = suggest(key, known)
                raise ValueError(f"unknown event type {key!r}" + (f" — did you mean {hint!r}?" if hint else ""))
        return self


# --------------------------------------------------------------------------- reactions


ReactionAction = Literal["send_to_agent", "notify", "auto_merge"]
REACTION_NAMES = (
    "ci-failed",
    "changes-requested",
    "bugbot-comments",
    "merge-conflicts",
    "approved-and-green",
    "agent-stuck",
    "agent-needs-input",
    "agent-exited",
    "all-complete",
)


class ReactionConfig(StrictModel):
    enabled: bool = Field(True, description="Whether this reaction fires at all.")
    action: ReactionAction = Field(description="send_to_agent, notify (a human) or auto_merge.")
    message: str | None = Field(None, description="Text sent or shown instead of the built-in one.")
    retries: int | None = Field(None, ge=0, description="At most this many sends to the agent.")
    escalate_after: Duration | None = Field(
        None, description="Notify a human if the state persists this long after the first reaction."
    )
    threshold: Duration | None = Field(None, description="agent-stuck: no activity change for this long.")
    priority: Priority = Field(Priority.ACTION, description="Priority of the notification it sends.")
    notifiers: list[str] | None = Field(
        None, description="Notifiers that hear this reaction in addition to those notification_routing picks."
    )


class ReactionOverride(StrictModel):
    """A partial reaction: only the keys given replace the defaults."""

    enabled: bool | None = Field(None, description="Whether this reaction fires at all.")
    action: ReactionAction | None = Field(None, description="send_to_agent, notify (a human) or auto_merge.")
    message: str | None = Field(None, description="Text sent or shown instead of the built-in one.")
    retries: int | None = Field(None, ge=0, description="At most this many sends to the agent.")
    escalate_after: Duration | None = Field(None, description="Notify a human if the state persists this long.")
    threshold: Duration | None = Field(None, description="agent-stuck: no activity change for this long.")
    priority: Priority | None = Field(None, description="Priority of the notification it sends.")
    notifiers: list[str] | None = Field(
        None, description="Notifiers that hear this reaction in addition to those notification_routing picks."
    )


def _m(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


DEFAULT_REACTIONS: dict[str, ReactionConfig] = {
    "ci-failed": ReactionConfig(action="send_to_agent", retries=3, escalate_after=_m(30)),
    "changes-requested": ReactionConfig(action="send_to_agent", retries=3, escalate_after=_m(60)),
    "bugbot-comments": ReactionConfig(action="send_to_agent", retries=2, escalate_after=_m(60)),
    "merge-conflicts": ReactionConfig(action="send_to_agent", retries=2, escalate_after=_m(30)),
    "approved-and-green": ReactionConfig(action="notify", priority=Priority.ACTION),
    "agent-stuck": ReactionConfig(action="notify", threshold=_m(10), priority=Priority.URGENT),
    "agent-needs-input": ReactionConfig(action="notify", priority=Priority.URGENT),
    "agent-exited": ReactionConfig(action="notify", priority=Priority.URGENT),
    "all-complete": ReactionConfig(action="notify", priority=Priority.ACTION),
}


def _check_reaction_names(raw: Any) -> Any:
    if isinstance(raw, dict):
        for name in raw:
            if name not in REACTION_NAMES:
                hint = suggest(str(name), REACTION_NAMES)
                raise ValueError(
                    f"unknown reaction {name!r}"
                    + (f" — did you mean {hint!r}?" if hint else f"; known: {', '.join(REACTION_NAMES)}")
                )
    return raw


def _merge_reactions(raw: Any) -> Any:
    """User reactions are partial overrides merged key by key over the nine defaults."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return raw
    _check_reaction_names(raw)
    merged: dict[str, Any] = {}
    for name, default in DEFAULT_REACTIONS.items():
        override = raw.get(name)
        if override is None:
            merged[name] = default
        elif isinstance(override, dict):
            # unknown or mistyped keys are reported by ReactionConfig with their full path
            merged[name] = {**default.model_dump(exclude_unset=False), **override}
        else:
            merged[name] = override  # let validation report the wrong type
    return merged


def merge_reaction(base: ReactionConfig, override: ReactionOverride) -> ReactionConfig:
    update = override.model_dump(exclude_unset=True)
    return base.model_copy(update=update)


ReactionOverrides = Annotated[dict[str, ReactionOverride], BeforeValidator(_check_reaction_names)]


# --------------------------------------------------------------------------- budgets


class BudgetLimits(StrictModel):
    daily_usd: float | None = Field(None, gt=0, description="Spending limit per calendar day (UTC), in US dollars.")
    monthly_usd: float | None = Field(None, gt=0, description="Spending limit per calendar month, in US dollars.")
    per_session_usd: float | None = Field(None, gt=0, description="Spending limit of one session, in US dollars.")


class BudgetsConfig(BudgetLimits):
    warn_at: float = Field(0.8, gt=0, le=1, description="Fraction of a limit at which budget.warning fires.")
    on_exceeded: Literal["notify", "pause", "kill"] = Field(
        "notify", description="What happens to sessions when a limit is exceeded."
    )
    projects: dict[str, BudgetLimits] = Field(default_factory=dict, description="Limits per project id.")


# --------------------------------------------------------------------------- remote hosts


class SSHConfig(StrictModel):
    host: str = Field(description="Host name or address to connect to.")
    user: str | None = Field(None, description="User to log in as (default: from ~/.ssh/config or yours).")
    port: int = Field(22, ge=1, le=65535, description="SSH port.")
    identity_file: ExpandedPath | None = Field(None, description="Private key file.")
    known_hosts: ExpandedPath | None = Field(None, description="known_hosts file to check the host key against.")
    workspace_root: str | None = Field(None, description="Folder on the host where workspaces are made.")
    strategy: Literal["tmux", "nohup"] = Field("tmux", description="How the agent runs on the host.")


# --------------------------------------------------------------------------- projects


class ProjectConfig(StrictModel):
    name: str = Field(min_length=1, description="Display name; the id is derived from it unless given.")
    id: ConfigProjectId | None = Field(None, description="Short id; derived from name when empty.")
    repo: str | None = Field(None, description="owner/repo or clone URL of the forge repository.")
    path: ExpandedPath = Field(description="Local path of the repository.")
    default_branch: BranchName = Field("main", description="Branch that session branches start from and PRs target.")
    session_prefix: str | None = Field(None, description="Prefix of session ids; defaults to the project id.")
    agent: str | None = Field(None, description="Agent plugin for this project (default: defaults.agent).")
    runtime: str | None = Field(None, description="Runtime plugin for this project (default: defaults.runtime).")
    workspace: str | None = Field(None, description="Workspace plugin (default: defaults.workspace).")
    tracker: TrackerConfig | None = Field(None, description="Where issues come from: github, linear or local.")
    scm: SCMConfig | None = Field(None, description="Where PRs, CI and reviews live: github or local.")
    post_create: list[Command] = Field(default_factory=list, description="Commands run in each new workspace.")
    post_create_timeout: Duration = Field(timedelta(minutes=10), description="Time allowed for post_create.")
    symlinks: list[str] = Field(default_factory=list, description="Repo paths symlinked into each workspace.")
    copy_files: list[str] = Field(
        default_factory=list, description="Ignored files (like .env) copied into each workspace."
    )
    agent_rules: str | None = Field(None, description="Rules added to every prompt of this project.")
    agent_rules_file: str | None = Field(None, description="File in the repo whose text is added as rules.")
    agent_config: AgentConfig = Field(default_factory=AgentConfig, description="How the agent CLI is run.")
    max_sessions: PositiveInt | None = Field(None, description="Most sessions alive at once.")
    reactions: ReactionOverrides = Field(default_factory=dict, description="Per-project reaction overrides.")
    ssh: SSHConfig | None = Field(None, description="Run this project's agents on another machine over SSH.")

    @field_validator("session_prefix")
    @classmethod
    def _prefix_is_an_id(cls, value: str | None) -> str | None:
        return None if value is None else _config_id("session_prefix")(value)

    @model_validator(mode="after")
    def _derive(self) -> ProjectConfig:
        if self.id is None:
            self.id = validate_id(slugify(self.name, 40) or "project", "project id")
        if self.session_prefix is None:
            self.session_prefix = self.id
        for rel in [*self.symlinks, *self.copy_files]:
            p = Path(rel)
            if p.is_absolute() or ".." in p.parts:
                raise ValueError(f"{rel!r} must be a path inside the repository")
        return self

    @property
    def pid(self) -> str:
        """The project id (always set after validation)."""
        assert self.id is not None
        return self.id

    @property
    def prefix(self) -> str:
        assert self.session_prefix is not None
        return self.session_prefix


# --------------------------------------------------------------------------- the whole file


class EnnioConfig(StrictModel):
    """The whole ``ennio.yaml``."""

    server: ServerConfig = Field(default_factory=ServerConfig, description="The daemon's HTTP API.")
    database_url: SecretStr | None = Field(
        None, description="SQLAlchemy URL; default: SQLite in the data directory. postgresql://… to share state."
    )
    nats_url: SecretStr | None = Field(None, description="NATS server URL; events are also published there.")
    data_dir: ExpandedPath | None = Field(None, description="Where Ennio keeps its database, logs and workspaces.")
    defaults: DefaultsConfig = Field(
        default_factory=DefaultsConfig, description="Plugins used when a project names none."
    )
    lifecycle: LifecycleConfig = Field(default_factory=LifecycleConfig, description="How sessions are watched.")
    projects: list[ProjectConfig] = Field(default_factory=list, description="The repositories agents work on.")
    notifiers: dict[str, NotifierConfig] = Field(default_factory=dict, description="Ways to tell a human, by name.")
    notification_routing: NotificationRouting = Field(
        default_factory=NotificationRouting, description="Which notifiers hear about which events."
    )
    reactions: Annotated[dict[str, ReactionConfig], BeforeValidator(_merge_reactions)] = Field(
        default_factory=lambda: dict(DEFAULT_REACTIONS),
        description="The nine built-in reactions; keys given here override the defaults key by key.",
    )
    budgets: BudgetsConfig = Field(default_factory=BudgetsConfig, description="Spending limits for agents' model use.")

    @field_validator("notifiers")
    @classmethod
    def _notifier_names_are_ids(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            _config_id("notifier name")(name)
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> EnnioConfig:
        seen_ids: dict[str, int] = {}
        seen_prefixes: dict[str, int] = {}
        for index, project in enumerate(self.projects):
            if project.pid in seen_ids:
                raise ValueError(
                    f"projects[{index}] has id {project.pid!r}, already used by projects[{seen_ids[project.pid]}]"
                )
            seen_ids[project.pid] = index
            if project.prefix in seen_prefixes:
                raise ValueError(
                    f"projects[{index}] has session_prefix {project.prefix!r}, "
                    f"already used by projects[{seen_prefixes[project.prefix]}]"
                )
            seen_prefixes[project.prefix] = index
        names = set(self.notifiers)
        referenced = [("defaults.notifiers", n) for n in self.defaults.notifiers]
        for prio, targets in self.notification_routing.priorities.items():
            referenced += [(f"notification_routing.priorities.{prio}", n) for n in targets]
        for key, targets in self.notification_routing.events.items():
            referenced += [(f"notification_routing.events.{key}", n) for n in targets]
        for rname, reaction in self.reactions.items():
            referenced += [(f"reactions.{rname}.notifiers", n) for n in reaction.notifiers or []]
        for where, name in referenced:
            if name != "*" and name not in names:
                hint = suggest(name, names)
                raise ValueError(
                    f"{where}: no notifier named {name!r}"
                    + (f" — did you mean {hint!r}?" if hint else " (define it under notifiers)")
                )
        return self

    def project(self, project_id: str) -> ProjectConfig:
        for project in self.projects:
            if project.id == project_id:
                return project
        ids = [p.pid for p in self.projects]
        hint = suggest(project_id, ids)
        raise NotFound(
            f"no project {project_id!r} in the configuration",
            hint=f"did you mean {hint!r}?" if hint else f"known projects: {', '.join(ids) or 'none'}",
        )

    def reactions_for(self, project_id: str | None) -> dict[str, ReactionConfig]:
        """Global reactions with the project's overrides merged key by key."""
        if project_id is None:
            return dict(self.reactions)
        overrides = self.project(project_id).reactions
        return {
            name: merge_reaction(reaction, overrides[name]) if name in overrides else reaction
            for name, reaction in self.reactions.items()
        }

    def agent_for(self, project: ProjectConfig) -> str:
        return project.agent or self.defaults.agent

    def runtime_for(self, project: ProjectConfig) -> str:
        return project.runtime or self.defaults.runtime

    def workspace_for(self, project: ProjectConfig) -> str:
        return project.workspace or self.defaults.workspace
