"""``ennio status`` and ``ennio session list``."""

from __future__ import annotations

from typing import Annotated

import typer

from ennio.cli.output import show_help_when_bare

app = typer.Typer(help="Agent sessions.")


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    show_help_when_bare(ctx)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def status(as_json: JsonFlag = False) -> None:
    """Sessions that are still going, with a count per status."""
    raise NotImplementedError


@app.command("list")
def list_sessions(
    project: Annotated[str | None, typer.Argument(help="Only this project's sessions.", show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every session, newest first (optionally of one project)."""
    raise NotImplementedError
