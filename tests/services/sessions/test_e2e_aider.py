"""End to end: the SessionManager spawns real aider in a tmux session in an Ennio worktree; aider talks to
an OpenAI-compatible fake model server on 127.0.0.1 that answers with a scripted edit. The file is edited
and committed on the session branch, and Ennio reports the activity going active → idle."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ennio.core.session import ActivityState, SessionStatus
from ennio.services.stack import Services
from tests.helpers.agent_cli import (
    AIDER_TEST_MODEL,
    AIDER_TEST_PASSTHROUGH,
    missing_tools,
    prepare_aider,
    script_aider_edit,
    tool_path,
)
from tests.helpers.git import git
from tests.helpers.model_servers import ModelServer, RecordedRequest
from tests.helpers.sessions_env import make_config, services
from tests.helpers.wait import async_wait_for

BROKEN = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"


@pytest.fixture(autouse=True)
def _aider_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", tool_path())
    if "aider" in missing_tools():
        pytest.fail("aider is not installed in tools/aider-venv; run scripts/install-tools", pytrace=False)


@pytest.mark.agents
@pytest.mark.slow
async def test_aider_edits_and_commits_on_the_session_branch(
    tmux_socket: str, data_dir: Path, git_repo: Callable[..., Path], tmp_path: Path
) -> None:
    repo = git_repo("calc", files={"calc.py": BROKEN})
    with ModelServer() as server:
        hold = threading.Event()
        script_aider_edit(server, "calc.py", FIXED, text="add() must add.", commit_message="Make add add", hold=hold)
        env = prepare_aider(tmp_path / "home", server)
        config = make_config(
            data_dir,
            repo,
            name="calc",
            agent="aider",
            agent_rules="Keep functions small.",
            agent_config={"model": AIDER_TEST_MODEL, "passthrough": AIDER_TEST_PASSTHROUGH, "env": env},
        )
        async with services(config, plugin_extra={"agent_idle_after": 2}) as stack:
            session = await stack.sessions.spawn("calc", prompt="Fix add() in calc.py: it must return a + b.")
            assert session.status is SessionStatus.WORKING
            assert session.metadata["prompt_delivery"]["method"] == "typed"
            workspace = Path(session.workspace_path or "")

            request = await _wait_text(server, "it must return a + b.")
            assert request.body["model"] == "fake-model"
            assert "Keep functions small." in request.text()  # project rules reached aider (read-only file)
            seen: list[ActivityState | None] = []

            async def active() -> bool:  # the model is still "thinking": aider shows it is working
                seen.append(await _activity(stack, session.id))
                return seen[-1] is ActivityState.ACTIVE

            await async_wait_for(active, 30, interval=0.2, what="aider to read active")
            hold.set()

            async def committed() -> bool:
                return git(workspace, "log", "-1", "--format=%s") == "Make add add"

            await async_wait_for(committed, 90, what="aider's commit")

            async def idle() -> bool:
                seen.append(await _activity(stack, session.id))
                return seen[-1] is ActivityState.IDLE

            await async_wait_for(idle, 30, interval=0.5, what="aider to read idle")

            assert (workspace / "calc.py").read_text() == FIXED
            assert git(workspace, "rev-parse", "--abbrev-ref", "HEAD") == "session/calc-1"
            assert git(workspace, "show", "--name-only", "--format=", "HEAD") == "calc.py"
            assert git(repo, "log", "-1", "--format=%s", "session/calc-1") == "Make add add"
            assert git(repo, "log", "-1", "--format=%s", "main") == "initial commit"
            assert ActivityState.ACTIVE in seen and seen[-1] is ActivityState.IDLE
            assert seen.index(ActivityState.ACTIVE) < seen.index(ActivityState.IDLE)
            await stack.sessions.kill(session.id)


async def _activity(stack: Services, session_id: str) -> ActivityState | None:
    info = await stack.sessions.info(session_id)
    return info.activity.state if info.activity else None


async def _wait_text(server: ModelServer, needle: str) -> RecordedRequest:
    return await asyncio.to_thread(server.wait_for_text, needle, 90)
