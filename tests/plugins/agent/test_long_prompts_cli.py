"""A task too long for a command-line argument (Linux: 128 KiB per argument or environment string) still
starts each real agent CLI: the task is written to ``.ennio/prompt.md`` and the agent is pointed at it
(aider gets it as a read-only file of the chat). Given on the command line, ``execve`` refused it and
the agent died before it started."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ennio.core.exec_limits import MAX_ARG_STRLEN, launch_problems
from ennio.core.plugins import AgentContext, AgentLaunch, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent._base import PROMPT_FILE
from ennio.plugins.agent.aider import AiderAgent
from ennio.plugins.agent.claude_code import ClaudeCodeAgent
from ennio.plugins.agent.codex import CodexAgent
from ennio.plugins.agent.opencode import OpenCodeAgent
from tests.helpers.agent_cli import (
    AIDER_TEST_MODEL,
    AIDER_TEST_PASSTHROUGH,
    prepare_aider,
    prepare_claude,
    prepare_codex,
    prepare_opencode,
    start_launch,
)
from tests.helpers.model_servers import ModelServer, Reply
from tests.helpers.tmux import TmuxServer
from tests.plugins.agent.conftest import wait_state

pytestmark = pytest.mark.agents
#: a 150,000-character task: over the kernel's limit for one argument
TASK = "Fix add() in calc.py.\n" + "".join(f"Detail {i:05d} of the specification.\n" for i in range(4300)) + "END-7f3a"
POINTER = "Your task is too long to"


def started(launch: AgentLaunch, workspace: Path, tmux: TmuxServer, env: dict[str, str], server: ModelServer) -> None:
    assert len(TASK.encode()) > MAX_ARG_STRLEN
    assert launch_problems(launch.argv, launch.env) == []
    pane = start_launch(tmux, launch, workspace, env)
    server.wait_for_text(POINTER, timeout=90)
    pane.wait_screen("Reading the task file.", timeout=90)
    assert (workspace / PROMPT_FILE).read_text() == TASK


def test_claude_code_starts_on_a_task_too_long_for_its_command_line(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    env = prepare_claude(tmp_path / "home", model_server, trusted=[workspace])
    model_server.script(Reply(text="Reading the task file."))
    launch = ClaudeCodeAgent(plugin_ctx).launch(agent_ctx(TASK))
    started(launch, workspace, tmux, env, model_server)


def test_codex_starts_on_a_task_too_long_for_its_command_line(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    env = prepare_codex(tmp_path / "home", model_server)
    model_server.script(Reply(text="Reading the task file."))
    launch = CodexAgent(plugin_ctx).launch(agent_ctx(TASK))
    started(launch, workspace, tmux, env, model_server)


def test_opencode_starts_on_a_task_too_long_for_its_command_line(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    env = prepare_opencode(tmp_path / "home", model_server)
    model_server.script(Reply(text="Reading the task file."))
    launch = OpenCodeAgent(plugin_ctx).launch(agent_ctx(TASK, model="fake/fake-model"))
    started(launch, workspace, tmux, env, model_server)


def test_aider_gets_a_task_too_long_to_type_as_a_read_only_file(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_aider(home, model_server)
    model_server.script(Reply(text="Reading the task file."))
    agent = AiderAgent(plugin_ctx)
    launch = agent.launch(agent_ctx(TASK, model=AIDER_TEST_MODEL, passthrough=AIDER_TEST_PASSTHROUGH))
    assert launch.typed_prompt is not None and launch.typed_prompt.startswith(POINTER)
    assert launch_problems(launch.argv, launch.env) == []
    pane = start_launch(tmux, launch, workspace, env)
    wait_state(agent, pane, workspace, home, ActivityState.READY)
    pane.type(launch.typed_prompt)
    pane.wait_screen("have been given here.")
    pane.send_keys("Enter")
    request = model_server.wait_for_text(POINTER, timeout=90)
    assert "END-7f3a" in request.text() and "Detail 02150 of the specification." in request.text()
    pane.wait_screen("Reading the task file.", timeout=90)
