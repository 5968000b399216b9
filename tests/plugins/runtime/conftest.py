"""Fixtures for runtime tests: each runtime on its own tmux server / data directory, cleaned up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ennio.plugins.runtime.process import ProcessRuntime
from ennio.plugins.runtime.tmux import TmuxRuntime
from tests.helpers.runtime import plugin_context, stop_process_hosts


@pytest.fixture
def tmux_runtime(tmux_socket: str, data_dir: Path) -> TmuxRuntime:
    return TmuxRuntime(plugin_context(data_dir))


@pytest.fixture
async def process_runtime(data_dir: Path) -> AsyncIterator[ProcessRuntime]:
    runtime = ProcessRuntime(plugin_context(data_dir))
    runtime.kill_grace = 1.0
    yield runtime
    await stop_process_hosts(runtime)
