"""``ennio demo``: the whole loop on a sample project, with no tokens and no network."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ennio.cli._common import reported, run

if TYPE_CHECKING:
    from ennio.demo.runner import DemoSummary


def demo(
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Folder to create the sample project in (default: a new temporary folder)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the summary, as JSON.")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Give up after this many seconds.", min=10)] = 300.0,
    pace: Annotated[
        float, typer.Option("--pace", help="Seconds the scripted agents and the reviewer take per step.", min=0)
    ] = 4.0,
) -> None:
    """Watch Ennio take three issues of a sample project to merged PRs: agents (scripted) write code,
    CI fails, Ennio sends the log back, the agents fix it, CI passes, the demo approves, Ennio merges.

    Runs on the local tracker and SCM with the script agent in tmux: about a minute, nothing leaves
    this machine. The sample project and its database are kept for a look afterwards."""
    from ennio.core.errors import InvalidInput, MissingTool

    with reported():
        for tool, hint in (("git", "apt-get install git"), ("tmux", "apt-get install tmux (or brew install tmux)")):
            if shutil.which(tool) is None:
                raise MissingTool(f"the demo needs {tool}, which is not installed", hint=hint)
        if directory is not None:
            directory = directory.expanduser().resolve()
            if directory.exists() and any(directory.iterdir()):
                raise InvalidInput(f"{directory} is not empty", hint="give a new or empty folder with --dir")
        summary = _run(directory, as_json, timeout, pace)
    if not summary.ok:
        raise typer.Exit(1)


def _run(directory: Path | None, as_json: bool, timeout: float, pace: float) -> DemoSummary:
    from rich.console import Console

    from ennio.cli.output import print_json
    from ennio.demo.runner import run_demo
    from ennio.demo.view import LiveView, print_summary

    if as_json:
        summary = run(run_demo(directory, timeout=timeout, pace=pace))
        print_json(summary.to_dict())
        return summary
    console = Console(highlight=False)
    with LiveView(console) as view:
        summary = run(run_demo(directory, watch=view, timeout=timeout, pace=pace))
    print_summary(console, summary)
    return summary
