"""``ennio spawn`` and ``ennio batch-spawn``: start agents on a prompt or on issues."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ennio.db.records import QueuedSpawn

ProjectArg = Annotated[str, typer.Argument(help="Project id (see `ennio config show`).", show_default=False)]
AgentOpt = Annotated[str | None, typer.Option("--agent", "-a", help="Agent plugin (default: the project's).")]
RuntimeOpt = Annotated[str | None, typer.Option("--runtime", "-r", help="Runtime plugin (default: the project's).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
WhenUnblockedOpt = Annotated[
    bool,
    typer.Option(
        "--when-unblocked",
        help="If an issue is blocked by unfinished issues, queue its spawn until they are closed or merged.",
    ),
]


def spawn(
    project: ProjectArg,
    issue: Annotated[
        str | None, typer.Option("--issue", "-i", help="Issue: 42, #42, owner/repo#42, ENG-123, a URL.")
    ] = None,
    prompt: Annotated[
        str | None, typer.Option("--prompt", "-p", help="What to do (with --issue: extra instructions).")
    ] = None,
    branch: Annotated[str | None, typer.Option("--branch", "-b", help="Branch name (default: from the issue).")] = None,
    agent: AgentOpt = None,
    runtime: RuntimeOpt = None,
    reuse_branch: Annotated[bool, typer.Option("--reuse-branch", help="Work on the branch even if it exists.")] = False,
    when_unblocked: WhenUnblockedOpt = False,
    as_json: JsonFlag = False,
) -> None:
    """Start an agent in its own worktree and terminal, on an issue or a prompt."""
    from ennio.cli._services import progress_shown, run_with_services
    from ennio.cli.output import console, print_json
    from ennio.core.session import Session

    with progress_shown(f"spawning a session in {project}") as step:
        made = run_with_services(
            lambda s: (s.sessions.spawn_or_queue if when_unblocked else s.sessions.spawn)(
                project,
                issue=issue,
                prompt=prompt,
                branch=branch,
                agent=agent,
                runtime=runtime,
                reuse_branch=reuse_branch,
                progress=step,
            )
        )
    if not isinstance(made, Session):
        if as_json:
            print_json(made.to_dict())
            return
        console().print(
            f"queued {made.qid}: issue {issue} waits for {_blockers(made)}; the daemon spawns it once they are closed "
            f"or their PRs merge\ncancel with `ennio session cancel {made.qid}`",
            markup=False,
        )
        return
    session = made
    if as_json:
        print_json(session.model_dump(mode="json"))
        return
    console().print(
        f"spawned {session.id}: {session.agent} on branch {session.branch} in {session.workspace_path}\n"
        f"attach with `ennio open {session.id}`, talk with `ennio send {session.id} TEXT`",
        markup=False,
    )


def batch_spawn(
    project: ProjectArg,
    issues: Annotated[list[str], typer.Option("--issue", "-i", help="An issue (repeat for each).")],
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="Extra instructions for every session.")] = None,
    agent: AgentOpt = None,
    runtime: RuntimeOpt = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, max=32, help="Spawns at once.")] = 4,
    when_unblocked: WhenUnblockedOpt = False,
    as_json: JsonFlag = False,
) -> None:
    """Start one agent per issue, several at once; report each one."""
    from ennio.cli._services import progress_shown, run_with_services
    from ennio.cli.output import console, print_error, print_json

    with progress_shown(f"spawning {len(issues)} sessions in {project}") as step:
        items = run_with_services(
            lambda s: s.sessions.batch_spawn(
                project,
                issues,
                prompt=prompt,
                agent=agent,
                runtime=runtime,
                concurrency=concurrency,
                when_unblocked=when_unblocked,
                progress=step,
            )
        )
    failed = [i for i in items if i.error is not None]
    if as_json:
        print_json([i.to_dict() for i in items])
    else:
        out = console()
        for item in items:
            if item.session is not None:
                out.print(f"{item.issue}: spawned {item.session.id} on {item.session.branch}", markup=False)
            elif item.queued is not None:
                out.print(f"{item.issue}: queued {item.queued.qid}, waiting for {_blockers(item.queued)}", markup=False)
        for item in failed:
            assert item.error is not None
            print_error(f"{item.issue}: {item.error.message}", item.error.hint)
    if failed:
        raise typer.Exit(1)


def _blockers(queued: QueuedSpawn) -> str:
    return ", ".join(f"#{b}" if b.isdigit() else b for b in queued.blockers)
