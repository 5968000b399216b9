"""The real OpenCode runs the exact command lines OpenCodeAgent builds, against a fake OpenAI-compatible
Chat Completions server, in tmux. Screens and its SQLite database seen here are recorded as fixtures."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest

from ennio.core.plugins import AgentContext, PluginContext
from ennio.core.session import ActivityState
from ennio.plugins.agent.opencode import OpenCodeAgent
from tests.helpers.agent_cli import prepare_opencode, save_fixture, start_launch
from tests.helpers.model_servers import CHAT, ModelServer, RecordedRequest, Reply, ToolCall
from tests.helpers.tmux import TmuxServer
from tests.plugins.agent.conftest import live_probe, recorder, wait_state

pytestmark = pytest.mark.agents
REC = recorder("opencode")
MODEL = "fake/fake-model"


def _record(name: str, home: Path, workspace: Path, resume_id: str | None = None) -> None:
    """Record OpenCode's live database as an SQL dump (text; rebuilt into a database when loaded)."""
    src = OpenCodeAgent.database_path(home)
    with closing(sqlite3.connect(f"file:{src}?mode=ro", uri=True)) as db:
        dump = "\n".join(db.iterdump()) + "\n"
    rel = src.relative_to(home)
    save_fixture(REC.folder, f"{name}/home/{rel}.sql", dump)
    REC.files(name, home=home, workspace=workspace, resume_id=resume_id)


def _main_request(server: ModelServer, needle: str) -> RecordedRequest:
    """The agent's own request containing ``needle`` (not the side request that names the session)."""
    return server.wait_for_request(
        lambda r: r.api == CHAT and needle in r.text() and "You are a title generator" not in r.text(),
        timeout=90,
        what=f"a request containing {needle!r}",
    )


def test_launch_runs_tui_session_that_works_then_waits(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_opencode(home, model_server)
    hold = threading.Event()
    model_server.script(Reply(text="Reading calc.py first. The fix is small; done.", hold=hold, output_tokens=33))
    agent = OpenCodeAgent(plugin_ctx)
    ctx = agent_ctx(
        "Fix add() in calc.py so it returns the sum",
        rules="Always run the tests before committing.",
        model=MODEL,
        passthrough=["--log-level", "WARN"],
    )
    launch = agent.launch(ctx)
    pane = start_launch(tmux, launch, workspace, env)

    request = _main_request(model_server, "Fix add() in calc.py so it returns the sum")
    assert request.api == CHAT
    assert request.body["model"] == "fake-model"
    assert "Always run the tests before committing." in request.text()
    wait_state(agent, pane, workspace, home, ActivityState.ACTIVE)
    REC.screen("active", pane.screen())
    _record("active", home, workspace)

    hold.set()
    pane.wait_screen("The fix is small; done.")
    wait_state(agent, pane, workspace, home, ActivityState.READY)
    reading = agent.detect_activity(live_probe(pane, workspace, home))
    assert reading.resume_id is not None
    assert reading.resume_id.startswith("ses_")
    usage = agent.usage(live_probe(pane, workspace, home))
    assert usage is not None
    assert (usage.input_tokens, usage.output_tokens) == (120, 33)
    assert usage.model == MODEL
    REC.screen("ready", pane.screen())
    _record("ready", home, workspace, reading.resume_id)

    pane.submit("/exit")
    pane.wait_dead()
    assert agent.detect_activity(live_probe(pane, workspace, home)).state is ActivityState.EXITED

    restored = agent.restore(agent_ctx(resume_id=reading.resume_id, model=MODEL))
    assert restored.argv[-2:] == ["--session", reading.resume_id]
    pane2 = start_launch(tmux, restored, workspace, env)
    pane2.wait_screen("The fix is small; done.", timeout=90)
    model_server.script(Reply(text="Continuing where we left off."))
    pane2.submit("Please continue")
    follow_up = _main_request(model_server, "Please continue")
    assert "Fix add() in calc.py so it returns the sum" in follow_up.text()
    pane2.wait_screen("Continuing where we left off.")


def test_permission_dialog_is_waiting_input(
    tmux: TmuxServer,
    model_server: ModelServer,
    workspace: Path,
    tmp_path: Path,
    agent_ctx: Callable[..., AgentContext],
    plugin_ctx: PluginContext,
) -> None:
    home = tmp_path / "home"
    env = prepare_opencode(home, model_server)
    model_server.script(
        Reply(
            text="I will write the file.",
            tool_calls=[ToolCall("bash", {"command": "echo sum > out.txt", "description": "Write out.txt"})],
        ),
        Reply(text="Wrote out.txt."),
    )
    agent = OpenCodeAgent(plugin_ctx)
    launch = agent.launch(agent_ctx("Write out.txt", permissions="ask", model=MODEL))
    pane = start_launch(tmux, launch, workspace, env)
    wait_state(agent, pane, workspace, home, ActivityState.WAITING_INPUT)
    assert "Permission required" in pane.screen()
    assert not (workspace / "out.txt").exists()
    REC.screen("permission", pane.screen())
    _record("permission", home, workspace)

    pane.send_keys("Enter")  # "Allow once"
    pane.wait_screen("Wrote out.txt.", timeout=60)
    assert (workspace / "out.txt").read_text() == "sum\n"
    wait_state(agent, pane, workspace, home, ActivityState.READY)


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("auth-error", Reply(status=401, error_message="Incorrect API key provided: sk-fake.")),
        ("rate-limit", Reply(status=429, error_message="Rate limit reached for requests")),
    ],
)
def test_auth_and_rate_limit_errors_are_blocked(
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
    env = prepare_opencode(home, model_server)
    model_server.rule(lambda r: "Say hi" in r.text(), default=reply)
    agent = OpenCodeAgent(plugin_ctx)
    launch = agent.launch(agent_ctx("Say hi", model=MODEL))
    pane = start_launch(tmux, launch, workspace, env)
    wait_state(agent, pane, workspace, home, ActivityState.BLOCKED)
    REC.screen(name, pane.screen())
    _record(name, home, workspace)
