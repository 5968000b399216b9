"""``ennio session info|kill|restore|cleanup|cancel`` (added to the ``session`` group next to ``list``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ennio.cli.sessions_cmd import app

if TYPE_CHECKING:
    from ennio.services.sessions.manager import SessionInfo

SessionArg = Annotated[str, typer.Argument(help="Session id (see `ennio session list`).", show_default=False)]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@app.command("info")
def info(
    session: SessionArg,
    events: Annotated[int, typer.Option("--events", "-n", min=0, max=200, help="How many recent events.")] = 10,
    as_json: JsonFlag = False,
) -> None:
    """Status, live activity, branch, PR, recent events and how to attach."""
    from ennio.cli._services import run_with_services
    from ennio.cli.output import console, print_json

    found = run_with_services(lambda s: s.sessions.info(session, events=events))
    if as_json:
        print_json(found.to_dict())
        return
    console().print(_describe(found), markup=False, highlight=False)


def _describe(found: SessionInfo) -> str:
    import shlex

    s = found.session
    activity = "-"
    if found.activity is not None:
        activity = str(found.activity.state) + (f" ({found.activity.detail})" if found.activity.detail else "")
    lines = [
        f"{s.id}  {s.status}" + (f" — {s.status_reason}" if s.status_reason else ""),
        f"project:   {s.project_id}",
        f"agent:     {s.agent} in {s.runtime}"
        + ("" if found.alive is None else (" (running)" if found.alive else " (not running)")),
        f"activity:  {activity}",
        f"branch:    {s.branch or '-'}" + (f" (from {s.base_branch})" if s.base_branch else ""),
        f"workspace: {s.workspace_path or '-'}",
    ]
    if s.issue_id:
        lines.append(f"issue:     {s.issue_id}" + (f" {s.issue_url}" if s.issue_url else ""))
    if s.pr_number or s.pr_url:
        lines.append(f"PR:        #{s.pr_number} {s.pr_url or ''}".rstrip())
    if found.attach:
        shown = found.attach if isinstance(found.attach, str) else shlex.join(found.attach)
        lines.append(f"attach:    ennio open {s.id}   ({shown})")
    if found.events:
        lines.append("events:")
        for event in reversed(found.events):
            lines.append(f"  {event.timestamp:%Y-%m-%d %H:%M:%S}  {event.type}  {event.message}")
    return "\n".join(lines)


@app.command("kill")
def kill(
    session: SessionArg,
    workspace: Annotated[bool, typer.Option("--workspace", "-w", help="Also remove its workspace.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Remove the workspace even if it holds work.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Stop the agent (and, with --workspace, remove its worktree)."""
    from ennio.cli._services import run_with_services
    from ennio.cli.output import console, print_json

    killed = run_with_services(lambda s: s.sessions.kill(session, workspace=workspace, force=force))
    if as_json:
        print_json(
            {
                **killed.session.model_dump(mode="json"),
                "stopped_terminal": killed.stopped_terminal,
                "removed_workspace": killed.removed_workspace,
            }
        )
        return
    console().print(killed.summary(), markup=False)


@app.command("restore")
def restore(session: SessionArg, as_json: JsonFlag = False) -> None:
    """Restart an exited agent in its workspace, resuming its conversation."""
    from ennio.cli._services import progress_shown, run_with_services
    from ennio.cli.output import console, print_json

    with progress_shown(f"restoring {session}") as step:
        restored = run_with_services(lambda s: s.sessions.restore(session, progress=step))
    if as_json:
        print_json(restored.model_dump(mode="json"))
        return
    console().print(f"restored {restored.id}: attach with `ennio open {restored.id}`", markup=False)


@app.command("cleanup")
def cleanup(
    project: Annotated[str | None, typer.Argument(help="Only this project.", show_default=False)] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Say what would be cleaned; change nothing.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Remove sessions whose PR merged or issue closed (workspaces holding work are kept and listed)."""
    from ennio.cli._services import progress_shown, run_with_services
    from ennio.cli.output import console, print_json

    with progress_shown("looking for finished sessions"):
        report = run_with_services(lambda s: s.sessions.cleanup(project, dry_run=dry_run))
    if as_json:
        print_json(report.to_dict())
        return
    out = console()
    verb = "would clean" if dry_run else "cleaned"
    for item in report.cleaned:
        out.print(f"{verb} {item.session_id}: {item.reason}", markup=False)
    for item in report.skipped:
        out.print(f"skipped {item.session_id}: {item.reason}", markup=False)
    if not report.cleaned and not report.skipped:
        out.print("no sessions to clean up", markup=False)


@app.command("cancel")
def cancel(
    queued: Annotated[str, typer.Argument(help="Queued spawn id, like q3 (see `ennio status`).", show_default=False)],
    as_json: JsonFlag = False,
) -> None:
    """Cancel a spawn queued with --when-unblocked that is still waiting."""
    from ennio.cli._services import run_with_services
    from ennio.cli.output import console, print_json

    cancelled = run_with_services(lambda s: s.sessions.cancel_queued(queued))
    if as_json:
        print_json(cancelled.to_dict())
        return
    console().print(f"cancelled {cancelled.qid} (issue {cancelled.issue_ref})", markup=False)
