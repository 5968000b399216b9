"""GraphQL side of the fake GitHub: GitHub's real schema, executed by graphql-core over the fake's state.

Every query is parsed, validated against ``schema.graphql`` from ``@octokit/graphql-schema`` and
executed with in-memory resolvers, so a query GitHub would reject fails validation, and a
resolver answer GitHub could not give (a null in a non-null field, an unknown enum value, a
wrong type) fails execution. Both are recorded as problems that fail the test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute,
    parse,
    validate,
)
from graphql.utilities import value_from_ast_untyped

from tests.helpers.fake_github_payloads import iso

if TYPE_CHECKING:
    from tests.helpers.fake_github import FakeGitHub, FakePR, FakeRepo

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "tools/node_modules/@octokit/graphql-schema/schema.graphql"


@cache
def github_schema() -> GraphQLSchema:
    """GitHub's public GraphQL schema (built once per process; ~1 s)."""
    if not SCHEMA_PATH.exists():
        raise RuntimeError(f"{SCHEMA_PATH} is missing: run `npm ci --prefix tools` (see README)")
    # GitHub's published SDL repeats two field definitions and deprecates some Node.id
    # implementations; neither affects query validation, so SDL/schema checks are skipped.
    schema = build_schema(SCHEMA_PATH.read_text(), assume_valid_sdl=True)
    schema._validation_errors = []  # accepted as-is: the quirks above are GitHub's, not ours
    return schema


class GitHubError(GraphQLError):
    """An error GitHub itself returns (NOT_FOUND, FORBIDDEN …), as opposed to a broken fake or query."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message, extensions={"type": kind})
        self.kind = kind


# --------------------------------------------------------------------------- cost


def query_cost(document: Any, variables: Mapping[str, Any], operation: OperationDefinitionNode) -> int:
    """GitHub's point cost: requests needed to fill every connection (assuming full pages) / 100."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    total = 0

    def arg(field: FieldNode, name: str) -> Any:
        for a in field.arguments or ():
            if a.name.value == name:
                return value_from_ast_untyped(a.value, variables)
        return None

    def walk(selection_set: SelectionSetNode | None, multiplier: int) -> None:
        nonlocal total
        if selection_set is None:
            return
        for sel in selection_set.selections:
            if isinstance(sel, FieldNode):
                page = arg(sel, "first") or arg(sel, "last")
                ids = arg(sel, "ids")
                child = multiplier
                if isinstance(page, int):
                    total += multiplier
                    child = multiplier * page
                elif isinstance(ids, list):
                    child = multiplier * max(1, len(ids))
                walk(sel.selection_set, child)
            elif isinstance(sel, InlineFragmentNode):
                walk(sel.selection_set, multiplier)
            elif isinstance(sel, FragmentSpreadNode):
                walk(fragments[sel.name.value].selection_set, multiplier)

    walk(operation.selection_set, 1)
    return max(1, math.ceil(total / 100))


# --------------------------------------------------------------------------- execution


def run_query(fake: FakeGitHub, token: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """Execute one GraphQL request body; return (response JSON, points to charge)."""
    query = body.get("query")
    variables = body.get("variables") or {}
    if not isinstance(query, str) or not isinstance(variables, dict):
        fake.problem("GraphQL request without a query string / variables object")
        return {"errors": [{"message": "A query attribute must be specified and must be a string."}]}, 0
    schema = github_schema()
    try:
        document = parse(query)
    except GraphQLError as exc:
        fake.problem(f"GraphQL query does not parse: {exc.message}")
        return {"errors": [{"message": exc.message}]}, 0
    invalid = validate(schema, document)
    if invalid:
        for err in invalid:
            fake.problem(f"GitHub would reject this query: {err.message}")
        return {"errors": [{"message": e.message, "locations": _locations(e)} for e in invalid]}, 0
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    cost = query_cost(document, variables, operation)
    root = _Root(fake, token, cost)
    result = execute(schema, document, root_value=root, variable_values=variables)
    out: dict[str, Any] = {}
    if result.errors:
        errors = []
        for err in result.errors:
            original = err.original_error
            if isinstance(original, GitHubError):
                errors.append(
                    {"type": original.kind, "path": err.path, "locations": _locations(err), "message": err.message}
                )
            else:
                fake.problem(f"the fake answered what GitHub could not: {err.message} at {err.path}")
                errors.append({"path": err.path, "locations": _locations(err), "message": err.message})
        out["errors"] = errors
    out["data"] = result.data
    return out, cost


def _locations(err: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in err.locations or []]


def _connection(
    typename: str, nodes: list[Any], first: int | None = None, last: int | None = None, after: str | None = None
) -> dict[str, Any]:
    """A page of ``nodes`` as GitHub pages a connection: cursors are opaque strings (``c<index>`` here),
    ``after`` starts past one, ``first``/``last`` cut the page (GitHub refuses pages over 100)."""
    total = len(nodes)
    start = 0
    if after is not None:
        if not (after.startswith("c") and after[1:].isdigit()):
            raise GitHubError("INVALID_CURSOR_ARGUMENTS", f"`{after}` does not appear to be a valid cursor.")
        start = int(after[1:]) + 1
    for size in (first, last):
        if size is not None and not 0 <= size <= 100:
            raise GitHubError("INVALID_ARGUMENTS", "Requesting more than 100 records on a connection is not allowed.")
    indexed = list(enumerate(nodes))[start:]
    if first is not None:
        indexed = indexed[:first]
    elif last is not None:
        indexed = indexed[-last:] if last else []
    return {
        "__typename": typename,
        "nodes": [n for _, n in indexed],
        "edges": [{"node": n, "cursor": f"c{i}"} for i, n in indexed],
        "totalCount": total,
        "pageInfo": {
            "hasNextPage": bool(indexed) and indexed[-1][0] < total - 1,
            "hasPreviousPage": bool(indexed) and indexed[0][0] > 0,
            "startCursor": f"c{indexed[0][0]}" if indexed else None,
            "endCursor": f"c{indexed[-1][0]}" if indexed else None,
        },
    }


def _actor(fake: FakeGitHub, login: str) -> dict[str, Any]:
    account = fake.users[login]
    if account.bot:
        return {"__typename": "Bot", "login": login.removesuffix("[bot]"), "id": f"BOT_{account.id}"}
    return {"__typename": "User", "login": login, "id": f"U_{account.id}"}


class _Root:
    """Root value: attributes resolve Query and Mutation fields (graphql-core calls them with args)."""

    def __init__(self, fake: FakeGitHub, token: str, cost: int) -> None:
        self.fake = fake
        self.token = token
        self.cost = cost

    # -- Query
    def repository(self, info: Any, owner: str, name: str, followRenames: bool = True) -> dict[str, Any]:
        repo = self.fake.visible_repo(self.token, owner, name)
        if repo is None:
            raise GitHubError("NOT_FOUND", f"Could not resolve to a Repository with the name '{owner}/{name}'.")
        return _repository(self.fake, repo)

    def rateLimit(self, info: Any, dryRun: bool = False) -> dict[str, Any]:
        bucket = self.fake.bucket(self.token, "graphql")
        remaining = max(0, bucket.remaining - self.cost)  # this query's cost is already spent
        return {
            "limit": bucket.limit,
            "remaining": remaining,
            "used": bucket.limit - remaining,
            "resetAt": iso(bucket.reset_at),
            "cost": self.cost,
            "nodeCount": 0,
        }

    def nodes(self, info: Any, ids: list[str]) -> list[dict[str, Any] | None]:
        return [self._node(i) for i in ids]

    def node(self, info: Any, id: str) -> dict[str, Any] | None:
        return self._node(id)

    def viewer(self, info: Any) -> dict[str, Any]:
        return _actor(self.fake, self.fake.tokens[self.token].login)

    def _node(self, node_id: str) -> dict[str, Any] | None:
        found = self.fake.find_node(node_id)
        if found is None:
            raise GitHubError("NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'")
        repo, obj = found
        from tests.helpers.fake_github import FakePR, FakeThread

        if isinstance(obj, FakeThread):
            return _thread(self.fake, repo, obj)
        if isinstance(obj, FakePR):
            return _pull_request(self.fake, repo, obj)
        return None

    # -- Mutation
    def addReaction(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        subject = str(input["subjectId"])
        content = str(input["content"])
        if not self.fake.add_reaction(subject, content, self.fake.tokens[self.token].login):
            raise GitHubError("NOT_FOUND", f"Could not resolve to a node with the global id of '{subject}'")
        return {"clientMutationId": input.get("clientMutationId"), "reaction": {"content": content, "id": "REA_1"}}

    def markPullRequestReadyForReview(self, info: Any, input: dict[str, Any]) -> dict[str, Any]:
        found = self.fake.find_node(str(input["pullRequestId"]))
        from tests.helpers.fake_github import FakePR

        if found is None or not isinstance(found[1], FakePR):
            raise GitHubError("NOT_FOUND", "Could not resolve to a PullRequest")
        repo, pr = found
        assert isinstance(pr, FakePR)
        pr.draft = False
        pr.touch(self.fake.now())
        return {"clientMutationId": input.get("clientMutationId"), "pullRequest": _pull_request(self.fake, repo, pr)}


def _repository(fake: FakeGitHub, repo: FakeRepo) -> dict[str, Any]:
    def pull_request(info: Any, number: int) -> dict[str, Any]:
        pr = repo.prs.get(number)
        if pr is None:
            raise GitHubError("NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}.")
        return _pull_request(fake, repo, pr)

    def pull_requests(
        info: Any,
        headRefName: str | None = None,
        baseRefName: str | None = None,
        states: list[str] | None = None,
        first: int | None = None,
        last: int | None = None,
        orderBy: dict[str, str] | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        prs = [
            p
            for p in repo.prs.values()
            if (headRefName is None or p.head == headRefName)
            and (baseRefName is None or p.base == baseRefName)
            and (states is None or p.graphql_state in states)
        ]
        prs.sort(key=lambda p: (p.created, p.number), reverse=bool(orderBy and orderBy.get("direction") == "DESC"))
        return _connection("PullRequestConnection", [_pull_request(fake, repo, p) for p in prs], first, last)

    def issue(info: Any, number: int) -> dict[str, Any]:
        found = repo.issues.get(number)
        if found is None:
            raise GitHubError("NOT_FOUND", f"Could not resolve to an Issue with the number of {number}.")
        return {
            "__typename": "Issue",
            "id": f"I_{found.id}",
            "number": found.number,
            "title": found.title,
            "state": found.state.upper(),
            "stateReason": "COMPLETED" if found.state == "closed" else None,
            "url": f"https://github.com/{repo.full_name}/issues/{found.number}",
        }

    def issue_or_pull_request(info: Any, number: int) -> dict[str, Any]:
        if number in repo.prs:
            return _pull_request(fake, repo, repo.prs[number])
        return issue(info, number)

    return {
        "__typename": "Repository",
        "id": f"R_{repo.id}",
        "issueOrPullRequest": issue_or_pull_request,
        "name": repo.name,
        "nameWithOwner": repo.full_name,
        "pullRequest": pull_request,
        "pullRequests": pull_requests,
        "issue": issue,
    }


def _pull_request(fake: FakeGitHub, repo: FakeRepo, pr: FakePR) -> dict[str, Any]:
    def rollup(info: Any) -> dict[str, Any] | None:
        runs = repo.latest_checks(pr.head_sha)
        statuses = repo.latest_statuses(pr.head_sha)
        if not runs and not statuses:
            return None
        required = set(repo.protection.get(pr.base, []))

        def is_required(name: str) -> Callable[..., bool]:
            return lambda info, pullRequestNumber=None, pullRequestId=None: name in required

        nodes: list[dict[str, Any]] = [
            {
                "__typename": "CheckRun",
                "id": f"CR_{run.id}",
                "databaseId": run.id,
                "name": run.name,
                "status": run.status.upper(),
                "conclusion": run.conclusion.upper() if run.conclusion else None,
                "detailsUrl": run.details_url,
                "isRequired": is_required(run.name),
            }
            for run in runs
        ] + [
            {
                "__typename": "StatusContext",
                "id": f"SC_{s.id}",
                "context": s.context,
                "state": s.state.upper(),
                "targetUrl": s.target_url,
                "description": s.description,
                "isRequired": is_required(s.context),
            }
            for s in statuses
        ]
        return {
            "__typename": "StatusCheckRollup",
            "id": f"SCR_{pr.id}",
            "state": repo.rollup_state(pr.head_sha),
            "contexts": lambda info, first=None, last=None, after=None, **_: _connection(
                "StatusCheckRollupContextConnection", nodes, first, last, after
            ),
        }

    def threads(info: Any, first: int | None = None, last: int | None = None, **_: Any) -> dict[str, Any]:
        return _connection(
            "PullRequestReviewThreadConnection", [_thread(fake, repo, t) for t in pr.threads], first, last
        )

    def review_node(r: Any) -> dict[str, Any]:
        return {
            "__typename": "PullRequestReview",
            "id": f"PRR_{r.id}",
            "state": r.state,
            "body": r.body,
            "url": f"https://github.com/{repo.full_name}/pull/{pr.number}#pullrequestreview-{r.id}",
            "createdAt": iso(r.created),
            "author": _actor(fake, r.author),
        }

    def latest_reviews(info: Any, first: int | None = None, last: int | None = None, **_: Any) -> dict[str, Any]:
        # each reviewer's latest review of any kind: a comment-only review replaces an approval here
        latest: dict[str, Any] = {}
        for r in pr.reviews:
            latest[r.author] = r
        nodes = [review_node(r) for r in latest.values()]
        return _connection("PullRequestReviewConnection", nodes, first, last)

    def latest_opinionated_reviews(
        info: Any, first: int | None = None, last: int | None = None, **_: Any
    ) -> dict[str, Any]:
        nodes = [review_node(r) for r in pr.opinionated_reviews()]
        return _connection("PullRequestReviewConnection", nodes, first, last)

    owner_is_org = fake.users[repo.owner].org
    return {
        "__typename": "PullRequest",
        "id": f"PR_{pr.id}",
        "number": pr.number,
        "url": f"https://github.com/{repo.full_name}/pull/{pr.number}",
        "title": pr.title,
        "state": pr.graphql_state,
        "isDraft": pr.draft,
        "headRefName": pr.head,
        "baseRefName": pr.base,
        "headRefOid": pr.head_sha,
        "updatedAt": iso(pr.updated),
        "createdAt": iso(pr.created),
        "mergeable": {True: "MERGEABLE", False: "CONFLICTING", None: "UNKNOWN"}[pr.mergeable],
        "reviewDecision": pr.review_decision(repo),
        "headRepositoryOwner": {
            "__typename": "Organization" if owner_is_org else "User",
            "login": repo.owner,
            "id": f"O_{repo.owner}",
        },
        "statusCheckRollup": rollup,
        "reviewThreads": threads,
        "latestReviews": latest_reviews,
        "latestOpinionatedReviews": latest_opinionated_reviews,
        "author": _actor(fake, pr.author),
    }


def _thread(fake: FakeGitHub, repo: FakeRepo, thread: Any) -> dict[str, Any]:
    pr = repo.prs[thread.pr_number]

    def comments(info: Any, first: int | None = None, last: int | None = None, **_: Any) -> dict[str, Any]:
        nodes = [
            {
                "__typename": "PullRequestReviewComment",
                "id": f"PRRC_{c.id}",
                "databaseId": c.id,
                "body": c.body,
                "url": f"https://github.com/{repo.full_name}/pull/{pr.number}#discussion_r{c.id}",
                "path": thread.path,
                "line": thread.line,
                "createdAt": iso(c.created),
                "author": _actor(fake, c.author),
            }
            for c in thread.comments
        ]
        return _connection("PullRequestReviewCommentConnection", nodes, first, last)

    return {
        "__typename": "PullRequestReviewThread",
        "id": f"PRRT_{thread.id}",
        "path": thread.path,
        "line": thread.line,
        "isResolved": thread.resolved,
        "isOutdated": thread.outdated,
        "comments": comments,
    }
