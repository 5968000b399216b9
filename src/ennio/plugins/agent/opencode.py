"""OpenCode (``opencode``): its terminal UI, started on the task prompt.

Command line: ``opencode [--model PROVIDER/MODEL] [--agent plan | --auto] [passthrough…] --prompt=PROMPT``
with permissions for "ask" / "accept-edits" in ``OPENCODE_PERMISSION`` (JSON merged into OpenCode's
``permission`` config) and the project rules as an extra ``instructions`` file given through
``OPENCODE_CONFIG_CONTENT`` (merged over the user's config, not replacing it); a prompt too long for one
argument is written to ``.ennio/prompt.md`` and PROMPT asks OpenCode to read it. Restore is
``--session ID`` (or ``--continue``). Activity comes from the screen's permission dialog and retry line,
then OpenCode's own SQLite database (``~/.local/share/opencode/opencode.db``: the session for this
folder, its latest message, completion time, errors, tokens and cost), then the screen.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from ennio.core.errors import InvalidInput
from ennio.core.plugins import (
    ActivityProbe,
    ActivityReading,
    AgentContext,
    AgentLaunch,
    PluginManifest,
    PromptDelivery,
    Slot,
    Usage,
)
from ennio.core.session import ActivityState
from ennio.plugins.agent import _screen
from ennio.plugins.agent._base import RULES_FILE, AgentBase, Signal
from ennio.plugins.agent._files import as_int, parse_time

PERMISSIONS: dict[str, dict[str, str]] = {
    "ask": {"edit": "ask", "bash": "ask", "webfetch": "ask"},
    "accept-edits": {"edit": "allow", "bash": "ask", "webfetch": "ask"},
}
SESSION_ID = re.compile(r"^ses_[A-Za-z0-9]{10,40}$")

_DIALOGS = [re.compile(r"Permission required"), re.compile(r"Allow once\s+Allow always\s+Reject")]
_RETRYING = re.compile(r"\[?retrying in \d+s", re.I)
_BLOCKING = re.compile(
    r"\b401\b|\b403\b|\b429\b|unauthori[sz]ed|api key|authenticat|rate limit|quota|credit|billing|insufficient",
    re.I,
)
_WORKING = re.compile(r"esc interrupt", re.I)
_INPUT = re.compile(r"ctrl\+p commands")


class OpenCodeAgent(AgentBase):
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="opencode",
        slot=Slot.AGENT,
        version="1.0",
        description="OpenCode, the open source coding agent, in its terminal UI",
    )
    executable: ClassVar[str] = "opencode"
    install_hint: ClassVar[str] = "npm install -g opencode-ai"

    # ------------------------------------------------------------------ command lines

    def _base(self, ctx: AgentContext) -> tuple[list[str], dict[str, str], dict[str, str]]:
        argv = self.program(ctx)
        own: dict[str, str] = {}
        if ctx.config.model:
            argv += ["--model", ctx.config.model]
        mode = ctx.config.permissions
        if mode == "plan":
            argv += ["--agent", "plan"]
        elif mode == "bypass":
            argv.append("--auto")
        else:
            own["OPENCODE_PERMISSION"] = json.dumps(PERMISSIONS[mode])
        files = self.rules_files(ctx)
        if files:
            rules_path = str(ctx.workspace_path / RULES_FILE)
            user = ctx.config.env.get("OPENCODE_CONFIG_CONTENT")
            content = _merge_instructions(user, rules_path)
            # set in `own` and also after the user's env so the merged value wins
            own["OPENCODE_CONFIG_CONTENT"] = content
        argv += ctx.config.passthrough
        env = self.merged_env(ctx, own)
        if "OPENCODE_CONFIG_CONTENT" in own:
            env["OPENCODE_CONFIG_CONTENT"] = own["OPENCODE_CONFIG_CONTENT"]
        return argv, env, files

    def launch(self, ctx: AgentContext) -> AgentLaunch:
        argv, env, files = self._base(ctx)
        prompt, prompt_files = self.argument_prompt(ctx)
        if prompt.strip():
            argv.append(f"--prompt={prompt}")  # one word: a prompt starting with "-" stays a prompt
        delivery: PromptDelivery = "file" if prompt_files else "argument"
        return AgentLaunch(argv=argv, env=env, prompt_delivery=delivery, files={**files, **prompt_files})

    def restore(self, ctx: AgentContext) -> AgentLaunch:
        argv, env, files = self._base(ctx)
        if ctx.resume_id:
            if not SESSION_ID.match(ctx.resume_id):
                raise InvalidInput(
                    f"{ctx.resume_id!r} is not an OpenCode session id (ses_…)",
                    hint="restore without a resume id to continue the latest session in the workspace",
                )
            argv += ["--session", ctx.resume_id]
        else:
            argv.append("--continue")
        return AgentLaunch(argv=argv, env=env, prompt_delivery="argument", files=files, resume_id=ctx.resume_id)

    # ------------------------------------------------------------------ database

    @staticmethod
    def database_path(home: Path) -> Path:
        return home / ".local" / "share" / "opencode" / "opencode.db"

    def _query(self, probe: ActivityProbe) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The session row for this workspace (or resume id) and its latest message's data."""
        path = self.database_path(probe.home)
        if not path.is_file():
            return None, None
        try:
            with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)) as db:
                db.row_factory = sqlite3.Row
                if probe.resume_id:
                    row = db.execute("SELECT * FROM session WHERE id = ?", (probe.resume_id,)).fetchone()
                else:
                    row = db.execute(
                        "SELECT * FROM session WHERE directory = ? AND parent_id IS NULL "
                        "ORDER BY time_updated DESC LIMIT 1",
                        (str(probe.workspace_path),),
                    ).fetchone()
                if row is None:
                    return None, None
                session = dict(row)
                message = db.execute(
                    "SELECT data, time_updated FROM message WHERE session_id = ? ORDER BY time_created DESC LIMIT 1",
                    (session["id"],),
                ).fetchone()
        except sqlite3.Error:
            return None, None
        if message is None:
            return session, None
        try:
            data = json.loads(message["data"])
        except ValueError:
            return session, None
        if isinstance(data, dict):
            data["_time_updated"] = message["time_updated"]
            return session, data
        return session, None

    # ------------------------------------------------------------------ activity

    def detect_activity(self, probe: ActivityProbe) -> ActivityReading:
        if not probe.alive:
            return self.exited()
        screen = probe.screen
        session, message = self._query(probe)
        resume_id = probe.resume_id or (str(session["id"]) if session else None)
        dialog = _screen.first_match(_DIALOGS, screen)
        if dialog:
            detail = "screen: " + _screen.line_of(screen, dialog)
            return self.reading(Signal(ActivityState.WAITING_INPUT, detail, probe.now, resume_id), probe.now)
        retry = _RETRYING.search(screen)
        if retry:
            line = _screen.line_of(screen, retry)
            state = ActivityState.BLOCKED if _BLOCKING.search(line) else ActivityState.ACTIVE
            return self.reading(Signal(state, f"screen: {line}", probe.now, resume_id), probe.now)
        signal = _from_message(message, resume_id) if message else None
        if signal is None:
            last_at = parse_time(session.get("time_updated")) if session else None
            signal = _from_screen(screen, last_at, resume_id, probe.now)
        return self.reading(signal, probe.now)

    def usage(self, probe: ActivityProbe) -> Usage | None:
        session, _ = self._query(probe)
        if session is None:
            return None
        model = None
        try:
            raw = json.loads(session.get("model") or "null")
            if isinstance(raw, dict):
                model = "/".join(str(raw[k]) for k in ("providerID", "id") if raw.get(k))
        except ValueError:
            model = None
        cost = session.get("cost")
        return Usage(
            model=model or None,
            input_tokens=as_int(session.get("tokens_input")),
            output_tokens=as_int(session.get("tokens_output")) + as_int(session.get("tokens_reasoning")),
            cache_read_tokens=as_int(session.get("tokens_cache_read")),
            cache_write_tokens=as_int(session.get("tokens_cache_write")),
            cost_usd=float(cost) if isinstance(cost, int | float) else None,
        )


def _merge_instructions(user_content: str | None, rules_path: str) -> str:
    """``OPENCODE_CONFIG_CONTENT`` with ``rules_path`` added to ``instructions`` (keeping the user's own)."""
    config: dict[str, Any] = {}
    if user_content:
        try:
            parsed = json.loads(user_content)
        except ValueError:
            raise InvalidInput(
                "agent_config.env.OPENCODE_CONFIG_CONTENT is not valid JSON",
                hint="give OpenCode's config as a JSON object",
            ) from None
        if isinstance(parsed, dict):
            config = parsed
    instructions = config.get("instructions")
    listed = [str(i) for i in instructions] if isinstance(instructions, list) else []
    config["instructions"] = [*listed, rules_path]
    return json.dumps(config)


def _from_message(message: dict[str, Any], resume_id: str | None) -> Signal | None:
    """The state OpenCode's latest message implies."""
    raw_times = message.get("time")
    times: dict[str, Any] = raw_times if isinstance(raw_times, dict) else {}
    at = parse_time(times.get("completed") or message.get("_time_updated") or times.get("created"))
    if message.get("role") == "user":
        return Signal(ActivityState.ACTIVE, "database: waiting for the model", at, resume_id)
    if message.get("role") != "assistant":
        return None
    error = message.get("error")
    if isinstance(error, dict):
        text = json.dumps(error)[:300]
        state = (
            ActivityState.BLOCKED if _BLOCKING.search(text) or "Auth" in str(error.get("name")) else ActivityState.READY
        )
        return Signal(state, f"database: {error.get('name') or 'error'}: {_error_message(error)}", at, resume_id)
    if not times.get("completed"):
        return Signal(ActivityState.ACTIVE, "database: reply streaming", at, resume_id)
    if message.get("finish") in ("tool-calls", "tool_calls"):
        return Signal(ActivityState.ACTIVE, "database: running tools", at, resume_id)
    return Signal(ActivityState.READY, f"database: reply finished ({message.get('finish') or 'done'})", at, resume_id)


def _error_message(error: dict[str, Any]) -> str:
    data = error.get("data")
    if isinstance(data, dict) and data.get("message"):
        return str(data["message"])[:200]
    return str(error.get("message") or "")[:200]


def _from_screen(screen: str, last_at: datetime | None, resume_id: str | None, now: datetime) -> Signal:
    if _WORKING.search(screen):
        return Signal(ActivityState.ACTIVE, "screen: working", now, resume_id)
    if _INPUT.search(screen):
        return Signal(ActivityState.READY, "screen: input box", last_at, resume_id)
    return Signal(ActivityState.ACTIVE, "screen: starting", now, resume_id)
