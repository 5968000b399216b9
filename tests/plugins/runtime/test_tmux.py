"""tmux runtime specifics: its server, its names, its absence, copy mode, and the final screen."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ennio.core.errors import InvalidId, MissingTool, RuntimeFailure
from ennio.core.ids import tmux_session_name
from ennio.core.plugins import EarlyStart, LaunchSpec, RuntimeHandle
from ennio.core.proc import pid_running
from ennio.plugins.runtime.tmux import TmuxRuntime, _arg, _probe, _Screen, _taken
from tests.helpers.runtime import echo_spec, plugin_context, started, wait_ready, wait_received
from tests.helpers.wait import wait_for


def tmux(socket: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["tmux", "-L", socket, *args], capture_output=True, text=True, check=False)


async def test_session_lives_on_the_private_server_with_the_given_name(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path
) -> None:
    name = tmux_session_name("abc123", "app-7")
    handle = await tmux_runtime.start(echo_spec(name, tmp_path / "agent"))
    assert handle.data["socket"] == tmux_socket
    assert tmux(tmux_socket, "list-sessions", "-F", "#{session_name}").stdout.split() == [name]
    options = tmux(tmux_socket, "show-options", "-w", "-t", f"={name}:", "remain-on-exit").stdout
    assert options.strip() == "remain-on-exit on"
    assert tmux_runtime.attach_command(handle) == ["tmux", "-L", tmux_socket, "attach-session", "-t", name]


async def test_secrets_stay_out_of_tmux_environment_and_leave_no_file(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path, data_dir: Path
) -> None:
    spec = echo_spec("ennio-t-1", tmp_path / "agent", env={"ENNIO_T_TOKEN": "s3cret-value"})
    handle = await tmux_runtime.start(spec)
    await wait_ready(tmux_runtime, handle)
    assert "s3cret-value" not in tmux(tmux_socket, "show-environment", "-t", "=ennio-t-1").stdout
    assert list((data_dir / "run" / "tmux").glob("*.json")) == []


async def test_handle_keeps_reaching_its_own_server(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    handle = await tmux_runtime.start(echo_spec("ennio-t-1", tmp_path / "agent"))
    monkeypatch.delenv("ENNIO_TMUX_SOCKET")
    other = TmuxRuntime(plugin_context(data_dir))
    assert other.socket is None
    assert await other.alive(handle)
    await wait_ready(other, handle)


async def test_send_reaches_a_pane_left_in_copy_mode(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path
) -> None:
    out = tmp_path / "agent"
    handle = await tmux_runtime.start(echo_spec("ennio-t-1", out))
    await wait_ready(tmux_runtime, handle)
    assert tmux(tmux_socket, "copy-mode", "-t", "=ennio-t-1:").returncode == 0
    assert tmux(tmux_socket, "display-message", "-p", "-t", "=ennio-t-1:", "#{pane_in_mode}").stdout.strip() == "1"
    result = await tmux_runtime.send(handle, "after copy mode")
    assert result.delivered
    assert wait_received(out, 1) == ["after copy mode"]


async def test_exec_failure_is_shown_on_the_dead_pane(tmux_runtime: TmuxRuntime, tmp_path: Path) -> None:
    handle = await tmux_runtime.start(LaunchSpec("ennio-t-1", ["/nonexistent/agent-cli"], tmp_path))
    screen = await wait_ready(tmux_runtime, handle, marker="cannot run")
    assert "/nonexistent/agent-cli" in screen
    assert not await tmux_runtime.alive(handle)


async def test_output_of_a_destroyed_session_is_a_clear_error(tmux_runtime: TmuxRuntime, tmp_path: Path) -> None:
    handle = await tmux_runtime.start(echo_spec("ennio-t-1", tmp_path / "agent"))
    await tmux_runtime.destroy(handle)
    with pytest.raises(RuntimeFailure, match="gone"):
        await tmux_runtime.output(handle)
    assert not (await tmux_runtime.send(handle, "hello")).delivered


async def test_list_alive_without_a_server_is_empty(tmux_runtime: TmuxRuntime) -> None:
    assert await tmux_runtime.list_alive("") == []
    assert not await tmux_runtime.alive(RuntimeHandle("tmux", "ennio-t-1", {"socket": tmux_runtime.socket}))


@pytest.mark.parametrize("bad", ["x;rm -rf ~", "a b", "$(id)", "-t", "../x", "a:b", "a.b", "`id`", "x" * 200])
async def test_bad_session_names_are_refused_before_tmux_runs(
    tmux_socket: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str
) -> None:
    runtime = TmuxRuntime(plugin_context(data_dir))
    monkeypatch.setenv("PATH", str(tmp_path))  # were tmux run, this would be MissingTool instead
    with pytest.raises(InvalidId, match="runtime session name"):
        await runtime.start(echo_spec(bad, tmp_path / "agent"))
    with pytest.raises(InvalidId):
        await runtime.destroy(RuntimeHandle("tmux", bad))
    with pytest.raises(InvalidId):
        runtime.attach_command(RuntimeHandle("tmux", bad))


async def test_missing_tmux_is_reported_with_an_install_hint(
    tmux_socket: str, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    runtime = TmuxRuntime(plugin_context(data_dir))
    with pytest.raises(MissingTool, match="tmux is not installed") as caught:
        await runtime.start(echo_spec("ennio-t-1", tmp_path / "agent"))
    assert caught.value.hint and "apt-get install tmux" in caught.value.hint
    with pytest.raises(MissingTool):
        await runtime.alive(RuntimeHandle("tmux", "ennio-t-1"))
    assert list((data_dir / "run").glob("**/*.json")) == []


def test_socket_name_from_the_environment_is_validated(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENNIO_TMUX_SOCKET", "../other user")
    with pytest.raises(InvalidId, match="ENNIO_TMUX_SOCKET"):
        TmuxRuntime(plugin_context(data_dir))


def test_default_server_when_no_socket_is_set(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENNIO_TMUX_SOCKET", raising=False)
    runtime = TmuxRuntime(plugin_context(data_dir))
    handle = RuntimeHandle("tmux", "ennio-t-1", {"socket": None, "pane": "%1"})
    assert runtime.attach_command(handle) == ["tmux", "attach-session", "-t", "ennio-t-1"]


async def test_a_program_that_clears_its_input_counts_as_taken(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path
) -> None:
    """A TUI that redraws its input box in place (cursor does not move) still counts as taking the text."""
    script = (
        "import os, sys, tty, termios\n"
        "tty.setraw(0, termios.TCSANOW)\n"
        "os.write(1, b'\\x1b[2J\\x1b[H> ')\n"
        "buf = b''\n"
        "while True:\n"
        "    c = os.read(0, 1)\n"
        "    if c == b'\\r':\n"
        "        open('taken.txt', 'ab').write(buf + b'\\n'); buf = b''\n"
        "        os.write(1, b'\\x1b[H\\x1b[2K> ')\n"
        "    else:\n"
        "        buf += c; os.write(1, c)\n"
    )
    handle = await tmux_runtime.start(LaunchSpec("ennio-t-1", [sys.executable, "-c", script], tmp_path))
    await wait_ready(tmux_runtime, handle, marker=">")
    result = await tmux_runtime.send(handle, "redraw me")
    assert result.delivered and result.attempts == 1
    assert (tmp_path / "taken.txt").read_text() == "redraw me\n"


# ---------------------------------------------------------------------- pure helpers


def screen(lines: list[str], cursor: tuple[int, int]) -> _Screen:
    return _Screen("s", False, False, cursor, tuple(lines))


def test_taken_rules() -> None:
    typed = screen(["history", "> hello world", "status"], (13, 1))
    assert not _taken(typed, typed, "hello world")
    # the input line was cleared in place
    assert _taken(typed, screen(["history", "> ", "status"], (13, 1)), "hello world")
    # the cursor moved on (a line program printed its answer)
    assert _taken(typed, screen(["> hello world", "answer", "> "], (2, 2)), "hello world")
    # only an unrelated part of the screen changed (a clock): not taken
    assert not _taken(typed, screen(["history", "> hello world", "status 12:01"], (13, 1)), "hello world")
    # nothing of the text visible (folded paste): any change counts
    folded = screen(["[Pasted text +40 lines]", ""], (0, 1))
    assert not _taken(folded, folded, None)
    assert _taken(folded, screen(["working…", ""], (0, 1)), None)


def test_probe_and_argument_escaping() -> None:
    assert _probe("first\nlast line here\n\n") == "last line here"
    assert _probe("col\tvalue") == "value"
    assert _probe("x" * 100) == "x" * 24
    assert _probe("\n \n") is None
    assert _arg("a;") == "a\\;"
    assert _arg("a\\;") == "a\\\\;"
    assert _arg(";x") == ";x"


async def test_screens_reads_many_agents_in_batches_and_knows_the_dead(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ennio.plugins.runtime.tmux.SCREENS_PER_CALL", 2)
    handles = [await tmux_runtime.start(echo_spec(f"ennio-s-{i}", tmp_path / f"a{i}")) for i in range(3)]
    for handle in handles:
        await wait_ready(tmux_runtime, handle)
        await tmux_runtime.send(handle, f"hello from {handle.id}")
    await tmux_runtime.destroy(handles[1])
    never = RuntimeHandle("tmux", "ennio-s-never", {"socket": tmux_socket})

    screens = await tmux_runtime.screens([*handles, never], lines=20)

    assert screens[handles[1].id] is None and screens[never.id] is None
    for handle in (handles[0], handles[2]):
        text = screens[handle.id]
        assert text is not None and f"hello from {handle.id}" in text
        assert text == await tmux_runtime.output(handle, 20)


# --------------------------------------------------------------------------- reserve (EarlyStart)


async def test_a_reserved_session_waits_then_runs_the_agent_it_is_handed_exactly(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path, data_dir: Path
) -> None:
    assert isinstance(tmux_runtime, EarlyStart)
    reserved = await tmux_runtime.reserve("ennio-t-1")
    assert tmux(tmux_socket, "list-sessions", "-F", "#{session_name}").stdout.split() == ["ennio-t-1"]
    fifos = list((data_dir / "run" / "tmux").glob("ennio-t-1.*.json"))
    assert len(fifos) == 1 and stat.S_ISFIFO(fifos[0].stat().st_mode) and stat.S_IMODE(fifos[0].stat().st_mode) == 0o600

    out = tmp_path / "agent"
    out.mkdir()  # made after the reservation, like a workspace
    spec = echo_spec("ennio-t-1", out, env={"ENNIO_T_TOKEN": "s3cret $HOME `x`", "QUOTE": 'it\'s "quoted"'})
    handle = await tmux_runtime.start(spec)
    assert handle == reserved
    start = started(out)
    assert start["cwd"] == str(out)
    assert start["argv"] == spec.argv[1:]  # the echo agent records its script and arguments
    assert start["env"]["ENNIO_T_TOKEN"] == "s3cret $HOME `x`" and start["env"]["QUOTE"] == 'it\'s "quoted"'
    await wait_ready(tmux_runtime, handle)
    assert (await tmux_runtime.send(handle, "hello")).delivered
    assert wait_received(out, 1) == ["hello"]
    assert "s3cret" not in tmux(tmux_socket, "show-environment", "-t", "=ennio-t-1").stdout
    assert list((data_dir / "run" / "tmux").iterdir()) == []


async def test_a_reserved_session_that_is_never_started_is_destroyed_without_leftovers(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path, data_dir: Path
) -> None:
    handle = await tmux_runtime.reserve("ennio-t-1")
    await tmux_runtime.destroy(handle)
    assert "ennio-t-1" not in tmux(tmux_socket, "list-sessions", "-F", "#{session_name}").stdout
    assert list((data_dir / "run" / "tmux").iterdir()) == []
    # the name is free again, for an ordinary start
    again = await tmux_runtime.start(echo_spec("ennio-t-1", tmp_path / "agent"))
    await wait_ready(tmux_runtime, again)


async def test_a_reserved_session_whose_program_died_fails_clearly_and_is_removed(
    tmux_runtime: TmuxRuntime, tmux_socket: str, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await tmux_runtime.reserve("ennio-t-1")
    waiting = int(tmux(tmux_socket, "display-message", "-p", "-t", "=ennio-t-1:", "#{pane_pid}").stdout)
    os.kill(waiting, signal.SIGKILL)
    wait_for(lambda: not pid_running(waiting), 10, what="the waiting program to be gone")
    monkeypatch.setattr(TmuxRuntime, "handover_timeout", 0.5)
    with pytest.raises(RuntimeFailure, match=r"ennio-t-1 did not take its agent: .*within 0.5s"):
        await tmux_runtime.start(echo_spec("ennio-t-1", tmp_path / "agent"))
    assert "ennio-t-1" not in tmux(tmux_socket, "list-sessions", "-F", "#{session_name}").stdout
    assert list((data_dir / "run" / "tmux").iterdir()) == []


async def test_a_session_started_as_the_last_one_ends_never_meets_the_exiting_server(
    tmux_socket: str, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # killing a server's last session makes it exit; a client connecting meanwhile gets "server exited
    # unexpectedly" (seen in a few percent of `new-session; kill-session; new-session` loops here). The
    # real tmux, behind a wrapper that answers the first new-session the way the exiting server does.
    real = shutil.which("tmux")
    assert real is not None
    shim = tmp_path / "bin" / "tmux"
    shim.parent.mkdir()
    once = tmp_path / "raced"
    shim.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" new-session "*) if [ ! -e {once} ]; then : > {once}; '
        'echo "server exited unexpectedly" >&2; exit 1; fi;; esac\n'
        f'exec {real} "$@"\n'
    )
    shim.chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    runtime = TmuxRuntime(plugin_context(data_dir))
    handle = await runtime.start(LaunchSpec("ennio-t-1", ["sleep", "60"], tmp_path))
    assert once.exists() and await runtime.alive(handle)
