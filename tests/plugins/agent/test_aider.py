"""AiderAgent: command lines, typed prompt delivery, and activity/usage from real recorded screens and
chat histories."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ennio.core.errors import MissingTool
from ennio.core.plugins import AgentContext, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent.aider import CHAT_HISTORY, AiderAgent, parse_history
from tests.plugins.agent.conftest import load_scenario

S = ActivityState


@pytest.fixture
def agent(plugin_ctx: PluginContext) -> AiderAgent:
    return AiderAgent(plugin_ctx)


@pytest.mark.parametrize(
    ("permissions", "present", "absent"),
    [
        ("ask", [], ["--yes-always"]),
        ("accept-edits", ["--yes-always", "--no-suggest-shell-commands"], []),
        ("bypass", ["--yes-always"], ["--no-suggest-shell-commands"]),
        ("plan", ["--chat-mode", "ask"], ["--yes-always"]),
    ],
)
def test_launch_maps_permissions(
    agent: AiderAgent,
    agent_ctx: Callable[..., AgentContext],
    permissions: str,
    present: list[str],
    absent: list[str],
) -> None:
    argv = agent.launch(agent_ctx(permissions=permissions)).argv
    for flag in present:
        assert flag in argv
    for flag in absent:
        assert flag not in argv


def test_launch_types_the_prompt_and_reads_rules_from_a_self_ignored_file(
    agent: AiderAgent, agent_ctx: Callable[..., AgentContext]
) -> None:
    prompt = "Fix add().\nIt must return the sum."
    launch = agent.launch(agent_ctx(prompt, rules="Keep it small.", model="sonnet", passthrough=["--map-tokens", "0"]))
    argv = launch.argv
    assert Path(argv[0]).name == "aider"
    assert argv[1:3] == ["--model", "sonnet"]
    assert "--message" not in argv  # --message answers once and exits: not an interactive session
    assert prompt not in argv
    assert launch.prompt_delivery == "typed"
    assert launch.typed_prompt == prompt
    assert argv[argv.index("--read") + 1] == ".ennio/rules.md"
    assert argv[argv.index("--chat-history-file") + 1] == CHAT_HISTORY
    assert argv[-2:] == ["--map-tokens", "0"]
    assert launch.files == {".ennio/.gitignore": "*\n", ".ennio/rules.md": "Keep it small.\n"}


def test_launch_without_rules_still_ignores_its_history_folder(
    agent: AiderAgent, agent_ctx: Callable[..., AgentContext]
) -> None:
    launch = agent.launch(agent_ctx())
    assert "--read" not in launch.argv
    assert launch.files == {".ennio/.gitignore": "*\n"}


def test_restore_brings_back_the_chat(agent: AiderAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    launch = agent.restore(agent_ctx("ignored on restore"))
    assert launch.argv[-1] == "--restore-chat-history"
    assert launch.typed_prompt is None


def test_missing_cli_says_how_to_install(
    agent: AiderAgent, agent_ctx: Callable[..., AgentContext], tmp_path: Path
) -> None:
    with pytest.raises(MissingTool) as err:
        agent.launch(agent_ctx(env={"PATH": str(tmp_path)}))
    assert err.value.hint is not None
    assert "aider-chat" in err.value.hint


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("started", S.READY),
        ("active", S.ACTIVE),
        ("ready", S.READY),
        ("question", S.WAITING_INPUT),
        ("auth-error", S.BLOCKED),
        ("rate-limit", S.BLOCKED),
    ],
)
def test_detects_recorded_states(agent: AiderAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    probe = load_scenario("aider", scenario, tmp_path).probe()
    assert agent.detect_activity(probe).state is expected


def test_last_activity_comes_from_the_chat_history(agent: AiderAgent, tmp_path: Path) -> None:
    scenario = load_scenario("aider", "ready", tmp_path)
    history = scenario.workspace / CHAT_HISTORY
    probe = scenario.probe()
    reading = agent.detect_activity(probe)
    assert reading.last_activity_at is not None
    assert abs(reading.last_activity_at.timestamp() - history.stat().st_mtime) < 1
    later = replace(probe, now=reading.last_activity_at + timedelta(minutes=10))
    assert agent.detect_activity(later).state is S.IDLE


def test_exited_when_the_process_is_gone(agent: AiderAgent, tmp_path: Path) -> None:
    assert agent.detect_activity(load_scenario("aider", "ready", tmp_path).probe(alive=False)).state is S.EXITED


def test_usage_from_recorded_history(agent: AiderAgent, tmp_path: Path) -> None:
    usage = agent.usage(load_scenario("aider", "ready", tmp_path).probe())
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (796, 26)
    assert usage.cost_usd == pytest.approx(0.0028)
    assert usage.model == "openai/fake-model"


def test_usage_sums_runs_and_reads_rounded_counts() -> None:
    history = parse_history(
        "# aider chat started at 2026-11-26 07:00:00\n\n"
        "> Model: claude-sonnet-4-5 with diff edit format\n"
        "> Tokens: 2.3k sent, 1.0k cache write, 12k cache hit, 250 received. Cost: $0.01 message, $0.01 session.\n"
        "> Tokens: 15k sent, 99 received. Cost: $0.05 message, $0.06 session.\n"
        "# aider chat started at 2026-11-26 09:00:00\n"
        "> Tokens: 900 sent, 10 received. Cost: $0.003 message, $0.003 session.\n"
    )
    assert [r.input_tokens for r in history.runs] == [17300, 900]
    assert [r.session_cost for r in history.runs] == [0.06, 0.003]
    assert history.runs[0].cache_read == 12000
    assert history.runs[0].cache_write == 1000
    assert history.model == "claude-sonnet-4-5"


def test_usage_is_none_without_history(agent: AiderAgent, tmp_path: Path) -> None:
    probe = replace(load_scenario("aider", "active", tmp_path).probe(), workspace_path=tmp_path / "nowhere")
    assert agent.usage(probe) is None
