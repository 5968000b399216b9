"""The real Codex CLI runs the exact command lines CodexAgent builds, against a fake OpenAI Responses
API, in tmux, in a real git worktree. Screens and rollout files seen here are recorded as fixtures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ennio.core.plugins import AgentContext, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent.codex import CodexAgent
from tests.helpers.agent_cli import prepare_codex, start_launch
from tests.helpers.git import git
from tests.helpers.model_servers import ModelServer, Reply, ToolCall
from tests.helpers.tmux import Pane, TmuxServer
from tests.plugins.agent.conftest import live_probe, recorder, wait_state

pytestmark = pytest.mark.agents
REC = recorder("codex")


@pytest.fixture
def worktree(workspace: Path, tmp_path: Path) -> Path:
    """A git worktree of the project, as Ennio's worktree workspace makes (outside the repo)."""
    path = tmp_path / "worktrees" / "demo-1"
    git(workspace, "worktree", "add", "-q", "-b", "feat/1-fix-add", str(path))
    return path.resolve()


def _state(agent: CodexAgent, pane: Pane, ws: Path, home: Path, resume_id: str | None = None) -> ActivityState:
    return agent.detect_activity(live_probe(pane, ws, home, resume_id)).state


def _rollouts(home: Path) -> list[Path]:
    return sorted((home / ".codex" / "sessions").glob("*/*/*/rollout-*.jsonl"))


def test_launch_runs_interactive_session_in_a_worktree(
    tmux: TmuxServer,
    model_server: ModelServer,
    worktree: Path,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_codex(home, model_server)  # nothing trusted: the launch itself trusts the workspace
    hold = threading.Event()
    model_server.script(Reply(text="Reading calc.py first. The fix is small; done.", hold=hold, output_tokens=37))
    agent = CodexAgent(plugin_ctx)
    ctx = agent_ctx(
        "Fix add() in calc.py so it returns the sum",
        rules="Always run the tests before committing.",
        model="gpt-fake-2",
        passthrough=["-c", 'model_reasoning_effort="low"'],
    )
    ctx.workspace_path = worktree
    launch = agent.launch(ctx)
    pane = start_launch(tmux, launch, worktree, env)

    request = model_server.wait_for_text("Fix add() in calc.py so it returns the sum", timeout=60)
    assert request.path == "/v1/responses"
    assert request.body["model"] == "gpt-fake-2"
    assert request.body["reasoning"]["effort"] == "low"
    assert "Always run the tests before committing." in request.text()
    wait_state(agent, pane, worktree, home, ActivityState.ACTIVE)
    REC.screen("active", pane.screen())
    [rollout] = _rollouts(home)
    REC.files("active", home=home, workspace=worktree, home_files=[rollout])

    hold.set()
    pane.wait_screen("The fix is small; done.")
    wait_state(agent, pane, worktree, home, ActivityState.READY)
    reading = agent.detect_activity(live_probe(pane, worktree, home))
    assert reading.resume_id is not None
    assert reading.resume_id in rollout.name
    usage = agent.usage(live_probe(pane, worktree, home))
    assert usage is not None
    assert usage.output_tokens == 37
    assert usage.model == "gpt-fake-2"
    REC.screen("ready", pane.screen())
    REC.files("ready", home=home, workspace=worktree, home_files=[rollout], resume_id=reading.resume_id)

    pane.type("/quit")
    pane.wait_screen("exit Codex")  # the command menu must show before Enter picks it
    pane.send_keys("Enter")
    pane.wait_dead()
    assert _state(agent, pane, worktree, home) is ActivityState.EXITED
    REC.screen("exited", pane.screen())

    restore_ctx = agent_ctx(resume_id=reading.resume_id)
    restore_ctx.workspace_path = worktree
    restored = agent.restore(restore_ctx)
    assert restored.argv[1] == "resume"
    pane2 = start_launch(tmux, restored, worktree, env)
    pane2.wait_screen("The fix is small; done.", timeout=60)
    model_server.script(Reply(text="Continuing where we left off."))
    pane2.submit("Please continue")
    follow_up = model_server.wait_for_text("Please continue", timeout=60)
    assert "Fix add() in calc.py so it returns the sum" in follow_up.text()
    pane2.wait_screen("Continuing where we left off.")


def test_approval_request_is_waiting_input(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_codex(home, model_server)
    escalate = {
        "cmd": "echo sum > out.txt",
        "sandbox_permissions": "require_escalated",
        "justification": "Write out.txt?",
    }
    model_server.script(
        Reply(text="I need to write out.txt.", tool_calls=[ToolCall("exec_command", escalate)]),
        Reply(text="Wrote out.txt."),
    )
    agent = CodexAgent(plugin_ctx)
    launch = agent.launch(agent_ctx("Write out.txt", permissions="ask"))
    pane = start_launch(tmux, launch, workspace, env)
    wait_state(agent, pane, workspace, home, ActivityState.WAITING_INPUT)
    assert not (workspace / "out.txt").exists()
    REC.screen("approval", pane.screen())
    REC.files("approval", home=home, workspace=workspace, home_files=_rollouts(home))

    pane.send_keys("Enter")  # the first choice approves
    pane.wait_screen("Wrote out.txt.", timeout=60)
    assert (workspace / "out.txt").read_text() == "sum\n"
    wait_state(agent, pane, workspace, home, ActivityState.READY)


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("auth-error", Reply(status=401, error_message="Incorrect API key provided: sk-fake.")),
        ("quota-error", Reply(status=429, error_message="You exceeded your current quota, please check your plan.")),
    ],
)
def test_auth_and_quota_errors_are_blocked(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
    name: str,
    reply: Reply,
) -> None:
    home = tmp_path / "home"
    env = prepare_codex(home, model_server)
    model_server.rule(lambda r: "Say hi" in r.text(), default=reply)
    agent = CodexAgent(plugin_ctx)
    launch = agent.launch(agent_ctx("Say hi"))
    pane = start_launch(tmux, launch, workspace, env)
    wait_state(agent, pane, workspace, home, ActivityState.BLOCKED)
    REC.screen(name, pane.screen())
    REC.files(name, home=home, workspace=workspace, home_files=_rollouts(home))
