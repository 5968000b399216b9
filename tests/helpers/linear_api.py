"""A Linear GraphQL API on 127.0.0.1 for tests: every query is validated against Linear's schema and executed.

``FakeLinear`` holds teams, workflow states, users, labels, issues and relations in memory. Each request is
checked the way Linear checks it: the ``Authorization`` header must be the API key, the query must parse
and validate against ``tests/fixtures/linear/schema.graphql`` (Linear's own SDL, trimmed), and variables must
coerce. A query Linear would reject is answered with Linear's error shape *and* recorded in ``rejected``, so
the ``linear_api`` fixture fails the test. Errors follow Linear's format (``extensions.type`` /
``extensions.code`` / ``userPresentableMessage``, as @linear/sdk parses them); rate limits and outages are
switched on per test.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLError,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "fixtures" / "linear" / "schema.graphql"
_SCHEMA: GraphQLSchema | None = None
_SCHEMA_LOCK = threading.Lock()
MAX_PAGE = 250


def linear_schema() -> GraphQLSchema:
    global _SCHEMA
    with _SCHEMA_LOCK:
        if _SCHEMA is None:
            _SCHEMA = build_schema(SCHEMA_PATH.read_text())
        return _SCHEMA


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _uuid() -> str:
    return str(uuid.uuid4())


def _error(message: str, *, type_: str, code: str, user_message: str | None = None) -> GraphQLError:
    ext = {"type": type_, "code": code, "userError": True}
    if user_message:
        ext["userPresentableMessage"] = user_message
    return GraphQLError(message, extensions=ext)


# ---------------------------------------------------------------------- entities (resolved by attribute name)


@dataclass(eq=False)
class User:
    name: str
    displayName: str
    email: str
    id: str = field(default_factory=_uuid)
    active: bool = True
    createdAt: str = field(default_factory=_now)
    updatedAt: str = field(default_factory=_now)


@dataclass(eq=False)
class WorkflowState:
    name: str
    type: str
    team: Team
    position: float
    color: str = "#95a2b3"
    description: str | None = None
    archivedAt: str | None = None
    id: str = field(default_factory=_uuid)
    createdAt: str = field(default_factory=_now)
    updatedAt: str = field(default_factory=_now)


@dataclass(eq=False)
class Team:
    key: str
    name: str
    id: str = field(default_factory=_uuid)
    createdAt: str = field(default_factory=_now)
    updatedAt: str = field(default_factory=_now)
    workflow: list[WorkflowState] = field(default_factory=list)
    next_number: int = 1

    def states(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection([s for s in self.workflow if match_state(s, args.get("filter"))], args)


@dataclass(eq=False)
class IssueLabel:
    name: str
    team: Team | None = None
    color: str = "#bec2c8"
    description: str | None = None
    isGroup: bool = False
    id: str = field(default_factory=_uuid)
    createdAt: str = field(default_factory=_now)
    updatedAt: str = field(default_factory=_now)


@dataclass(eq=False)
class Issue:
    api: FakeLinear
    team: Team
    number: int
    title: str
    state: WorkflowState
    description: str | None = None
    assignee: User | None = None
    label_list: list[IssueLabel] = field(default_factory=list)
    branchName: str = ""
    priority: float = 0
    archivedAt: str | None = None
    completedAt: str | None = None
    canceledAt: str | None = None
    id: str = field(default_factory=_uuid)
    createdAt: str = field(default_factory=_now)
    updatedAt: str = field(default_factory=_now)

    @property
    def identifier(self) -> str:
        return f"{self.team.key}-{self.number}"

    @property
    def url(self) -> str:
        return f"https://linear.app/{self.api.workspace}/issue/{self.identifier}/{_slug(self.title)}"

    def labels(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection([lb for lb in self.label_list if match_label(lb, args.get("filter"))], args)

    def relations(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection([r for r in self.api.relation_list if r.issue is self], args)

    def inverseRelations(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection([r for r in self.api.relation_list if r.relatedIssue is self], args)


@dataclass(eq=False)
class IssueRelation:
    issue: Issue
    relatedIssue: Issue
    type: str
    archivedAt: str | None = None
    id: str = field(default_factory=_uuid)
    createdAt: str = field(default_factory=_now)
    updatedAt: str = field(default_factory=_now)


@dataclass(eq=False)
class Comment:
    issue: Issue
    body: str
    user: User
    id: str = field(default_factory=_uuid)
    createdAt: str = field(default_factory=_now)
    updatedAt: str = field(default_factory=_now)

    @property
    def url(self) -> str:
        return f"{self.issue.url}#comment-{self.id[:8]}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40].strip("-")


# ---------------------------------------------------------------------- pagination and filters


def _cursor(index: int) -> str:
    return base64.b64encode(f"c:{index}".encode()).decode()


def connection(items: list[Any], args: dict[str, Any]) -> dict[str, Any]:
    """A Relay connection over ``items`` honouring ``first``/``after`` (and ``last``/``before``)."""
    first, last = args.get("first"), args.get("last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise _error(
                f"Argument Validation Error: {name} must be between 0 and {MAX_PAGE}",
                type_="invalid input",
                code="INPUT_ERROR",
            )
    start = 0
    end = len(items)
    if args.get("after"):
        start = _decode_cursor(args["after"]) + 1
    if args.get("before"):
        end = _decode_cursor(args["before"])
    if first is None and last is None:
        first = 50
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    page = list(enumerate(items))[start:end]
    edges = [{"cursor": _cursor(i), "node": item} for i, item in page]
    return {
        "nodes": [item for _, item in page],
        "edges": edges,
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _decode_cursor(cursor: str) -> int:
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("c:"))
    except ValueError:
        raise _error("Invalid cursor", type_="invalid input", code="INPUT_ERROR") from None


def _compare(value: Any, comparator: dict[str, Any] | None, *, fold: bool = False) -> bool:
    if not comparator:
        return True
    for op, expected in comparator.items():
        ok: bool
        if op == "eq":
            ok = value == expected
        elif op == "neq":
            ok = value != expected
        elif op == "in":
            ok = value in expected
        elif op == "nin":
            ok = value not in expected
        elif op == "eqIgnoreCase":
            ok = isinstance(value, str) and value.casefold() == expected.casefold()
        elif op == "contains":
            ok = isinstance(value, str) and expected in value
        elif op == "containsIgnoreCase":
            ok = isinstance(value, str) and expected.casefold() in value.casefold()
        elif op == "startsWith":
            ok = isinstance(value, str) and value.startswith(expected)
        elif op in ("gt", "gte", "lt", "lte"):
            ok = (
                value is not None
                and {
                    "gt": value > expected,
                    "gte": value >= expected,
                    "lt": value < expected,
                    "lte": value <= expected,
                }[op]
            )
        else:
            raise AssertionError(f"fake Linear does not implement comparator {op!r}")
        if not ok:
            return False
    return True


def _combine(obj: Any, flt: dict[str, Any], match: Callable[[Any, dict[str, Any] | None], bool]) -> bool:
    if "and" in flt and not all(match(obj, f) for f in flt["and"]):
        return False
    return not ("or" in flt and not any(match(obj, f) for f in flt["or"]))


def match_team(team: Team | None, flt: dict[str, Any] | None) -> bool:
    if not flt:
        return True
    if team is None:
        return False
    return (
        _combine(team, flt, match_team)
        and _compare(team.id, flt.get("id"))
        and _compare(team.key, flt.get("key"))
        and _compare(team.name, flt.get("name"))
    )


def match_state(state: WorkflowState, flt: dict[str, Any] | None) -> bool:
    if not flt:
        return True
    return (
        _combine(state, flt, match_state)
        and _compare(state.id, flt.get("id"))
        and _compare(state.name, flt.get("name"))
        and _compare(state.type, flt.get("type"))
        and match_team(state.team, flt.get("team"))
    )


def match_label(label: IssueLabel, flt: dict[str, Any] | None) -> bool:
    if not flt:
        return True
    return (
        _combine(label, flt, match_label)
        and _compare(label.id, flt.get("id"))
        and _compare(label.name, flt.get("name"))
    )


def match_labels(labels: list[IssueLabel], flt: dict[str, Any] | None) -> bool:
    if not flt:
        return True
    if "null" in flt and flt["null"] != (not labels):
        return False
    if "some" in flt and not any(match_label(lb, flt["some"]) for lb in labels):
        return False
    if "every" in flt and not all(match_label(lb, flt["every"]) for lb in labels):
        return False
    if "name" in flt and not any(_compare(lb.name, flt["name"]) for lb in labels):
        return False
    if "id" in flt and not any(_compare(lb.id, flt["id"]) for lb in labels):
        return False
    if "length" in flt and not _compare(len(labels), flt["length"]):
        return False
    return _combine(labels, flt, match_labels)


def match_user(user: User | None, flt: dict[str, Any] | None, viewer: User) -> bool:
    if not flt:
        return True
    if "null" in flt:
        if flt["null"] != (user is None):
            return False
        if user is None:
            return True
    if user is None:
        return False
    if "and" in flt and not all(match_user(user, f, viewer) for f in flt["and"]):
        return False
    if "or" in flt and not any(match_user(user, f, viewer) for f in flt["or"]):
        return False
    return (
        _compare(user.id, flt.get("id"))
        and _compare(user.name, flt.get("name"))
        and _compare(user.displayName, flt.get("displayName"))
        and _compare(user.email, flt.get("email"))
        and _compare(user is viewer, flt.get("isMe"))
    )


def match_issue(issue: Issue, flt: dict[str, Any] | None, viewer: User) -> bool:
    if not flt:
        return True
    if "and" in flt and not all(match_issue(issue, f, viewer) for f in flt["and"]):
        return False
    if "or" in flt and not any(match_issue(issue, f, viewer) for f in flt["or"]):
        return False
    return (
        _compare(issue.id, flt.get("id"))
        and _compare(issue.number, flt.get("number"))
        and _compare(issue.title, flt.get("title"))
        and match_team(issue.team, flt.get("team"))
        and match_state(issue.state, flt.get("state"))
        and match_labels(issue.label_list, flt.get("labels"))
        and (match_user(issue.assignee, flt["assignee"], viewer) if "assignee" in flt else True)
    )


# ---------------------------------------------------------------------- the API


@dataclass
class Recorded:
    operation: str | None
    query: str
    variables: dict[str, Any]
    authorization: str | None
    status: int


class FakeLinear:
    """In-memory Linear workspace behind a schema-checked GraphQL endpoint."""

    def __init__(self, api_key: str = "lin_api_test_key", workspace: str = "acme") -> None:
        self.api_key = api_key
        self.workspace = workspace
        self.schema = linear_schema()
        self.teams: list[Team] = []
        self.users: list[User] = []
        self.label_list: list[IssueLabel] = []
        self.issue_list: list[Issue] = []
        self.relation_list: list[IssueRelation] = []
        self.comments: list[Comment] = []
        self.viewer = self.add_user("Ennio Bot", "ennio", "bot@acme.test")
        self.requests: list[Recorded] = []
        #: queries a real Linear would reject (bad syntax, unknown field, wrong variable type)
        self.rejected: list[str] = []
        self.rate_limit_total = 5000
        self.rate_limit_remaining = 5000
        self._failures: list[tuple[int, str, str | None]] = []
        self.auth_failure_status = 400
        self._lock = threading.Lock()
        self.url = ""

    # ---------------------------------------------------------------- data builders

    def add_user(self, name: str, display_name: str, email: str) -> User:
        user = User(name=name, displayName=display_name, email=email)
        self.users.append(user)
        return user

    def add_team(self, key: str, name: str | None = None) -> Team:
        team = Team(key=key, name=name or key.title())
        for pos, (state, kind) in enumerate(
            [
                ("Backlog", "backlog"),
                ("Todo", "unstarted"),
                ("In Progress", "started"),
                ("In Review", "started"),
                ("Done", "completed"),
                ("Canceled", "canceled"),
            ]
        ):
            team.workflow.append(WorkflowState(name=state, type=kind, team=team, position=float(pos)))
        self.teams.append(team)
        return team

    def add_label(self, name: str, team: Team | None = None) -> IssueLabel:
        label = IssueLabel(name=name, team=team)
        self.label_list.append(label)
        return label

    def team(self, key: str) -> Team:
        return next(t for t in self.teams if t.key == key)

    def add_issue(
        self,
        team: str,
        title: str,
        *,
        description: str | None = None,
        state: str = "Todo",
        labels: tuple[str, ...] = (),
        assignee: User | None = None,
        branch_name: str | None = None,
    ) -> Issue:
        t = self.team(team)
        st = next(s for s in t.workflow if s.name == state)
        label_objs = [next(lb for lb in self.label_list if lb.name == n and lb.team in (None, t)) for n in labels]
        issue = Issue(
            api=self,
            team=t,
            number=t.next_number,
            title=title,
            state=st,
            description=description,
            assignee=assignee,
            label_list=label_objs,
        )
        t.next_number += 1
        issue.branchName = (
            branch_name
            if branch_name is not None
            else f"{self.viewer.displayName}/{issue.identifier.lower()}-{_slug(title)}"
        )
        self.issue_list.append(issue)
        return issue

    def issue(self, identifier: str) -> Issue:
        return next(i for i in self.issue_list if i.identifier == identifier)

    def block(self, blocker: str, blocked: str) -> IssueRelation:
        """``blocker`` blocks ``blocked`` (Linear stores it on the blocker: issue=blocker, relatedIssue=blocked)."""
        return self.relate(blocker, blocked, "blocks")

    def relate(self, a: str, b: str, kind: str) -> IssueRelation:
        rel = IssueRelation(issue=self.issue(a), relatedIssue=self.issue(b), type=kind)
        self.relation_list.append(rel)
        return rel

    # ---------------------------------------------------------------- behaviours per test

    def fail_next(self, status: int, kind: str = "plain", times: int = 1, operation: str | None = None) -> None:
        """The next ``times`` requests (of ``operation``, if given) fail.

        ``kind`` is ``ratelimited`` (Linear's RATELIMITED error body) or ``plain`` (a bare gateway error).
        """
        self._failures.extend([(status, kind, operation)] * times)

    def operations(self) -> list[str | None]:
        return [r.operation for r in self.requests]

    # ---------------------------------------------------------------- HTTP

    def _headers(self) -> dict[str, str]:
        reset_ms = int((time.time() + 3600) * 1000)
        return {
            "X-RateLimit-Requests-Limit": str(self.rate_limit_total),
            "X-RateLimit-Requests-Remaining": str(self.rate_limit_remaining),
            "X-RateLimit-Requests-Reset": str(reset_ms),
        }

    def _json(self, status: int, body: dict[str, Any]) -> Response:
        return Response(json.dumps(body), status=status, headers=self._headers(), content_type="application/json")

    def handle(self, request: Request) -> Response:
        with self._lock:
            return self._handle(request)

    def _handle(self, request: Request) -> Response:
        auth = request.headers.get("Authorization")
        try:
            body = json.loads(request.get_data())
        except ValueError:
            body = None
        query = body.get("query", "") if isinstance(body, dict) else ""
        variables = (body.get("variables") or {}) if isinstance(body, dict) else {}
        operation = body.get("operationName") if isinstance(body, dict) else None
        record = Recorded(operation, query, variables, auth, 200)
        self.requests.append(record)
        self.rate_limit_remaining = max(0, self.rate_limit_remaining - 1)

        if not auth or not hmac.compare_digest(auth.encode(), self.api_key.encode()):
            record.status = self.auth_failure_status
            err = _error(
                "Authentication required, not authenticated",
                type_="authentication error",
                code="AUTHENTICATION_ERROR",
                user_message="You need to authenticate to access this operation.",
            )
            return self._json(record.status, {"errors": [err.formatted]})
        failure = next((f for f in self._failures if f[2] in (None, operation)), None)
        if failure is not None:
            self._failures.remove(failure)
            status, kind, _ = failure
            record.status = status
            if kind == "ratelimited":
                self.rate_limit_remaining = 0
                err = _error(
                    "Rate limit exceeded",
                    type_="ratelimited",
                    code="RATELIMITED",
                    user_message="Too many requests; try again later.",
                )
                return self._json(status, {"errors": [err.formatted]})
            return Response("upstream error", status=status, content_type="text/plain")
        if not isinstance(body, dict) or not isinstance(query, str) or not isinstance(variables, dict):
            return self._reject(record, "Request body must be a JSON object with a query string")
        try:
            document = parse(query)
        except GraphQLError as exc:
            return self._reject(record, f"Syntax Error: {exc.message}")
        problems = validate(self.schema, document)
        if problems:
            return self._reject(record, "; ".join(p.message for p in problems))
        result = execute(
            self.schema,
            document,
            root_value=_Root(self),
            variable_values=variables,
            operation_name=operation,
        )
        if result.errors and result.data is None and all(not e.path for e in result.errors):
            return self._reject(record, "; ".join(e.message for e in result.errors))
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [e.formatted for e in result.errors]
        return self._json(200, out)

    def _reject(self, record: Recorded, message: str) -> Response:
        record.status = 400
        self.rejected.append(f"{record.operation}: {message}")
        err = _error(message, type_="graphql error", code="GRAPHQL_VALIDATION_FAILED")
        return self._json(400, {"errors": [err.formatted]})

    # ---------------------------------------------------------------- lookups used by resolvers

    def find_issue(self, key: str) -> Issue:
        for issue in self.issue_list:
            if key in (issue.id, issue.identifier):
                return issue
        raise _error(
            "Entity not found: Issue",
            type_="invalid input",
            code="INPUT_ERROR",
            user_message="Could not find referenced Issue.",
        )

    def find_issue_by_id(self, issue_id: str, what: str) -> Issue:
        for issue in self.issue_list:
            if issue.id == issue_id:
                return issue
        raise _error(
            f"Entity not found: {what}",
            type_="invalid input",
            code="INPUT_ERROR",
            user_message=f"Could not find referenced {what}.",
        )


class _Root:
    """Query and Mutation fields, resolved by graphql-core's default resolver as methods."""

    def __init__(self, api: FakeLinear) -> None:
        self.api = api

    # queries
    def issue(self, info: Any, id: str) -> Issue:
        return self.api.find_issue(id)

    def issues(self, info: Any, **args: Any) -> dict[str, Any]:
        found = [
            i
            for i in self.api.issue_list
            if (args.get("includeArchived") or i.archivedAt is None)
            and match_issue(i, args.get("filter"), self.api.viewer)
        ]
        order = args.get("orderBy") or "createdAt"
        found.sort(key=lambda i: (getattr(i, order), i.number), reverse=True)
        return connection(found, args)

    def issueLabels(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection([lb for lb in self.api.label_list if match_label(lb, args.get("filter"))], args)

    def teams(self, info: Any, **args: Any) -> dict[str, Any]:
        return connection([t for t in self.api.teams if match_team(t, args.get("filter"))], args)

    def workflowStates(self, info: Any, **args: Any) -> dict[str, Any]:
        states = [s for t in self.api.teams for s in t.workflow]
        return connection([s for s in states if match_state(s, args.get("filter"))], args)

    def viewer(self, info: Any) -> User:
        return self.api.viewer

    # mutations
    def issueCreate(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        team = next((t for t in self.api.teams if t.id == input["teamId"]), None)
        if team is None:
            raise _error(
                "Entity not found: Team",
                type_="invalid input",
                code="INPUT_ERROR",
                user_message="Could not find referenced Team.",
            )
        labels = []
        for label_id in input.get("labelIds") or []:
            label = next((lb for lb in self.api.label_list if lb.id == label_id), None)
            if label is None or label.team not in (None, team):
                raise _error(
                    "Entity not found: IssueLabel",
                    type_="invalid input",
                    code="INPUT_ERROR",
                    user_message="Could not find referenced IssueLabel.",
                )
            labels.append(label)
        state = next(s for s in team.workflow if s.type == "unstarted")
        if input.get("stateId"):
            state = next((s for s in team.workflow if s.id == input["stateId"]), None) or _raise_state()
        title = input.get("title") or ""
        issue = Issue(
            api=self.api,
            team=team,
            number=team.next_number,
            title=title,
            state=state,
            description=input.get("description"),
            label_list=labels,
        )
        team.next_number += 1
        issue.branchName = f"{self.api.viewer.displayName}/{issue.identifier.lower()}-{_slug(title)}"
        self.api.issue_list.append(issue)
        return {"success": True, "issue": issue, "lastSyncId": float(len(self.api.requests))}

    def issueUpdate(self, info: Any, id: str, input: dict[str, Any]) -> dict[str, Any]:
        issue = self.api.find_issue_by_id(id, "Issue")
        if "stateId" in input:
            state = next((s for s in issue.team.workflow if s.id == input["stateId"]), None)
            if state is None:
                _raise_state()
            issue.state = state
            if state.type == "completed":
                issue.completedAt = _now()
        for name in ("title", "description"):
            if name in input:
                setattr(issue, name, input[name])
        issue.updatedAt = _now()
        return {"success": True, "issue": issue, "lastSyncId": float(len(self.api.requests))}

    def commentCreate(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        if not input.get("issueId") or not input.get("body"):
            raise _error(
                "Argument Validation Error",
                type_="invalid input",
                code="INPUT_ERROR",
                user_message="A comment needs an issue and a body.",
            )
        issue = self.api.find_issue_by_id(input["issueId"], "Issue")
        comment = Comment(issue=issue, body=input["body"], user=self.api.viewer)
        self.api.comments.append(comment)
        return {"success": True, "comment": comment, "lastSyncId": float(len(self.api.requests))}


def _raise_state() -> Any:
    raise _error(
        "Entity not found: WorkflowState",
        type_="invalid input",
        code="INPUT_ERROR",
        user_message="The state does not belong to the issue's team.",
    )


class LinearServer:
    """One HTTP server on 127.0.0.1 (random port) answering for whichever :class:`FakeLinear` is attached.

    Starting a server per test costs half a second at shutdown, so tests share one and attach a fresh API.
    """

    def __init__(self) -> None:
        self._server = HTTPServer(host="127.0.0.1", port=0)
        self._api: FakeLinear | None = None
        self._server.expect_request("/graphql", method="POST").respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        if self._api is None:
            return Response("no Linear workspace attached", status=503)
        return self._api.handle(request)

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.clear()
        self._server.stop()

    def attach(self, api: FakeLinear | None) -> None:
        self._api = api
        if api is not None:
            api.url = self._server.url_for("/graphql")


@pytest.fixture(scope="session", name="linear_server")
def linear_server_fixture() -> Iterator[LinearServer]:
    """One Linear server for the whole run (import this fixture into a conftest to use it)."""
    server = LinearServer()
    server.start()
    yield server
    server.stop()


def serve_linear(api: FakeLinear) -> Iterator[FakeLinear]:
    """Run ``api`` on its own server on 127.0.0.1 for the duration of the generator."""
    server = LinearServer()
    server.start()
    server.attach(api)
    try:
        yield api
    finally:
        server.stop()
