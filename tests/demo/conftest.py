"""The demo runs its agents on a private tmux server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.runtime import tmux_socket_env


@pytest.fixture
def tmux_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with tmux_socket_env(monkeypatch) as socket:
        yield socket
