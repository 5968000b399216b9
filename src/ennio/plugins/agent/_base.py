"""What every agent plugin shares: finding its program, merging its environment, workspace files,
and turning "ready since T" into ready or idle."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from ennio.core.errors import MissingTool
from ennio.core.exec_limits import fits_in_argument
from ennio.core.plugins import ActivityReading, AgentContext, PluginContext, PluginManifest
from ennio.core.session import ActivityState

#: Ennio's own folder in a workspace; its ``.gitignore`` ignores the folder itself, so nothing in it is
#: ever committed or counted as an uncommitted change.
ENNIO_DIR = ".ennio"
ENNIO_DIR_GITIGNORE = {f"{ENNIO_DIR}/.gitignore": "*\n"}
RULES_FILE = f"{ENNIO_DIR}/rules.md"
#: where a prompt too long for the command line is written (and the script agent's ``{prompt_file}``)
PROMPT_FILE = f"{ENNIO_DIR}/prompt.md"
#: what the agent is told instead of a prompt too long for the command line
PROMPT_POINTER = (
    f"Your task is too long to give on the command line, so it is in the file {PROMPT_FILE} in this "
    "workspace. Read that whole file now (in parts if it is long) and do what it says: it is your task, "
    "exactly as it would have been given here."
)

#: an agent that has been ready this long without doing anything counts as idle
DEFAULT_IDLE_AFTER = timedelta(minutes=5)


def _as_timedelta(value: object, default: timedelta) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    return default


@dataclass(slots=True)
class Signal:
    """One source's opinion about the agent's state (transcript, status file, screen)."""

    state: ActivityState
    detail: str
    at: datetime | None = None
    resume_id: str | None = None


class AgentBase:
    """Base of the built-in agents. Subclasses set the class attributes and the four Protocol methods."""

    manifest: ClassVar[PluginManifest]
    executable: ClassVar[str]
    install_hint: ClassVar[str]

    def __init__(self, ctx: PluginContext) -> None:
        self.plugin_ctx = ctx
        #: ``PluginContext.extra["agent_idle_after"]`` (timedelta or seconds) overrides the default
        self.idle_after = _as_timedelta(ctx.extra.get("agent_idle_after"), DEFAULT_IDLE_AFTER)

    # ------------------------------------------------------------------ launching

    def program(self, ctx: AgentContext) -> list[str]:
        """The argv prefix that starts the agent: ``agent_config.command`` or :attr:`executable`.

        The first word is resolved on ``PATH`` (the agent's own ``PATH`` when its config sets one), so
        a missing CLI fails here with how to install it, before any workspace or terminal exists.
        """
        argv = list(ctx.config.command) if ctx.config.command else [self.executable]
        found = shutil.which(argv[0], path=ctx.config.env.get("PATH"))
        if found is None:
            raise MissingTool(
                f"{argv[0]} is not installed or not on PATH (needed by the {self.manifest.name} agent)",
                hint=self.install_hint,
            )
        return [found, *argv[1:]]

    @staticmethod
    def merged_env(ctx: AgentContext, own: dict[str, str] | None = None) -> dict[str, str]:
        """The agent's environment: what the plugin needs, then ``agent_config.env`` (the user wins)."""
        return {**(own or {}), **ctx.config.env}

    @staticmethod
    def argument_prompt(ctx: AgentContext) -> tuple[str, dict[str, str]]:
        """The prompt to put on the command line, and the files to write for it: a prompt too long for
        one argument (see :mod:`ennio.core.exec_limits`) is written to :data:`PROMPT_FILE` and the command
        line carries :data:`PROMPT_POINTER` instead."""
        if fits_in_argument(ctx.prompt):
            return ctx.prompt, {}
        return PROMPT_POINTER, {**ENNIO_DIR_GITIGNORE, PROMPT_FILE: ctx.prompt}

    @staticmethod
    def rules_files(ctx: AgentContext) -> dict[str, str]:
        """``.ennio/rules.md`` holding the project rules (and the folder's own ``.gitignore``), or nothing."""
        if not ctx.rules or not ctx.rules.strip():
            return {}
        return {**ENNIO_DIR_GITIGNORE, RULES_FILE: ctx.rules.strip() + "\n"}

    # ------------------------------------------------------------------ activity

    def reading(self, signal: Signal, now: datetime) -> ActivityReading:
        """The reading for ``signal``; a ready agent whose last activity is older than ``idle_after`` is idle."""
        state = signal.state
        detail = signal.detail
        if state is ActivityState.READY and signal.at is not None and now - signal.at >= self.idle_after:
            state = ActivityState.IDLE
            detail = f"{detail}; ready since {signal.at.isoformat(timespec='seconds')}"
        return ActivityReading(state=state, last_activity_at=signal.at, detail=detail, resume_id=signal.resume_id)

    @staticmethod
    def exited(detail: str = "the agent's process has exited") -> ActivityReading:
        return ActivityReading(state=ActivityState.EXITED, detail=detail)
