"""aider (``aider``): an interactive chat in the terminal; the task prompt is typed once it is ready.

aider has no interactive "start with this message" option (``--message``/``--message-file`` answer
once and exit; ``--load`` runs only slash commands), so the prompt is delivered ``typed``. Command line:
``aider [--model M] PERMISSION-FLAGS --no-check-update --no-show-release-notes --no-analytics
--no-gitignore --no-detect-urls --chat-history-file .ennio/aider.chat.history.md --input-history-file
.ennio/aider.input.history [--read .ennio/rules.md] [--read .ennio/prompt.md] [passthrough…]``; a task
too long for a command-line argument is given as that read-only file, and a short note is typed. Keeping
aider's history in Ennio's self-ignored ``.ennio/`` folder (instead of ``.aider*`` files, which aider would
otherwise add to the repo's ``.gitignore``) leaves the branch free of files nobody asked for. Restore adds
``--restore-chat-history``. Activity comes from the screen (aider's prompt, its yes/no questions, its
error lines) with the chat history file's time as the last activity; usage from the history's
``Tokens: … Cost: …`` lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from ennio.core.plugins import (
    ActivityProbe,
    ActivityReading,
    AgentContext,
    AgentLaunch,
    PluginManifest,
    Slot,
    Usage,
)
from ennio.core.session import ActivityState
from ennio.plugins.agent import _screen
from ennio.plugins.agent._base import (
    ENNIO_DIR,
    ENNIO_DIR_GITIGNORE,
    PROMPT_FILE,
    RULES_FILE,
    AgentBase,
    Signal,
)
from ennio.plugins.agent._files import mtime

CHAT_HISTORY = f"{ENNIO_DIR}/aider.chat.history.md"
#: typed instead of a very long task, which aider was given with ``--read`` (its text is in the chat)
ADDED_PROMPT_POINTER = (
    f"Your task is too long to type here, so it was added to this chat as the read-only file {PROMPT_FILE}. "
    "Do what it says: it is your task, exactly as it would have been given here."
)
INPUT_HISTORY = f"{ENNIO_DIR}/aider.input.history"
#: where aider keeps its chat history when started without Ennio's flags
DEFAULT_CHAT_HISTORY = ".aider.chat.history.md"

PERMISSION_FLAGS = {
    # aider asks before adding files, creating files and running commands
    "ask": [],
    # edits and new files go ahead; no shell commands are proposed, so nothing runs unasked
    "accept-edits": ["--yes-always", "--no-suggest-shell-commands"],
    "bypass": ["--yes-always"],
    # aider's "ask" chat mode answers and plans without editing files
    "plan": ["--chat-mode", "ask"],
}
#: first-run questions and network checks that would stop an unattended session; and no scraping of
#: every URL in a message (aider's default): an issue link or a CI job link would be fetched and pasted
#: into the model's context (a login page for a private repository, a large HTML page otherwise)
QUIET_FLAGS = [
    "--no-check-update",
    "--no-show-release-notes",
    "--no-analytics",
    "--no-gitignore",
    "--no-detect-urls",
]

_PROMPT_LINE = re.compile(r"^(?:[\w-]+ )?(?:multi)?> ?")
_QUESTION_TAIL = re.compile(r"\(Y\)es/\(N\)o.*\[[^\]]+\]:\s*\S{0,3}$")
_BLOCKING = re.compile(
    r"AuthenticationError|RateLimitError|rate limit|insufficient_quota|exceeded your current quota|"
    r"invalid[_ ]api[_ ]key|Incorrect API key|credit balance|billing|\b401\b|\b429\b|PermissionDeniedError",
    re.I,
)
_TOKENS = re.compile(
    r"Tokens: (?P<sent>[\d.]+k?) sent(?:, (?P<write>[\d.]+k?) cache write)?(?:, (?P<hit>[\d.]+k?) cache hit)?, "
    r"(?P<received>[\d.]+k?) received\.(?: Cost: \$(?P<message>[\d.]+) message, \$(?P<session>[\d.]+) session\.)?"
)
_MODEL = re.compile(r"^> (?:Main )?[Mm]odel: (\S+)", re.M)
_RUN_START = "# aider chat started at"


def _count(text: str | None) -> int:
    if not text:
        return 0
    if text.endswith("k"):
        return round(float(text[:-1]) * 1000)
    return int(float(text))


@dataclass
class _Run:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read: int = 0
    cache_write: int = 0
    session_cost: float | None = None


@dataclass
class _History:
    """What the chat history says about usage, summed over every aider run in it."""

    runs: list[_Run] = field(default_factory=list)
    model: str | None = None


def parse_history(text: str) -> _History:
    history = _History()
    run = _Run()
    for line in text.splitlines():
        if line.startswith(_RUN_START):
            run = _Run()
            history.runs.append(run)
            continue
        found = _TOKENS.search(line)
        if found:
            if not history.runs:
                history.runs.append(run)
            run.input_tokens += _count(found["sent"])
            run.output_tokens += _count(found["received"])
            run.cache_write += _count(found["write"])
            run.cache_read += _count(found["hit"])
            if found["session"]:
                run.session_cost = float(found["session"])
    models = _MODEL.findall(text)
    history.model = models[-1] if models else None
    return history


class AiderAgent(AgentBase):
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="aider",
        slot=Slot.AGENT,
        version="1.0",
        description="aider, the AI pair programmer in the terminal",
    )
    executable: ClassVar[str] = "aider"
    install_hint: ClassVar[str] = "pipx install aider-chat  (or: pip install aider-chat)"

    # ------------------------------------------------------------------ command lines

    def _argv(self, ctx: AgentContext) -> tuple[list[str], dict[str, str]]:
        argv = self.program(ctx)
        if ctx.config.model:
            argv += ["--model", ctx.config.model]
        argv += PERMISSION_FLAGS[ctx.config.permissions]
        argv += QUIET_FLAGS
        argv += ["--chat-history-file", CHAT_HISTORY, "--input-history-file", INPUT_HISTORY]
        files = dict(ENNIO_DIR_GITIGNORE)
        rules = self.rules_files(ctx)
        if rules:
            argv += ["--read", RULES_FILE]
            files.update(rules)
        _, prompt_files = self.argument_prompt(ctx)
        if prompt_files:
            # a very long task is added to the chat as a read-only file rather than typed in
            argv += ["--read", PROMPT_FILE]
            files.update(prompt_files)
        argv += ctx.config.passthrough
        return argv, files

    def launch(self, ctx: AgentContext) -> AgentLaunch:
        argv, files = self._argv(ctx)
        prompt = (ctx.prompt if PROMPT_FILE not in files else ADDED_PROMPT_POINTER) if ctx.prompt.strip() else None
        return AgentLaunch(
            argv=argv,
            env=self.merged_env(ctx),
            prompt_delivery="typed",
            typed_prompt=prompt,
            files=files,
        )

    def restore(self, ctx: AgentContext) -> AgentLaunch:
        argv, files = self._argv(ctx)
        argv.append("--restore-chat-history")
        return AgentLaunch(argv=argv, env=self.merged_env(ctx), prompt_delivery="argument", files=files)

    # ------------------------------------------------------------------ activity

    @staticmethod
    def history_file(workspace: Path) -> Path | None:
        found = [p for p in (workspace / CHAT_HISTORY, workspace / DEFAULT_CHAT_HISTORY) if p.is_file()]
        return max(found, key=lambda p: p.stat().st_mtime) if found else None

    def detect_activity(self, probe: ActivityProbe) -> ActivityReading:
        if not probe.alive:
            return self.exited()
        history = self.history_file(probe.workspace_path)
        last_at = mtime(history) if history else None
        return self.reading(_from_screen(probe.screen, last_at, probe.now), probe.now)

    def usage(self, probe: ActivityProbe) -> Usage | None:
        history = self.history_file(probe.workspace_path)
        if history is None:
            return None
        try:
            parsed = parse_history(history.read_text(errors="replace"))
        except OSError:
            return None
        costs = [r.session_cost for r in parsed.runs if r.session_cost is not None]
        return Usage(
            model=parsed.model,
            input_tokens=sum(r.input_tokens for r in parsed.runs),
            output_tokens=sum(r.output_tokens for r in parsed.runs),
            cache_read_tokens=sum(r.cache_read for r in parsed.runs),
            cache_write_tokens=sum(r.cache_write for r in parsed.runs),
            cost_usd=round(sum(costs), 6) if costs else None,
        )


def _from_screen(screen: str, last_at: datetime | None, now: datetime) -> Signal:
    rows = _screen.nonblank(screen)
    if not rows:
        return Signal(ActivityState.ACTIVE, "screen: starting", now)
    last = rows[-1]
    if _QUESTION_TAIL.search(last):
        return Signal(ActivityState.WAITING_INPUT, f"screen: {last.strip()[:200]}", now)
    if not _PROMPT_LINE.match(last):
        # no prompt at the bottom: streaming a reply, waiting for the model, or retrying
        turn = "\n".join(rows[-12:])
        error = _BLOCKING.search(turn)
        if error and "Retrying in" in turn:
            return Signal(ActivityState.BLOCKED, "screen: " + _screen.line_of(turn, error), now)
        return Signal(ActivityState.ACTIVE, "screen: working", now)
    # at the prompt: blocked if the turn that just ended ended in a credentials/quota error
    turn_lines: list[str] = []
    for row in reversed(rows[:-1]):
        if _PROMPT_LINE.match(row):
            break
        turn_lines.append(row)
    turn = "\n".join(reversed(turn_lines))
    error = _BLOCKING.search(turn)
    if error:
        return Signal(ActivityState.BLOCKED, "screen: " + _screen.line_of(turn, error), last_at)
    return Signal(ActivityState.READY, "screen: prompt", last_at)
