"""``ennio status`` and ``ennio session list``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ennio.cli.output import show_help_when_bare
from ennio.cli.state import state

if TYPE_CHECKING:
    from datetime import datetime

    from ennio.core.session import Session
    from ennio.db.records import QueuedSpawn

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

    sessions, queued = _read(None, None if show_all else ACTIVE_STATUSES, open_queue=not show_all)
    counts: dict[str, int] = {}
    for session in sessions:
        counts[str(session.status)] = counts.get(str(session.status), 0) + 1
    if as_json:
        print_json(
            {
                "sessions": [s.model_dump(mode="json") for s in sessions],
                "counts": counts,
                "queued": [q.to_dict() for q in queued],
            }
        )
        return
    if not sessions and not queued:
        typer.echo("no sessions" if show_all else "no sessions running (`ennio status --all` shows finished ones)")
        return
    if sessions:
        _print_table(sessions, with_project=True)
        summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
        typer.echo(f"{len(sessions)} session{'s' if len(sessions) != 1 else ''}: {summary}")
    if queued:
        _print_queue(queued, with_project=True)


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
    sessions, queued = _read(project, None, open_queue=True)
    sessions.reverse()
    if as_json:
        print_json([s.model_dump(mode="json") for s in sessions])
        return
    if not sessions and not queued:
        typer.echo(f"no sessions{f' in project {project!r}' if project else ''}")
        return
    if sessions:
        _print_table(sessions, with_project=project is None)
    if queued:
        _print_queue(queued, with_project=project is None)


def _read(project: str | None, statuses: object, *, open_queue: bool) -> tuple[list[Session], list[QueuedSpawn]]:
    from ennio.services.config.loader import load_storage_settings
    from ennio.services.sessions.readers import Reader

    with Reader(load_storage_settings(state.config_path)) as reader:
        sessions = reader.sessions(project_id=project, statuses=statuses)  # type: ignore[arg-type]
        return sessions, reader.queued(project, open_only=open_queue)


def _print_queue(queued: list[QueuedSpawn], *, with_project: bool) -> None:
    """Queued spawns (``ennio spawn --when-unblocked``): what each waits for, or what became of it."""
    from ennio.cli.output import print_table

    def shown(key: str) -> str:
        return f"#{key}" if key.isdigit() else key

    headers = ["QUEUED", *(["PROJECT"] if with_project else []), "ISSUE", "STATUS", "WAITING FOR", "SINCE"]
    rows = [
        [
            q.qid,
            *([q.project_id] if with_project else []),
            shown(q.issue_id),
            str(q.status) + (f" → {q.session_id}" if q.session_id else ""),
            ", ".join(shown(b) for b in q.blockers) if q.status == "waiting" else (q.reason or "-"),
            _ago(q.created_at),
        ]
        for q in queued
    ]
    typer.echo("")
    print_table(headers, rows, shrink="WAITING FOR")
    typer.echo(
        f"{len(queued)} queued spawn{'s' if len(queued) != 1 else ''} (cancel one with `ennio session cancel QID`)"
    )


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
