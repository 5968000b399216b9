"""``ennio plugins list``."""

from __future__ import annotations

from typing import Annotated

import typer

from ennio.cli.output import show_help_when_bare

app = typer.Typer(help="Installed plugins (built-in and third-party).")


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    show_help_when_bare(ctx)


@app.command("list")
def list_plugins(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List every plugin found through entry points, by slot."""
    from ennio.cli.output import console, print_json
    from ennio.core.errors import PluginError
    from ennio.services.registry import default_registry

    registry = default_registry()
    rows = []
    for entry in registry.entries():
        row = {
            "slot": str(entry.slot),
            "name": entry.name,
            "target": entry.target,
            "distribution": entry.distribution,
            "version": None,
            "description": None,
            "error": None,
        }
        try:
            manifest = registry.manifest(entry.slot, entry.name)
            row["version"], row["description"] = manifest.version, manifest.description
        except PluginError as exc:
            row["error"] = exc.message
        rows.append(row)
    if as_json:
        print_json(rows)
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("slot", "name", "version", "from", "description"):
        table.add_column(column, overflow="fold" if column == "description" else "ellipsis")
    for row in rows:
        description = escape(row["description"] or "")
        if row["error"]:
            description = f"[red]broken:[/red] {escape(row['error'])}"
        table.add_row(row["slot"], row["name"], row["version"] or "-", row["distribution"] or "-", description)
    console().print(table)
