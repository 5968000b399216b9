"""Bad input to the SessionManager: a clear error, and no worktree, branch, tmux session or row left behind."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ennio.core.errors import (
    AgentError,
    ConfigError,
    EnnioError,
    InvalidId,
    InvalidInput,
    MissingTool,
    NotFound,
    PluginError,
    WorkspaceError,
)
from ennio.services.stack import Services
from tests.helpers.sessions_env import Leftovers, leftovers, make_config, services

BAD_NAMES = ["feat;rm -rf ~", "$(reboot)", "a b", "-rf", "../escape", "a..b", "x`id`", "a|b", "new\nline"]


async def assert_clean(stack: Services, repo: Path, socket: str) -> None:
    left = await leftovers(stack, repo, socket)
    assert left == Leftovers(), left


def one_line(exc: EnnioError) -> str:
    assert "\n" not in exc.message, exc.message
    return exc.message


async def test_unknown_project_suggests_the_right_one(stack: Services, repo: Path, tmux_socket: str) -> None:
    with pytest.raises(NotFound) as caught:
        await stack.sessions.spawn("ap", prompt="x")
    assert "no project 'ap'" in one_line(caught.value)
    assert caught.value.hint == "did you mean 'app'?"
    await assert_clean(stack, repo, tmux_socket)


@pytest.mark.parametrize("field", ["agent", "runtime"])
async def test_unknown_agent_or_runtime_suggests_a_known_one(
    stack: Services, repo: Path, tmux_socket: str, field: str
) -> None:
    typo = {"agent": "ecko", "runtime": "tmx"}[field]
    with pytest.raises(PluginError) as caught:
        await stack.sessions.spawn("app", prompt="x", **{field: typo})
    assert f"unknown {field} {typo!r}" in one_line(caught.value)
    assert caught.value.hint is not None and "did you mean" in caught.value.hint
    await assert_clean(stack, repo, tmux_socket)


async def test_unknown_workspace_in_the_config_is_reported(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    async with services(make_config(data_dir, repo, workspace="worktre")) as stack:
        with pytest.raises(PluginError, match="unknown workspace 'worktre'"):
            await stack.sessions.spawn("app", prompt="x")
        await assert_clean(stack, repo, tmux_socket)


@pytest.mark.parametrize("branch", BAD_NAMES)
async def test_bad_branch_names_are_refused(stack: Services, repo: Path, tmux_socket: str, branch: str) -> None:
    with pytest.raises(InvalidId) as caught:
        await stack.sessions.spawn("app", prompt="x", branch=branch)
    assert "branch name" in caught.value.message
    await assert_clean(stack, repo, tmux_socket)


@pytest.mark.parametrize("session_id", [*BAD_NAMES, "..", ""])
async def test_bad_session_ids_are_refused_everywhere(
    stack: Services, repo: Path, tmux_socket: str, session_id: str
) -> None:
    for call in (
        stack.sessions.get(session_id),
        stack.sessions.info(session_id),
        stack.sessions.send(session_id, "hi"),
        stack.sessions.kill(session_id, workspace=True, force=True),
        stack.sessions.restore(session_id),
        stack.sessions.attach_command(session_id),
    ):
        with pytest.raises(InvalidId, match="session id"):
            await call
    with pytest.raises(InvalidId, match="project id"):
        await stack.sessions.spawn(session_id or "..", prompt="x")
    await assert_clean(stack, repo, tmux_socket)


async def test_a_repo_path_that_is_not_a_git_repo(tmux_socket: str, data_dir: Path, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    async with services(make_config(data_dir, plain)) as stack:
        with pytest.raises(WorkspaceError) as caught:
            await stack.sessions.spawn("app", prompt="x")
        assert "is not a git repository" in one_line(caught.value)
        assert caught.value.hint is not None and "git init" in caught.value.hint
        assert await stack.sessions.list() == []
        assert not (data_dir / "workspaces").exists()


async def test_a_missing_repo_path(tmux_socket: str, data_dir: Path, tmp_path: Path) -> None:
    async with services(make_config(data_dir, tmp_path / "nowhere")) as stack:
        with pytest.raises(NotFound, match="does not exist"):
            await stack.sessions.spawn("app", prompt="x")
        assert await stack.sessions.list() == []


async def test_tmux_missing_says_how_to_install_it(
    tmux_socket: str, data_dir: Path, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    only_git = tmp_path / "bin"
    only_git.mkdir()
    git = shutil.which("git")
    assert git is not None
    os.symlink(git, only_git / "git")
    monkeypatch.setenv("PATH", str(only_git))
    async with services(make_config(data_dir, repo)) as stack:
        with pytest.raises(MissingTool) as caught:
            await stack.sessions.spawn("app", prompt="x")
        assert "tmux is not installed" in one_line(caught.value)
        assert caught.value.hint is not None and "apt-get install tmux" in caught.value.hint
        monkeypatch.undo()
        await assert_clean(stack, repo, tmux_socket)


async def test_agent_cli_missing_says_how_to_install_it(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    config = make_config(data_dir, repo, agent_config={"command": ["no-such-agent-cli", "--flag"]})
    async with services(config) as stack:
        with pytest.raises(MissingTool) as caught:
            await stack.sessions.spawn("app", prompt="x")
        assert "no-such-agent-cli is not installed" in one_line(caught.value)
        assert caught.value.hint is not None and "python3" in caught.value.hint
        await assert_clean(stack, repo, tmux_socket)


async def test_a_full_disk_during_post_create_rolls_everything_back(
    tmux_socket: str, data_dir: Path, repo: Path
) -> None:
    config = make_config(data_dir, repo, post_create=[["cp", "README.md", "/dev/full"]])
    async with services(config) as stack:
        with pytest.raises(WorkspaceError) as caught:
            await stack.sessions.spawn("app", prompt="x")
        assert "No space left on device" in one_line(caught.value)
        await assert_clean(stack, repo, tmux_socket)


async def test_an_unknown_issue_leaves_nothing(stack: Services, repo: Path, tmux_socket: str) -> None:
    with pytest.raises(NotFound):
        await stack.sessions.spawn("app", issue="404")
    with pytest.raises(InvalidInput, match="not an issue reference"):
        await stack.sessions.spawn("app", issue="#; rm -rf /")
    await assert_clean(stack, repo, tmux_socket)


async def test_an_issue_without_a_tracker(tmux_socket: str, data_dir: Path, repo: Path) -> None:
    async with services(make_config(data_dir, repo, tracker=None)) as stack:
        with pytest.raises(ConfigError, match="has no tracker"):
            await stack.sessions.spawn("app", issue="1")
        await assert_clean(stack, repo, tmux_socket)


async def test_nothing_to_do(stack: Services, repo: Path, tmux_socket: str) -> None:
    with pytest.raises(InvalidInput, match="nothing to do"):
        await stack.sessions.spawn("app", prompt="   ")
    await assert_clean(stack, repo, tmux_socket)


async def test_an_existing_branch_is_refused_unless_reused(stack: Services, repo: Path, tmux_socket: str) -> None:
    from tests.helpers.git import commit_file, git

    git(repo, "checkout", "-q", "-b", "feat/taken")
    commit_file(repo, "wip.txt", "work in progress\n", "wip")
    git(repo, "checkout", "-q", "main")
    with pytest.raises(EnnioError, match="already exists"):
        await stack.sessions.spawn("app", prompt="x", branch="feat/taken")
    left = await leftovers(stack, repo, tmux_socket)
    assert left.branches == ["feat/taken"] and left.rows == [] and left.tmux == [] and left.worktrees == []
    session = await stack.sessions.spawn("app", prompt="x", branch="feat/taken", reuse_branch=True)
    await stack.sessions.kill(session.id, workspace=True, force=True)
    # its commit is in no other branch, and the branch existed before the session: it is kept
    assert (await leftovers(stack, repo, tmux_socket)).branches == ["feat/taken"]


async def test_an_agent_that_never_gets_ready_is_rolled_back(stack: Services, repo: Path, tmux_socket: str) -> None:
    """A failure after the terminal started: terminal, worktree, branch and row all go."""
    stack.sessions.spawner.ready_timeout = 1.5
    stack.config.project("app").agent_config.passthrough = ["--deaf"]
    with pytest.raises(AgentError, match="did not show it was ready"):
        await stack.sessions.spawn("app", prompt="x")
    await assert_clean(stack, repo, tmux_socket)


async def test_a_cancelled_spawn_is_rolled_back(stack: Services, repo: Path, tmux_socket: str) -> None:
    import asyncio

    stack.config.project("app").agent_config.passthrough = ["--deaf"]
    task = asyncio.create_task(stack.sessions.spawn("app", prompt="x"))

    async def terminal_started() -> bool:
        return bool((await leftovers(stack, repo, tmux_socket)).tmux)

    from tests.helpers.wait import async_wait_for

    await async_wait_for(terminal_started, 15, what="the agent's terminal")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_clean(stack, repo, tmux_socket)


@pytest.mark.parametrize("agent", ["aider", "claude-code", "codex", "opencode"])
async def test_a_real_agent_cli_missing_says_how_to_install_it(
    tmux_socket: str, data_dir: Path, repo: Path, tmp_path: Path, agent: str
) -> None:
    from ennio.core.plugins import Slot
    from ennio.services.registry import PluginRegistry

    empty = tmp_path / "empty-bin"
    empty.mkdir()
    config = make_config(data_dir, repo, agent=agent, agent_config={"env": {"PATH": str(empty)}})
    async with services(config) as stack:
        with pytest.raises(MissingTool) as caught:
            await stack.sessions.spawn("app", prompt="x")
        plugin = PluginRegistry().get(Slot.AGENT, agent)
        assert f"{plugin.executable} is not installed" in one_line(caught.value)
        assert caught.value.hint == plugin.install_hint and "install" in plugin.install_hint
        await assert_clean(stack, repo, tmux_socket)


async def test_a_task_no_way_of_delivering_fits_is_refused_before_anything_is_made(
    tmux_socket: str, data_dir: Path, repo: Path
) -> None:
    as_argument = {"command": ["sh", "-c", "exec sleep 600", "agent", "{prompt}"]}
    async with services(make_config(data_dir, repo, agent="script", agent_config=as_argument)) as stack:
        with pytest.raises(InvalidInput) as caught:
            await stack.sessions.spawn("app", prompt="Write the docs. " + "More. " * 25_000)
        assert "too long for the script agent's {prompt} argument" in one_line(caught.value)
        assert "{prompt_file}" in (caught.value.hint or "")
        await assert_clean(stack, repo, tmux_socket)
