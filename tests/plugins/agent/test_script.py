"""ScriptAgent: runs a given program as the agent. Real programs in real tmux receive the prompt as an
argument, a file or typed input (never through a shell), and report activity through a status file
or their screen."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ennio.core.errors import ConfigError, InvalidInput, MissingTool
from ennio.core.plugins import ActivityProbe, AgentContext, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent.script import ScriptAgent
from tests.helpers.agent_cli import base_env, start_launch
from tests.helpers.tmux import TmuxServer
from tests.helpers.wait import wait_for
from tests.plugins.agent.conftest import live_probe

S = ActivityState
#: quotes, a command substitution, a variable, a leading dash and a second line: all must arrive as text
NASTY = "-x \"quoted\" 'single' $(touch pwned) $HOME `id`\nsecond line"


@pytest.fixture
def agent(plugin_ctx: PluginContext) -> ScriptAgent:
    return ScriptAgent(plugin_ctx)


def _probe(workspace: Path, screen: str = "", alive: bool = True) -> ActivityProbe:
    now = datetime.now(UTC)
    return ActivityProbe(workspace, screen, alive, now, now, workspace)


def test_prompt_as_argument_reaches_the_program_verbatim(
    agent: ScriptAgent, agent_ctx: Callable[..., AgentContext], tmux: TmuxServer, workspace: Path, tmp_path: Path
) -> None:
    command = [
        "sh",
        "-c",
        'printf "%s" "$1" > got.txt; printf "%s" "$ENNIO_SESSION_ID" > sid.txt; exec sleep 60',
        "sh",
        "{prompt}",
    ]
    launch = agent.launch(agent_ctx(NASTY, command=command))
    assert launch.prompt_delivery == "argument"
    assert launch.argv[-1] == NASTY
    start_launch(tmux, launch, workspace, base_env(tmp_path / "home"))
    wait_for(lambda: (workspace / "sid.txt").exists(), what="the script to run")
    assert (workspace / "got.txt").read_text() == NASTY
    assert (workspace / "sid.txt").read_text() == "demo-1"
    assert not (workspace / "pwned").exists()


def test_prompt_file_and_rules(
    agent: ScriptAgent, agent_ctx: Callable[..., AgentContext], tmux: TmuxServer, workspace: Path, tmp_path: Path
) -> None:
    command = [
        "sh",
        "-c",
        'cp "$1" got.txt; printf "%s" "$ENNIO_RULES" > rules.txt; exec sleep 60',
        "sh",
        "{prompt_file}",
    ]
    launch = agent.launch(agent_ctx("Do the thing", rules="Be careful.", command=command))
    assert launch.prompt_delivery == "file"
    start_launch(tmux, launch, workspace, base_env(tmp_path / "home"))
    wait_for(lambda: (workspace / "rules.txt").exists(), what="the script to run")
    got = (workspace / "got.txt").read_text()
    assert got.startswith("Do the thing")
    assert "Be careful." in got  # the rules travel with the prompt
    assert (workspace / "rules.txt").read_text() == "Be careful."


def test_a_long_prompt_comes_through_its_file_and_never_as_an_argument(
    agent: ScriptAgent, agent_ctx: Callable[..., AgentContext], tmux: TmuxServer, workspace: Path, tmp_path: Path
) -> None:
    long_prompt = "Do the thing.\n" + "More detail. " * 11_000 + "\nTHE END"
    command = ["sh", "-c", 'cp "$1" got.txt; printf "%s" "${ENNIO_PROMPT-unset}" > env.txt; exec sleep 60', "sh"]
    launch = agent.launch(agent_ctx(long_prompt, command=[*command, "{prompt_file}"]))
    start_launch(tmux, launch, workspace, base_env(tmp_path / "home"))
    wait_for(lambda: (workspace / "env.txt").exists(), what="the script to run")
    assert (workspace / "got.txt").read_text() == long_prompt
    assert (workspace / "env.txt").read_text() == "unset"  # too long for the environment too

    with pytest.raises(InvalidInput, match=r"too long for the script agent's \{prompt\} argument") as err:
        agent.launch(agent_ctx(long_prompt, command=[*command, "{prompt}"]))
    assert "{prompt_file}" in (err.value.hint or "")


def test_prompt_typed_on_stdin_when_no_placeholder(
    agent: ScriptAgent, agent_ctx: Callable[..., AgentContext], tmux: TmuxServer, workspace: Path, tmp_path: Path
) -> None:
    command = ["sh", "-c", 'printf "task> "; read -r line; printf "%s" "$line" > got.txt; exec sleep 60']
    launch = agent.launch(agent_ctx("first line of the task\nsecond", command=command))
    assert launch.prompt_delivery == "stdin"
    assert launch.typed_prompt is not None
    pane = start_launch(tmux, launch, workspace, base_env(tmp_path / "home"))
    pane.wait_screen("task>")
    assert agent.detect_activity(live_probe(pane, workspace, tmp_path)).state is S.READY
    pane.type(launch.typed_prompt.splitlines()[0])
    pane.send_keys("Enter")
    wait_for(lambda: (workspace / "got.txt").exists(), what="the script to read its input")
    assert (workspace / "got.txt").read_text() == "first line of the task"
    assert agent.detect_activity(live_probe(pane, workspace, tmp_path)).state is S.ACTIVE


def test_status_file_drives_activity(
    agent: ScriptAgent, agent_ctx: Callable[..., AgentContext], tmux: TmuxServer, workspace: Path, tmp_path: Path
) -> None:
    script = 'echo active > "$ENNIO_STATUS_FILE"; read -r go; echo "waiting_input needs a decision" > "$ENNIO_STATUS_FILE"; exec sleep 60'
    launch = agent.launch(agent_ctx("x", command=["sh", "-c", script, "sh", "{prompt}"]))
    pane = start_launch(tmux, launch, workspace, base_env(tmp_path / "home"))
    wait_for(lambda: agent.detect_activity(live_probe(pane, workspace, tmp_path)).state is S.ACTIVE, what="active")
    pane.send_keys("Enter")
    wait_for(
        lambda: agent.detect_activity(live_probe(pane, workspace, tmp_path)).state is S.WAITING_INPUT, what="waiting"
    )
    reading = agent.detect_activity(live_probe(pane, workspace, tmp_path))
    assert reading.detail == "status file: waiting_input needs a decision"
    assert reading.last_activity_at is not None
    pane.send_keys("C-c")
    pane.wait_dead()
    assert agent.detect_activity(live_probe(pane, workspace, tmp_path)).state is S.EXITED


@pytest.mark.parametrize(
    ("screen", "expected"),
    [
        ("Deploying...\nContinue? [y/N]", S.WAITING_INPUT),
        ("Welcome\n>>> ", S.READY),
        ("$", S.READY),
        ("building step 3 of 9", S.ACTIVE),
        ("", S.ACTIVE),
    ],
)
def test_screen_fallback(agent: ScriptAgent, workspace: Path, screen: str, expected: S) -> None:
    assert agent.detect_activity(_probe(workspace, screen)).state is expected


def test_usage_file(agent: ScriptAgent, workspace: Path) -> None:
    assert agent.usage(_probe(workspace)) is None
    usage_file = workspace / ".ennio" / "usage.json"
    usage_file.parent.mkdir()
    usage_file.write_text(json.dumps({"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.25, "model": "none"}))
    usage = agent.usage(_probe(workspace))
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.cost_usd, usage.model) == (10, 5, 0.25, "none")


def test_restore_starts_over_and_says_so(agent: ScriptAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    launch = agent.restore(agent_ctx("again", command=["echo", "{prompt}"]))
    assert launch.env["ENNIO_RESTORE"] == "1"
    assert launch.argv[-1] == "again"


def test_placeholders_are_replaced_once(agent: ScriptAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    launch = agent.launch(
        agent_ctx("mention {workspace} literally", command=["echo", "--msg={prompt}", "{session_id}"])
    )
    assert launch.argv[1:] == ["--msg=mention {workspace} literally", "demo-1"]


def test_program_relative_to_the_workspace(
    agent: ScriptAgent, agent_ctx: Callable[..., AgentContext], workspace: Path
) -> None:
    script = workspace / "scripts" / "agent.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    assert agent.launch(agent_ctx(command=["scripts/agent.sh"])).argv[0] == str(script)


def test_bad_commands_are_clear_errors(agent: ScriptAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    with pytest.raises(ConfigError, match=r"agent_config\.command"):
        agent.launch(agent_ctx())
    with pytest.raises(MissingTool, match="no-such-program-here"):
        agent.launch(agent_ctx(command=["no-such-program-here", "{prompt}"]))
