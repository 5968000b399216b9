"""One exception hierarchy for everything a person may see.

Each error carries what went wrong (``message``) and what to do about it (``hint``).
Front ends print ``message`` (and ``hint``) as one short block; tracebacks only with ``--debug``.
"""

from __future__ import annotations


class EnnioError(Exception):
    """Base of every error Ennio reports to a person."""

    exit_code: int = 1
    #: short machine-readable code, used in JSON error bodies
    code: str = "error"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        body = {"error": self.code, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body


class ConfigError(EnnioError):
    """The configuration file is missing, unreadable or invalid."""

    code = "config"
    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        if key:
            where += f"{key}: "
        super().__init__(f"{where}{message}", hint=hint)
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        #: every problem found, one line each (the message above is the first)
        self.problems: list[str] = [self.message]


class InvalidInput(EnnioError):
    """A value from outside (CLI argument, API body, webhook) is not acceptable."""

    code = "invalid_input"
    exit_code = 2


class InvalidId(InvalidInput):
    """An id, branch name or path failed validation."""

    code = "invalid_id"


class NotFound(EnnioError):
    """A project, session, issue, PR or plugin does not exist."""

    code = "not_found"
    exit_code = 3


class Conflict(EnnioError):
    """The thing already exists, or the current state forbids the request."""

    code = "conflict"
    exit_code = 4


class IllegalTransition(Conflict):
    """A session status move that the transition table does not allow."""

    code = "illegal_transition"


class LimitReached(Conflict):
    """A configured limit (``max_sessions``, a budget) forbids the request."""

    code = "limit_reached"


class BudgetExceeded(LimitReached):
    code = "budget_exceeded"


class UnsafeToDestroy(Conflict):
    """A workspace still holds work (uncommitted changes, unpushed commits, a live agent)."""

    code = "unsafe_destroy"

    def __init__(self, message: str, *, reasons: list[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reasons = reasons


class PluginError(EnnioError):
    """A plugin could not be found, loaded, or failed doing its job."""

    code = "plugin"


class MissingTool(PluginError):
    """An external program (git, tmux, an agent CLI) is not installed."""

    code = "missing_tool"


class WorkspaceError(PluginError):
    code = "workspace"


class RuntimeFailure(PluginError):
    """The runtime (tmux, process, ssh) could not start, reach or stop an agent."""

    code = "runtime"


class AgentError(PluginError):
    code = "agent"


class TrackerError(PluginError):
    code = "tracker"


class SCMError(PluginError):
    code = "scm"


class NotifierError(PluginError):
    code = "notifier"


class AuthError(PluginError):
    """A token is missing, wrong, expired or lacks a scope."""

    code = "auth"


class RateLimited(PluginError):
    """A remote API said to slow down; ``retry_at`` is when to try again (epoch seconds)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_at: float | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_at = retry_at


class StorageError(EnnioError):
    """The database is unreachable, unwritable or at an unknown schema version."""

    code = "storage"
    exit_code = 5


class DaemonError(EnnioError):
    """The orchestrator daemon is not running, or could not be reached or started."""

    code = "daemon"
