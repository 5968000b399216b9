"""The ``script`` agent: runs ``agent_config.command`` as the agent, for demos, tests and automation
that needs no LLM.

The prompt (with the project rules appended) reaches the program in every one of these ways:

- ``{prompt}`` in a word of the command is replaced by the prompt (delivery ``argument``);
- ``{prompt_file}`` is replaced by the absolute path of ``.ennio/prompt.md`` holding it (``file``);
- with neither, the prompt is typed into the program's terminal (its stdin) right after it starts
  (``stdin``), so ``read -r line`` or a REPL receives it;
- always: ``ENNIO_PROMPT_FILE``, ``ENNIO_SESSION_ID``, ``ENNIO_WORKSPACE`` (and ``ENNIO_RULES``,
  ``ENNIO_MODEL``, ``ENNIO_PERMISSIONS``) in its environment, and ``ENNIO_PROMPT`` unless the prompt is
  over 100,000 bytes (Linux refuses to start a program with an environment string over 128 KiB).

A prompt too long for a command-line argument cannot be given through ``{prompt}``: the spawn is
refused before anything is made (``{prompt_file}`` and stdin take any size).

``{session_id}`` and ``{workspace}`` are replaced too. ``agent_config.passthrough`` is appended.

Activity: the program may write one of ``active``, ``ready``, ``waiting_input``, ``blocked`` (and an
optional detail after a space) to ``$ENNIO_STATUS_FILE`` (``.ennio/status``); the file's time is the
last activity. Without it, the screen decides: a ``[y/n]`` question is waiting_input, a shell-like
prompt (``>``, ``$``, ``#``, ``%``, ``:`` at the end of the last line) is ready, anything else active.
Usage: the program may write ``{"input_tokens": …, "output_tokens": …, "cost_usd": …, "model": …}`` to
``$ENNIO_USAGE_FILE`` (``.ennio/usage.json``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import ClassVar

from ennio.core.errors import ConfigError, InvalidInput, MissingTool
from ennio.core.exec_limits import ARGUMENT_PROMPT_MAX, fits_in_argument
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
from ennio.core.prompt import with_rules
from ennio.core.session import ActivityState
from ennio.plugins.agent import _screen
from ennio.plugins.agent._base import ENNIO_DIR, ENNIO_DIR_GITIGNORE, PROMPT_FILE, AgentBase, Signal
from ennio.plugins.agent._files import mtime

STATUS_FILE = f"{ENNIO_DIR}/status"
USAGE_FILE = f"{ENNIO_DIR}/usage.json"

_STATES = {
    s.value: s for s in (ActivityState.ACTIVE, ActivityState.READY, ActivityState.WAITING_INPUT, ActivityState.BLOCKED)
}
_QUESTION = re.compile(r"\[[yY]/[nN]\]|\([yY]/[nN]\)|\[yes/no\]", re.I)
_PROMPT = re.compile(r"[>$#%:]$")


class ScriptAgent(AgentBase):
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="script",
        slot=Slot.AGENT,
        version="1.0",
        description="Runs a given command as the agent (demos, tests, automation without an LLM)",
    )
    executable: ClassVar[str] = "sh"
    install_hint: ClassVar[str] = "set agent_config.command to the program to run"

    # ------------------------------------------------------------------ command lines

    def program(self, ctx: AgentContext) -> list[str]:
        """``agent_config.command``, its program found on PATH or relative to the workspace."""
        if not ctx.config.command:
            raise ConfigError(
                "the script agent needs a command to run",
                key="agent_config.command",
                hint='set agent_config.command, e.g. command: "./scripts/agent.sh {prompt}"',
            )
        argv = list(ctx.config.command)
        first = argv[0]
        if "/" in first and not Path(first).is_absolute():
            candidate = ctx.workspace_path / first
            if candidate.is_file():
                return [str(candidate), *argv[1:]]
        found = shutil.which(first, path=ctx.config.env.get("PATH"))
        if found is None:
            raise MissingTool(
                f"{first} (the script agent's command) is not installed or not on PATH",
                hint="check agent_config.command",
            )
        return [found, *argv[1:]]

    def _launch(self, ctx: AgentContext, *, restoring: bool) -> AgentLaunch:
        prompt = with_rules(ctx.prompt, ctx.rules)
        prompt_file = str(ctx.workspace_path / PROMPT_FILE)
        words = {
            "{prompt}": prompt,
            "{prompt_file}": prompt_file,
            "{session_id}": ctx.session_id,
            "{workspace}": str(ctx.workspace_path),
        }
        command = self.program(ctx)
        used = {key for key in words if any(key in word for word in command)}
        small = fits_in_argument(prompt)
        if "{prompt}" in used and not small:
            raise InvalidInput(
                f"the prompt is {len(prompt.encode()):,} bytes, too long for the script agent's {{prompt}} argument "
                f"(at most {ARGUMENT_PROMPT_MAX:,} bytes are given on a command line)",
                hint="use {prompt_file} in agent_config.command, or neither (the prompt is then typed on stdin)",
            )
        argv = [_fill(word, words) for word in command] + list(ctx.config.passthrough)
        delivery: PromptDelivery = "argument" if "{prompt}" in used else "file" if "{prompt_file}" in used else "stdin"
        own = {
            "ENNIO_PROMPT_FILE": prompt_file,
            "ENNIO_SESSION_ID": ctx.session_id,
            "ENNIO_WORKSPACE": str(ctx.workspace_path),
            "ENNIO_PERMISSIONS": ctx.config.permissions,
            "ENNIO_STATUS_FILE": str(ctx.workspace_path / STATUS_FILE),
            "ENNIO_USAGE_FILE": str(ctx.workspace_path / USAGE_FILE),
        }
        if small:
            own["ENNIO_PROMPT"] = prompt  # a longer one would not fit in the environment: read the file
        if ctx.rules and ctx.rules.strip():
            own["ENNIO_RULES"] = ctx.rules.strip()
        if ctx.config.model:
            own["ENNIO_MODEL"] = ctx.config.model
        if restoring:
            own["ENNIO_RESTORE"] = "1"
        files = {**ENNIO_DIR_GITIGNORE, PROMPT_FILE: prompt, **self.rules_files(ctx)}
        return AgentLaunch(
            argv=argv,
            env=self.merged_env(ctx, own),
            prompt_delivery=delivery,
            typed_prompt=prompt if delivery == "stdin" and prompt.strip() else None,
            files=files,
        )

    def launch(self, ctx: AgentContext) -> AgentLaunch:
        return self._launch(ctx, restoring=False)

    def restore(self, ctx: AgentContext) -> AgentLaunch:
        """A script has no conversation to resume: it starts over, with ``ENNIO_RESTORE=1`` set."""
        return self._launch(ctx, restoring=True)

    # ------------------------------------------------------------------ activity

    def detect_activity(self, probe: ActivityProbe) -> ActivityReading:
        if not probe.alive:
            return self.exited("the script has exited")
        status = probe.workspace_path / STATUS_FILE
        try:
            text = status.read_text(errors="replace").strip()
        except OSError:
            text = ""
        if text:
            word = text.split(maxsplit=1)[0]
            state = _STATES.get(word.lower())
            if state is not None:
                at = mtime(status)
                return self.reading(Signal(state, f"status file: {text[:200]}", at), probe.now)
        return self.reading(_from_screen(probe.screen), probe.now)

    def usage(self, probe: ActivityProbe) -> Usage | None:
        try:
            raw = json.loads((probe.workspace_path / USAGE_FILE).read_text(errors="replace"))
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict):
            return None

        def count(key: str) -> int:
            value = raw.get(key)
            return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0

        cost = raw.get("cost_usd")
        return Usage(
            model=str(raw["model"]) if raw.get("model") else None,
            input_tokens=count("input_tokens"),
            output_tokens=count("output_tokens"),
            cache_read_tokens=count("cache_read_tokens"),
            cache_write_tokens=count("cache_write_tokens"),
            cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
        )


_PLACEHOLDER = re.compile(r"\{(?:prompt|prompt_file|session_id|workspace)\}")


def _fill(word: str, values: dict[str, str]) -> str:
    """``word`` with each placeholder replaced once (a prompt containing ``{workspace}`` stays as written)."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(0)], word)


def _from_screen(screen: str) -> Signal:
    rows = _screen.nonblank(screen)
    last = rows[-1].strip() if rows else ""
    if _QUESTION.search(last):
        return Signal(ActivityState.WAITING_INPUT, f"screen: {last[:200]}")
    if last and _PROMPT.search(last):
        return Signal(ActivityState.READY, f"screen: {last[:200]}")
    return Signal(ActivityState.ACTIVE, "screen: running")
