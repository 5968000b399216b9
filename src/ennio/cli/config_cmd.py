"""``ennio config validate`` and ``ennio config schema``."""

from __future__ import annotations

from typing import Annotated

import typer

from ennio.cli.output import show_help_when_bare
from ennio.cli.state import state

app = typer.Typer(help="Check the configuration, or print its JSON Schema.")


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    show_help_when_bare(ctx)


JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("validate")
def validate(as_json: JsonFlag = False) -> None:
    """Check the configuration file and list every problem, one per line."""
    from ennio.cli.output import console, print_json
    from ennio.core.errors import ConfigError
    from ennio.services.config.loader import find_config, load_config

    path = state.config_path or find_config()
    if path is None:
        raise ConfigError(
            "no configuration file found (ennio.yaml, ennio.yml or .ennio.yaml, here or in a parent folder)",
            hint="run `ennio init` to write one, or pass -c PATH",
        )
    if not path.is_file():
        load_config(path)  # raises the one-line "file not found" / "is a folder" error with its hint
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        if as_json:
            print_json({"file": str(path), "valid": False, "problems": exc.problems})
        else:
            for problem in exc.problems:
                typer.echo(problem)
            typer.echo(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} in {path}", err=True)
        raise typer.Exit(exc.exit_code) from None
    projects = [p.pid for p in loaded.config.projects]
    if as_json:
        print_json({"file": str(path), "valid": True, "problems": [], "projects": projects})
    else:
        console().print(f"{path}: valid ({len(projects)} project{'s' if len(projects) != 1 else ''})")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of ennio.yaml (point your editor's YAML support at it)."""
    from ennio.cli.output import print_json
    from ennio.core.config import EnnioConfig

    body = {"$schema": "https://json-schema.org/draft/2020-12/schema", **EnnioConfig.model_json_schema()}
    print_json(body)
