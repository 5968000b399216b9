"""Terminal ``tmux`` hands out the runtime's own attach command."""

from __future__ import annotations

from pathlib import Path

import pytest

from ennio.core.plugins import RuntimeHandle, Slot, Terminal
from ennio.services.registry import default_registry
from tests.helpers.runtime import plugin_context


@pytest.mark.parametrize("runtime_name", ["tmux", "process"])
def test_attach_uses_the_runtime_command(runtime_name: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENNIO_TMUX_SOCKET", "ennio-test-sock")
    registry = default_registry()
    terminal = registry.get(Slot.TERMINAL, "tmux")(plugin_context(data_dir))
    runtime = registry.get(Slot.RUNTIME, runtime_name)(plugin_context(data_dir))
    assert isinstance(terminal, Terminal)
    handle = RuntimeHandle(runtime_name, "ennio-abc-app-1", {"socket": "ennio-test-sock", "log": "/x/app.log"})
    argv = terminal.attach(handle, runtime)
    assert argv == runtime.attach_command(handle)
    expected = {
        "tmux": ["tmux", "-L", "ennio-test-sock", "attach-session", "-t", "ennio-abc-app-1"],
        "process": ["tail", "-n", "200", "-F", "/x/app.log"],
    }
    assert argv == expected[runtime_name]
