"""``ennio review approve|request-changes``: review a session's pull request (local SCM).

File/line comments: each ``--file`` and ``--line`` belongs to the ``--comment`` given before it::

    ennio review request-changes app-3 --comment "Rename VALUE" --file app.py --line 1 \\
                                       --comment "Add a test for the empty case"

``register(app)`` adds the ``review`` group to the main app.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from ennio.cli._common import (
    OPTION_ORDER,
    ConfigOption,
    GroupOptions,
    OrderedOptionsCommand,
    ProjectOption,
    load,
    reported,
    run,
)
from ennio.core.errors import InvalidInput

if TYPE_CHECKING:
    from ennio.core.plugins import ReviewComment
    from ennio.services.forge.pull_requests import PRTarget

app = typer.Typer(name="review", help="Approve or request changes on a session's pull request.", no_args_is_help=True)

TargetArgument = Annotated[str, typer.Argument(help="Session id (app-3) or PR number (3 or #3).")]
AuthorOption = Annotated[
    str | None, typer.Option("--author", "-a", help="Reviewer name (default: your user name).", show_default=False)
]


def register(main: typer.Typer) -> None:
    """Add ``ennio review …`` to the main app."""
    main.add_typer(app, name="review")


@app.callback()
def _review_group(ctx: typer.Context, config: ConfigOption = None) -> None:
    ctx.obj = GroupOptions(config=config)


@app.command("approve")
def approve(
    ctx: typer.Context,
    target: TargetArgument,
    comment: Annotated[str | None, typer.Option("--comment", "-m", help="A note with the approval.")] = None,
    author: AuthorOption = None,
    project: ProjectOption = None,
) -> None:
    """Approve the pull request."""
    from ennio.services.forge.pull_requests import database, default_reviewer, resolve

    with reported():
        config = load(ctx)

        async def act() -> PRTarget:
            async with database(config) as db:
                found = await resolve(config, db, target, project)
                await found.scm.approve(found.pr, author or default_reviewer(), comment or "")
                return found

        found = run(act())
    typer.echo(f"Approved PR #{found.pr.number} ({found.pr.branch}).")


@app.command("request-changes", cls=OrderedOptionsCommand)
def request_changes(
    ctx: typer.Context,
    target: TargetArgument,
    comment: Annotated[
        list[str], typer.Option("--comment", "-m", help="What to change (repeatable).", show_default=False)
    ],
    file: Annotated[
        list[str] | None,
        typer.Option("--file", "-f", help="File the comment before it is about (path in the repository)."),
    ] = None,
    line: Annotated[list[int] | None, typer.Option("--line", "-l", help="Line in that file.")] = None,
    author: AuthorOption = None,
    project: ProjectOption = None,
) -> None:
    """Request changes, with comments that may name a file and line."""
    from ennio.services.forge.pull_requests import database, default_reviewer, resolve

    with reported():
        comments = pair_comments(ctx.meta.get(OPTION_ORDER, []), comment, file or [], line or [])
        config = load(ctx)

        async def act() -> PRTarget:
            async with database(config) as db:
                found = await resolve(config, db, target, project)
                await found.scm.request_changes(found.pr, author or default_reviewer(), comments)
                return found

        found = run(act())
    count = len(comments)
    typer.echo(f"Requested changes on PR #{found.pr.number} ({found.pr.branch}): {count} comment{'s' * (count != 1)}.")


def pair_comments(order: list[str], texts: list[str], files: list[str], lines: list[int]) -> list[ReviewComment]:
    """Attach each ``--file``/``--line`` to the ``--comment`` given before it."""
    from ennio.core.plugins import ReviewComment

    made: list[ReviewComment] = []
    values: dict[str, Iterator[str | int]] = {"comment": iter(texts), "file": iter(files), "line": iter(lines)}
    for name in order:
        if name not in values:
            continue
        value = next(values[name])
        if name == "comment":
            made.append(ReviewComment(id="", author="", body=str(value)))
            continue
        flag = f"--{name}"
        if not made:
            raise InvalidInput(
                f"{flag} {value} comes before any --comment", hint="put --file/--line after their --comment"
            )
        current = made[-1]
        if getattr(current, "path" if name == "file" else "line") is not None:
            raise InvalidInput(
                f"two {flag} options for the comment {current.body!r}", hint="give each comment one file and line"
            )
        if name == "file":
            current.path = str(value)
        else:
            current.line = int(value)
    return made
