"""``ennio pr list|show``: the pull requests the local SCM keeps, with their CI and review state.

A PR is named by its session (``app-3``) or its number (``3`` / ``#3``). ``register(app)`` adds the
``pr`` group to the main app.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ennio.cli._common import ConfigOption, GroupOptions, JsonOption, ProjectOption, load, reported, run
from ennio.core.errors import InvalidInput

if TYPE_CHECKING:
    from ennio.core.plugins import PRSnapshot, PullRequest
    from ennio.services.forge.pull_requests import PRRow

app = typer.Typer(name="pr", help="List and show pull requests kept by the local SCM.", no_args_is_help=True)

STATES = ("open", "closed", "merged", "all")
LOG_LINES = 20


def register(main: typer.Typer) -> None:
    """Add ``ennio pr …`` to the main app."""
    main.add_typer(app, name="pr")


@app.callback()
def _pr_group(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = GroupOptions(config=config)


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def pr_dict(pr: PullRequest, status: PRSnapshot | None, session_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": pr.number,
        "url": pr.url,
        "title": pr.title,
        "state": pr.state.value,
        "draft": pr.draft,
        "branch": pr.branch,
        "base": pr.base,
        "head_sha": pr.head_sha,
        "merge_commit": pr.merge_commit,
        "session": session_id,
        "created_at": _time(pr.created_at),
        "updated_at": _time(pr.updated_at),
        "body": pr.body,
    }
    if status is not None:
        body.update(
            {
                "ci": status.ci.value,
                "checks": [{"name": c.name, "state": c.state.value, "log_tail": c.log_tail} for c in status.checks],
                "review": status.review.value,
                "comments": [
                    {
                        "id": c.id,
                        "author": c.author,
                        "body": c.body,
                        "path": c.path,
                        "line": c.line,
                        "bot": c.is_bot,
                    }
                    for c in [*status.comments, *status.bot_comments]
                ],
                "mergeable": status.mergeable,
                "conflicts": status.conflicts,
            }
        )
    return body


@app.command("list")
def list_prs(
    ctx: typer.Context,
    project: Annotated[
        str | None, typer.Argument(help="Project id (default: the project of the current folder).")
    ] = None,
    state: Annotated[str, typer.Option("--state", "-s", help="open, closed, merged or all.")] = "open",
    as_json: JsonOption = False,
) -> None:
    """List pull requests (open ones by default), newest first."""
    from ennio.core.plugins import PRState
    from ennio.services.forge.pull_requests import database, list_prs

    with reported():
        if state not in STATES:
            raise InvalidInput(f"--state {state!r} is not one of {', '.join(STATES)}")
        config = load(ctx)
        wanted = None if state == "all" else PRState(state)

        async def read() -> list[PRRow]:
            async with database(config) as db:
                return (await list_prs(config, db, project, state=wanted))[1]

        rows = run(read())
    if as_json:
        typer.echo(json.dumps([pr_dict(r.pr, r.status, r.session_id) for r in rows], indent=2))
        return
    if not rows:
        typer.echo(f"No {'' if state == 'all' else state + ' '}pull requests.")
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("#", "State", "Session", "Branch", "CI", "Review", "Title"):
        table.add_column(column)
    for row in rows:
        pr = row.pr
        table.add_row(
            Text(str(pr.number)),
            Text(pr.state.value + (" (draft)" if pr.draft else "")),
            Text(row.session_id or "-"),
            Text(pr.branch),
            Text(row.status.ci.value),
            Text(row.status.review.value),
            Text(pr.title),
        )
    Console(highlight=False, soft_wrap=True).print(table)


@app.command("show")
def show_pr(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(help="Session id (app-3) or PR number (3 or #3).")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one pull request: CI (with the failing log's tail), review, comments, mergeability."""
    from ennio.services.forge.pull_requests import database, resolve

    with reported():
        config = load(ctx)

        async def read() -> tuple[PullRequest, PRSnapshot, str | None]:
            async with database(config) as db:
                found = await resolve(config, db, target, project)
                status = (await found.scm.pr_statuses([found.pr]))[found.pr.number]
                if status.failing_checks and status.pr is not None:
                    logs = {c.name: c for c in await found.scm.check_logs(status.pr, status.checks, LOG_LINES)}
                    status.checks = [logs.get(c.name, c) for c in status.checks]
                return status.pr or found.pr, status, found.session_id

        pr, status, session_id = run(read())
    if as_json:
        typer.echo(json.dumps(pr_dict(pr, status, session_id), indent=2))
        return
    from rich.console import Console
    from rich.text import Text

    Console(highlight=False, soft_wrap=True).print(Text("\n".join(_describe(pr, status, session_id))))


def _describe(pr: PullRequest, status: PRSnapshot, session_id: str | None) -> list[str]:
    lines = [f"#{pr.number} {pr.title} [{pr.state.value}{', draft' if pr.draft else ''}]"]
    lines.append(f"Branch: {pr.branch} -> {pr.base}" + (f" (session {session_id})" if session_id else ""))
    if pr.head_sha:
        lines.append(f"Head: {pr.head_sha[:12]}")
    if pr.merge_commit:
        lines.append(f"Merged as: {pr.merge_commit[:12]}")
    lines.append(f"CI: {status.ci.value}")
    for check in status.checks:
        if check.log_tail:
            lines += [f"--- {check.name} ({check.state.value}), last lines:", check.log_tail, "---"]
    lines.append(f"Review: {status.review.value}")
    for comment in [*status.comments, *status.bot_comments]:
        where = f" {comment.path}" + (f":{comment.line}" if comment.line else "") if comment.path else ""
        lines.append(f"  {comment.author}{' (bot)' if comment.is_bot else ''}{where}: {comment.body}")
    if status.mergeable is not None:
        lines.append(
            "Mergeable: yes"
            if status.mergeable
            else f"Mergeable: no, conflicts in {', '.join(status.conflicts) or 'unknown files'}"
        )
    if pr.body.strip():
        lines += ["", pr.body.strip()]
    return lines
