"""What every runtime must do, checked against a real program (the echo agent) it runs.

Each runtime comes from the plugin registry (its entry point) and runs on real tmux / real ptys.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ennio.core.errors import Conflict, InvalidId, InvalidInput
from ennio.core.plugins import LaunchSpec, Runtime, RuntimeHandle, Slot
from ennio.plugins.runtime._text import clean_input
from ennio.services.registry import default_registry
from tests.helpers.runtime import (
    PROMPT,
    echo_spec,
    plugin_context,
    received,
    started,
    stop_process_hosts,
    tmux_socket_env,
    wait_ready,
    wait_received,
)
from tests.helpers.wait import async_wait_for

RUNTIMES = ["tmux", "process"]

FIVE_KB = "\n".join(f"line {i:03d}: `code` $VAR 'q' \"qq\" \\ ; && || > < | * ? ~ é 中 {'x' * 30}" for i in range(75))
HOSTILE = [
    "plain words",
    "it's \"double\" and 'single' quoted",
    "$(rm -rf /) and ${HOME} and $PATH",
    "`touch /tmp/ennio-pwned` backticks",
    "a; echo injected; exit",
    "ends with a semicolon;",
    "ends with an escaped semicolon \\;",
    ";",
    "back\\slash \\n is not a newline \\",
    "tab\there\tand there",
    "unicode: é ñ ß 中文 日本語 😀 ✓ —",
    "-starts with a dash",
    "--",
    "#{session_name} #(echo tmux format) %1 ~user",
    "first line\nsecond line\n\nfourth line after a blank one",
    "  leading and trailing spaces  ",
    "x" * 199,
    "y" * 201,
    FIVE_KB,
]
assert len(FIVE_KB) > 5000


@pytest.fixture(params=RUNTIMES)
async def runtime(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> AsyncIterator[Runtime]:
    cls = default_registry().get(Slot.RUNTIME, request.param)
    if request.param == "tmux":
        with tmux_socket_env(monkeypatch):
            yield cls(plugin_context(data_dir))
    else:
        runtime = cls(plugin_context(data_dir))
        runtime.kill_grace = 1.0
        yield runtime
        await stop_process_hosts(runtime)


def name(label: str = "1") -> str:
    return f"ennio-test-{label}"


async def start_echo(runtime: Runtime, out: Path, label: str = "1", *modes: str) -> RuntimeHandle:
    handle = await runtime.start(echo_spec(name(label), out, *modes))
    await wait_ready(runtime, handle)
    return handle


def test_plugin_satisfies_protocol(runtime: Runtime) -> None:
    assert isinstance(runtime, Runtime)
    assert runtime.manifest.slot is Slot.RUNTIME


async def test_send_delivers_hostile_text_exactly(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "agent"
    handle = await start_echo(runtime, out)
    for i, text in enumerate(HOSTILE, 1):
        result = await runtime.send(handle, text)
        assert result.delivered, (text[:40], result)
        assert result.attempts == 1
        got = wait_received(out, i)
        assert got[-1] == text, f"message {i} arrived changed: sent {text[:60]!r}, got {got[-1][:60]!r}"
    assert received(out) == HOSTILE
    assert not Path("/tmp/ennio-pwned").exists()


async def test_control_characters_arrive_as_visible_symbols(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "agent"
    handle = await start_echo(runtime, out)
    text = "stop\x03 esc\x1b[201~ injected\r\nnext\x7f"
    result = await runtime.send(handle, text)
    assert result.delivered
    assert wait_received(out, 1) == [clean_input(text)]
    assert clean_input(text) == "stop␃ esc␛[201~ injected\nnext␡"


async def test_send_without_submit_only_types(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "agent"
    handle = await start_echo(runtime, out)
    result = await runtime.send(handle, "half ", submit=False)
    assert result.delivered and result.attempts == 0
    await wait_ready(runtime, handle, marker="half")
    assert received(out) == []
    assert (await runtime.send(handle, "done")).delivered
    assert wait_received(out, 1) == ["half done"]


async def test_enter_is_pressed_again_when_the_first_is_swallowed(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "agent"
    handle = await start_echo(runtime, out, "1", "--ignore-first-enter")
    runtime.enter_wait = 1.0  # type: ignore[attr-defined]
    result = await runtime.send(handle, "please take this")
    assert result.delivered, result
    assert result.attempts == 2
    assert wait_received(out, 1) == ["please take this"]


async def test_send_reports_not_delivered_when_the_agent_never_takes_input(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "agent"
    handle = await runtime.start(echo_spec(name(), out, "--deaf"))
    await wait_ready(runtime, handle, marker="deaf agent>")
    runtime.echo_wait = runtime.enter_wait = 0.3  # type: ignore[attr-defined]
    result = await runtime.send(handle, "anyone there?")
    assert not result.delivered
    assert result.attempts == runtime.max_enters  # type: ignore[attr-defined]
    assert "did not" in result.detail
    assert received(out) == []


async def test_line_reading_program_gets_each_line(runtime: Runtime, tmp_path: Path) -> None:
    """A plain program reading stdin in cooked mode (no bracketed paste) gets one line per line."""
    script = (
        "import sys\nprint('ready', flush=True)\nfor line in sys.stdin:\n    print('GOT', repr(line), flush=True)\n"
    )
    spec = LaunchSpec(name(), [sys.executable, "-c", script], tmp_path)
    handle = await runtime.start(spec)
    await wait_ready(runtime, handle, marker="ready")
    assert (await runtime.send(handle, "one 'q' $x\ntwo")).delivered
    screen = await wait_ready(runtime, handle, marker="GOT 'two\\n'")
    assert "GOT \"one 'q' $x\\n\"" in screen


async def test_output_shows_the_last_lines(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "agent"
    handle = await start_echo(runtime, out)
    await runtime.send(handle, "first message")
    await runtime.send(handle, "second message")
    text = await wait_ready(runtime, handle, marker="[received #2")
    assert "first message" in text and "second message" in text
    assert "\x1b" not in text

    async def prompt_on_last_line() -> bool:
        return (await runtime.output(handle, 1)).strip() == PROMPT.strip()

    # the agent prints its prompt again just after reporting the message
    await async_wait_for(prompt_on_last_line, 10, what="the prompt on the last line")
    assert len((await runtime.output(handle, 3)).splitlines()) == 3


async def test_environment_argv_and_folder_reach_the_agent_exactly(runtime: Runtime, tmp_path: Path) -> None:
    env = {
        "ENNIO_T_SPACES": "a b  c ",
        "ENNIO_T_QUOTES": "'single' \"double\" `tick`",
        "ENNIO_T_DOLLAR": "$HOME $(id) ${PATH}",
        "ENNIO_T_SEMI": "x;",
        "ENNIO_T_ESCSEMI": "x\\;",
        "ENNIO_T_NEWLINE": "l1\nl2",
        "ENNIO_T_UNICODE": "é 中 😀",
        "ENNIO_T_EMPTY": "",
        "ENNIO_T_FORMAT": "#{session_name} #(id)",
        "ENNIO_T_EQUALS": "a=b=c",
    }
    folder = tmp_path / "work dir #{x} $y;"
    folder.mkdir()
    out = tmp_path / "agent"
    spec = echo_spec(name(), out, cwd=folder, env=env)
    spec.argv += ["arg with spaces", "$(id)", "semi;", "esc\\;", "#{pane_id}", "", "-x"]
    handle = await runtime.start(spec)
    seen = started(out)
    assert {k: seen["env"].get(k) for k in env} == env
    assert seen["cwd"] == str(folder)
    assert seen["argv"] == spec.argv[1:]
    await runtime.destroy(handle)


async def test_alive_until_the_agent_exits_and_its_last_output_stays_readable(runtime: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "agent"
    handle = await start_echo(runtime, out)
    assert await runtime.alive(handle)
    await runtime.send(handle, "/quit")

    async def exited() -> bool:
        return not await runtime.alive(handle)

    await async_wait_for(exited, 10, what="the agent to exit")
    assert "[received #1: 5 chars]" in await runtime.output(handle)
    assert name() not in await runtime.list_alive("ennio-test-")
    result = await runtime.send(handle, "too late")
    assert not result.delivered and "exit" in result.detail


async def test_short_lived_program(runtime: Runtime, tmp_path: Path) -> None:
    handle = await runtime.start(LaunchSpec(name(), [sys.executable, "-c", "print('bye from the agent')"], tmp_path))

    async def exited() -> bool:
        return not await runtime.alive(handle)

    await async_wait_for(exited, 10, what="the program to exit")
    assert "bye from the agent" in await runtime.output(handle)


async def test_destroy_is_idempotent(runtime: Runtime, tmp_path: Path) -> None:
    handle = await start_echo(runtime, tmp_path / "agent")
    await runtime.destroy(handle)
    assert not await runtime.alive(handle)
    await runtime.destroy(handle)
    assert await runtime.list_alive("") == []
    await runtime.destroy(RuntimeHandle(runtime.manifest.name, "ennio-never-started"))


async def test_list_alive_by_prefix(runtime: Runtime, tmp_path: Path) -> None:
    a = await start_echo(runtime, tmp_path / "a", "a-1")
    await start_echo(runtime, tmp_path / "b", "a-2")
    await runtime.start(LaunchSpec("other-1", echo_spec("x", tmp_path / "c").argv, tmp_path))
    assert await runtime.list_alive("ennio-test-a-") == [name("a-1"), name("a-2")]
    assert await runtime.list_alive("nomatch") == []
    await runtime.destroy(a)
    assert await runtime.list_alive("ennio-test-a-") == [name("a-2")]
    assert await runtime.list_alive("") == [name("a-2"), "other-1"]


async def test_a_second_start_with_the_same_name_is_refused(runtime: Runtime, tmp_path: Path) -> None:
    handle = await start_echo(runtime, tmp_path / "agent")
    with pytest.raises(Conflict, match="already"):
        await runtime.start(echo_spec(name(), tmp_path / "other"))
    assert await runtime.alive(handle)
    assert not (tmp_path / "other" / "start.json").exists()


async def test_the_name_can_be_reused_once_the_agent_has_exited(runtime: Runtime, tmp_path: Path) -> None:
    """Restore starts the agent again under the same name; the dead one's remains must not block it."""
    first = await runtime.start(LaunchSpec(name(), [sys.executable, "-c", "print('first run')"], tmp_path))

    async def exited() -> bool:
        return not await runtime.alive(first)

    await async_wait_for(exited, 10, what="the first run to exit")
    out = tmp_path / "agent"
    second = await start_echo(runtime, out)
    assert await runtime.alive(second)
    assert (await runtime.send(second, "second run")).delivered
    assert wait_received(out, 1) == ["second run"]


@pytest.mark.parametrize("bad", ["bad;name", "../up", "-dash", "has space", "x$(id)", "a:b", "a.b", "", "é"])
async def test_bad_names_are_refused_before_anything_starts(runtime: Runtime, tmp_path: Path, bad: str) -> None:
    with pytest.raises(InvalidId):
        await runtime.start(echo_spec(bad, tmp_path / "agent"))
    assert not (tmp_path / "agent" / "start.json").exists()
    assert await runtime.list_alive("") == []


async def test_bad_launch_is_refused(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        await runtime.start(LaunchSpec(name(), ["true"], tmp_path / "missing"))
    with pytest.raises(InvalidInput, match="empty"):
        await runtime.start(LaunchSpec(name(), [], tmp_path))
    with pytest.raises(InvalidInput, match="not valid"):
        await runtime.start(LaunchSpec(name(), ["true"], tmp_path, env={"A;B": "x"}))
    assert await runtime.list_alive("") == []


def test_attach_command_names_an_installed_program(runtime: Runtime) -> None:
    argv = runtime.attach_command(RuntimeHandle(runtime.manifest.name, name(), {}))
    assert argv and shutil.which(argv[0])
    assert name() in " ".join(argv)


STARTER = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from ennio.core.clock import SystemClock
    from ennio.core.plugins import LaunchSpec, PluginContext, Slot
    from ennio.services.registry import default_registry

    async def main(kind, data_dir, spec):
        cls = default_registry().get(Slot.RUNTIME, kind)
        runtime = cls(PluginContext(data_dir=Path(data_dir), clock=SystemClock()))
        handle = await runtime.start(LaunchSpec(spec["name"], spec["argv"], Path(spec["cwd"])))
        print(json.dumps(handle.to_dict()))

    asyncio.run(main(sys.argv[1], sys.argv[2], json.loads(sys.argv[3])))
    """
)


async def test_agent_outlives_the_process_that_started_it(runtime: Runtime, tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "agent"
    spec = echo_spec(name(), out)
    payload = json.dumps({"name": spec.name, "argv": spec.argv, "cwd": str(spec.cwd)})
    starter = subprocess.run(
        [sys.executable, "-c", STARTER, runtime.manifest.name, str(data_dir), payload],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ,
        check=False,
    )
    assert starter.returncode == 0, starter.stderr
    handle = RuntimeHandle.from_dict(json.loads(starter.stdout))
    await wait_ready(runtime, handle)
    assert await runtime.alive(handle)
    assert await runtime.list_alive("ennio-test-") == [name()]
    assert (await runtime.send(handle, "sent from another process")).delivered
    assert wait_received(out, 1) == ["sent from another process"]
    await runtime.destroy(handle)
    assert not await runtime.alive(handle)
