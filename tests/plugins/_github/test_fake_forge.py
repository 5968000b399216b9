"""The fake forge itself refuses what GitHub would refuse: otherwise the other tests prove nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from githubkit_schemas.latest import models as gm
from graphql import OperationDefinitionNode, parse

from ennio.plugins._github.client import GitHubClient
from tests.helpers import fake_github_payloads as pl
from tests.helpers.fake_github import FakeGitHub
from tests.helpers.fake_github_graphql import query_cost


async def test_a_query_github_would_reject_is_recorded(
    github: FakeGitHub, make_client: Callable[..., GitHubClient]
) -> None:
    client = make_client()
    bad = 'query { repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { ciStatus } } }'
    with pytest.raises(Exception, match="ciStatus"):
        await client.graphql(bad, {}, "asking for a field GitHub does not have")
    assert any("Cannot query field 'ciStatus'" in p for p in github.problems)
    github.problems.clear()


async def test_an_answer_github_could_not_give_is_recorded(
    github: FakeGitHub, make_client: Callable[..., GitHubClient]
) -> None:
    pr = github.open_pr("acme/widgets", "feat/1")
    github.repo("acme/widgets").prs[pr.number].title = None  # type: ignore[assignment]  # title is String!
    client = make_client()
    query = 'query { repository(owner: "acme", name: "widgets") { pullRequest(number: 1) { title } } }'
    await client.graphql(query, {}, "reading a broken PR")
    assert any("non-nullable field PullRequest.title" in p for p in github.problems)
    github.problems.clear()


def test_an_impossible_rest_payload_is_refused() -> None:
    urls = pl.Urls("http://127.0.0.1:1")
    user = pl.user(urls, "octocat", 1)
    pl.checked(gm.SimpleUser, user)
    with pytest.raises(pl.ImpossiblePayload):
        pl.checked(gm.SimpleUser, {**user, "id": "not a number"})
    with pytest.raises(pl.ImpossiblePayload):
        pl.checked(gm.SimpleUser, {k: v for k, v in user.items() if k != "login"})


def test_query_cost_follows_githubs_connection_arithmetic() -> None:
    source = """query($n: Int!) { repository(owner: "a", name: "b") {
      pullRequests(first: 100) { nodes { reviewThreads(first: 50) { nodes { comments(first: 10) { nodes { id } } } } } }
      pullRequest(number: $n) { reviewThreads(first: 100) { nodes { id } } }
    } }"""
    document = parse(source)
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    # 1 (pullRequests) + 100 (reviewThreads per PR) + 5000 (comments per thread) + 1 → 5102 / 100
    assert query_cost(document, {"n": 1}, operation) == 52
