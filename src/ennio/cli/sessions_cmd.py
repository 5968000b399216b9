"""``ennio status`` and ``ennio session list``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ennio.cli.output import show_help_when_bare
from ennio.cli.state import state

if TYPE_CHECKING:
    from datetime import datetime

    from ennio.core.session import Session

app = typer.Typer(help="Agent sessions.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    show_help_when_bare(ctx)


def status(
    show_all: Annotated[bool, typer.Option("--all", "-a", help="Include finished sessions.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Sessions that are still going, with a count per status."""
    from ennio.cli.output import print_json
    from ennio.core.session import ACTIVE_STATUSES

    sessions = _read(None, None if show_all else ACTIVE_STATUSES)
    counts: dict[str, int] = {}
    for session in sessions:
        counts[str(session.status)] = counts.get(str(session.status), 0) + 1
    if as_json:
        print_json({"sessions": [s.model_dump(mode="json") for s in sessions], "counts": counts})
        return
    if not sessions:
        typer.echo("no sessions" if show_all else "no sessions running (`ennio status --all` shows finished ones)")
        return
    _print_table(sessions, with_project=True)
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    typer.echo(f"{len(sessions)} session{'s' if len(sessions) != 1 else ''}: {summary}")


@app.command("list")
def list_sessions(
    project: Annotated[str | None, typer.Argument(help="Only this project's sessions.", show_default=False)] = None,
    as_json: JsonFlag = False,
) -> None:
    """Every session, newest first (optionally of one project)."""
    from ennio.cli.output import print_json
    from ennio.core.ids import validate_id

    if project is not None:
        validate_id(project, "project id")
    sessions = _read(project, None)
    sessions.reverse()
    if as_json:
        print_json([s.model_dump(mode="json") for s in sessions])
        return
    if not sessions:
        typer.echo(f"no sessions{f' in project {project!r}' if project else ''}")
        return
    _print_table(sessions, with_project=project is None)


def _read(project: str | None, statuses: object) -> list[Session]:
    from ennio.services.config_loader import load_storage_settings
    from ennio.services.readers import Reader

    with Reader(load_storage_settings(state.config_path)) as reader:
        return reader.sessions(project_id=project, statuses=statuses)  # type: ignore[arg-type]


def _print_table(sessions: list[Session], *, with_project: bool) -> None:
    from ennio.cli.output import print_table

    headers = ["ID", *(["PROJECT"] if with_project else []), "STATUS", "ACTIVITY", "AGENT", "BRANCH", "PR", "UPDATED"]
    rows = [
        [
            s.id,
            *([s.project_id] if with_project else []),
            str(s.status),
            str(s.activity) if s.activity else "-",
            s.agent,
            s.branch or "-",
            f"#{s.pr_number}" if s.pr_number else "-",
            _ago(s.updated_at),
        ]
        for s in sessions
    ]
    print_table(headers, rows, shrink="BRANCH", right=frozenset({"PR"}))


def _ago(moment: datetime) -> str:
    from datetime import UTC, datetime

    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
