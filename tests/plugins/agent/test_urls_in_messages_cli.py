"""URLs in what Ennio sends an agent (the issue's link in the first prompt, a CI job's link in the
ci-failed message) are never fetched by the agent CLI itself: each real CLI gets them, pointing at a
loopback server that records every page asked of it.

aider scrapes every URL of a message by default and pastes the page into the model's context (a login
page for a private repository; tokens and minutes wasted): Ennio starts it with ``--no-detect-urls``.
Claude Code, Codex and OpenCode fetch a page only when the model asks for one with a tool (WebFetch,
web search), never on their own: shown here with a model that answers in text only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ennio.core.plugins import AgentContext, AgentLaunch, CheckRun, CIState, Issue, PluginContext, PRSnapshot
from ennio.core.prompt import compose_prompt
from ennio.core.session import ActivityState, Session
from ennio.plugins.agent.aider import AiderAgent
from ennio.plugins.agent.claude_code import ClaudeCodeAgent
from ennio.plugins.agent.codex import CodexAgent
from ennio.plugins.agent.opencode import OpenCodeAgent
from ennio.services.lifecycle.reaction_messages import ci_failure
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
from tests.helpers.tmux import Pane, TmuxServer
from tests.plugins.agent.conftest import wait_state

pytestmark = pytest.mark.agents
#: every page the agents could fetch lives under this path of the loopback server
PAGES = "/acme/widgets/"


def issue_prompt(server: ModelServer) -> str:
    issue = Issue(
        "7", "Login fails for long passwords", "Steps in the linked thread.", url=f"{server.url}{PAGES}issues/7"
    )
    return compose_prompt(issue=issue, branch="feat/7-login", base_branch="main")


def ci_failed_message(server: ModelServer) -> str:
    """The ci-failed reaction's message, with the job's link as GitHub gives it."""
    session = Session.model_validate(
        {"id": "demo-1", "project_id": "demo", "agent": "aider", "runtime": "tmux", "workspace": "worktree"}
    )
    job = CheckRun("tests", CIState.FAILING, f"{server.url}{PAGES}actions/runs/1/job/123", log_tail="FAILED test_login")
    return ci_failure(session, PRSnapshot("feat/7-login"), [job], None)


def deliver(pane: Pane, text: str) -> None:
    """Paste a message and press Enter, as the runtime types a long one."""
    pane.paste(text)
    pane.wait_screen(text.strip().splitlines()[-1][:40])
    pane.send_keys("Enter")


def test_aider_fetches_no_url_of_the_prompt_or_the_ci_failed_message(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_aider(home, model_server)
    model_server.script(Reply(text="Looking into the login."), Reply(text="Looking at the failing test."))
    agent = AiderAgent(plugin_ctx)
    launch = agent.launch(
        agent_ctx(issue_prompt(model_server), model=AIDER_TEST_MODEL, passthrough=AIDER_TEST_PASSTHROUGH)
    )
    assert "--no-detect-urls" in launch.argv
    pane = start_launch(tmux, launch, workspace, env)
    wait_state(agent, pane, workspace, home, ActivityState.READY)
    assert launch.typed_prompt is not None
    deliver(pane, launch.typed_prompt)
    model_server.wait_for_text("Login fails for long passwords", timeout=60)
    pane.wait_screen("Looking into the login.")
    wait_state(agent, pane, workspace, home, ActivityState.READY)

    deliver(pane, ci_failed_message(model_server))
    request = model_server.wait_for_text("FAILED test_login", timeout=60)
    pane.wait_screen("Looking at the failing test.")

    assert f"{PAGES}actions/runs/1/job/123" in request.text()
    assert model_server.fetches(PAGES) == []  # neither link was scraped into the chat
    assert "Add URL to the chat" not in pane.screen(history=200)


def _text_only_session(
    agent_launch: AgentLaunch, tmux: TmuxServer, workspace: Path, env: dict[str, str], server: ModelServer
) -> None:
    pane = start_launch(tmux, agent_launch, workspace, env)
    server.wait_for_text("Login fails for long passwords", timeout=90)
    pane.wait_screen("Looking into the login.", timeout=90)


def test_claude_code_fetches_no_url_on_its_own(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    env = prepare_claude(tmp_path / "home", model_server, trusted=[workspace])
    model_server.script(Reply(text="Looking into the login."))
    launch = ClaudeCodeAgent(plugin_ctx).launch(agent_ctx(issue_prompt(model_server)))
    _text_only_session(launch, tmux, workspace, env, model_server)
    assert model_server.fetches(PAGES) == []


def test_codex_fetches_no_url_on_its_own(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    env = prepare_codex(tmp_path / "home", model_server)
    model_server.script(Reply(text="Looking into the login."))
    launch = CodexAgent(plugin_ctx).launch(agent_ctx(issue_prompt(model_server)))
    _text_only_session(launch, tmux, workspace, env, model_server)
    assert model_server.fetches(PAGES) == []


def test_opencode_fetches_no_url_on_its_own(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    env = prepare_opencode(tmp_path / "home", model_server)
    model_server.script(Reply(text="Looking into the login."))
    launch = OpenCodeAgent(plugin_ctx).launch(agent_ctx(issue_prompt(model_server), model="fake/fake-model"))
    _text_only_session(launch, tmux, workspace, env, model_server)
    assert model_server.fetches(PAGES) == []
