"""ClaudeCodeAgent: command lines, and activity/usage read from real recorded screens and session files."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ennio.core.errors import InvalidInput, MissingTool
from ennio.core.plugins import AgentContext, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent.claude_code import ClaudeCodeAgent, encode_project_dir
from tests.plugins.agent.conftest import load_scenario

S = ActivityState


@pytest.fixture
def agent(plugin_ctx: PluginContext) -> ClaudeCodeAgent:
    return ClaudeCodeAgent(plugin_ctx)


# ---------------------------------------------------------------------- command lines


@pytest.mark.parametrize(
    ("permissions", "mode"),
    [("ask", "manual"), ("accept-edits", "acceptEdits"), ("bypass", "bypassPermissions"), ("plan", "plan")],
)
def test_launch_maps_permissions(
    agent: ClaudeCodeAgent, agent_ctx: Callable[..., AgentContext], permissions: str, mode: str
) -> None:
    launch = agent.launch(agent_ctx(permissions=permissions))
    assert launch.argv[launch.argv.index("--permission-mode") + 1] == mode
    assert ("IS_SANDBOX" in launch.env) is (permissions == "bypass")


def test_launch_builds_full_command_line(agent: ClaudeCodeAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    ctx = agent_ctx(
        "-starts with a dash",
        rules="Run the tests.",
        model="claude-opus-4-1",
        passthrough=["--add-dir", "../shared"],
        env={"ANTHROPIC_API_KEY": "from-config"},
    )
    launch = agent.launch(ctx)
    argv = launch.argv
    assert Path(argv[0]).name == "claude"
    assert argv[1] == "--session-id"
    assert launch.resume_id == argv[2]
    uuid.UUID(argv[2])
    assert argv[argv.index("--model") + 1] == "claude-opus-4-1"
    assert argv[argv.index("--append-system-prompt") + 1] == "Run the tests."
    # passthrough comes after Ennio's flags, and `--` keeps a prompt starting with "-" a prompt
    assert argv[-4:] == ["--add-dir", "../shared", "--", "-starts with a dash"]
    assert launch.prompt_delivery == "argument"
    assert launch.env == {"ANTHROPIC_API_KEY": "from-config"}
    assert launch.files == {}


def test_each_launch_gets_its_own_conversation(agent: ClaudeCodeAgent, agent_ctx: Callable[..., AgentContext]) -> None:
    assert agent.launch(agent_ctx()).resume_id != agent.launch(agent_ctx()).resume_id


def test_restore_resumes_known_conversation_or_continues(
    agent: ClaudeCodeAgent, agent_ctx: Callable[..., AgentContext]
) -> None:
    known = str(uuid.uuid4())
    resumed = agent.restore(agent_ctx(resume_id=known, model="opus"))
    assert resumed.argv[1:3] == ["--resume", known]
    assert "--model" in resumed.argv
    assert "Fix add() in calc.py" not in resumed.argv  # the conversation already has its prompt
    assert resumed.resume_id == known
    fallback = agent.restore(agent_ctx())
    assert fallback.argv[1] == "--continue"


def test_restore_rejects_a_resume_id_that_is_not_a_uuid(
    agent: ClaudeCodeAgent, agent_ctx: Callable[..., AgentContext]
) -> None:
    with pytest.raises(InvalidInput, match="not a Claude Code session id"):
        agent.restore(agent_ctx(resume_id="--dangerously-skip-permissions"))


def test_missing_cli_says_how_to_install(
    agent: ClaudeCodeAgent, agent_ctx: Callable[..., AgentContext], tmp_path: Path
) -> None:
    with pytest.raises(MissingTool) as err:
        agent.launch(agent_ctx(env={"PATH": str(tmp_path)}))
    assert "claude" in err.value.message
    assert err.value.hint == "npm install -g @anthropic-ai/claude-code"


def test_command_override_is_used(
    agent: ClaudeCodeAgent, agent_ctx: Callable[..., AgentContext], tmp_path: Path
) -> None:
    wrapper = tmp_path / "my-claude"
    wrapper.write_text("#!/bin/sh\n")
    wrapper.chmod(0o755)
    launch = agent.launch(agent_ctx(command=[str(wrapper), "--verbose"]))
    assert launch.argv[:2] == [str(wrapper), "--verbose"]


def test_encode_project_dir_matches_claude() -> None:
    assert encode_project_dir("/tmp/ex/my_repo.x") == "-tmp-ex-my-repo-x"


# ---------------------------------------------------------------------- activity from real recordings


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("active", S.ACTIVE),
        ("ready", S.READY),
        ("permission", S.WAITING_INPUT),
        ("trust", S.WAITING_INPUT),
        ("bypass-accept", S.WAITING_INPUT),
        ("auth-error", S.BLOCKED),
        ("rate-limit-retrying", S.BLOCKED),
    ],
)
def test_detects_recorded_states(agent: ClaudeCodeAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    probe = load_scenario("claude-code", scenario, tmp_path).probe()
    assert agent.detect_activity(probe).state is expected


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [("active", S.ACTIVE), ("ready", S.READY), ("permission", S.WAITING_INPUT), ("auth-error", S.BLOCKED)],
)
def test_session_files_alone_give_the_state(agent: ClaudeCodeAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    """With a blank screen, Claude's status file and transcript decide."""
    probe = replace(load_scenario("claude-code", scenario, tmp_path).probe(), screen="")
    reading = agent.detect_activity(probe)
    assert reading.state is expected
    assert "screen" not in reading.detail


@pytest.mark.parametrize(
    ("scenario", "expected"), [("active", S.ACTIVE), ("ready", S.READY), ("auth-error", S.BLOCKED)]
)
def test_screen_alone_gives_the_state(agent: ClaudeCodeAgent, tmp_path: Path, scenario: str, expected: S) -> None:
    """Without any session files (another HOME, files deleted), the screen decides."""
    probe = replace(load_scenario("claude-code", scenario, tmp_path).probe(), home=tmp_path / "empty-home")
    reading = agent.detect_activity(probe)
    assert reading.state is expected
    assert reading.detail.startswith("screen")


def test_ready_for_long_is_idle(agent: ClaudeCodeAgent, tmp_path: Path) -> None:
    scenario = load_scenario("claude-code", "ready", tmp_path)
    soon = agent.detect_activity(scenario.probe(after=timedelta(minutes=1)))
    later = agent.detect_activity(scenario.probe(after=timedelta(minutes=10)))
    assert soon.state is S.READY
    assert later.state is S.IDLE
    assert later.last_activity_at is not None
    assert later.last_activity_at <= scenario.recorded_at  # type: ignore[operator]


def test_idle_threshold_comes_from_plugin_context(plugin_ctx: PluginContext, tmp_path: Path) -> None:
    plugin_ctx.extra["agent_idle_after"] = 30
    agent = ClaudeCodeAgent(plugin_ctx)
    probe = load_scenario("claude-code", "ready", tmp_path).probe(after=timedelta(minutes=1))
    assert agent.detect_activity(probe).state is S.IDLE


def test_exited_when_the_process_is_gone(agent: ClaudeCodeAgent, tmp_path: Path) -> None:
    scenario = load_scenario("claude-code", "exited", tmp_path)
    assert agent.detect_activity(scenario.probe(alive=False)).state is S.EXITED
    assert "claude --resume" in scenario.screen


def test_resume_id_found_from_the_workspace(agent: ClaudeCodeAgent, tmp_path: Path) -> None:
    scenario = load_scenario("claude-code", "ready", tmp_path)
    reading = agent.detect_activity(scenario.probe(resume_id=None))
    assert reading.resume_id == scenario.resume_id


def test_usage_from_recorded_transcript(agent: ClaudeCodeAgent, tmp_path: Path) -> None:
    probe = load_scenario("claude-code", "ready", tmp_path).probe()
    usage = agent.usage(probe)
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (120, 41)
    assert usage.model == "claude-sonnet-4-5"
    # read incrementally: a second call gives the same totals, not double
    again = agent.usage(probe)
    assert again is not None
    assert again.output_tokens == 41


def test_usage_is_none_without_transcripts(agent: ClaudeCodeAgent, tmp_path: Path) -> None:
    probe = replace(load_scenario("claude-code", "trust", tmp_path).probe(), home=tmp_path / "nothing")
    assert agent.usage(probe) is None
