"""Claude Code (``claude``): an interactive session that starts on the task prompt.

Command line: ``claude --session-id UUID --permission-mode MODE [--model M] [--append-system-prompt RULES]
[passthrough…] -- PROMPT`` (a prompt too long for one argument is written to ``.ennio/prompt.md`` and
PROMPT asks Claude to read it). The session id is chosen here, so Ennio knows the conversation to
``--resume`` without scraping. Activity comes, in order of trust, from the screen's dialogs (permission,
folder trust), Claude's own per-process status file ``~/.claude/sessions/<pid>.json`` (busy / waiting /
idle), the JSONL transcript under ``~/.claude/projects/<encoded cwd>/`` (API errors, timestamps,
usage), and the screen's spinner and input box as the fallback.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from ennio.core.errors import InvalidInput
from ennio.core.plugins import (
    ActivityProbe,
    ActivityReading,
    AgentContext,
    AgentLaunch,
    PluginContext,
    PluginManifest,
    PromptDelivery,
    Slot,
    Usage,
)
from ennio.core.proc import pid_running
from ennio.core.session import ActivityState
from ennio.plugins.agent import _screen
from ennio.plugins.agent._base import AgentBase, Signal
from ennio.plugins.agent._files import JsonlFollower, as_int, mtime, parse_time, read_jsonl_tail

PERMISSION_MODES = {
    "ask": "manual",
    "accept-edits": "acceptEdits",
    "bypass": "bypassPermissions",
    "plan": "plan",
}

# Dialogs that wait for a person (permission prompts, folder trust, bypass-mode acceptance, API key).
_DIALOGS = [
    re.compile(r"Do you want to (proceed|make this edit|create|allow|use this API key)", re.I),
    re.compile(r"Yes, I trust this folder"),
    re.compile(r"Yes, I accept"),
    re.compile(r"Esc to cancel · Tab to amend"),
    re.compile(r"^\s*❯ \d+\. ", re.M),
]
# Errors that stop the agent until a person acts (credentials, billing, limits), as shown in the
# status line of a retry loop ("✻ 401 invalid x-api-key · retrying in 34s · attempt 7/10").
_BLOCKING = re.compile(
    r"invalid (x-)?api[- ]key|authentication|/login|credit balance|out of credits|"
    r"usage limit|rate[- ]limit|\b40[123]\b|\b429\b|quota|billing",
    re.I,
)
# The same, as Claude Code words them once it gives up (tool output can contain anything, so only these).
_BLOCKING_FINAL = re.compile(
    r"Invalid API key|Please run /login|Credit balance is too low|usage limit reached|Fix external API key", re.I
)
_RETRYING = re.compile(r"retrying in \d+\s*s\b.*attempt \d+/\d+", re.I)
_ERROR_LINE = re.compile(r"^\s*⎿\s+(.*)$", re.M)
_WORKING_FOOTER = re.compile(r"esc to interrupt", re.I)
_SPINNER = re.compile(r"^\s*\S\s+\w+…\s+\(", re.M)
_INPUT_BOX = re.compile(r"^\s*❯( |$)", re.M)
_BLOCKING_API_ERRORS = {
    "authentication_failed",
    "billing_error",
    "rate_limit",
    "permission_error",
    "oauth_org_not_allowed",
}


def encode_project_dir(path: Path | str) -> str:
    """Claude Code's folder name for a working directory: every non-alphanumeric character becomes ``-``."""
    return re.sub(r"[^a-zA-Z0-9]", "-", str(path))


@dataclass
class _UsageTally:
    """Usage accumulated from one transcript, read incrementally."""

    follower: JsonlFollower
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    costs: dict[str, float] = field(default_factory=dict)
    model: str | None = None


class ClaudeCodeAgent(AgentBase):
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="claude-code",
        slot=Slot.AGENT,
        version="1.0",
        description="Anthropic's Claude Code CLI in an interactive session",
    )
    executable: ClassVar[str] = "claude"
    install_hint: ClassVar[str] = "npm install -g @anthropic-ai/claude-code"

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        self._tallies: dict[Path, _UsageTally] = {}

    # ------------------------------------------------------------------ command lines

    def _flags(self, ctx: AgentContext) -> tuple[list[str], dict[str, str]]:
        mode = ctx.config.permissions
        flags = ["--permission-mode", PERMISSION_MODES[mode]]
        own_env: dict[str, str] = {}
        if mode == "bypass":
            # Claude Code refuses bypass mode as root unless told it runs in a sandbox; choosing
            # "bypass" in Ennio's config is that statement.
            own_env["IS_SANDBOX"] = "1"
        if ctx.config.model:
            flags += ["--model", ctx.config.model]
        if ctx.rules and ctx.rules.strip():
            flags += ["--append-system-prompt", ctx.rules.strip()]
        flags += ctx.config.passthrough
        return flags, self.merged_env(ctx, own_env)

    def launch(self, ctx: AgentContext) -> AgentLaunch:
        argv = self.program(ctx)
        conversation = str(uuid.uuid4())
        flags, env = self._flags(ctx)
        argv += ["--session-id", conversation, *flags]
        prompt, files = self.argument_prompt(ctx)
        if prompt.strip():
            argv += ["--", prompt]
        delivery: PromptDelivery = "file" if files else "argument"
        return AgentLaunch(argv=argv, env=env, prompt_delivery=delivery, files=files, resume_id=conversation)

    def restore(self, ctx: AgentContext) -> AgentLaunch:
        argv = self.program(ctx)
        flags, env = self._flags(ctx)
        if ctx.resume_id:
            try:
                conversation = str(uuid.UUID(ctx.resume_id))
            except ValueError:
                raise InvalidInput(
                    f"{ctx.resume_id!r} is not a Claude Code session id (a UUID)",
                    hint="restore without a resume id to continue the latest conversation in the workspace",
                ) from None
            argv += ["--resume", conversation, *flags]
        else:
            conversation = None
            argv += ["--continue", *flags]
        return AgentLaunch(argv=argv, env=env, prompt_delivery="argument", resume_id=conversation)

    # ------------------------------------------------------------------ files

    @staticmethod
    def project_dir(probe: ActivityProbe) -> Path:
        return probe.home / ".claude" / "projects" / encode_project_dir(probe.workspace_path)

    def transcripts(self, probe: ActivityProbe) -> list[Path]:
        """This workspace's transcripts, oldest first."""
        folder = self.project_dir(probe)
        found = list(folder.glob("*.jsonl")) if folder.is_dir() else []
        if not found and probe.resume_id:  # very long paths are encoded differently; find by id
            found = list((probe.home / ".claude" / "projects").glob(f"*/{probe.resume_id}.jsonl"))
        return sorted(found, key=lambda p: p.stat().st_mtime)

    def _transcript(self, probe: ActivityProbe) -> Path | None:
        if probe.resume_id:
            exact = self.project_dir(probe) / f"{probe.resume_id}.jsonl"
            if exact.is_file():
                return exact
        found = self.transcripts(probe)
        return found[-1] if found else None

    @staticmethod
    def _status_file(probe: ActivityProbe) -> dict[str, Any] | None:
        """Claude Code's own ``~/.claude/sessions/<pid>.json`` for this conversation or workspace."""
        folder = probe.home / ".claude" / "sessions"
        best: tuple[bool, float, dict[str, Any]] | None = None
        try:
            entries = list(folder.glob("*.json"))
        except OSError:
            return None
        workspace = str(probe.workspace_path)
        for entry in entries:
            try:
                data = json.loads(entry.read_text(errors="replace"))
            except (OSError, ValueError):
                continue
            if not isinstance(data, dict):
                continue
            if probe.resume_id and data.get("sessionId") == probe.resume_id:
                pass
            elif data.get("cwd") != workspace:
                continue
            live = pid_running(data.get("pid"))
            rank = (live, float(data.get("startedAt") or 0), data)
            if best is None or rank[:2] > best[:2]:
                best = rank
        return best[2] if best else None

    # ------------------------------------------------------------------ activity

    def detect_activity(self, probe: ActivityProbe) -> ActivityReading:
        if not probe.alive:
            return self.exited()
        screen = probe.screen
        transcript = self._transcript(probe)
        resume_id = probe.resume_id or (transcript.stem if transcript else None)
        dialog = _screen.first_match(_DIALOGS, screen)
        if dialog:
            return self.reading(
                Signal(ActivityState.WAITING_INPUT, "screen: " + _screen.line_of(screen, dialog), probe.now, resume_id),
                probe.now,
            )
        retry = _RETRYING.search(screen)
        if retry and _BLOCKING.search(_screen.line_of(screen, retry)):
            return self.reading(
                Signal(ActivityState.BLOCKED, "screen: " + _screen.line_of(screen, retry), probe.now, resume_id),
                probe.now,
            )
        entries = read_jsonl_tail(transcript) if transcript else []
        last_at = _last_time(entries) or (mtime(transcript) if transcript else None)
        status = self._status_file(probe)
        if status is not None:
            resume_id = resume_id or status.get("sessionId")
        error = _last_api_error(entries)
        if error and (status is None or status.get("status") != "busy"):
            return self.reading(Signal(ActivityState.BLOCKED, f"transcript: {error}", last_at, resume_id), probe.now)
        if status is not None and status.get("status") in {"busy", "waiting", "idle"}:
            at = _latest(parse_time(status.get("statusUpdatedAt")), last_at)
            state = {
                "busy": ActivityState.ACTIVE,
                "waiting": ActivityState.WAITING_INPUT,
                "idle": ActivityState.READY,
            }[status["status"]]
            return self.reading(Signal(state, f"status file: {status['status']}", at, resume_id), probe.now)
        return self.reading(self._from_screen(screen, last_at, resume_id, probe.now), probe.now)

    @staticmethod
    def _from_screen(screen: str, last_at: datetime | None, resume_id: str | None, now: datetime) -> Signal:
        if _WORKING_FOOTER.search(screen) or _SPINNER.search(screen):
            return Signal(ActivityState.ACTIVE, "screen: working", now, resume_id)
        error = _ERROR_LINE.findall(screen)
        if error and _BLOCKING_FINAL.search(error[-1]):
            return Signal(ActivityState.BLOCKED, f"screen: {error[-1].strip()[:200]}", last_at, resume_id)
        if _INPUT_BOX.search(screen):
            return Signal(ActivityState.READY, "screen: input box", last_at, resume_id)
        return Signal(ActivityState.ACTIVE, "screen: starting", now, resume_id)

    # ------------------------------------------------------------------ usage

    def usage(self, probe: ActivityProbe) -> Usage | None:
        paths = self.transcripts(probe)
        if not paths:
            return None
        total = Usage()
        cost: float | None = None
        for path in paths:
            tally = self._tallies.get(path)
            if tally is None:
                tally = self._tallies[path] = _UsageTally(JsonlFollower(path))
            new = tally.follower.read_new()
            if tally.follower.restarted:
                tally.messages.clear()
                tally.costs.clear()
            for entry in new:
                _tally(tally, entry)
            for usage in tally.messages.values():
                total.input_tokens += as_int(usage.get("input_tokens"))
                total.output_tokens += as_int(usage.get("output_tokens"))
                total.cache_read_tokens += as_int(usage.get("cache_read_input_tokens"))
                total.cache_write_tokens += as_int(usage.get("cache_creation_input_tokens"))
            if tally.costs:
                cost = (cost or 0.0) + sum(tally.costs.values())
            total.model = tally.model or total.model
        total.cost_usd = cost
        return total


def _tally(tally: _UsageTally, entry: dict[str, Any]) -> None:
    kind = entry.get("type")
    if kind == "assistant":
        message = entry.get("message")
        if not isinstance(message, dict) or entry.get("isApiErrorMessage"):
            return
        usage = message.get("usage")
        model = message.get("model")
        if not isinstance(usage, dict) or model == "<synthetic>":
            return
        # one API response is written as several lines (one per content block) repeating its usage
        key = str(message.get("id") or entry.get("requestId") or entry.get("uuid"))
        tally.messages[key] = usage
        if isinstance(model, str):
            tally.model = model
    elif kind == "cost-state":
        cost = entry.get("totalCostUSD")
        if isinstance(cost, int | float):
            tally.costs[str(entry.get("sessionId"))] = float(cost)


def _last_time(entries: list[dict[str, Any]]) -> datetime | None:
    for entry in reversed(entries):
        at = parse_time(entry.get("timestamp"))
        if at is not None:
            return at
    return None


def _last_api_error(entries: list[dict[str, Any]]) -> str | None:
    """The blocking API error that ended the conversation so far, if the last message is one."""
    for entry in reversed(entries):
        kind = entry.get("type")
        if kind == "user" and not entry.get("isMeta"):
            message = entry.get("message")
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str) or (
                isinstance(content, list) and any(isinstance(c, dict) and c.get("type") == "text" for c in content)
            ):
                return None  # a person wrote after the error
        if kind != "assistant":
            continue
        if not entry.get("isApiErrorMessage"):
            return None
        error = str(entry.get("error") or "")
        status = entry.get("apiErrorStatus")
        if error in _BLOCKING_API_ERRORS or status in (401, 402, 403, 429):
            message = entry.get("message") or {}
            content = message.get("content") if isinstance(message, dict) else None
            text = ""
            if isinstance(content, list) and content and isinstance(content[0], dict):
                text = str(content[0].get("text") or "")
            return f"{error or status}: {text}".strip(": ")
        return None
    return None


def _latest(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None
