"""``ennio send`` (type a message into an agent) and ``ennio open`` (attach to its terminal)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

SessionArg = Annotated[str, typer.Argument(help="Session id (see `ennio session list`).", show_default=False)]


def send(
    session: SessionArg,
    text: Annotated[str | None, typer.Argument(help="The message.", show_default=False)] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Send this file's text ('-' for standard input).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Type a message into the agent's terminal and check that it took it."""
    from ennio.cli._services import run_with_services
    from ennio.cli.output import console, print_error, print_json
    from ennio.core.errors import InvalidInput

    if (text is None) == (file is None):
        raise InvalidInput("give the message as TEXT or with --file, not both and not neither")
    if file is not None:
        try:
            text = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read {file}: {exc}") from None
    assert text is not None
    message = text
    result = run_with_services(lambda s: s.sessions.send(session, message))
    if as_json:
        print_json({"delivered": result.delivered, "attempts": result.attempts, "detail": result.detail})
    elif result.delivered:
        extra = f" (after {result.attempts} Enter presses)" if result.attempts > 1 else ""
        console().print(f"sent to {session}{extra}", markup=False)
    if not result.delivered:
        if not as_json:
            print_error(f"{session} did not take the message: {result.detail}", f"look with `ennio open {session}`")
        raise typer.Exit(1)


def open_session(
    session: SessionArg,
    print_only: Annotated[bool, typer.Option("--print", help="Print the command instead of running it.")] = False,
) -> None:
    """Attach to the agent's terminal (tmux attach; detach again with Ctrl-b d)."""
    import shlex

    from ennio.cli._services import run_with_services

    target = run_with_services(lambda s: s.sessions.attach_command(session))
    if isinstance(target, str):  # a URL (web terminal)
        typer.echo(target)
        return
    if print_only:
        typer.echo(shlex.join(target))
        return
    sys.stdout.flush()
    os.execvp(target[0], target)  # noqa: S606 (argv from the runtime plugin, never a shell string)
