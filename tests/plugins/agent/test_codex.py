"""CodexAgent: command lines, and activity/usage read from real recorded screens and rollout files."""

from __future__ import annotations

import json
import tomllib
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ennio.core.errors import InvalidInput, MissingTool
from ennio.core.plugins import AgentContext, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent.codex import CodexAgent, trust_override
from tests.plugins.agent.conftest import load_scenario

S = ActivityState


@pytest.fixture
def agent(plugin_ctx: PluginContext) -> CodexAgent:
    return CodexAgent(plugin_ctx)


def _config_values(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]


@pytest.mark.parametrize(
    ("permissions", "flags"),
    [
        ("ask", ["--sandbox", "read-only", "--ask-for-approval", "on-request"]),
        ("accept-edits", ["--sandbox", "workspace-write", "--ask-for-approval", "on-request"]),
        ("bypass", ["--dangerously-bypass-approvals-and-sandbox"]),
        ("plan", ["--sandbox", "read-only", "--ask-for-approval", "never"]),
    ],
)
def test_launch_maps_permissions(
    agent: CodexAgent, agent_ctx: Callable[..., AgentContext], permissions: str, flags: list[str]
) -> None:
    argv = agent.launch(agent_ctx(permissions=permissions)).argv
    start = argv.index(flags[0])
    assert argv[start : start + len(flags)] == flags


def test_launch_builds_full_command_line(agent: CodexAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    rules = 'Run "pytest" first.\nNever push to main.'
    ctx = agent_ctx("-p is not an option here", rules=rules, model="gpt-5-codex", passthrough=["--search"])
    launch = agent.launch(ctx)
    argv = launch.argv
    assert Path(argv[0]).name == "codex"
    assert argv[1] == "--no-daemon"
    assert argv[argv.index("--model") + 1] == "gpt-5-codex"
    trust, instructions = _config_values(argv)
    # each -c value is TOML that Codex parses: the workspace and project are trusted, rules are intact
    trusted = tomllib.loads(trust)["projects"]
    assert trusted[str(ctx.workspace_path)] == {"trust_level": "trusted"}
    assert tomllib.loads(instructions)["developer_instructions"] == rules
    assert argv[-3:] == ["--search", "--", "-p is not an option here"]
    assert launch.prompt_delivery == "argument"


def test_trust_override_is_valid_toml_for_odd_paths() -> None:
    odd = Path('/tmp/with "quotes" and spaces/ü')
    value = trust_override(odd, odd)
    assert tomllib.loads(value) == {"projects": {str(odd): {"trust_level": "trusted"}}}


def test_restore_resumes_by_id_or_latest(agent: CodexAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    known = str(uuid.uuid4())
    resumed = agent.restore(agent_ctx(resume_id=known))
    assert resumed.argv[1] == "resume"
    assert resumed.argv[-1] == known
    assert "--no-daemon" in resumed.argv
    assert agent.restore(agent_ctx()).argv[-1] == "--last"
    with pytest.raises(InvalidInput):
        agent.restore(agent_ctx(resume_id="--last; rm -rf /"))


def test_missing_cli_says_how_to_install(
    agent: CodexAgent, agent_ctx: Callable[..., AgentContext], tmp_path: Path
) -> None:
    with pytest.raises(MissingTool) as err:
        agent.launch(agent_ctx(env={"PATH": str(tmp_path)}))
    assert err.value.hint == "npm install -g @openai/codex"


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("active", S.ACTIVE),
        ("ready", S.READY),
        ("approval", S.WAITING_INPUT),
        ("auth-error", S.BLOCKED),
        ("quota-error", S.BLOCKED),
    ],
)
def test_detects_recorded_states(agent: CodexAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    probe = load_scenario("codex", scenario, tmp_path).probe()
    assert agent.detect_activity(probe).state is expected


@pytest.mark.parametrize(("scenario", "expected"), [("active", S.ACTIVE), ("ready", S.READY)])
def test_rollout_alone_gives_the_state(agent: CodexAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    """While text streams Codex shows no spinner; the rollout's task events say it is working."""
    probe = replace(load_scenario("codex", scenario, tmp_path).probe(), screen="")
    reading = agent.detect_activity(probe)
    assert reading.state is expected
    assert reading.detail.startswith("rollout")


@pytest.mark.parametrize(
    ("scenario", "expected"), [("ready", S.READY), ("auth-error", S.BLOCKED), ("approval", S.WAITING_INPUT)]
)
def test_screen_alone_gives_the_state(agent: CodexAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    probe = replace(load_scenario("codex", scenario, tmp_path).probe(), home=tmp_path / "empty-home")
    reading = agent.detect_activity(probe)
    assert reading.state is expected
    assert reading.detail.startswith("screen")


def test_an_error_followed_by_a_good_turn_is_not_blocked(agent: CodexAgent, tmp_path: Path) -> None:
    scenario = load_scenario("codex", "auth-error", tmp_path)
    lines = scenario.screen.splitlines()
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("■"))
    recovered = "\n".join([*lines[: at + 1], "› Say hi again", "• Hi!", *lines[at + 1 :]])
    probe = replace(scenario.probe(), screen=recovered, home=tmp_path / "empty-home")
    assert agent.detect_activity(probe).state is S.READY


def test_ready_for_long_is_idle_and_resume_id_is_found(agent: CodexAgent, tmp_path: Path) -> None:
    scenario = load_scenario("codex", "ready", tmp_path)
    reading = agent.detect_activity(scenario.probe(after=timedelta(minutes=10), resume_id=None))
    assert reading.state is S.IDLE
    assert reading.resume_id == scenario.resume_id


def test_exited_when_the_process_is_gone(agent: CodexAgent, tmp_path: Path) -> None:
    scenario = load_scenario("codex", "exited", tmp_path)
    assert agent.detect_activity(scenario.probe(alive=False)).state is S.EXITED
    assert "codex resume" in scenario.screen


def test_usage_from_recorded_rollout(agent: CodexAgent, tmp_path: Path) -> None:
    probe = load_scenario("codex", "ready", tmp_path).probe()
    usage = agent.usage(probe)
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens) == (120, 37, 0)
    assert usage.model == "gpt-fake-2"


def test_usage_subtracts_cached_input(agent: CodexAgent, tmp_path: Path) -> None:
    """OpenAI counts cached tokens inside input_tokens; Ennio's Usage keeps them apart."""
    scenario = load_scenario("codex", "ready", tmp_path)
    [rollout] = scenario.home.glob(".codex/sessions/*/*/*/*.jsonl")
    event = {
        "timestamp": "2026-11-26T08:00:00.000Z",
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {"total_token_usage": {"input_tokens": 1000, "cached_input_tokens": 800, "output_tokens": 50}},
        },
    }
    with rollout.open("a") as f:
        f.write(json.dumps(event) + "\n")
    usage = agent.usage(scenario.probe())
    assert usage is not None
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (200, 800, 50)
