"""The real Claude Code CLI runs the exact command lines ClaudeCodeAgent builds, against a fake
Anthropic Messages API, in tmux. Screens and session files seen here are recorded as fixtures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ennio.core.plugins import AgentContext, PluginContext, Usage
from ennio.core.session import ActivityState
from ennio.plugins.agent.claude_code import ClaudeCodeAgent, encode_project_dir
from tests.helpers.agent_cli import prepare_claude, start_launch
from tests.helpers.git import git
from tests.helpers.model_servers import ModelServer, Reply, ToolCall
from tests.helpers.tmux import Pane, TmuxServer
from tests.helpers.wait import wait_for
from tests.plugins.agent.conftest import live_probe, recorder, wait_state

pytestmark = pytest.mark.agents
REC = recorder("claude-code")
#: bulky request/context dumps left out of recorded transcripts
BULKY = frozenset({"attachment", "api-request-shape", "api-request-blob", "api-request"})


def _state(agent: ClaudeCodeAgent, pane: Pane, workspace: Path, home: Path, resume_id: str | None) -> ActivityState:
    return agent.detect_activity(live_probe(pane, workspace, home, resume_id)).state


def _status_files(home: Path) -> list[Path]:
    return sorted((home / ".claude" / "sessions").glob("*.json"))


def test_launch_runs_interactive_session_that_works_then_waits(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_claude(home, model_server, trusted=[workspace])
    hold = threading.Event()
    model_server.script(Reply(text="Looking at calc.py now. The fix is small; done.", hold=hold, output_tokens=41))
    agent = ClaudeCodeAgent(plugin_ctx)
    ctx = agent_ctx(
        "Fix add() in calc.py so it returns the sum",
        rules="Always run the tests before committing.",
        model="claude-sonnet-4-5",
        passthrough=["--effort", "low"],
    )
    launch = agent.launch(ctx)
    pane = start_launch(tmux, launch, workspace, env)

    request = model_server.wait_for_text("Fix add() in calc.py so it returns the sum", timeout=60)
    assert request.path.startswith("/v1/messages")
    assert request.body["model"] == "claude-sonnet-4-5"
    assert request.stream
    assert "Always run the tests before committing." in str(request.body["system"])
    wait_state(agent, pane, workspace, home, ActivityState.ACTIVE, resume_id=launch.resume_id)
    screen = pane.screen()
    assert "unknown option" not in screen.lower()
    REC.screen("active", screen)
    REC.files("active", home=home, workspace=workspace, home_files=_status_files(home), resume_id=launch.resume_id)

    hold.set()
    pane.wait_screen("The fix is small; done.")
    wait_state(agent, pane, workspace, home, ActivityState.READY, resume_id=launch.resume_id)
    transcript = home / ".claude" / "projects" / encode_project_dir(workspace) / f"{launch.resume_id}.jsonl"
    assert transcript.is_file()
    reading = agent.detect_activity(live_probe(pane, workspace, home, None))
    assert reading.resume_id == launch.resume_id

    def final_usage() -> Usage | None:
        # Claude Code writes the streamed message's final usage to the transcript a moment after the screen
        found = agent.usage(live_probe(pane, workspace, home, launch.resume_id))
        return found if found is not None and found.output_tokens else None

    usage = wait_for(final_usage, 30, what="usage in the transcript")
    assert usage.output_tokens == 41
    assert usage.model == "claude-sonnet-4-5"
    REC.screen("ready", pane.screen())
    REC.files(
        "ready",
        home=home,
        workspace=workspace,
        home_files=[*_status_files(home), transcript],
        resume_id=launch.resume_id,
        drop_types=BULKY,
    )

    # exit the way a person does; the pane stays for the last screen
    pane.type("/exit")
    pane.send_keys("Enter")
    pane.wait_dead()
    assert _state(agent, pane, workspace, home, launch.resume_id) is ActivityState.EXITED
    REC.screen("exited", pane.screen())

    # restore resumes the same conversation: the earlier prompt is sent again as history
    restored = agent.restore(agent_ctx(resume_id=launch.resume_id))
    assert "--resume" in restored.argv
    pane2 = start_launch(tmux, restored, workspace, env)
    pane2.wait_screen("The fix is small; done.", timeout=60)  # the old conversation is shown
    model_server.script(Reply(text="Still here, continuing."))
    pane2.submit("Please continue")
    follow_up = model_server.wait_for_text("Please continue", timeout=60)
    assert "Fix add() in calc.py so it returns the sum" in follow_up.text()
    wait_state(agent, pane2, workspace, home, ActivityState.READY, resume_id=launch.resume_id)


def test_permission_prompt_is_waiting_input(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_claude(home, model_server, trusted=[workspace])
    model_server.script(
        Reply(
            text="I will write the file.",
            tool_calls=[ToolCall("Bash", {"command": "echo sum > out.txt", "description": "Write out.txt"})],
        ),
        Reply(text="Wrote out.txt."),
    )
    agent = ClaudeCodeAgent(plugin_ctx)
    launch = agent.launch(agent_ctx("Write out.txt", permissions="ask"))
    assert launch.argv[launch.argv.index("--permission-mode") + 1] == "manual"
    pane = start_launch(tmux, launch, workspace, env)

    pane.wait_screen("Do you want to proceed?", timeout=60)
    wait_state(agent, pane, workspace, home, ActivityState.WAITING_INPUT, resume_id=launch.resume_id)
    assert not (workspace / "out.txt").exists()
    REC.screen("permission", pane.screen())
    REC.files("permission", home=home, workspace=workspace, home_files=_status_files(home), resume_id=launch.resume_id)

    pane.send_keys("Enter")  # "1. Yes"
    pane.wait_screen("Wrote out.txt.", timeout=60)
    assert (workspace / "out.txt").read_text() == "sum\n"
    result = model_server.api_requests()[-1]
    assert "tool_result" in result.text()
    wait_state(agent, pane, workspace, home, ActivityState.READY, resume_id=launch.resume_id)


def test_untrusted_folder_and_bypass_dialogs_wait_for_a_person(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    agent = ClaudeCodeAgent(plugin_ctx)
    home = tmp_path / "home"
    env = prepare_claude(home, model_server, trusted=[])
    launch = agent.launch(agent_ctx("Say hi"))
    pane = start_launch(tmux, launch, workspace, env)
    pane.wait_screen("trust this folder", timeout=60)
    assert _state(agent, pane, workspace, home, launch.resume_id) is ActivityState.WAITING_INPUT
    REC.screen("trust", pane.screen())
    assert model_server.api_requests() == []

    home2 = tmp_path / "home2"
    env2 = prepare_claude(home2, model_server, trusted=[workspace])
    bypass = agent.launch(agent_ctx("Say hi", permissions="bypass"))
    assert bypass.env["IS_SANDBOX"] == "1"
    pane2 = start_launch(tmux, bypass, workspace, env2)
    pane2.wait_screen("Yes, I accept", timeout=60)  # not the root refusal: IS_SANDBOX is set
    assert _state(agent, pane2, workspace, home2, bypass.resume_id) is ActivityState.WAITING_INPUT
    REC.screen("bypass-accept", pane2.screen())
    pane2.send_keys("Down", "Enter")
    model_server.wait_for_text("Say hi", timeout=60)
    wait_state(agent, pane2, workspace, home2, ActivityState.READY, resume_id=bypass.resume_id)


def test_auth_error_and_rate_limit_are_blocked(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    agent = ClaudeCodeAgent(plugin_ctx)
    home = tmp_path / "home"
    env = prepare_claude(home, model_server, trusted=[workspace])
    model_server.script(Reply(status=401, error_message="invalid x-api-key"))
    launch = agent.launch(agent_ctx("Say hi", env={"CLAUDE_CODE_MAX_RETRIES": "0"}))
    pane = start_launch(tmux, launch, workspace, env)
    pane.wait_screen("Invalid API key", timeout=60)
    wait_state(agent, pane, workspace, home, ActivityState.BLOCKED, resume_id=launch.resume_id)
    transcript = home / ".claude" / "projects" / encode_project_dir(workspace) / f"{launch.resume_id}.jsonl"
    REC.screen("auth-error", pane.screen())
    REC.files(
        "auth-error",
        home=home,
        workspace=workspace,
        home_files=[*_status_files(home), transcript],
        resume_id=launch.resume_id,
        drop_types=BULKY,
    )

    # a rate limit the CLI keeps retrying shows on its status line
    home2 = tmp_path / "home2"
    env2 = prepare_claude(home2, model_server, trusted=[workspace])
    limited = Reply(status=429, error_message="Number of requests has exceeded your rate limit")
    model_server.rule(lambda r: "rate me" in r.text(), default=limited)
    launch2 = agent.launch(agent_ctx("rate me"))
    pane2 = start_launch(tmux, launch2, workspace, env2)
    pane2.wait_screen("retrying in", timeout=60)
    wait_state(agent, pane2, workspace, home2, ActivityState.BLOCKED, resume_id=launch2.resume_id)
    REC.screen("rate-limit-retrying", pane2.screen())


def test_worktree_of_a_trusted_project_starts_without_a_trust_dialog(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    """Claude Code extends a project's trust to its git worktrees: Ennio's worktree workspaces start
    straight away for a project the person already trusts (a clone workspace shows the dialog)."""
    worktree = (tmp_path / "worktrees" / "demo-1").resolve()
    git(workspace, "worktree", "add", "-q", "-b", "feat/1-fix-add", str(worktree))
    home = tmp_path / "home"
    env = prepare_claude(home, model_server, trusted=[workspace])
    agent = ClaudeCodeAgent(plugin_ctx)
    ctx = agent_ctx("Say hi from the worktree")
    ctx.workspace_path = worktree
    launch = agent.launch(ctx)
    pane = start_launch(tmux, launch, worktree, env)
    model_server.wait_for_text("Say hi from the worktree", timeout=60)
    wait_state(agent, pane, worktree, home, ActivityState.READY, resume_id=launch.resume_id)
    assert "trust this folder" not in pane.screen()
    assert (home / ".claude" / "projects" / encode_project_dir(worktree) / f"{launch.resume_id}.jsonl").is_file()
