"""The one subprocess runner (argv only, timeouts, typed errors) and the process-liveness checks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ennio.core.errors import MissingTool, PluginError, WorkspaceError
from ennio.core.proc import pid_running, process_start_time, require, run, tail


async def test_run_passes_arguments_untouched_by_any_shell(tmp_path: Path) -> None:
    result = await run([sys.executable, "-c", "import sys; print(sys.argv[1])", "$HOME; rm -rf / `x`"], cwd=tmp_path)
    assert result.ok
    assert result.stdout.strip() == "$HOME; rm -rf / `x`"


async def test_a_failing_command_raises_the_given_error_with_its_stderr() -> None:
    argv = [sys.executable, "-c", "import sys; sys.stderr.write('first\\nbad ref\\n'); sys.exit(3)"]
    with pytest.raises(WorkspaceError, match=r"exit 3.*first \| bad ref"):
        await run(argv, error=WorkspaceError)
    unchecked = await run(argv, check=False)
    assert (unchecked.returncode, unchecked.ok) == (3, False)


async def test_a_command_that_hangs_is_killed_with_its_children_at_the_timeout(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    script = f"import subprocess, sys, time; p = subprocess.Popen(['sleep', '60']); open({str(marker)!r}, 'w').write(str(p.pid)); time.sleep(60)"
    started = time.monotonic()
    with pytest.raises(PluginError, match="timed out after 1s"):
        await run([sys.executable, "-c", script], timeout=1.0)
    assert time.monotonic() - started < 30
    child = int(marker.read_text())
    deadline = time.monotonic() + 10
    while pid_running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_running(child), "the grandchild outlived the timeout"


async def test_a_missing_program_or_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(MissingTool, match="no-such-program-xyz is not installed"):
        await run(["no-such-program-xyz"])
    with pytest.raises(PluginError, match="does not exist"):
        await run(["true"], cwd=tmp_path / "missing")
    with pytest.raises(MissingTool) as info:
        require("no-such-program-xyz", "apt-get install xyz")
    assert info.value.hint == "apt-get install xyz"


def test_tail_keeps_the_last_lines_on_one_line() -> None:
    assert tail("a\n\nb\nc\nd\ne\nf\n") == "b | c | d | e | f"
    assert tail("  \n") == "(no output)"


def test_pid_running_tells_live_dead_zombie_and_reused_pids() -> None:
    assert pid_running(os.getpid())
    assert pid_running(os.getpid(), process_start_time(os.getpid()))
    assert not pid_running(os.getpid(), "1")  # same pid, another start time: a reused pid
    for bogus in (None, 0, -1, True, "123"):
        assert not pid_running(bogus)

    child = subprocess.Popen(["sleep", "60"])
    try:
        assert pid_running(child.pid)
        child.kill()
        deadline = time.monotonic() + 10
        while pid_running(child.pid) and time.monotonic() < deadline:  # a zombie until reaped: gone already
            time.sleep(0.02)
        assert not pid_running(child.pid)
    finally:
        child.wait()
    assert not pid_running(child.pid)
