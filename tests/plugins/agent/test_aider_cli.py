"""The real aider runs the exact command lines AiderAgent builds, against a fake OpenAI Chat Completions
server, in tmux: it edits a file and commits, asks before edits in "ask" mode, and stops on credential
errors. Screens and chat histories seen here are recorded as fixtures."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ennio.core.plugins import AgentContext, AgentLaunch, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent.aider import CHAT_HISTORY, AiderAgent
from tests.helpers.agent_cli import (
    AIDER_TEST_MODEL,
    AIDER_TEST_PASSTHROUGH,
    prepare_aider,
    script_aider_edit,
    start_launch,
    whole_file_edit,
)
from tests.helpers.git import git
from tests.helpers.model_servers import CHAT, ModelServer, Reply
from tests.helpers.tmux import Pane, TmuxServer
from tests.helpers.wait import wait_for
from tests.plugins.agent.conftest import live_probe, recorder, wait_state

pytestmark = pytest.mark.agents
REC = recorder("aider")
FIXED = "def add(a, b):\n    return a + b\n"


def _state(agent: AiderAgent, pane: Pane, ws: Path, home: Path) -> ActivityState:
    return agent.detect_activity(live_probe(pane, ws, home)).state


def _deliver(pane: Pane, launch: AgentLaunch) -> None:
    """What the SessionManager does for ``typed`` delivery once the agent reads ready."""
    assert launch.prompt_delivery == "typed"
    assert launch.typed_prompt
    pane.paste(launch.typed_prompt)
    pane.wait_screen(launch.typed_prompt.splitlines()[-1])
    pane.send_keys("Enter")


def _aider_ctx(agent_ctx: Callable[..., AgentContext], prompt: str, **config: object) -> AgentContext:
    return agent_ctx(prompt, model=AIDER_TEST_MODEL, passthrough=AIDER_TEST_PASSTHROUGH, **config)


def test_aider_edits_a_file_and_commits(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_aider(home, model_server)
    hold = threading.Event()
    script_aider_edit(
        model_server,
        "calc.py",
        FIXED,
        text="add() must return the sum.",
        commit_message="Make add return the sum",
        hold=hold,
    )
    agent = AiderAgent(plugin_ctx)
    prompt = "Fix add() in calc.py.\nIt must return the sum of a and b."
    launch = agent.launch(_aider_ctx(agent_ctx, prompt, rules="Keep functions small."))
    pane = start_launch(tmux, launch, workspace, env)

    wait_state(agent, pane, workspace, home, ActivityState.READY)
    screen = pane.screen()
    assert "unrecognized arguments" not in screen
    assert "Readonly: .ennio/rules.md" in screen
    REC.screen("started", screen)
    _deliver(pane, launch)

    request = model_server.wait_for_text("It must return the sum of a and b.", timeout=60)
    assert request.api == CHAT
    assert request.body["model"] == "fake-model"
    assert "Keep functions small." in request.text()  # the rules file was added read-only
    wait_state(agent, pane, workspace, home, ActivityState.ACTIVE)
    REC.screen("active", pane.screen())

    hold.set()
    wait_for(lambda: git(workspace, "log", "-1", "--format=%s") == "Make add return the sum", timeout=60, what="commit")
    assert (workspace / "calc.py").read_text() == FIXED
    # .ennio/ ignores itself; only aider's repo-map cache (a fixed name in the repo root) is left untracked
    assert git(workspace, "status", "--porcelain") == "?? .aider.tags.cache.v4/"
    assert git(workspace, "show", "--name-only", "--format=", "HEAD") == "calc.py"
    wait_state(agent, pane, workspace, home, ActivityState.READY)
    # ready for longer than the idle threshold reads idle (the probe's clock moved on, nothing else)
    later = live_probe(pane, workspace, home)
    later.now += agent.idle_after
    assert agent.detect_activity(later).state is ActivityState.IDLE
    usage = agent.usage(live_probe(pane, workspace, home))
    assert usage is not None
    # aider counts tokens itself; Usage matches what it printed
    shown = re.search(r"Tokens: (\d+) sent, (\d+) received", pane.screen(history=200))
    assert shown is not None
    assert (usage.input_tokens, usage.output_tokens) == (int(shown[1]), int(shown[2]))
    assert usage.model == AIDER_TEST_MODEL
    REC.screen("ready", pane.screen())
    REC.files("ready", home=home, workspace=workspace, workspace_files=[workspace / CHAT_HISTORY])

    pane.submit("/exit")
    pane.wait_dead()
    assert _state(agent, pane, workspace, home) is ActivityState.EXITED

    # restore brings the chat back: the next request carries the first prompt
    restored = agent.restore(_aider_ctx(agent_ctx, ""))
    assert "--restore-chat-history" in restored.argv
    pane2 = start_launch(tmux, restored, workspace, env)
    wait_state(agent, pane2, workspace, home, ActivityState.READY)
    model_server.script(Reply(text="Nothing else to change."))
    pane2.submit("Anything else?")
    follow_up = model_server.wait_for_text("Anything else?", timeout=60)
    assert "It must return the sum of a and b." in follow_up.text()


def test_ask_mode_question_is_waiting_input(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_aider(home, model_server)
    model_server.script(whole_file_edit("calc.py", FIXED))
    agent = AiderAgent(plugin_ctx)
    launch = agent.launch(_aider_ctx(agent_ctx, "Fix add()", permissions="ask"))
    assert "--yes-always" not in launch.argv
    pane = start_launch(tmux, launch, workspace, env)
    wait_state(agent, pane, workspace, home, ActivityState.READY)
    _deliver(pane, launch)
    wait_state(agent, pane, workspace, home, ActivityState.WAITING_INPUT)
    assert "(Y)es/(N)o" in pane.screen()
    assert (workspace / "calc.py").read_text() != FIXED
    REC.screen("question", pane.screen())


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("auth-error", Reply(status=401, error_message="Incorrect API key provided: sk-fake.")),
        ("rate-limit", Reply(status=429, error_message="Rate limit reached for requests")),
    ],
)
def test_credential_and_rate_limit_errors_are_blocked(
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
    env = prepare_aider(home, model_server)
    model_server.rule(lambda r: r.api == CHAT, default=reply)
    agent = AiderAgent(plugin_ctx)
    launch = agent.launch(_aider_ctx(agent_ctx, "Say hi"))
    pane = start_launch(tmux, launch, workspace, env)
    wait_state(agent, pane, workspace, home, ActivityState.READY)
    _deliver(pane, launch)
    wait_state(agent, pane, workspace, home, ActivityState.BLOCKED)
    REC.screen(name, pane.screen())
