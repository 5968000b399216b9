"""``ennio doctor``."""

from __future__ import annotations

from typing import Annotated

import typer

from ennio.cli.state import state

_MARK = {"ok": "[green]ok[/green]", "warn": "[yellow]warn[/yellow]", "fail": "[red]FAIL[/red]"}


def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Check git, tmux, the agent CLIs, tokens, the database and NATS; say how to fix each problem."""
    import asyncio

    from ennio.cli.output import console, print_json
    from ennio.services.doctor import run_checks
    from ennio.services.registry import default_registry

    results = asyncio.run(run_checks(state.config_path, default_registry()))
    failed = [r for r in results if r.status == "fail"]
    if as_json:
        print_json({"ok": not failed, "checks": [r.to_dict() for r in results]})
    else:
        from rich.markup import escape
        from rich.table import Table

        table = Table(box=None, pad_edge=False, show_header=False)
        table.add_column("status", no_wrap=True)
        table.add_column("check", no_wrap=True, style="bold")
        table.add_column("detail", overflow="fold")
        for result in results:
            detail = escape(result.detail)
            if result.hint and result.status != "ok":
                detail += f"\n[dim]→ {escape(result.hint)}[/dim]"
            table.add_row(_MARK[result.status], escape(result.name), detail)
        out = console()
        out.print(table)
        out.print(f"[red]{len(failed)} problem{'s' if len(failed) != 1 else ''} to fix[/red]" if failed else "all good")
    if failed:
        raise typer.Exit(1)
