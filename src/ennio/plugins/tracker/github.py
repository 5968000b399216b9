"""GitHub issues as Ennio's tracker: get, list (paginated), create, update, comment, close,
batched states over GraphQL, branch names, prompt context, and ``blocked_by`` from issue bodies.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, cast

from githubkit.utils import UNSET
from githubkit_schemas.latest.models import Issue as GHIssue
from githubkit_schemas.latest.models import Milestone

from ennio.core.config import GitHubSCMConfig, ProjectConfig
from ennio.core.errors import InvalidInput, NotFound, TrackerError
from ennio.core.ids import branch_for_issue
from ennio.core.plugins import (
    Issue,
    IssueQuery,
    IssueState,
    PluginContext,
    PluginManifest,
    RateBudget,
    Slot,
)
from ennio.plugins._github.blockers import blocked_by
from ennio.plugins._github.client import GitHubClient
from ennio.plugins._github.repo import RepoRef, resolve_repo
from ennio.plugins._github.settings import make_client, tracker_settings

STATES_BATCH = 100
MAX_PER_PAGE = 100
_KEY_RE = re.compile(r"#?([1-9]\d{0,9})")
_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


def issue_number(key: str) -> int:
    """``"42"`` or ``"#42"`` → 42; anything else is :class:`InvalidInput`."""
    match = _KEY_RE.fullmatch(key.strip()) if isinstance(key, str) else None
    if match is None:
        raise InvalidInput(f"GitHub issue key {key!r} is not an issue number", hint="use the number, like 42 or #42")
    return int(match.group(1))


class GitHubTracker:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        "github", Slot.TRACKER, "1.0", "GitHub issues (REST, with batched GraphQL states)"
    )

    def __init__(self, project: ProjectConfig, ctx: PluginContext) -> None:
        self.project = project
        self.ctx = ctx
        self.settings = tracker_settings(project)
        scm = project.scm if isinstance(project.scm, GitHubSCMConfig) else None
        self.client: GitHubClient = make_client(self.settings, ctx, TrackerError, fallback=scm)
        self._repo: RepoRef | None = None
        self._milestones: dict[str, int] = {}

    async def repo(self) -> RepoRef:
        if self._repo is None:
            self._repo = await resolve_repo(self.settings.repo, self.project)
        return self._repo

    async def close(self) -> None:
        await self.client.close()

    async def probe_budget(self) -> list[RateBudget]:
        """``ennio doctor``: the budgets left, read without spending them; fails clearly on a bad token or a
        repository that does not exist."""
        return await self.client.probe_budget(await self.repo())

    # ------------------------------------------------------------------ reading

    async def get_issue(self, key: str) -> Issue:
        number = issue_number(key)
        repo = await self.repo()
        async with self.client.errors(f"reading issue #{number}", repo):
            resp = await self.client.gh.rest.issues.async_get(repo.owner, repo.name, number)
        if resp.parsed_data.pull_request:
            raise NotFound(
                f"#{number} in {repo.full_name} is a pull request, not an issue",
                hint="give the number of an issue",
            )
        return self._issue(resp.parsed_data, repo)

    async def list_issues(self, query: IssueQuery) -> list[Issue]:
        if query.limit < 1:
            raise InvalidInput("the issue limit must be at least 1")
        repo = await self.repo()
        labels = [*self.settings.labels, *(label for label in query.labels if label not in self.settings.labels)]
        state = "all" if query.state == "all" else IssueState(query.state).value
        params: dict[str, Any] = {"state": state, "per_page": min(MAX_PER_PAGE, max(query.limit, 30))}
        if labels:
            params["labels"] = ",".join(labels)
        if query.assignee:
            params["assignee"] = query.assignee
        if query.milestone:
            params["milestone"] = await self._milestone_number(repo, query.milestone)
        what = f"listing issues of {repo.full_name}"
        out: list[Issue] = []
        async with self.client.errors(what, repo):
            resp = await self.client.gh.rest.issues.async_list_for_repo(
                repo.owner,
                repo.name,
                state=cast(Literal["open", "closed", "all"], state),
                **params_without(params, "state"),
            )
            while True:
                for raw in cast("list[GHIssue]", resp.parsed_data):
                    if raw.pull_request:
                        continue  # GitHub lists PRs among issues
                    out.append(self._issue(raw, repo))
                    if len(out) >= query.limit:
                        return out
                next_url = _next_link(resp.headers.get("link"))
                if next_url is None:
                    return out
                resp = await self.client.gh.arequest("GET", next_url, response_model=list[GHIssue])

    async def _milestone_number(self, repo: RepoRef, milestone: str) -> str:
        """A milestone given by number (``3``), ``*``/``none``, or title (looked up once)."""
        if milestone.isdigit() or milestone in ("*", "none"):
            return milestone
        if milestone not in self._milestones:
            async with self.client.errors(f"listing milestones of {repo.full_name}", repo):
                resp = await self.client.gh.rest.issues.async_list_milestones(
                    repo.owner, repo.name, state="all", per_page=MAX_PER_PAGE
                )
                while True:
                    for ms in cast("list[Milestone]", resp.parsed_data):
                        self._milestones[ms.title] = ms.number
                    next_url = _next_link(resp.headers.get("link"))
                    if next_url is None:
                        break
                    resp = await self.client.gh.arequest("GET", next_url, response_model=list[Milestone])
        if milestone not in self._milestones:
            raise NotFound(
                f"GitHub milestone {milestone!r} not found in {repo.full_name}",
                hint="known: " + (", ".join(sorted(self._milestones)) or "none"),
            )
        return str(self._milestones[milestone])

    async def issue_states(self, keys: Sequence[str]) -> dict[str, IssueState]:
        numbers = {key: issue_number(key) for key in keys}
        if not numbers:
            return {}
        repo = await self.repo()
        unique = sorted(set(numbers.values()))
        found: dict[int, IssueState] = {}
        for start in range(0, len(unique), STATES_BATCH):
            chunk = unique[start : start + STATES_BATCH]
            params = ", ".join(f"$i{i}: Int!" for i in range(len(chunk)))
            aliases = " ".join(
                f"i{i}: issueOrPullRequest(number: $i{i}) {{ __typename ...EnnioState }}" for i in range(len(chunk))
            )
            query = (
                f"query EnnioIssueStates($owner: String!, $name: String!, {params}) {{\n"
                "  rateLimit { limit remaining resetAt cost }\n"
                f"  repository(owner: $owner, name: $name) {{ {aliases} }}\n}}\n"
                "fragment EnnioState on IssueOrPullRequest {\n"
                "  ... on Issue { number issueState: state }\n  ... on PullRequest { number prState: state }\n}\n"
            )
            variables: dict[str, Any] = {"owner": repo.owner, "name": repo.name}
            variables.update({f"i{i}": n for i, n in enumerate(chunk)})
            result = await self.client.graphql(query, variables, f"reading the state of {len(chunk)} issues", repo)
            data = result.data.get("repository") or {}
            for i, number in enumerate(chunk):
                node = data.get(f"i{i}")
                if node:
                    state = node.get("issueState") or node.get("prState")
                    found[number] = IssueState.OPEN if state == "OPEN" else IssueState.CLOSED
        return {key: found[n] for key, n in numbers.items() if n in found}

    # ------------------------------------------------------------------ writing

    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        if not title.strip():
            raise InvalidInput("an issue needs a title")
        repo = await self.repo()
        async with self.client.errors(f"creating an issue in {repo.full_name}", repo):
            resp = await self.client.gh.rest.issues.async_create(
                repo.owner, repo.name, title=title, body=body, labels=list(labels) or UNSET
            )
        return self._issue(resp.parsed_data, repo)

    async def update_issue(
        self,
        key: str,
        *,
        title: str | None = None,
        body: str | None = None,
        labels: Sequence[str] | None = None,
        state: IssueState | None = None,
    ) -> Issue:
        number = issue_number(key)
        if title is not None and not title.strip():
            raise InvalidInput("an issue title cannot be empty")
        repo = await self.repo()
        async with self.client.errors(f"updating issue #{number}", repo):
            resp = await self.client.gh.rest.issues.async_update(
                repo.owner,
                repo.name,
                number,
                title=title if title is not None else UNSET,
                body=body if body is not None else UNSET,
                labels=list(labels) if labels is not None else UNSET,
                state=state.value if state is not None else UNSET,
            )
        return self._issue(resp.parsed_data, repo)

    async def comment(self, key: str, body: str) -> None:
        number = issue_number(key)
        if not body.strip():
            raise InvalidInput("a comment needs a body")
        repo = await self.repo()
        async with self.client.errors(f"commenting on issue #{number}", repo):
            await self.client.gh.rest.issues.async_create_comment(repo.owner, repo.name, number, body=body)

    async def close_issue(self, key: str) -> None:
        await self.update_issue(key, state=IssueState.CLOSED)

    # ------------------------------------------------------------------ text

    def branch_name(self, issue: Issue) -> str:
        return issue.branch_name or branch_for_issue(issue.key, issue.title)

    def prompt_context(self, issue: Issue) -> str:
        lines = [f"GitHub issue #{issue.key}: {issue.title}"]
        if issue.url:
            lines.append(issue.url)
        if issue.labels:
            lines.append("Labels: " + ", ".join(issue.labels))
        if issue.blocked_by:
            lines.append("Blocked by: " + ", ".join(f"#{k}" if k.isdigit() else k for k in issue.blocked_by))
        lines += ["", issue.body.strip() or "(no description)"]
        return "\n".join(lines) + "\n"

    def _issue(self, raw: Any, repo: RepoRef) -> Issue:
        """A githubkit issue model (GET/POST: ``Issue``; PATCH: its own response model) as an Issue."""
        key = str(raw.number)
        body = raw.body or ""
        labels = [label if isinstance(label, str) else (label.name or "") for label in raw.labels]
        return Issue(
            key=key,
            title=raw.title,
            body=body,
            labels=[label for label in labels if label],
            url=raw.html_url,
            state=IssueState.OPEN if raw.state == "open" else IssueState.CLOSED,
            assignees=[a.login for a in raw.assignees or []],
            blocked_by=blocked_by(body, repo=repo.full_name, self_key=key),
            updated_at=raw.updated_at,
        )


def params_without(params: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in keys}


def _next_link(header: str | None) -> str | None:
    if not header:
        return None
    match = _LINK_NEXT.search(header)
    return match.group(1) if match else None
