"""What the ``pr`` and ``review`` command groups share: the config option, error lines, running a coroutine."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperCommand

from ennio.core.errors import EnnioError

if TYPE_CHECKING:
    from ennio.core.config import EnnioConfig

T = TypeVar("T")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="ennio.yaml to use (default: $ENNIO_CONFIG or found upward).")
]
ProjectOption = Annotated[
    str | None, typer.Option("--project", "-p", help="Project id (default: the project of the current folder).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

#: ``ctx.meta`` key holding the names of the options as they were given, one entry per occurrence
OPTION_ORDER = "ennio.option_order"


@dataclass
class GroupOptions:
    config: Path | None = None


def load(ctx: typer.Context) -> EnnioConfig:
    from ennio.cli.state import state
    from ennio.services.config.loader import load_config

    options = ctx.obj if isinstance(ctx.obj, GroupOptions) else GroupOptions()
    return load_config(options.config or state.config_path).config


@contextmanager
def reported() -> Iterator[None]:
    """Errors meant for a person: one line (and a hint), and the error's exit code."""
    try:
        yield
    except EnnioError as exc:
        from rich.console import Console
        from rich.text import Text

        err = Console(stderr=True, highlight=False, soft_wrap=True)
        err.print(Text(f"error: {exc.message}"))
        if exc.hint:
            err.print(Text(f"hint: {exc.hint}"))
        raise typer.Exit(exc.exit_code) from None


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class OrderedOptionsCommand(TyperCommand):
    """A command that also records the order its options were given in (``--comment A --file F``:
    the file belongs to that comment), which click does not keep across different options."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta[OPTION_ORDER] = option_order(self.params, args)
        return super().parse_args(ctx, args)


def option_order(params: list[Any], args: list[str]) -> list[str]:
    """Names of the options in ``args``, one per occurrence, in the order given."""
    names: dict[str, tuple[str, bool]] = {}
    for param in params:
        for opt in [*getattr(param, "opts", []), *getattr(param, "secondary_opts", [])]:
            if opt.startswith("-"):
                names[opt] = (str(param.name), not getattr(param, "is_flag", False))
    order: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        index += 1
        if arg == "--":
            break
        if arg.startswith("--") and "=" in arg:
            found = names.get(arg.split("=", 1)[0])
            takes_value = False
        elif arg.startswith("-") and not arg.startswith("--") and len(arg) > 2 and arg[:2] in names:
            found = names.get(arg[:2])
            takes_value = False  # "-mtext": the value is attached
        else:
            found = names.get(arg)
            takes_value = found is not None and found[1]
        if found is not None:
            order.append(found[0])
            if takes_value:
                index += 1
    return order
