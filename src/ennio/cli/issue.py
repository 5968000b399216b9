"""``ennio issue list|show|create|close``: the project's tracker from the command line.

Works with any tracker plugin (local files, GitHub, Linear); with ``tracker: {provider: local}``
it needs no network. ``register(app)`` adds the ``issue`` group to the main app.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from ennio.cli._common import ConfigOption, GroupOptions, JsonOption, ProjectOption, load, reported, run
from ennio.cli.output import show_help_when_bare
from ennio.cli.state import state as cli_state
from ennio.core.errors import InvalidInput

# rich, the plugin Protocols and the services are imported where used: importing them here would
# slow down every `ennio` command, not only `ennio issue` (see ennio.cli's docstring)
if TYPE_CHECKING:
    from rich.console import Console

    from ennio.core.plugins import Issue, Tracker

T = TypeVar("T")

app = typer.Typer(name="issue", help="List, show, create and close the project's issues.")


def register(main: typer.Typer) -> None:
    """Add ``ennio issue …`` to the main app."""
    main.add_typer(app, name="issue")


@app.callback(invoke_without_command=True)
def _issue_group(
    ctx: typer.Context,
    config: ConfigOption = None,
) -> None:
    show_help_when_bare(ctx)
    ctx.obj = GroupOptions(config=config or cli_state.config_path)


def _tracker(ctx: typer.Context, project_id: str | None) -> Tracker:
    from ennio.services.forge.trackers import open_tracker, pick_project

    config = load(ctx)
    return open_tracker(config, pick_project(config, project_id))


def _issue_dict(issue: Issue, tracker: Tracker) -> dict[str, Any]:
    return {
        "key": issue.key,
        "title": issue.title,
        "state": str(issue.state),
        "labels": issue.labels,
        "assignees": issue.assignees,
        "blocked_by": issue.blocked_by,
        "url": issue.url,
        "branch": tracker.branch_name(issue),
        "updated_at": issue.updated_at.isoformat() if issue.updated_at else None,
        "body": issue.body,
    }


def _out() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


@app.command("list")
def list_issues(
    ctx: typer.Context,
    project: ProjectOption = None,
    state: Annotated[str, typer.Option("--state", "-s", help="open, closed or all.")] = "open",
    label: Annotated[
        list[str] | None, typer.Option("--label", "-l", help="Only issues with this label (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many issues.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List issues (open ones by default)."""
    from rich.table import Table
    from rich.text import Text

    from ennio.core.plugins import IssueQuery, IssueState

    with reported():
        if state not in ("open", "closed", "all"):
            raise InvalidInput(f"--state {state!r} is not open, closed or all")
        tracker = _tracker(ctx, project)
        query = IssueQuery(state="all" if state == "all" else IssueState(state), labels=label or [], limit=limit)
        issues = run(tracker.list_issues(query))
    if as_json:
        typer.echo(json.dumps([_issue_dict(i, tracker) for i in issues], indent=2))
        return
    if not issues:
        typer.echo(f"No {'' if state == 'all' else state + ' '}issues.")
        return
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("#", "State", "Title", "Labels", "Blocked by"):
        table.add_column(column)
    for issue in issues:
        table.add_row(
            Text(issue.key),
            Text(str(issue.state)),
            Text(issue.title),
            Text(", ".join(issue.labels)),
            Text(", ".join(f"#{b}" for b in issue.blocked_by)),
        )
    _out().print(table)


@app.command("show")
def show_issue(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Issue key: 3 (local, GitHub) or ENG-12 (Linear).")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one issue."""
    from rich.text import Text

    with reported():
        tracker = _tracker(ctx, project)
        issue = run(tracker.get_issue(key))
    if as_json:
        typer.echo(json.dumps(_issue_dict(issue, tracker), indent=2))
        return
    lines = [f"#{issue.key} {issue.title} [{issue.state}]"]
    if issue.labels:
        lines.append(f"Labels: {', '.join(issue.labels)}")
    if issue.blocked_by:
        lines.append(f"Blocked by: {', '.join('#' + b for b in issue.blocked_by)}")
    lines.append(f"Branch: {tracker.branch_name(issue)}")
    if issue.url:
        lines.append(f"URL: {issue.url}")
    if issue.body:
        lines += ["", issue.body]
    _out().print(Text("\n".join(lines)))


@app.command("create")
def create_issue(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="One-line title.")],
    body: Annotated[str | None, typer.Option("--body", "-b", help="Body text (Markdown).")] = None,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", "-F", help="Read the body from this file ('-' for standard input).")
    ] = None,
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="Label (repeatable).")] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an issue and print its number."""
    from rich.text import Text

    with reported():
        if body is not None and body_file is not None:
            raise InvalidInput("give --body or --body-file, not both")
        text = body or ""
        if body_file is not None:
            try:
                text = sys.stdin.read() if str(body_file) == "-" else body_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read --body-file {body_file}: {exc}") from None
        tracker = _tracker(ctx, project)
        issue = run(tracker.create_issue(title, text, label or []))
    if as_json:
        typer.echo(json.dumps(_issue_dict(issue, tracker), indent=2))
        return
    _out().print(Text(f"Created #{issue.key}: {issue.title}" + (f"\n{issue.url}" if issue.url else "")))


@app.command("close")
def close_issue(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="Issue key.")],
    comment: Annotated[str | None, typer.Option("--comment", "-m", help="Comment added before closing.")] = None,
    project: ProjectOption = None,
) -> None:
    """Close an issue (optionally with a comment)."""
    from rich.text import Text

    with reported():
        tracker = _tracker(ctx, project)

        async def close() -> Issue:
            issue = await tracker.get_issue(key)
            if comment:
                await tracker.comment(issue.key, comment)
            await tracker.close_issue(issue.key)
            return issue

        issue = run(close())
    _out().print(Text(f"Closed #{issue.key}: {issue.title}"))
