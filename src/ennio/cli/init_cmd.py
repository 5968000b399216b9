"""``ennio init``."""

from __future__ import annotations

from typing import Annotated

import typer

from ennio.cli.state import state


def init(
    force: Annotated[bool, typer.Option("--force", help="Replace an existing configuration file.")] = False,
) -> None:
    """Write a commented starter ennio.yaml for the git repository you are in."""
    import asyncio
    from pathlib import Path

    from ennio.cli.output import console
    from ennio.services.config.starter import default_target, detect_repo, write_starter_config

    cwd = Path.cwd()
    repo = asyncio.run(detect_repo(cwd))
    target = state.config_path or default_target(repo, cwd)
    write_starter_config(target, repo, force=force)
    out = console()
    out.print(f"wrote {target}")
    if repo is None:
        out.print("no git repository here: add your projects under `projects:`")
    else:
        where = repo.github_repo or (f"origin {repo.origin_url}" if repo.origin_url else "no origin remote")
        out.print(f"project {repo.name!r}: {where}, default branch {repo.default_branch}")
    out.print("next: `ennio config validate`, then `ennio doctor`")
