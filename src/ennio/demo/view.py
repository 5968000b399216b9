"""What ``ennio demo`` shows: a live table of the sessions while it runs, and the summary at the end."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ennio.core.session import Session, SessionStatus
from ennio.demo.runner import DemoSummary

S = SessionStatus
_STYLE = {
    S.CI_FAILED: "red",
    S.CI_FIX_FAILED: "red",
    S.CI_FIX_SENT: "yellow",
    S.CI_PASSING: "green",
    S.REVIEW_PENDING: "cyan",
    S.APPROVED: "green",
    S.MERGED: "bold green",
    S.DONE: "bold green",
    S.EXITED: "red",
    S.MERGE_CONFLICTS: "red",
}


def sessions_table(sessions: Sequence[Session], title: str = "ennio demo") -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for name in ("session", "issue", "status", "agent", "PR", "CI", "why"):
        table.add_column(name, no_wrap=name != "why")
    for s in sessions:
        observed = s.metadata.get("pr_observed") or {}
        table.add_row(
            s.id,
            f"#{s.issue_id}" if s.issue_id else "",
            Text(str(s.status), style=_STYLE.get(s.status, "")),
            str(s.activity or ""),
            f"#{s.pr_number}" if s.pr_number else "",
            str(observed.get("ci", "")) if s.pr_number else "",
            (s.status_reason or "")[:60],
        )
    return table


class LiveView:
    """A ``Watcher`` that redraws the table in place (falls back to plain lines when not a terminal)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = Live(console=console, refresh_per_second=4, transient=False)
        self._last: dict[str, str] = {}

    def __enter__(self) -> LiveView:
        if self.console.is_terminal:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.console.is_terminal:
            self.live.__exit__(None, None, None)

    def __call__(self, sessions: list[Session]) -> None:
        if self.console.is_terminal:
            self.live.update(Group(sessions_table(sessions)))
            return
        for s in sessions:  # a log, one line per change, for pipes and CI
            if self._last.get(s.id) != s.status:
                self._last[s.id] = s.status
                self.console.print(f"{s.id}: {s.status}" + (f" ({s.status_reason})" if s.status_reason else ""))


def print_summary(console: Console, summary: DemoSummary) -> None:
    table = Table(title="summary", title_justify="left")
    for name in ("session", "issue", "PR", "CI failures", "fixes sent", "status"):
        table.add_column(name)
    for row in summary.sessions:
        table.add_row(
            row["id"],
            f"#{row['issue']} {row['title']}",
            f"#{row['pr']}" if row["pr"] else "",
            str(row["ci_failures"]),
            str(row["fixes_sent"]),
            Text(row["status"], style=_STYLE.get(SessionStatus(row["status"]), "")),
        )
    console.print(table)
    for row in summary.sessions:
        console.print(Text(f"{row['id']}: " + " → ".join(row["path"]), style="dim"))
    if summary.all_complete:
        console.print(summary.all_complete)
    for problem in summary.problems:
        console.print(f"[red]problem:[/red] {problem}")
    verdict = "[green]demo complete[/green]" if summary.ok else "[red]demo did not complete[/red]"
    console.print(f"{verdict} in {summary.seconds:.0f} s; files kept in {summary.root}")
