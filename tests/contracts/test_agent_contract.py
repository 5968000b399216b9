"""What every agent plugin does, whichever CLI it drives (one parametrised suite, run for each built-in).

A new agent plugin is done when it passes this suite, has its own tests against its real CLI
(``tests/plugins/agent/test_<agent>_cli.py``) and detector tests on screens recorded from it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ennio.core.clock import ManualClock
from ennio.core.config import AgentConfig, ProjectConfig
from ennio.core.errors import EnnioError, MissingTool
from ennio.core.exec_limits import check_launch, launch_problems
from ennio.core.plugins import ActivityProbe, Agent, AgentContext, AgentLaunch, PluginContext, Slot
from ennio.core.session import ActivityState
from ennio.services.registry import default_registry
from tests.helpers.agent_cli import tool_path
from tests.helpers.git import make_repo

AGENTS = ["claude-code", "codex", "aider", "opencode", "script"]
PROMPT = "Fix the bug in calc.py.\nKeep the public API."


@pytest.fixture(params=AGENTS)
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def agent(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("PATH", tool_path())
    cls = default_registry().get(Slot.AGENT, name)
    return cls(PluginContext(data_dir=tmp_path / "data", clock=ManualClock()))


def _ctx(name: str, workspace: Path, **config: Any) -> AgentContext:
    if name == "script" and "command" not in config:
        config["command"] = ["sh", "-c", "read -r line", "sh"]
    return AgentContext(
        session_id="demo-1",
        project=ProjectConfig(name="demo", path=workspace),
        workspace_path=workspace,
        prompt=PROMPT,
        config=AgentConfig(**config),
        rules="Run the tests before committing.",
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "ws").resolve()


def _probe(workspace: Path, home: Path, *, screen: str = "", alive: bool = True) -> ActivityProbe:
    now = datetime.now(UTC)
    return ActivityProbe(workspace, screen, alive, now, now, home)


def _delivers_prompt(launch: AgentLaunch, workspace: Path) -> bool:
    if launch.prompt_delivery in ("typed", "stdin"):
        return launch.typed_prompt is not None and PROMPT in launch.typed_prompt
    if launch.prompt_delivery == "file":
        return any(PROMPT in content for content in launch.files.values())
    return any(PROMPT in arg for arg in launch.argv) or any(PROMPT in v for v in launch.env.values())


def test_is_registered_with_a_manifest_and_install_hint(agent: Any, name: str) -> None:
    assert isinstance(agent, Agent)
    assert agent.manifest.name == name
    assert agent.manifest.slot is Slot.AGENT
    assert agent.executable
    assert agent.install_hint


def test_launch_is_a_runnable_command_that_delivers_the_prompt(agent: Any, name: str, workspace: Path) -> None:
    launch = agent.launch(_ctx(name, workspace))
    assert isinstance(launch, AgentLaunch)
    assert all(isinstance(a, str) for a in launch.argv)
    assert os.access(launch.argv[0], os.X_OK), "argv[0] is the resolved program"
    assert _delivers_prompt(launch, workspace)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in launch.env.items())
    for rel in launch.files:
        path = Path(rel)
        assert not path.is_absolute()
        assert ".." not in path.parts
        assert not (workspace / rel).exists(), f"{rel} would overwrite a file of the repository"


def test_config_env_and_passthrough_are_honoured(agent: Any, name: str, workspace: Path) -> None:
    launch = agent.launch(_ctx(name, workspace, env={"EXTRA_SETTING": "on"}, passthrough=["--extra-flag"]))
    assert launch.env["EXTRA_SETTING"] == "on"
    assert "--extra-flag" in launch.argv


@pytest.mark.parametrize("permissions", ["ask", "accept-edits", "bypass", "plan"])
def test_every_permission_mode_builds(agent: Any, name: str, workspace: Path, permissions: str) -> None:
    assert agent.launch(_ctx(name, workspace, permissions=permissions)).argv


def test_missing_program_is_missing_tool_with_a_hint(agent: Any, name: str, workspace: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    config: dict[str, Any] = {"env": {"PATH": str(empty)}}
    if name == "script":
        config["command"] = ["no-such-agent-program"]
    with pytest.raises(MissingTool) as err:
        agent.launch(_ctx(name, workspace, **config))
    assert err.value.hint


def test_a_prompt_too_long_for_an_argument_reaches_the_agent_whole(agent: Any, name: str, workspace: Path) -> None:
    """Linux refuses to start a program with an argument or environment string over 128 KiB: such a prompt
    goes through a file (or the agent's input), never the command line or the environment."""
    long_prompt = PROMPT + "\n" + "Details of the task, line after line. " * 4000 + "\nEND OF THE TASK"
    ctx = _ctx(name, workspace)
    ctx.prompt = long_prompt
    launch = agent.launch(ctx)
    assert launch_problems(launch.argv, launch.env) == []
    assert all(long_prompt not in a for a in launch.argv) and all(long_prompt not in v for v in launch.env.values())
    whole = [rel for rel, content in launch.files.items() if long_prompt in content]
    if launch.prompt_delivery in ("typed", "stdin") and launch.typed_prompt and long_prompt in launch.typed_prompt:
        return  # typed into the agent's terminal through a paste buffer: no size limit there
    assert whole == [".ennio/prompt.md"]
    said = " ".join([*launch.argv, launch.typed_prompt or ""])
    assert ".ennio/prompt.md" in said  # the agent is told where its task is
    check_launch(launch.argv, launch.env, agent=name)


def test_restore_builds_a_command(agent: Any, name: str, workspace: Path) -> None:
    launch = agent.restore(_ctx(name, workspace))
    assert os.access(launch.argv[0], os.X_OK)


def test_bad_resume_id_is_refused_or_ignored_never_passed_as_a_flag(agent: Any, name: str, workspace: Path) -> None:
    ctx = _ctx(name, workspace)
    ctx.resume_id = "--dangerously-skip-permissions"
    try:
        launch = agent.restore(ctx)
    except EnnioError:
        return
    assert "--dangerously-skip-permissions" not in launch.argv


def test_dead_process_reads_exited(agent: Any, workspace: Path, tmp_path: Path) -> None:
    reading = agent.detect_activity(_probe(workspace, tmp_path / "home", alive=False))
    assert reading.state is ActivityState.EXITED


def test_nothing_known_yet_is_a_state_not_an_error(agent: Any, workspace: Path, tmp_path: Path) -> None:
    reading = agent.detect_activity(_probe(workspace, tmp_path / "home"))
    assert isinstance(reading.state, ActivityState)
    assert agent.usage(_probe(workspace, tmp_path / "home")) is None


def test_corrupt_session_files_do_not_break_polling(agent: Any, workspace: Path, tmp_path: Path) -> None:
    """Session files belong to other programs and may be half-written: detection and usage survive them."""
    home = tmp_path / "home"
    garbage = (
        b'{"type": "assistant", "message": {"usage": {"input_tokens": "x"\n\x00\xff not json\n[1,2]\n'
        b'{"type": "assistant", "message": {"id": "m", "model": 3, "usage": {"input_tokens": "x", "output_tokens": []}}}\n'
        b'{"type": "event_msg", "payload": {"type": "token_count", "info": {"total_token_usage": {"input_tokens": "x"}}}}\n'
    )
    places = [
        home / ".claude" / "projects" / "-x" / "s.jsonl",
        home / ".claude" / "sessions" / "1.json",
        home / ".codex" / "sessions" / f"{datetime.now(UTC):%Y/%m/%d}" / "rollout-x.jsonl",
        home / ".local" / "share" / "opencode" / "opencode.db",
        workspace / ".ennio" / "aider.chat.history.md",
        workspace / ".ennio" / "status",
        workspace / ".ennio" / "usage.json",
    ]
    for path in places:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(garbage)
    probe = _probe(workspace, home, screen="garbage \x1b[31m screen")
    assert isinstance(agent.detect_activity(probe).state, ActivityState)
    agent.usage(probe)
