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

        # soft_wrap: plain lines (paths, messages) are never broken; tables still fit the width
        _console = Console(highlight=False, soft_wrap=True)
    return _console


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def print_json_line(data: Any) -> None:
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_table(headers: list[str], rows: list[list[str]], *, shrink: str, right: frozenset[str] = frozenset()) -> None:
    """A borderless table on stdout, fitted to the terminal by shortening the ``shrink`` column.

    Plain text rather than rich: the hot read commands (`ennio status`) cannot spare rich's
    ~30 ms of imports.
    """
    import shutil

    widths = [max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(headers)]
    flexible = headers.index(shrink)
    others = sum(widths) - widths[flexible] + 2 * (len(headers) - 1)
    columns = shutil.get_terminal_size().columns
    widths[flexible] = max(6, min(widths[flexible], columns - others))

    def line(cells: list[str]) -> str:
        out = []
        for header, cell, width in zip(headers, cells, widths, strict=True):
            if len(cell) > width:
                cell = cell[: width - 1] + "…"
            out.append(cell.rjust(width) if header in right else cell.ljust(width))
        return "  ".join(out).rstrip()

    bold = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    head = line(headers)
    sys.stdout.write((f"\x1b[1m{head}\x1b[0m" if bold else head) + "\n")
    sys.stdout.write("".join(line(row) + "\n" for row in rows))


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
