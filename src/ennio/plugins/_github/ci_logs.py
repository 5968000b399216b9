"""The end of each failing check's log, for the agent to fix: GitHub Actions jobs' logs, other apps'
check output, nothing for commit statuses (GitHub keeps only their URL).

An Actions job's log is a ``302`` to a signed storage URL: it is streamed (:meth:`GitHubClient.download_tail`)
keeping only the last :data:`LOG_TAIL_BYTES`, so a log of any size costs the same memory. The check runs
are read page by page (100 each) until every failing check is found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from ennio.core.errors import NotFound
from ennio.core.plugins import CheckRun, PullRequest
from ennio.plugins._github.client import GitHubClient
from ennio.plugins._github.repo import RepoRef

#: most of an Actions log kept while it streams in (its last lines are what the agent needs)
LOG_TAIL_BYTES = 256 * 1024
#: check runs per page of the REST listing (GitHub's largest)
RUNS_PAGE = 100
_ACTIONS_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ")


async def failing_logs(
    client: GitHubClient, repo: RepoRef, pr: PullRequest, failing: Sequence[CheckRun], lines: int
) -> list[CheckRun]:
    """``failing`` (checks of ``pr``'s head), each with the last ``lines`` of its log when GitHub has one."""
    runs = await _check_runs(client, repo, pr, {c.name for c in failing})
    out: list[CheckRun] = []
    for check in failing:
        run = runs.get(check.name)
        tail: str | None
        if run is None:
            tail = None  # a commit status: GitHub keeps no log for it, only its URL
        elif run.app and run.app.slug == "github-actions":
            tail = await _job_log_tail(client, repo, run.id, lines)
        else:
            tail = _output_tail(run.output.title, run.output.summary, run.output.text, lines)
        out.append(CheckRun(check.name, check.state, check.url, check.required, tail))
    return out


async def _check_runs(client: GitHubClient, repo: RepoRef, pr: PullRequest, names: set[str]) -> dict[str, Any]:
    """The latest check runs of the PR's head by name, page by page until every one of ``names`` is found."""
    runs: dict[str, Any] = {}
    page = 1
    while True:
        async with client.errors(f"listing the checks of PR #{pr.number}", repo):
            resp = await client.gh.rest.checks.async_list_for_ref(
                repo.owner, repo.name, str(pr.head_sha), filter_="latest", per_page=RUNS_PAGE, page=page
            )
        found = resp.parsed_data.check_runs
        for run in found:
            runs.setdefault(run.name, run)
        if names <= runs.keys() or len(found) < RUNS_PAGE or page * RUNS_PAGE >= resp.parsed_data.total_count:
            return runs
        page += 1


async def _job_log_tail(client: GitHubClient, repo: RepoRef, job_id: int, lines: int) -> str | None:
    """The last ``lines`` of an Actions job's log (timestamps dropped), or ``None`` once it expired."""
    try:
        raw = await client.download_tail(
            f"repos/{repo.owner}/{repo.name}/actions/jobs/{job_id}/logs",
            f"downloading the log of job {job_id}",
            repo,
            max_bytes=LOG_TAIL_BYTES,
        )
    except NotFound:
        raw = None
    if raw is None:
        return None  # logs expire; the check's URL is still there
    text = raw.decode("utf-8", errors="replace")
    kept = [_ACTIONS_TIMESTAMP.sub("", line) for line in text.splitlines()]
    if len(raw) == LOG_TAIL_BYTES and len(kept) > 1:
        kept = kept[1:]  # the first line was cut by the byte cap
    return "\n".join(kept[-lines:])


def _output_tail(title: object, summary: object, text: object, lines: int) -> str | None:
    parts = [str(p) for p in (title, summary, text) if isinstance(p, str) and p.strip()]
    if not parts:
        return None
    return "\n".join("\n".join(parts).splitlines()[-lines:])
