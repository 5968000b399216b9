"""The daemon as a real process: killed with SIGKILL while sessions run, a new one re-adopts them and
spawns nothing twice; and CLI processes acting on sessions while the daemon does, on one database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers.daemon_process import kill_hard, start_daemon, stop_daemon
from tests.helpers.ennio_cli import ENNIO, cli_env, run_ennio, write_config
from tests.helpers.runtime import TMUX, received, wait_received
from tests.helpers.sessions_env import branches, tmux_sessions, worktrees
from tests.helpers.wait import wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def work(tmp_path: Path, data_dir: Path, repo: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    write_config(folder, data_dir, repo)
    return folder


@pytest.fixture
def env(tmp_path: Path, tmux_socket: str, work: Path) -> Iterator[dict[str, str]]:
    environment = cli_env(tmp_path / "plugins")
    yield environment
    stop_daemon(work, environment)


def spawned_events(url: str) -> list[str]:
    events = httpx.get(f"{url}/api/v1/events", params={"type": "session.spawned", "limit": 1000}).json()
    return [e["session_id"] for e in events]


def test_sigkill_then_restart_readopts_live_sessions_and_marks_dead_ones_exited(
    work: Path, env: dict[str, str], data_dir: Path, tmux_socket: str
) -> None:
    first = start_daemon(work, env, data_dir)
    for prompt in ("keep going", "about to die"):
        made = httpx.post(f"{first.url}/api/v1/sessions", json={"project": "app", "prompt": prompt}, timeout=120)
        assert made.status_code == 201, made.text
    live_start = (data_dir / "echo" / "app-1" / "start.json").read_text()
    names = tmux_sessions(tmux_socket)
    assert len(names) == 2

    kill_hard(first)
    assert (data_dir / "ennio.pid").exists()  # left behind: no cleanup ran
    dead = next(n for n in names if n.endswith("-app-2"))
    subprocess.run([TMUX, "-L", tmux_socket, "kill-session", "-t", dead], check=True)

    second = start_daemon(work, env, data_dir)
    assert second.pid != first.pid
    adoption = json.loads((data_dir / "daemon.json").read_text())["adoption"]
    assert adoption["adopted"] == ["app-1"] and adoption["exited"] == ["app-2"]

    sessions = {s["id"]: s for s in httpx.get(f"{second.url}/api/v1/sessions").json()}
    assert sessions["app-1"]["status"] == "working"
    assert sessions["app-2"]["status"] == "exited"
    assert "gone when the daemon started" in sessions["app-2"]["status_reason"]
    # nothing was spawned again: same terminals, the live agent never restarted, one spawn event each
    assert tmux_sessions(tmux_socket) == [n for n in names if n != dead]
    assert (data_dir / "echo" / "app-1" / "start.json").read_text() == live_start
    assert sorted(spawned_events(second.url)) == ["app-1", "app-2"]
    exited = httpx.get(f"{second.url}/api/v1/events", params={"type": "session.exited"}).json()
    assert [e["session_id"] for e in exited] == ["app-2"]
    # the adopted agent still answers, through the new daemon
    sent = httpx.post(f"{second.url}/api/v1/sessions/app-1/send", json={"text": "still there?"}, timeout=60)
    assert sent.json()["delivered"] is True
    assert wait_received(data_dir / "echo" / "app-1", 2)[1] == "still there?"
    # and a third start re-adopts the same way, changing nothing
    kill_hard(second)
    third = start_daemon(work, env, data_dir)
    adoption = json.loads((data_dir / "daemon.json").read_text())["adoption"]
    assert adoption["adopted"] == ["app-1"] and adoption["exited"] == []
    assert sorted(spawned_events(third.url)) == ["app-1", "app-2"]


def test_a_spawn_cut_short_by_sigkill_is_stopped_and_marked_at_restart(
    tmp_path: Path, data_dir: Path, repo: Path, env: dict[str, str], tmux_socket: str
) -> None:
    work = tmp_path / "slow"
    work.mkdir()
    # a deaf agent never shows ready: the spawn waits for it until the daemon dies
    write_config(work, data_dir, repo, agent_config={"passthrough": ["--deaf"]})
    first = start_daemon(work, env, data_dir)

    async def spawn_and_kill() -> None:
        async with httpx.AsyncClient(timeout=120) as http:
            request = asyncio.create_task(
                http.post(f"{first.url}/api/v1/sessions", json={"project": "app", "prompt": "x"})
            )
            await asyncio.to_thread(wait_for, lambda: tmux_sessions(tmux_socket), 30, 0.05, "the agent's terminal")
            kill_hard(first)
            with pytest.raises(httpx.TransportError):
                await request

    asyncio.run(spawn_and_kill())
    second = start_daemon(work, env, data_dir)
    try:
        adoption = json.loads((data_dir / "daemon.json").read_text())["adoption"]
        assert adoption["interrupted"] == ["app-1"], adoption
        session = httpx.get(f"{second.url}/api/v1/sessions/app-1").json()["session"]
        assert session["status"] == "exited" and "interrupted" in session["status_reason"]
        assert tmux_sessions(tmux_socket) == []
        assert received(data_dir / "echo" / "app-1") == []
    finally:
        stop_daemon(work, env)


def test_a_spawn_killed_half_way_is_settled_by_the_running_daemon_and_kill_removes_what_it_made(
    tmp_path: Path, data_dir: Path, repo: Path, env: dict[str, str], tmux_socket: str
) -> None:
    """``kill -9`` of a spawning process during post_create: the daemon (already running) settles the row on
    its next pass, ``session kill --workspace`` removes the worktree and branch it made and says so, and the
    same issue spawns again (its ``max_sessions`` slot and branch free)."""
    work = tmp_path / "interrupted"
    work.mkdir()
    marker = tmp_path / "post-create.pid"
    # the first post_create blocks (its pid in the marker) until the spawner is killed; later ones pass
    hold = f'if [ ! -e "{marker}" ]; then echo $$$$ > "{marker}"; exec sleep 600; fi'  # $$ escapes $ in ennio.yaml
    config = write_config(work, data_dir, repo, max_sessions=1, post_create=[["sh", "-c", hold]])
    document = yaml.safe_load(config.read_text())
    document["lifecycle"] = {"poll_interval": "1s"}
    config.write_text(yaml.safe_dump(document))
    created = run_ennio("issue", "create", "Fix the login", cwd=work, env=env)
    assert created.code == 0, created.stderr
    daemon = start_daemon(work, env, data_dir)
    spawner = subprocess.Popen(
        [str(ENNIO), "spawn", "app", "--issue", "1"],
        cwd=work,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: marker.exists() and marker.read_text().strip(), 60, 0.05, "post_create to start")
        spawner.kill()  # SIGKILL: no rollback runs
        spawner.wait()

        def settled() -> dict[str, Any] | None:
            found = httpx.get(f"{daemon.url}/api/v1/sessions/app-1").json()["session"]
            return found if found["status"] == "exited" else None

        session = wait_for(settled, 30, 0.1, "the daemon's loop to settle the interrupted spawn")
        assert "interrupted" in session["status_reason"]
        path = data_dir / "workspaces" / "app" / "app-1"
        assert session["workspace_path"] == str(path) and path.is_dir()
        assert tmux_sessions(tmux_socket) == []  # the terminal opened for it was stopped
        assert branches(repo) == ["feat/1-fix-the-login", "main"]

        killed = run_ennio("session", "kill", "app-1", "--workspace", cwd=work, env=env)
        assert killed.code == 0, killed.stderr
        assert killed.stdout.strip() == f"killed app-1: no agent was running; removed its workspace {path}"
        assert not path.exists() and worktrees(repo)[1:] == [] and branches(repo) == ["main"]

        again = run_ennio("spawn", "app", "--issue", "1", "--json", cwd=work, env=env)
        assert again.code == 0, again.stderr
        assert again.json()["branch"] == "feat/1-fix-the-login" and again.json()["status"] == "working"
    finally:
        spawner.kill()
        if marker.exists() and marker.read_text().strip():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(marker.read_text()), signal.SIGKILL)  # the orphaned post_create
        stop_daemon(work, env)


def test_cli_processes_and_the_daemon_act_on_sessions_at_once(
    work: Path, env: dict[str, str], data_dir: Path, tmux_socket: str
) -> None:
    daemon = start_daemon(work, env, data_dir)
    for prompt in ("old one", "old two"):
        assert run_ennio("spawn", "app", "--prompt", prompt, cwd=work, env=env).code == 0

    async def together() -> tuple[list[int], list[tuple[int, str]]]:
        async def cli(*args: str) -> tuple[int, str]:
            proc = await asyncio.create_subprocess_exec(
                str(ENNIO), *args, cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            _, err = await proc.communicate()
            return proc.returncode or 0, err.decode()

        async with httpx.AsyncClient(base_url=daemon.url, timeout=120) as http:
            api = [http.post("/api/v1/sessions", json={"project": "app", "prompt": f"api {i}"}) for i in range(3)]
            clis = [cli("spawn", "app", "--prompt", f"cli {i}") for i in range(3)]
            clis += [cli("session", "kill", "app-1"), cli("send", "app-2", "hello from the cli")]
            api_results = await asyncio.gather(*api)
            cli_results = await asyncio.gather(*clis)
        return [r.status_code for r in api_results], list(cli_results)

    api_codes, cli_results = asyncio.run(together())

    assert api_codes == [201, 201, 201]
    assert [code for code, _ in cli_results] == [0] * 5, cli_results
    assert all("locked" not in err for _, err in cli_results)
    sessions = {s["id"]: s for s in httpx.get(f"{daemon.url}/api/v1/sessions").json()}
    assert len(sessions) == 8
    assert sessions["app-1"]["status"] == "killed"
    assert sorted(sid for sid, s in sessions.items() if s["status"] == "working") == [f"app-{n}" for n in range(2, 9)]
    assert len(tmux_sessions(tmux_socket)) == 7
    assert sorted(spawned_events(daemon.url)) == sorted(sessions)
    assert "hello from the cli" in wait_received(data_dir / "echo" / "app-2", 2)
    history = httpx.get(f"{daemon.url}/api/v1/events", params={"session": "app-1"}).json()
    assert [e["type"] for e in history] == ["session.spawned", "session.killed"]
