"""``echo``: a test-only agent plugin that runs :mod:`tests.helpers.echo_agent` (a TUI-like stand-in).

It takes its prompt ``typed`` (like aider), so spawning it exercises the wait-until-ready and send path.
In-process tests add it with ``PluginRegistry.register``; subprocesses (CLI, daemon) find it through an
entry point in a throw-away ``.dist-info`` folder on ``PYTHONPATH`` (:func:`subprocess_pythonpath`) — the
same way a third-party plugin package is found.

``agent_config.command`` replaces the program (to test a missing agent CLI); ``agent_config.passthrough``
are passed to the echo agent as modes (``--deaf``, ``--ignore-first-enter``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import ClassVar

from ennio.core.errors import MissingTool
from ennio.core.plugins import (
    ActivityProbe,
    ActivityReading,
    AgentContext,
    AgentLaunch,
    PluginContext,
    PluginManifest,
    Slot,
    Usage,
)
from ennio.core.session import ActivityState
from tests.helpers.plugins import make_plugin_distribution

ECHO_AGENT = Path(__file__).with_name("echo_agent.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
PROMPT = "agent>"


class EchoAgent:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        "echo", Slot.AGENT, "0.0.1", "test agent: tests/helpers/echo_agent.py, prompt typed once ready"
    )
    executable: ClassVar[str] = "python3"
    install_hint: ClassVar[str] = "the echo agent needs python3 on PATH (`apt-get install python3`)"

    def __init__(self, ctx: PluginContext) -> None:
        self.ctx = ctx

    def out_dir(self, session_id: str) -> Path:
        """Where the echo agent of ``session_id`` records what it received."""
        return self.ctx.data_dir / "echo" / session_id

    def _argv(self, ctx: AgentContext) -> list[str]:
        argv = list(ctx.config.command) if ctx.config.command else [sys.executable, str(ECHO_AGENT)]
        found = shutil.which(argv[0], path=ctx.config.env.get("PATH"))
        if found is None:
            raise MissingTool(
                f"{argv[0]} is not installed or not on PATH (needed by the echo agent)", hint=self.install_hint
            )
        out = self.out_dir(ctx.session_id)
        out.mkdir(parents=True, exist_ok=True)
        return [found, *argv[1:], str(out), *ctx.config.passthrough]

    def launch(self, ctx: AgentContext) -> AgentLaunch:
        argv = self._argv(ctx)
        files = {".ennio/.gitignore": "*\n", ".ennio/rules.md": ctx.rules.strip() + "\n"} if ctx.rules else {}
        return AgentLaunch(
            argv=argv,
            env=dict(ctx.config.env),
            prompt_delivery="typed",
            typed_prompt=ctx.prompt,
            files=files,
            resume_id=f"echo-{ctx.session_id}",
        )

    def restore(self, ctx: AgentContext) -> AgentLaunch:
        argv = self._argv(ctx)
        return AgentLaunch(
            argv=[*argv, "--resumed"], env=dict(ctx.config.env), prompt_delivery="argument", resume_id=ctx.resume_id
        )

    def detect_activity(self, probe: ActivityProbe) -> ActivityReading:
        if not probe.alive:
            return ActivityReading(ActivityState.EXITED, detail="screen: the echo agent exited")
        lines = [line.strip() for line in probe.screen.splitlines() if line.strip()]
        if lines and lines[-1] == PROMPT:
            return ActivityReading(ActivityState.READY, detail="screen: prompt shown", resume_id=probe.resume_id)
        return ActivityReading(ActivityState.ACTIVE, detail="screen: no prompt", resume_id=probe.resume_id)

    def usage(self, probe: ActivityProbe) -> Usage | None:
        return None


def subprocess_pythonpath(folder: Path) -> str:
    """``PYTHONPATH`` for a CLI or daemon subprocess that should know the echo agent: a plugin distribution
    registering ``echo`` under ``ennio.agent`` (made in ``folder``), and this repository for its code."""
    site = folder / "site"
    if not site.exists():
        source = "from tests.helpers.echo_agent_plugin import EchoAgent\n"
        make_plugin_distribution(site, "ennio_test_echo", {"ennio.agent": ["echo = ennio_test_echo:EchoAgent"]}, source)
    return f"{site}:{REPO_ROOT}"
