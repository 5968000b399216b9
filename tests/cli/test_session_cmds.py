"""``ennio spawn / batch-spawn / send / open / session info|kill|restore|cleanup`` through the real console
script, on a real repository, a private tmux server and the test ``echo`` agent."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.ennio_cli import ENNIO, Ran, cli_env, run_ennio, write_config
from tests.helpers.git import git
from tests.helpers.runtime import wait_received
from tests.helpers.sessions_env import branches, tmux_sessions, worktrees

Ennio = Callable[..., Ran]


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("app")


@pytest.fixture
def work(tmp_path: Path, data_dir: Path, repo: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    write_config(folder, data_dir, repo)
    return folder


@pytest.fixture
def ennio(work: Path, tmp_path: Path, tmux_socket: str) -> Ennio:
    env = cli_env(tmp_path / "plugins")

    def call(*args: str, **kwargs: object) -> Ran:
        return run_ennio(*args, cwd=work, env=env, **kwargs)  # type: ignore[arg-type]

    return call


def test_spawn_send_info_kill_from_the_command_line(ennio: Ennio, data_dir: Path, repo: Path, tmux_socket: str) -> None:
    spawned = ennio("spawn", "app", "--prompt", "Write the README", "--json")
    assert spawned.code == 0, spawned.stderr
    session = spawned.json()
    assert session["id"] == "app-1" and session["status"] == "working"
    out = data_dir / "echo" / "app-1"
    assert wait_received(out, 1)[0].startswith("Write the README")

    sent = ennio("send", "app-1", "and a $HOME 'quoted' line")
    assert sent.code == 0 and "sent to app-1" in sent.stdout
    assert wait_received(out, 2)[1] == "and a $HOME 'quoted' line"
    from_stdin = ennio("send", "app-1", "--file", "-", input="line one\nline two\n")
    assert from_stdin.code == 0, from_stdin.stderr
    assert wait_received(out, 3)[2] == "line one\nline two\n"

    info = ennio("session", "info", "app-1", "--json")
    assert info.code == 0
    data = info.json()
    assert data["alive"] is True and data["activity"]["state"] == "ready"
    assert data["attach"] == [
        "tmux",
        "-L",
        tmux_socket,
        "attach-session",
        "-t",
        data["session"]["runtime_handle"]["id"],
    ]
    shown = ennio("session", "info", "app-1")
    assert "activity:  ready" in shown.stdout and "ennio open app-1" in shown.stdout

    printed = ennio("open", "app-1", "--print")
    assert printed.stdout.strip().startswith(f"tmux -L {tmux_socket} attach-session -t ennio-")

    killed = ennio("session", "kill", "app-1", "--workspace")
    assert killed.code == 0 and "removed its workspace" in killed.stdout
    assert tmux_sessions(tmux_socket) == [] and worktrees(repo)[1:] == [] and branches(repo) == ["main"]
    listed = ennio("session", "list", "--json").json()
    assert [(s["id"], s["status"]) for s in listed] == [("app-1", "killed")]


def test_errors_are_one_line_with_a_hint_and_leave_nothing(
    ennio: Ennio, data_dir: Path, repo: Path, tmux_socket: str
) -> None:
    unknown = ennio("spawn", "ap", "--prompt", "x")
    assert unknown.code == 3
    assert unknown.stderr.splitlines() == ["error: no project 'ap' in the configuration", "hint: did you mean 'app'?"]
    bad_branch = ennio("spawn", "app", "--prompt", "x", "--branch", "x;rm -rf ~")
    assert bad_branch.code == 2 and bad_branch.stderr.startswith("error: branch name 'x;rm -rf ~' contains ")
    bad_id = ennio("send", "../etc", "hi")
    assert bad_id.code == 2 and "session id '../etc'" in bad_id.stderr
    no_text = ennio("send", "app-1")
    assert no_text.code == 2 and "give the message" in no_text.stderr
    missing = ennio("session", "info", "app-9")
    assert missing.code == 3 and "no session 'app-9'" in missing.stderr
    assert tmux_sessions(tmux_socket) == [] and worktrees(repo)[1:] == [] and branches(repo) == ["main"]
    assert ennio("session", "list", "--json").json() == []


def test_batch_spawn_reports_each_issue_and_fails_if_one_failed(ennio: Ennio, repo: Path) -> None:
    for title in ("First", "Second"):
        assert ennio("issue", "create", title, "-p", "app").code == 0
    batch = ennio("batch-spawn", "app", "--issue", "1", "--issue", "2", "--issue", "7")
    assert batch.code == 1
    assert "1: spawned app-1" in batch.stdout or "1: spawned app-2" in batch.stdout
    assert batch.stdout.count("spawned") == 2
    assert "error: 7: issue 7" in batch.stderr or "error: 7:" in batch.stderr
    listed = ennio("session", "list", "--json").json()
    assert sorted(s["issue_id"] for s in listed) == ["1", "2"]


def test_restore_and_cleanup_from_the_command_line(ennio: Ennio, data_dir: Path, repo: Path) -> None:
    assert ennio("spawn", "app", "--prompt", "x").code == 0
    wait_received(data_dir / "echo" / "app-1", 1)
    assert ennio("send", "app-1", "/quit").code == 0
    deadline = time.monotonic() + 15
    while ennio("session", "info", "app-1", "--json").json()["alive"]:
        assert time.monotonic() < deadline, "the agent did not exit"
        time.sleep(0.1)
    restored = ennio("session", "restore", "app-1")
    assert restored.code == 0 and "restored app-1" in restored.stdout
    assert ennio("session", "info", "app-1", "--json").json()["session"]["status"] == "working"

    workspace = Path(ennio("session", "info", "app-1", "--json").json()["session"]["workspace_path"])
    git(workspace, "commit", "-q", "--allow-empty", "-m", "work")
    git(repo, "merge", "-q", "--ff-only", "session/app-1")
    assert ennio("issue", "create", "x", "-p", "app").code == 0
    dry = ennio("session", "cleanup", "--dry-run")
    assert "skipped app-1: not finished" in dry.stdout
    assert ennio("session", "cleanup", "app", "--json").json()["cleaned"] == []


def test_open_attaches_a_terminal_to_the_agent(ennio: Ennio, work: Path, tmp_path: Path, data_dir: Path) -> None:
    assert ennio("spawn", "app", "--prompt", "hello there").code == 0
    wait_received(data_dir / "echo" / "app-1", 1)
    env = cli_env(tmp_path / "plugins", TERM="xterm")
    env.pop("TMUX", None)
    primary, secondary = pty.openpty()
    viewer = subprocess.Popen(
        [str(ENNIO), "open", "app-1"],
        cwd=work,
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        start_new_session=True,
    )
    os.close(secondary)
    seen = b""
    try:
        deadline = time.monotonic() + 20
        while b"received #1" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(primary, 65536)
                except OSError:
                    break
        assert b"received #1" in seen, seen[-500:]  # the echo agent's screen, through tmux attach
    finally:
        viewer.kill()
        viewer.wait()
        os.close(primary)
