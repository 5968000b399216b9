"""OpenCodeAgent: command lines, and activity/usage from real recorded screens and OpenCode databases."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ennio.core.errors import InvalidInput, MissingTool
from ennio.core.plugins import AgentContext, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent.opencode import OpenCodeAgent
from tests.plugins.agent.conftest import load_scenario

S = ActivityState


@pytest.fixture
def agent(plugin_ctx: PluginContext) -> OpenCodeAgent:
    return OpenCodeAgent(plugin_ctx)


def test_permissions_map_to_env_agent_or_auto(agent: OpenCodeAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    ask = agent.launch(agent_ctx(permissions="ask"))
    assert json.loads(ask.env["OPENCODE_PERMISSION"]) == {"edit": "ask", "bash": "ask", "webfetch": "ask"}
    edits = agent.launch(agent_ctx(permissions="accept-edits"))
    assert json.loads(edits.env["OPENCODE_PERMISSION"])["edit"] == "allow"
    assert json.loads(edits.env["OPENCODE_PERMISSION"])["bash"] == "ask"
    bypass = agent.launch(agent_ctx(permissions="bypass"))
    assert "--auto" in bypass.argv
    assert "OPENCODE_PERMISSION" not in bypass.env
    plan = agent.launch(agent_ctx(permissions="plan"))
    assert plan.argv[plan.argv.index("--agent") + 1] == "plan"


def test_launch_builds_full_command_line(agent: OpenCodeAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    ctx = agent_ctx(
        "-x looks like a flag", rules="Run the tests.", model="anthropic/claude-sonnet-4-5", passthrough=["--pure"]
    )
    launch = agent.launch(ctx)
    argv = launch.argv
    assert Path(argv[0]).name == "opencode"
    assert argv[argv.index("--model") + 1] == "anthropic/claude-sonnet-4-5"
    assert argv[-2:] == ["--pure", "--prompt=-x looks like a flag"]
    config = json.loads(launch.env["OPENCODE_CONFIG_CONTENT"])
    assert config == {"instructions": [str(ctx.workspace_path / ".ennio/rules.md")]}
    assert launch.files == {".ennio/.gitignore": "*\n", ".ennio/rules.md": "Run the tests.\n"}


def test_rules_are_added_to_the_users_own_config_content(
    agent: OpenCodeAgent, agent_ctx: Callable[..., AgentContext]
) -> None:
    user = {"instructions": ["CONTRIBUTING.md"], "theme": "nord"}
    launch = agent.launch(agent_ctx(rules="Be brief.", env={"OPENCODE_CONFIG_CONTENT": json.dumps(user)}))
    config = json.loads(launch.env["OPENCODE_CONFIG_CONTENT"])
    assert config["theme"] == "nord"
    assert config["instructions"][0] == "CONTRIBUTING.md"
    assert config["instructions"][1].endswith(".ennio/rules.md")
    with pytest.raises(InvalidInput, match="OPENCODE_CONFIG_CONTENT"):
        agent.launch(agent_ctx(rules="Be brief.", env={"OPENCODE_CONFIG_CONTENT": "{not json"}))


def test_restore_by_session_or_continue(agent: OpenCodeAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    by_id = agent.restore(agent_ctx(resume_id="ses_de93d7ca5ffeVy0UTP46p05mWJ"))
    assert by_id.argv[-2:] == ["--session", "ses_de93d7ca5ffeVy0UTP46p05mWJ"]
    assert not any(a.startswith("--prompt") for a in by_id.argv)
    assert agent.restore(agent_ctx()).argv[-1] == "--continue"
    with pytest.raises(InvalidInput):
        agent.restore(agent_ctx(resume_id="--auto"))


def test_missing_cli_says_how_to_install(
    agent: OpenCodeAgent, agent_ctx: Callable[..., AgentContext], tmp_path: Path
) -> None:
    with pytest.raises(MissingTool) as err:
        agent.launch(agent_ctx(env={"PATH": str(tmp_path)}))
    assert err.value.hint == "npm install -g opencode-ai"


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("active", S.ACTIVE),
        ("ready", S.READY),
        ("permission", S.WAITING_INPUT),
        ("auth-error", S.BLOCKED),
        ("rate-limit", S.BLOCKED),
    ],
)
def test_detects_recorded_states(agent: OpenCodeAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    probe = load_scenario("opencode", scenario, tmp_path).probe()
    assert agent.detect_activity(probe).state is expected


@pytest.mark.parametrize(
    ("scenario", "expected"), [("active", S.ACTIVE), ("ready", S.READY), ("auth-error", S.BLOCKED)]
)
def test_database_alone_gives_the_state(agent: OpenCodeAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    probe = replace(load_scenario("opencode", scenario, tmp_path).probe(), screen="")
    reading = agent.detect_activity(probe)
    assert reading.state is expected
    assert reading.detail.startswith("database")


@pytest.mark.parametrize(
    ("scenario", "expected"), [("active", S.ACTIVE), ("ready", S.READY), ("rate-limit", S.BLOCKED)]
)
def test_screen_alone_gives_the_state(agent: OpenCodeAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    probe = replace(load_scenario("opencode", scenario, tmp_path).probe(), home=tmp_path / "empty-home")
    reading = agent.detect_activity(probe)
    assert reading.state is expected
    assert reading.detail.startswith("screen")


def test_ready_for_long_is_idle_and_resume_id_is_found(agent: OpenCodeAgent, tmp_path: Path) -> None:
    scenario = load_scenario("opencode", "ready", tmp_path)
    reading = agent.detect_activity(scenario.probe(after=timedelta(minutes=10), resume_id=None))
    assert reading.state is S.IDLE
    assert reading.resume_id == scenario.resume_id


def test_exited_when_the_process_is_gone(agent: OpenCodeAgent, tmp_path: Path) -> None:
    assert agent.detect_activity(load_scenario("opencode", "ready", tmp_path).probe(alive=False)).state is S.EXITED


def test_usage_from_recorded_database(agent: OpenCodeAgent, tmp_path: Path) -> None:
    probe = load_scenario("opencode", "ready", tmp_path).probe()
    usage = agent.usage(probe)
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (120, 33)
    assert usage.cost_usd == 0.0
    assert usage.model == "fake/fake-model"
    assert agent.usage(replace(probe, home=tmp_path / "none")) is None
