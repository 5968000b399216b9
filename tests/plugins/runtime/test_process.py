"""process runtime specifics: its files, stopping the whole process group, and log handling."""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
from pathlib import Path

import pytest

from ennio.core.errors import RuntimeFailure
from ennio.core.plugins import LaunchSpec, RuntimeHandle
from ennio.core.proc import pid_running
from ennio.plugins.runtime.process import ProcessRuntime
from tests.helpers.runtime import echo_spec, plugin_context, stop_process_hosts, wait_ready
from tests.helpers.wait import async_wait_for, wait_for


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_files_are_private_and_the_log_defaults_under_the_data_dir(
    process_runtime: ProcessRuntime, data_dir: Path, tmp_path: Path
) -> None:
    handle = await process_runtime.start(echo_spec("ennio-p-1", tmp_path / "agent"))
    await wait_ready(process_runtime, handle)
    run_dir = data_dir / "run" / "process"
    info = json.loads((run_dir / "ennio-p-1.json").read_text())
    assert info["child_pid"] == handle.data["child_pid"] and info["host_pid"] == handle.data["host_pid"]
    assert Path(handle.data["log"]) == data_dir / "logs" / "ennio-p-1.log"
    assert mode(run_dir) == 0o700
    assert mode(Path(handle.data["socket"])) == 0o600
    assert mode(run_dir / "ennio-p-1.json") == 0o600
    assert mode(Path(handle.data["log"])) == 0o600
    assert process_runtime.attach_command(handle) == ["tail", "-n", "200", "-F", handle.data["log"]]


async def test_log_path_from_the_spec(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    spec = echo_spec("ennio-p-1", tmp_path / "agent")
    spec.log_path = tmp_path / "logs" / "agent.log"
    handle = await process_runtime.start(spec)
    await wait_ready(process_runtime, handle)
    assert "agent> " in spec.log_path.read_text()


async def test_destroy_stops_the_whole_process_group(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    script = (
        "import os, time\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    time.sleep(600)\n"
        "open('grandchild.pid', 'w').write(str(pid))\n"
        "print('ready', flush=True)\n"
        "time.sleep(600)\n"
    )
    handle = await process_runtime.start(LaunchSpec("ennio-p-1", [sys.executable, "-c", script], tmp_path))
    await wait_ready(process_runtime, handle, marker="ready")
    grandchild = int((tmp_path / "grandchild.pid").read_text())
    assert pid_running(grandchild)
    await process_runtime.destroy(handle)
    wait_for(lambda: not pid_running(grandchild), 10, what="the agent's own child to stop")
    assert not pid_running(int(handle.data["child_pid"]))
    assert not Path(handle.data["socket"]).exists()


async def test_destroy_kills_an_agent_that_ignores_term(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        "print('stubborn', flush=True)\n"
        "time.sleep(600)\n"
    )
    process_runtime.kill_grace = 0.3
    handle = await process_runtime.start(LaunchSpec("ennio-p-1", [sys.executable, "-c", script], tmp_path))
    await wait_ready(process_runtime, handle, marker="stubborn")
    await process_runtime.destroy(handle)
    assert not pid_running(int(handle.data["child_pid"]))
    assert not await process_runtime.alive(handle)


async def test_destroy_stops_an_agent_whose_host_died(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    """The terminal's hangup ends most agents with their host; one that ignores SIGHUP lingers."""
    script = "import signal, time\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(600)\n"
    handle = await process_runtime.start(LaunchSpec("ennio-p-1", [sys.executable, "-c", script], tmp_path))
    await wait_ready(process_runtime, handle, marker="ready")
    host, child = int(handle.data["host_pid"]), int(handle.data["child_pid"])
    os.kill(host, signal.SIGKILL)
    wait_for(lambda: not pid_running(host), 10, what="the host to die")
    assert not await process_runtime.alive(handle)
    assert pid_running(child)
    await process_runtime.destroy(handle)
    wait_for(lambda: not pid_running(child), 10, what="the orphaned agent to stop")
    assert await process_runtime.list_alive("") == []


async def test_a_missing_program_is_a_start_error(
    process_runtime: ProcessRuntime, tmp_path: Path, data_dir: Path
) -> None:
    with pytest.raises(RuntimeFailure, match="cannot run '/nonexistent/agent-cli'"):
        await process_runtime.start(LaunchSpec("ennio-p-1", ["/nonexistent/agent-cli"], tmp_path))
    assert list((data_dir / "run" / "process").glob("*.json")) == []


async def test_output_strips_terminal_escapes_and_survives_log_rotation(
    process_runtime: ProcessRuntime, tmp_path: Path
) -> None:
    script = (
        "import sys\n"
        "for i in range(400):\n"
        "    print(f'\\x1b[1;32mline {i:03d}\\x1b[0m \\x1b]0;title\\x07', flush=True)\n"
        "print('done', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    process_runtime.max_log_bytes = 6_000  # each kept file holds more than 150 lines
    handle = await process_runtime.start(LaunchSpec("ennio-p-1", [sys.executable, "-c", script], tmp_path))
    text = await wait_ready(process_runtime, handle, marker="done")
    assert "\x1b" not in text and "title" not in text
    assert "line 399 " in text
    assert Path(handle.data["log"] + ".1").exists()
    tail = (await process_runtime.output(handle, 150)).splitlines()
    assert len(tail) == 150
    assert tail[0].strip() == "line 251" and tail[-1] == "done"


async def test_pid_file_records_the_exit_code(process_runtime: ProcessRuntime, tmp_path: Path) -> None:
    handle = await process_runtime.start(
        LaunchSpec("ennio-p-1", [sys.executable, "-c", "raise SystemExit(3)"], tmp_path)
    )

    async def exited() -> bool:
        return not await process_runtime.alive(handle)

    await async_wait_for(exited, 10, what="the program to exit")
    pid_file = process_runtime.run_dir / "ennio-p-1.json"
    wait_for(lambda: "exit_code" in json.loads(pid_file.read_text()), 10, what="the exit code")
    assert json.loads(pid_file.read_text())["exit_code"] == 3
    result = await process_runtime.send(handle, "hello")
    assert not result.delivered and "exit code 3" in result.detail


async def test_a_deep_data_dir_gets_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    runtime = ProcessRuntime(plugin_context(deep))
    try:
        handle = await runtime.start(echo_spec("ennio-p-1", tmp_path / "agent"))
        socket = Path(handle.data["socket"])
        assert len(str(socket)) <= 100 and not socket.is_relative_to(deep)
        assert mode(socket.parent) == 0o700
        await wait_ready(runtime, handle)
        assert await runtime.list_alive("ennio-p-") == ["ennio-p-1"]
        assert await runtime.alive(RuntimeHandle("process", "ennio-p-1"))
    finally:
        await stop_process_hosts(runtime)
