"""``ennio events``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ennio.cli.state import state

if TYPE_CHECKING:
    from ennio.db import StoredEvent


def events(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events until Ctrl-C.")] = False,
    session: Annotated[str | None, typer.Option("--session", "-s", help="Only this session's events.")] = None,
    project: Annotated[str | None, typer.Option("--project", "-p", help="Only this project's events.")] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Only this event type (ci.failing) or group (ci); repeatable."),
    ] = None,
    priority: Annotated[
        str | None, typer.Option("--priority", help="Only events at least this urgent: info, action, urgent, critical.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="Show the last N events.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (one object per line with --follow).")] = False,
) -> None:
    """Recent events from the event log, oldest first; --follow tails it."""
    from ennio.cli.output import print_json, print_json_line
    from ennio.core.ids import validate_id
    from ennio.services.config.loader import load_storage_settings
    from ennio.services.sessions.readers import Reader

    if session is not None:
        validate_id(session, "session id")
    if project is not None:
        validate_id(project, "project id")
    filters: dict[str, Any] = {
        "session_id": session,
        "project_id": project,
        "types": _event_types(types) if types else None,
        "min_priority": _priority(priority) if priority else None,
    }
    with Reader(load_storage_settings(state.config_path)) as reader:
        recent = reader.events(limit=limit, newest_first=True, **filters)
        recent.reverse()
        if as_json and not follow:
            print_json([_as_dict(stored) for stored in recent])
            return

        def show(stored: StoredEvent) -> None:
            if as_json:
                print_json_line(_as_dict(stored))
            else:
                _print_line(stored)

        for stored in recent:
            show(stored)
        if not follow:
            if not recent and not as_json:
                typer.echo("no events" + (" match" if any(filters.values()) else " yet"), err=True)
            return
        after = recent[-1].seq if recent else reader.last_seq()
        try:
            for stored in reader.follow(after_seq=after, **filters):
                show(stored)
        except KeyboardInterrupt:
            return


def _event_types(values: list[str]) -> list[str]:
    """Event type names from ``--type`` values: exact types, or a group like ``ci`` / ``ci.*``."""
    import difflib

    from ennio.core.errors import InvalidInput
    from ennio.core.events import EventType

    known = [str(t) for t in EventType]
    groups = sorted({t.split(".")[0] for t in known})
    out: list[str] = []
    for value in values:
        group = value.removesuffix(".*")
        if value in known:
            out.append(value)
        elif group in groups:
            out += [t for t in known if t.startswith(f"{group}.")]
        else:
            close = difflib.get_close_matches(value, known + groups, n=1, cutoff=0.6)
            raise InvalidInput(
                f"unknown event type {value!r}",
                hint=f"did you mean {close[0]!r}?" if close else f"types are grouped as {', '.join(groups)}",
            )
    return out


def _priority(value: str) -> str:
    from ennio.core.errors import InvalidInput
    from ennio.core.events import Priority

    if value not in {str(p) for p in Priority}:
        raise InvalidInput(f"unknown priority {value!r}", hint="use info, action, urgent or critical")
    return value


def _as_dict(stored: StoredEvent) -> dict[str, object]:
    return {"seq": stored.seq, **stored.event.to_dict()}


_STYLE = {"info": "", "action": "cyan", "urgent": "yellow", "critical": "bold red"}


def _print_line(stored: StoredEvent) -> None:
    from datetime import datetime

    from rich.text import Text

    from ennio.cli.output import console

    event = stored.event
    local = event.timestamp.astimezone()
    when = (
        local.strftime("%H:%M:%S")
        if local.date() == datetime.now().astimezone().date()
        else local.strftime("%Y-%m-%d %H:%M")
    )
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{when:>16}  ")
    line.append(f"{event.priority!s:<8} ", style=_STYLE.get(str(event.priority), ""))
    line.append(f"{event.type!s:<26} ", style="bold")
    line.append(f"{event.session_id or event.project_id or '-':<12} ")
    line.append(event.message.replace("\n", " "))
    out = console()
    out.print(line, crop=True)
    out.file.flush()
