"""Running a session command from the CLI: load the configuration, open the same services the daemon uses
(on the same database), run one coroutine, close everything. Works whether or not a daemon runs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from ennio.cli.state import state
from ennio.services.stack import Services

T = TypeVar("T")


def run_with_services(action: Callable[[Services], Awaitable[T]]) -> T:
    """``action(services)`` on freshly opened services; errors propagate to the CLI's error printer."""
    from ennio.services.config.loader import load_config
    from ennio.services.stack import open_services

    config = load_config(state.config_path).config

    async def main() -> T:
        async with open_services(config) as services:
            return await action(services)

    return asyncio.run(main())


@contextmanager
def progress_shown(first: str) -> Iterator[Callable[[str], None]]:
    """A spinner on stderr whose text each progress step replaces (nothing when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        yield lambda _step: None
        return
    from rich.console import Console

    with Console(stderr=True).status(first) as status:
        yield lambda step: status.update(f"{step}…")
