"""OpenAI Codex CLI (``codex``): an interactive TUI session that starts on the task prompt.

Command line: ``codex --no-daemon -c projects={…trusted…} SANDBOX/APPROVAL [-m M]
[-c developer_instructions=RULES] [passthrough…] -- PROMPT`` (a prompt too long for one argument is written to
``.ennio/prompt.md`` and PROMPT asks Codex to read it); restore is ``codex resume … ID`` (or
``--last``). ``--no-daemon`` keeps the agent a child of its terminal: Codex otherwise starts a shared
background app server that outlives the session Ennio kills. The workspace (and the project it was
made from) is marked trusted for this run only, since Ennio created it; without that Codex stops on a
"Trust this folder?" screen. Activity comes from the session's rollout JSONL under
``~/.codex/sessions/YYYY/MM/DD/`` (task started/complete, approval requests, errors, token counts)
and the screen.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
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
from ennio.core.session import ActivityState
from ennio.plugins.agent import _screen
from ennio.plugins.agent._base import AgentBase, Signal
from ennio.plugins.agent._files import JsonlFollower, as_int, mtime, parse_time, read_jsonl_head, read_jsonl_tail

PERMISSION_FLAGS = {
    # read-only sandbox: every edit or command that writes asks first
    "ask": ["--sandbox", "read-only", "--ask-for-approval", "on-request"],
    # edits and commands inside the workspace run; anything beyond asks
    "accept-edits": ["--sandbox", "workspace-write", "--ask-for-approval", "on-request"],
    "bypass": ["--dangerously-bypass-approvals-and-sandbox"],
    # nothing can change and nothing asks: the agent can only read and plan
    "plan": ["--sandbox", "read-only", "--ask-for-approval", "never"],
}

_DIALOGS = [
    re.compile(r"Trust this folder\?"),
    re.compile(r"Would you like to (run|make|apply|allow)", re.I),
    re.compile(r"^\s*›\s*1\.\s*Yes", re.M),
    re.compile(r"Allow command\?|Approve app tool call\?|Yes, proceed", re.I),
]
_BLOCKING = re.compile(
    r"\b401\b|unauthori[sz]ed|invalid api key|incorrect api key|\b403\b|\b429\b|rate limit|quota|"
    r"usage limit|insufficient_quota|billing|log ?in again|please log ?in",
    re.I,
)
_ERROR_LINE = re.compile(r"^\s*■\s*(.+)$")
_AGENT_LINE = re.compile(r"^\s*•\s")
_WORKING = re.compile(r"esc to interrupt|^\s*•\s*Working \(", re.I | re.M)
_INPUT = re.compile(r"^\s*›(\s|$)", re.M)

_WAITING_EVENTS = {
    "exec_approval_request",
    "apply_patch_approval_request",
    "request_user_input",
    "elicitation_request",
    "request_permissions",
}
_READY_EVENTS = {"task_complete", "turn_aborted", "turn_complete"}
_ACTIVE_EVENTS = {"task_started", "turn_started", "user_message", "exec_command_begin", "agent_message_delta"}


def trust_override(*folders: Path) -> str:
    """A ``-c`` value marking ``folders`` trusted for this run (as TOML: ``projects={"/p"={trust_level=…}}``)."""
    tables = ",".join(f'{json.dumps(str(f))}={{trust_level="trusted"}}' for f in dict.fromkeys(folders))
    return f"projects={{{tables}}}"


@dataclass
class _Rollout:
    path: Path
    follower: JsonlFollower
    total: dict[str, Any] | None = None
    model: str | None = None


class CodexAgent(AgentBase):
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="codex",
        slot=Slot.AGENT,
        version="1.0",
        description="OpenAI's Codex CLI in an interactive session",
    )
    executable: ClassVar[str] = "codex"
    install_hint: ClassVar[str] = "npm install -g @openai/codex"

    def __init__(self, ctx: PluginContext) -> None:
        super().__init__(ctx)
        self._rollout_of: dict[Path, Path] = {}
        self._usage: dict[Path, _Rollout] = {}

    # ------------------------------------------------------------------ command lines

    def _flags(self, ctx: AgentContext) -> list[str]:
        flags = ["--no-daemon", "-c", trust_override(ctx.workspace_path, ctx.project.path)]
        flags += PERMISSION_FLAGS[ctx.config.permissions]
        if ctx.config.model:
            flags += ["--model", ctx.config.model]
        if ctx.rules and ctx.rules.strip():
            # a TOML basic string: JSON string escapes are valid TOML
            flags += ["-c", f"developer_instructions={json.dumps(ctx.rules.strip())}"]
        return flags + ctx.config.passthrough

    def launch(self, ctx: AgentContext) -> AgentLaunch:
        argv = [*self.program(ctx), *self._flags(ctx)]
        prompt, files = self.argument_prompt(ctx)
        if prompt.strip():
            argv += ["--", prompt]
        delivery: PromptDelivery = "file" if files else "argument"
        return AgentLaunch(argv=argv, env=self.merged_env(ctx), prompt_delivery=delivery, files=files)

    def restore(self, ctx: AgentContext) -> AgentLaunch:
        argv = [*self.program(ctx), "resume", *self._flags(ctx)]
        if ctx.resume_id:
            try:
                argv.append(str(uuid.UUID(ctx.resume_id)))
            except ValueError:
                raise InvalidInput(
                    f"{ctx.resume_id!r} is not a Codex session id (a UUID)",
                    hint="restore without a resume id to continue the latest session in the workspace",
                ) from None
        else:
            argv.append("--last")  # the most recent session whose folder is this workspace
        return AgentLaunch(argv=argv, env=self.merged_env(ctx), prompt_delivery="argument", resume_id=ctx.resume_id)

    # ------------------------------------------------------------------ files

    def rollout(self, probe: ActivityProbe) -> Path | None:
        """This session's rollout file: by its id when known, else the newest one started in the workspace."""
        root = probe.home / ".codex" / "sessions"
        if probe.resume_id:
            found = sorted(root.glob(f"*/*/*/rollout-*-{probe.resume_id}.jsonl"))
            if found:
                return found[-1]
        cached = self._rollout_of.get(probe.workspace_path)
        newest = self._newest_in(root, probe)
        if newest is not None:
            self._rollout_of[probe.workspace_path] = newest
            return newest
        return cached if cached is not None and cached.exists() else None

    @staticmethod
    def _newest_in(root: Path, probe: ActivityProbe) -> Path | None:
        """Newest rollout whose session started in the workspace, looking only at days since the agent started."""
        since = probe.started_at - timedelta(days=1)
        candidates: list[tuple[float, Path]] = []
        day = since.date()
        while day <= probe.now.date() + timedelta(days=1):
            folder = root / f"{day.year:04d}" / f"{day.month:02d}" / f"{day.day:02d}"
            if folder.is_dir():
                for path in folder.glob("rollout-*.jsonl"):
                    try:
                        candidates.append((path.stat().st_mtime, path))
                    except OSError:
                        continue
            day += timedelta(days=1)
        workspace = str(probe.workspace_path)
        for _, path in sorted(candidates, reverse=True):
            head = read_jsonl_head(path)
            payload = head[0].get("payload") if head else None
            if isinstance(payload, dict) and payload.get("cwd") == workspace:
                return path
        return None

    @staticmethod
    def session_id(path: Path) -> str | None:
        found = re.search(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.jsonl$", path.name)
        return found.group(1) if found else None

    # ------------------------------------------------------------------ activity

    def detect_activity(self, probe: ActivityProbe) -> ActivityReading:
        if not probe.alive:
            return self.exited()
        screen = probe.screen
        rollout = self.rollout(probe)
        resume_id = probe.resume_id or (self.session_id(rollout) if rollout else None)
        dialog = _screen.first_match(_DIALOGS, screen)
        if dialog:
            detail = "screen: " + _screen.line_of(screen, dialog)
            return self.reading(Signal(ActivityState.WAITING_INPUT, detail, probe.now, resume_id), probe.now)
        entries = read_jsonl_tail(rollout) if rollout else []
        signal = _from_rollout(entries, resume_id)
        if signal is None:
            last_at = mtime(rollout) if rollout else None
            signal = _from_screen(screen, last_at, resume_id, probe.now)
        elif signal.state is ActivityState.READY:
            error = _last_error_line(screen)
            if error and _BLOCKING.search(error):
                signal = Signal(ActivityState.BLOCKED, f"screen: {error}", signal.at, resume_id)
        return self.reading(signal, probe.now)

    # ------------------------------------------------------------------ usage

    def usage(self, probe: ActivityProbe) -> Usage | None:
        rollout = self.rollout(probe)
        if rollout is None:
            return None
        state = self._usage.get(rollout)
        if state is None:
            state = self._usage[rollout] = _Rollout(rollout, JsonlFollower(rollout))
        for entry in state.follower.read_new():
            payload = entry.get("payload")
            if not isinstance(payload, dict):
                continue
            if entry.get("type") == "turn_context" and isinstance(payload.get("model"), str):
                state.model = payload["model"]
            if payload.get("type") == "token_count" and isinstance(payload.get("info"), dict):
                total = payload["info"].get("total_token_usage")
                if isinstance(total, dict):
                    state.total = total
        if state.total is None:
            return Usage(model=state.model)
        total = state.total
        cached = as_int(total.get("cached_input_tokens"))
        return Usage(
            model=state.model,
            input_tokens=max(0, as_int(total.get("input_tokens")) - cached),
            output_tokens=as_int(total.get("output_tokens")),
            cache_read_tokens=cached,
            cache_write_tokens=as_int(total.get("cache_write_input_tokens")),
        )


def _from_rollout(entries: list[dict[str, Any]], resume_id: str | None) -> Signal | None:
    """The state the rollout's latest turn event implies, or ``None`` when it holds none yet."""
    for entry in reversed(entries):
        payload = entry.get("payload")
        if entry.get("type") != "event_msg" or not isinstance(payload, dict):
            continue
        kind = payload.get("type")
        at = parse_time(entry.get("timestamp"))
        if kind in _WAITING_EVENTS:
            return Signal(ActivityState.WAITING_INPUT, f"rollout: {kind}", at, resume_id)
        if kind in ("error", "stream_error"):
            message = str(payload.get("message") or "")
            if _BLOCKING.search(message):
                return Signal(ActivityState.BLOCKED, f"rollout: {message[:200]}", at, resume_id)
            if kind == "error":
                return Signal(ActivityState.READY, f"rollout: error: {message[:200]}", at, resume_id)
            return Signal(ActivityState.ACTIVE, f"rollout: retrying: {message[:200]}", at, resume_id)
        if kind in _READY_EVENTS:
            return Signal(ActivityState.READY, f"rollout: {kind}", at, resume_id)
        if kind in _ACTIVE_EVENTS:
            return Signal(ActivityState.ACTIVE, f"rollout: {kind}", at, resume_id)
    return None


def _last_error_line(screen: str) -> str | None:
    """The error (``■ …``) that ended the latest turn: no agent output (``• …``) or new prompt follows it."""
    rows = _screen.lines(screen)
    for i in range(len(rows) - 1, -1, -1):
        found = _ERROR_LINE.match(rows[i])
        if found:
            return found.group(1).strip()[:200]
        if _AGENT_LINE.match(rows[i]):
            return None
    return None


def _from_screen(screen: str, last_at: datetime | None, resume_id: str | None, now: datetime) -> Signal:
    error = _last_error_line(screen)
    if _WORKING.search(screen):
        return Signal(ActivityState.ACTIVE, "screen: working", now, resume_id)
    if error and _BLOCKING.search(error):
        return Signal(ActivityState.BLOCKED, f"screen: {error}", last_at, resume_id)
    if _INPUT.search(screen):
        return Signal(ActivityState.READY, "screen: input box", last_at, resume_id)
    return Signal(ActivityState.ACTIVE, "screen: starting", now, resume_id)
