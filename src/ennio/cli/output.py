"""Printing: tables and text through rich on stdout, JSON for ``--json``, errors on stderr."""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer
    from rich.console import Console

    from ennio.core.errors import EnnioError

_console: Console | None = None


def console() -> Console:
    """The stdout console (created on first use: rich costs start-up time)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console(highlight=False, soft_wrap=False)
    return _console


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def print_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _color(code: str, text: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stderr.isatty():
        return text
    return f"\x1b[{code}m{text}\x1b[0m"


def print_error(message: str, hint: str | None = None) -> None:
    """One short block on stderr: ``error: …`` and optionally ``hint: …``."""
    lines = [f"{_color('1;31', 'error:')} {_one_line(message)}"]
    if hint:
        lines.append(f"{_color('33', 'hint:')} {_one_line(hint)}")
    sys.stderr.write("\n".join(lines) + "\n")
    sys.stderr.flush()


def print_ennio_error(exc: EnnioError) -> None:
    print_error(exc.message, exc.hint)


def _one_line(text: str) -> str:
    return " ".join(text.split()) if "\n" in text else text


def show_help_when_bare(ctx: typer.Context) -> None:
    """A group called without a command prints its help (on stdout, exit 0)."""
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        import typer

        typer.echo(ctx.get_help())
        raise typer.Exit(0)
