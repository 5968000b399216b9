"""Linear tracker: issues from Linear's GraphQL API over httpx.

Keys are Linear identifiers (``ENG-123``). Every read of several issues is one query (``issue_states``
batches up to 50 keys with an ``or`` filter); lists page with cursors. The API key is sent as the
``Authorization`` header and never logged. Linear's error shapes (``extensions.code`` / ``extensions.type``,
HTTP 400/401/429) become :class:`AuthError`, :class:`NotFound` and :class:`RateLimited`.

``Issue.blocked_by`` lists every issue with a ``blocks`` relation onto this one (Linear stores "A blocks B"
on A, so they are B's ``inverseRelations``), finished or not: whether a blocker is done is one batched
``issue_states`` call away, so the caller decides.

Size: over 400 lines because one GraphQL client's queries, paging and error mapping serve every
tracker call; the queries are only readable next to the code that reads their answers.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx

from ennio import __version__
from ennio.core.config import LinearTrackerConfig, ProjectConfig
from ennio.core.errors import AuthError, ConfigError, InvalidId, InvalidInput, NotFound, RateLimited, TrackerError
from ennio.core.ids import branch_for_issue, validate_branch_name
from ennio.core.issue_ref import parse_issue_ref
from ennio.core.plugins import (
    Issue,
    IssueQuery,
    IssueState,
    PluginContext,
    PluginManifest,
    RateBudget,
    Slot,
)

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

PAGE_SIZE = 50
#: labels and relations fetched with each issue (Linear bills nested pages in its complexity budget)
NESTED_PAGE = 25
#: keys per batched state query
BATCH_SIZE = 50
CLOSED_STATE_TYPES = frozenset({"completed", "canceled"})
RETRIES = 2
_KEY_HINT = "create a personal API key in Linear (Settings → Account → Security & access) and set tracker.api_key"

_ISSUE_FIELDS = f"""
fragment EnnioIssue on Issue {{
  id
  identifier
  title
  description
  url
  branchName
  updatedAt
  state {{ name type }}
  team {{ key }}
  assignee {{ name displayName }}
  labels(first: {NESTED_PAGE}) {{ nodes {{ name }} }}
  inverseRelations(first: {NESTED_PAGE}) {{ nodes {{ type issue {{ identifier }} }} }}
}}
"""

GET_ISSUE = "query EnnioIssue($id: String!) { issue(id: $id) { ...EnnioIssue } }" + _ISSUE_FIELDS

LIST_ISSUES = (
    """query EnnioIssues($filter: IssueFilter, $first: Int!, $after: String) {
  issues(filter: $filter, first: $first, after: $after, orderBy: updatedAt) {
    nodes { ...EnnioIssue }
    pageInfo { hasNextPage endCursor }
  }
}"""
    + _ISSUE_FIELDS
)

ISSUE_STATES = """query EnnioIssueStates($filter: IssueFilter, $first: Int!, $after: String) {
  issues(filter: $filter, first: $first, after: $after, includeArchived: true) {
    nodes { identifier state { type } }
    pageInfo { hasNextPage endCursor }
  }
}"""

ISSUE_ID = "query EnnioIssueId($id: String!) { issue(id: $id) { id identifier } }"

ISSUE_WORKFLOW = """query EnnioIssueWorkflow($id: String!) {
  issue(id: $id) {
    id
    identifier
    state { id name type }
    team { key states(first: 100) { nodes { id name type } } }
  }
}"""

TEAM_AND_LABELS = """query EnnioTeamAndLabels($team: String!, $labels: [String!]!) {
  teams(filter: { key: { eqIgnoreCase: $team } }, first: 1) { nodes { id key } }
  issueLabels(filter: { name: { in: $labels } }, first: 250) { nodes { id name team { key } } }
}"""

CREATE_ISSUE = (
    """mutation EnnioCreateIssue($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { ...EnnioIssue } }
}"""
    + _ISSUE_FIELDS
)

MOVE_ISSUE = """mutation EnnioMoveIssue($id: String!, $stateId: String!) {
  issueUpdate(id: $id, input: { stateId: $stateId }) { success issue { id state { name type } } }
}"""

CREATE_COMMENT = """mutation EnnioComment($input: CommentCreateInput!) {
  commentCreate(input: $input) { success comment { id } }
}"""


class LinearTracker:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        name="linear",
        slot=Slot.TRACKER,
        version=__version__,
        description="Linear issues over its GraphQL API: batched states, workflow moves, blocking relations",
    )

    def __init__(self, project: ProjectConfig, ctx: PluginContext, *, sleep: Sleep | None = None) -> None:
        settings = project.tracker
        if not isinstance(settings, LinearTrackerConfig):
            raise ConfigError(
                f"project {project.pid!r} does not use the Linear tracker",
                hint="set tracker: {provider: linear, team: ENG, api_key: ${LINEAR_API_KEY}}",
            )
        self.project = project
        self.settings = settings
        self.ctx = ctx
        self._sleep: Sleep = sleep or asyncio.sleep
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._budget: RateBudget | None = None

    # ------------------------------------------------------------------ Tracker protocol

    async def get_issue(self, key: str) -> Issue:
        identifier = self.identifier(key)
        data = await self._query("EnnioIssue", GET_ISSUE, {"id": identifier}, not_found=identifier)
        return _issue(data["issue"])

    async def list_issues(self, query: IssueQuery) -> list[Issue]:
        out: list[Issue] = []
        after: str | None = None
        flt = self._filter(query)
        while len(out) < query.limit:
            variables = {"filter": flt, "first": min(PAGE_SIZE, query.limit - len(out)), "after": after}
            page = (await self._query("EnnioIssues", LIST_ISSUES, variables))["issues"]
            out.extend(_issue(node) for node in page["nodes"])
            after = page["pageInfo"]["endCursor"]
            if not page["pageInfo"]["hasNextPage"] or not after:
                break
        return out[: query.limit]

    async def issue_states(self, keys: Sequence[str]) -> dict[str, IssueState]:
        wanted = {self.identifier(k): k for k in keys}
        found: dict[str, IssueState] = {}
        identifiers = list(wanted)
        for start in range(0, len(identifiers), BATCH_SIZE):
            chunk = identifiers[start : start + BATCH_SIZE]
            flt = {"or": [_identifier_filter(team, numbers) for team, numbers in _by_team(chunk).items()]}
            after: str | None = None
            while True:
                variables = {"filter": flt, "first": min(len(chunk), 250), "after": after}
                page = (await self._query("EnnioIssueStates", ISSUE_STATES, variables))["issues"]
                for node in page["nodes"]:
                    if node["identifier"] in wanted:
                        found[wanted[node["identifier"]]] = _state(node["state"]["type"])
                after = page["pageInfo"]["endCursor"]
                if not page["pageInfo"]["hasNextPage"] or not after:
                    break
        return found

    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        if not title.strip():
            raise InvalidInput("an issue needs a title")
        team = self.settings.team
        if not team:
            raise ConfigError(
                "creating a Linear issue needs a team", hint="set tracker.team to the team key (e.g. ENG)"
            )
        names = list(dict.fromkeys(labels))
        data = await self._query("EnnioTeamAndLabels", TEAM_AND_LABELS, {"team": team, "labels": names})
        teams = data["teams"]["nodes"]
        if not teams:
            raise ConfigError(f"Linear has no team with key {team!r}", hint="set tracker.team to an existing team key")
        label_ids = _label_ids(data["issueLabels"]["nodes"], names, teams[0]["key"])
        payload: dict[str, Any] = {"teamId": teams[0]["id"], "title": title, "description": body}
        if label_ids:
            payload["labelIds"] = label_ids
        created = await self._mutate("EnnioCreateIssue", CREATE_ISSUE, {"input": payload}, "issueCreate")
        return _issue(created["issue"])

    async def comment(self, key: str, body: str) -> None:
        if not body.strip():
            raise InvalidInput("a comment cannot be empty")
        identifier = self.identifier(key)
        issue = (await self._query("EnnioIssueId", ISSUE_ID, {"id": identifier}, not_found=identifier))["issue"]
        await self._mutate(
            "EnnioComment", CREATE_COMMENT, {"input": {"issueId": issue["id"], "body": body}}, "commentCreate"
        )

    async def close_issue(self, key: str) -> None:
        await self.move_issue(key, self.settings.done_state, fallback_type="completed")

    def branch_name(self, issue: Issue) -> str:
        """Linear's own ``branchName`` when it is a safe branch name, else ``feat/eng-123-title``."""
        if issue.branch_name:
            try:
                return validate_branch_name(issue.branch_name)
            except InvalidId:
                log.info("Linear branch name %r of %s is not safe; using Ennio's", issue.branch_name, issue.key)
        return branch_for_issue(issue.key, issue.title)

    def prompt_context(self, issue: Issue) -> str:
        lines = [f"Linear issue {issue.key}: {issue.title}"]
        if issue.url:
            lines.append(f"URL: {issue.url}")
        if issue.labels:
            lines.append("Labels: " + ", ".join(issue.labels))
        if issue.assignees:
            lines.append("Assignee: " + ", ".join(issue.assignees))
        if issue.blocked_by:
            lines.append("Blocked by: " + ", ".join(issue.blocked_by))
        if issue.body.strip():
            lines += ["", issue.body.strip()]
        return "\n".join(lines)

    # ------------------------------------------------------------------ Linear specifics

    async def mark_in_progress(self, key: str) -> str | None:
        """Move the issue to ``in_progress_state`` (when a session starts); ``None`` if none is configured."""
        if not self.settings.in_progress_state:
            return None
        return await self.move_issue(key, self.settings.in_progress_state)

    async def move_issue(self, key: str, state: str | None, *, fallback_type: str | None = None) -> str:
        """Move the issue to the workflow state named ``state`` of its team; return the state's name.

        With ``state=None`` the team's first state of ``fallback_type`` is used. Nothing is sent when the
        issue is already there.
        """
        identifier = self.identifier(key)
        issue = (await self._query("EnnioIssueWorkflow", ISSUE_WORKFLOW, {"id": identifier}, not_found=identifier))[
            "issue"
        ]
        states: list[dict[str, Any]] = issue["team"]["states"]["nodes"]
        target = _pick_state(states, state, fallback_type, issue["team"]["key"])
        if issue["state"]["id"] == target["id"]:
            return str(target["name"])
        await self._mutate("EnnioMoveIssue", MOVE_ISSUE, {"id": issue["id"], "stateId": target["id"]}, "issueUpdate")
        return str(target["name"])

    def identifier(self, key: str) -> str:
        """``ENG-123`` from ``ENG-123``, ``eng-123``, a Linear URL, or ``123`` when a team is configured."""
        ref = parse_issue_ref(key)
        if ref.provider == "linear":
            return ref.key
        if ref.provider is None and self.settings.team:
            return f"{self.settings.team.upper()}-{ref.key}"
        raise InvalidInput(
            f"{key!r} is not a Linear issue", hint="use a Linear identifier like ENG-123 or a linear.app issue URL"
        )

    def rate_budget(self) -> RateBudget | None:
        """What Linear said is left of the hourly request budget, after the last response."""
        return self._budget

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ HTTP

    def _filter(self, query: IssueQuery) -> dict[str, Any]:
        parts: list[dict[str, Any]] = []
        team = query.team or self.settings.team
        if team:
            parts.append({"team": {"key": {"eqIgnoreCase": team}}})
        if query.state == IssueState.OPEN:
            parts.append({"state": {"type": {"nin": sorted(CLOSED_STATE_TYPES)}}})
        elif query.state == IssueState.CLOSED:
            parts.append({"state": {"type": {"in": sorted(CLOSED_STATE_TYPES)}}})
        for label in dict.fromkeys(query.labels):
            parts.append({"labels": {"some": {"name": {"eqIgnoreCase": label}}}})
        if query.assignee:
            parts.append({"assignee": _assignee_filter(query.assignee)})
        if query.milestone:
            raise InvalidInput(
                "Linear issues are not filtered by milestone", hint="filter by team, state, label or assignee"
            )
        return {"and": parts} if parts else {}

    def _api_key(self) -> str:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        if not key:
            raise AuthError("no Linear API key is configured", hint=_KEY_HINT + " (e.g. api_key: ${LINEAR_API_KEY})")
        return key

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._client.is_closed:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(30.0, connect=10.0),
                headers={"User-Agent": f"ennio/{__version__}", "Content-Type": "application/json"},
            )
            self._client_loop = loop
        return self._client

    async def _query(
        self, name: str, query: str, variables: Mapping[str, Any], *, not_found: str | None = None
    ) -> dict[str, Any]:
        return await self._send(name, query, variables, idempotent=True, not_found=not_found)

    async def _mutate(self, name: str, query: str, variables: Mapping[str, Any], field: str) -> dict[str, Any]:
        data = await self._send(name, query, variables, idempotent=False, not_found=None)
        result: dict[str, Any] = data[field]
        if not result.get("success"):
            raise TrackerError(f"Linear did not apply {field}", hint="try again; check the issue in Linear")
        return result

    async def _send(
        self, name: str, query: str, variables: Mapping[str, Any], *, idempotent: bool, not_found: str | None
    ) -> dict[str, Any]:
        headers = {"Authorization": self._api_key()}
        body = {"query": query, "variables": dict(variables), "operationName": name}
        for attempt in range(RETRIES + 1):
            started = time.monotonic()
            try:
                response = await self._http().post(self.settings.base_url, json=body, headers=headers)
            except httpx.ConnectError as exc:  # nothing reached Linear: safe to retry even a mutation
                if attempt < RETRIES:
                    await self._backoff(attempt)
                    continue
                raise TrackerError(f"cannot reach Linear at {self.settings.base_url}: {exc}") from None
            except httpx.TransportError as exc:
                if idempotent and attempt < RETRIES:
                    await self._backoff(attempt)
                    continue
                raise TrackerError(f"Linear request {name} failed: {type(exc).__name__}") from None
            log.debug("linear %s -> HTTP %s in %.0f ms", name, response.status_code, (time.monotonic() - started) * 1e3)
            self._note_budget(response)
            if response.status_code in (502, 503, 504) and idempotent and attempt < RETRIES:
                await self._backoff(attempt)
                continue
            return self._result(name, response, not_found)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _backoff(self, attempt: int) -> None:
        await self._sleep(0.5 * (2**attempt) * (1 + random.random() / 2))

    def _note_budget(self, response: httpx.Response) -> None:
        limit = _int_header(response, "x-ratelimit-requests-limit")
        remaining = _int_header(response, "x-ratelimit-requests-remaining")
        if limit is not None and remaining is not None:
            reset = _reset_at(response)
            self._budget = RateBudget(
                limit=limit, remaining=remaining, reset_at=datetime.fromtimestamp(reset, UTC) if reset else None
            )

    def _result(self, name: str, response: httpx.Response, not_found: str | None) -> dict[str, Any]:
        status = response.status_code
        try:
            payload = response.json()
        except ValueError:
            payload = None
        errors = payload.get("errors") if isinstance(payload, dict) else None
        if errors and isinstance(errors, list):
            _raise_for(errors, status, response, not_found, name)
        if status == 429:
            raise _rate_limited(response, "Linear says too many requests (HTTP 429)")
        if status in (401, 403):
            raise AuthError(f"Linear refused the API key (HTTP {status})", hint=_KEY_HINT)
        if status >= 400 or not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise TrackerError(f"Linear answered {name} with HTTP {status} and no data", hint="try again later")
        data: dict[str, Any] = payload["data"]
        return data


# ---------------------------------------------------------------------- helpers


def _raise_for(errors: list[Any], status: int, response: httpx.Response, not_found: str | None, name: str) -> None:
    first: dict[str, Any] = errors[0] if isinstance(errors[0], dict) else {}
    raw_ext = first.get("extensions")
    ext: dict[str, Any] = raw_ext if isinstance(raw_ext, dict) else {}
    code = str(ext.get("code", "")).upper()
    kind = str(ext.get("type", "")).lower()
    message = str(ext.get("userPresentableMessage") or first.get("message") or "unknown error")[:300]
    if code == "RATELIMITED" or kind == "ratelimited" or status == 429:
        raise _rate_limited(response, f"Linear rate limit reached: {message}")
    if code == "AUTHENTICATION_ERROR" or kind == "authentication error" or status == 401:
        raise AuthError(f"Linear refused the API key: {message}", hint=_KEY_HINT)
    if code == "FORBIDDEN" or kind == "forbidden" or status == 403:
        raise AuthError(
            f"the Linear API key may not do this: {message}",
            hint="use a key with read and write access to the team's issues",
        )
    raw = str(first.get("message", ""))
    if not_found and ("not found" in raw.lower() or "could not find" in message.lower()):
        raise NotFound(
            f"Linear has no issue {not_found}", hint="check the identifier (e.g. ENG-123) and the API key's team access"
        )
    raise TrackerError(f"Linear rejected {name}: {message}")


def _rate_limited(response: httpx.Response, message: str) -> RateLimited:
    retry_at = _reset_at(response)
    if retry_at is None:
        after = _int_header(response, "retry-after")
        retry_at = time.time() + after if after is not None else None
    when = f"; retry after {datetime.fromtimestamp(retry_at, UTC):%H:%M:%S} UTC" if retry_at else ""
    return RateLimited(message + when, retry_at=retry_at, hint="Ennio slows down and retries on its own")


def _int_header(response: httpx.Response, name: str) -> int | None:
    try:
        return int(float(response.headers[name]))
    except (KeyError, ValueError):
        return None


def _reset_at(response: httpx.Response) -> float | None:
    """Epoch seconds of ``X-RateLimit-Requests-Reset`` (Linear sends epoch milliseconds)."""
    raw = _int_header(response, "x-ratelimit-requests-reset")
    if raw is None:
        return None
    return raw / 1000 if raw > 10**11 else float(raw)


def _issue(node: Mapping[str, Any]) -> Issue:
    state_type = node["state"]["type"]
    assignee = node.get("assignee") or None
    blockers = [rel["issue"]["identifier"] for rel in node["inverseRelations"]["nodes"] if rel.get("type") == "blocks"]
    updated = node.get("updatedAt")
    return Issue(
        key=node["identifier"],
        title=node["title"],
        body=node.get("description") or "",
        labels=[label["name"] for label in node["labels"]["nodes"]],
        url=node.get("url"),
        state=_state(state_type),
        assignees=[assignee.get("displayName") or assignee["name"]] if assignee else [],
        blocked_by=list(dict.fromkeys(blockers)),
        branch_name=node.get("branchName") or None,
        updated_at=datetime.fromisoformat(updated) if updated else None,
    )


def _state(state_type: str) -> IssueState:
    return IssueState.CLOSED if state_type in CLOSED_STATE_TYPES else IssueState.OPEN


def _by_team(identifiers: Sequence[str]) -> dict[str, list[int]]:
    teams: dict[str, list[int]] = {}
    for identifier in identifiers:
        team, _, number = identifier.rpartition("-")
        teams.setdefault(team, []).append(int(number))
    return teams


def _identifier_filter(team: str, numbers: list[int]) -> dict[str, Any]:
    return {"team": {"key": {"eq": team}}, "number": {"in": numbers}}


def _assignee_filter(assignee: str) -> dict[str, Any]:
    if assignee.lower() in {"me", "@me"}:
        return {"isMe": {"eq": True}}
    if "@" in assignee.strip("@"):
        return {"email": {"eqIgnoreCase": assignee}}
    name = assignee.removeprefix("@")
    return {"or": [{"displayName": {"eqIgnoreCase": name}}, {"name": {"eqIgnoreCase": name}}]}


def _label_ids(nodes: list[dict[str, Any]], names: list[str], team_key: str) -> list[str]:
    """Ids of the named labels, preferring the team's own label over a workspace one of the same name."""
    chosen: dict[str, dict[str, Any]] = {}
    for node in nodes:
        owner = (node.get("team") or {}).get("key")
        if owner not in (None, team_key):
            continue
        current = chosen.get(node["name"])
        if current is None or (owner == team_key and (current.get("team") or {}).get("key") != team_key):
            chosen[node["name"]] = node
    missing = [n for n in names if n not in chosen]
    if missing:
        raise InvalidInput(
            f"Linear team {team_key} has no label {', '.join(repr(m) for m in missing)}",
            hint="create the label in Linear first, or leave it out",
        )
    return [chosen[n]["id"] for n in names]


def _pick_state(states: list[dict[str, Any]], name: str | None, fallback_type: str | None, team: str) -> dict[str, Any]:
    if name:
        for state in states:
            if state["name"].casefold() == name.casefold():
                return state
        known = ", ".join(s["name"] for s in states)
        raise ConfigError(
            f"Linear team {team} has no workflow state named {name!r}",
            hint=f"set the tracker's state names to one of: {known}",
        )
    for state in states:
        if state["type"] == fallback_type:
            return state
    raise ConfigError(
        f"Linear team {team} has no {fallback_type} workflow state", hint="name one in the tracker config"
    )
