"""The GitHub client against the fake forge: budget headers, ETags, backoff, auth and not-found errors."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from prometheus_client import REGISTRY
from pydantic import SecretStr

from ennio.core.config import GitHubAppConfig
from ennio.core.errors import AuthError, NotFound, RateLimited, SCMError
from ennio.plugins._github.client import GitHubClient, graphql_url_for
from ennio.plugins._github.repo import RepoRef
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, serve
from tests.plugins._github.conftest import RecordingSleep

WIDGETS = RepoRef("acme", "widgets")
RATE_QUERY = "query { rateLimit { limit remaining resetAt cost } }"


async def get_repo(client: GitHubClient, repo: RepoRef = WIDGETS) -> str:
    async with client.errors("reading the repo", repo):
        resp = await client.gh.rest.repos.async_get(repo.owner, repo.name)
    return resp.parsed_data.full_name


async def test_rest_rate_headers_feed_the_budget_and_the_gauge(
    github: FakeGitHub, make_client: Callable[..., GitHubClient]
) -> None:
    client = make_client()
    assert await get_repo(client) == REPO
    budget = client.tracker.budget("core")
    assert budget is not None and (budget.limit, budget.remaining) == (5000, 4999)
    assert budget.reset_at is not None and budget.reset_at.timestamp() > time.time()
    host = github.base.removeprefix("http://")
    assert REGISTRY.get_sample_value("ennio_github_rate_remaining", {"host": host, "resource": "core"}) == 4999


async def test_graphql_rate_limit_field_feeds_the_graphql_budget(make_client: Callable[..., GitHubClient]) -> None:
    client = make_client()
    result = await client.graphql(RATE_QUERY, {}, "reading the rate limit")
    assert result.cost == 1
    budget = client.tracker.budget("graphql")
    assert budget is not None and budget.remaining == 4999


async def test_etag_revalidation_is_answered_from_the_copy_and_not_counted(
    github: FakeGitHub, make_client: Callable[..., GitHubClient]
) -> None:
    client = make_client()
    await get_repo(client)
    assert await get_repo(client) == REPO
    assert await get_repo(client) == REPO
    assert [r.status for r in github.requests] == [200, 304, 304]
    assert github.count(counted_only=True) == 1
    assert client.tracker.counts.not_modified == 2
    budget = client.tracker.budget("core")
    assert budget is not None and budget.remaining == 4999


async def test_5xx_on_a_read_is_retried_with_growing_jittered_backoff(
    github: FakeGitHub, make_client: Callable[..., GitHubClient], sleeps: RecordingSleep
) -> None:
    client = make_client()
    github.fail_next(r"GET /repos/acme/widgets$", 502, times=2)
    assert await get_repo(client) == REPO
    assert [r.status for r in github.requests] == [502, 502, 200]
    first, second = sleeps.delays
    assert 0.5 <= first <= 1.0 and 1.0 <= second <= 2.0
    assert client.tracker.counts.retried == 2


async def test_5xx_that_persists_becomes_a_clear_error(
    github: FakeGitHub, make_client: Callable[..., GitHubClient], sleeps: RecordingSleep
) -> None:
    client = make_client()
    github.fail_next(r"GET /repos/acme/widgets$", 503, times=10)
    with pytest.raises(SCMError, match="GitHub answered 503 while reading the repo"):
        await get_repo(client)
    assert github.count() == 4 and len(sleeps.delays) == 3


async def test_a_write_is_not_retried_on_5xx(github: FakeGitHub, make_client: Callable[..., GitHubClient]) -> None:
    client = make_client()
    github.open_pr(REPO, "feat/1")
    github.fail_next(r"POST /repos/acme/widgets/issues/1/comments", 502)
    with pytest.raises(SCMError, match="502"):
        async with client.errors("commenting", WIDGETS):
            await client.gh.rest.issues.async_create_comment("acme", "widgets", 1, body="hi")
    assert github.count() == 1


async def test_429_waits_at_least_retry_after(
    github: FakeGitHub, make_client: Callable[..., GitHubClient], sleeps: RecordingSleep
) -> None:
    client = make_client()
    github.fail_next(r"GET /repos/acme/widgets$", 429, headers={"Retry-After": "3"}, body={"message": "slow down"})
    assert await get_repo(client) == REPO
    assert len(sleeps.delays) == 1 and 3 <= sleeps.delays[0] <= 4


async def test_secondary_rate_limit_without_retry_after_waits_a_minute(
    github: FakeGitHub, make_client: Callable[..., GitHubClient], sleeps: RecordingSleep
) -> None:
    client = make_client()
    message = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    github.fail_next(r"POST /graphql", 403, body=message)
    result = await client.graphql(RATE_QUERY, {}, "reading the rate limit")
    assert result.cost == 1
    assert 60 <= sleeps.delays[0] <= 61


async def test_a_retry_after_longer_than_we_wait_in_place_raises_rate_limited(
    github: FakeGitHub, make_client: Callable[..., GitHubClient], sleeps: RecordingSleep
) -> None:
    client = make_client()
    github.fail_next(r"GET /repos/acme/widgets$", 403, headers={"Retry-After": "600"}, body={"message": "secondary"})
    with pytest.raises(RateLimited) as caught:
        await get_repo(client)
    assert caught.value.retry_at is not None and caught.value.retry_at >= time.time() + 590
    assert sleeps.delays == []


async def test_spent_primary_budget_raises_until_reset_without_calling_github(
    github: FakeGitHub, make_client: Callable[..., GitHubClient]
) -> None:
    client = make_client()
    github.set_budget(TOKEN, "core", 0, reset_in=900)
    with pytest.raises(RateLimited, match="core rate limit") as caught:
        await get_repo(client)
    assert caught.value.retry_at is not None and 880 < caught.value.retry_at - time.time() <= 901
    with pytest.raises(RateLimited):
        await get_repo(client)
    assert github.count() == 1  # the second call knew the budget was spent


async def test_bad_token_is_an_auth_error_naming_github(
    github: FakeGitHub, make_client: Callable[..., GitHubClient]
) -> None:
    client = make_client(token=SecretStr("ghp_wrong"))
    with pytest.raises(AuthError, match=r"GitHub rejected the token .*Bad credentials.*expired"):
        await get_repo(client)
    with pytest.raises(AuthError, match="GitHub rejected the token"):
        await client.graphql(RATE_QUERY, {}, "reading the rate limit")


async def test_no_token_is_an_auth_error(make_client: Callable[..., GitHubClient]) -> None:
    client = make_client(token=None)
    with pytest.raises(AuthError, match="no GitHub token configured"):
        await get_repo(client)


async def test_missing_scope_is_named(github: FakeGitHub, make_client: Callable[..., GitHubClient]) -> None:
    github.add_repo("acme/public", private=False)
    github.open_pr("acme/public", "feat/1")
    github.add_token("ghp_readorg", scopes=("read:org", "gist"))
    client = make_client(token=SecretStr("ghp_readorg"))
    with pytest.raises(AuthError, match=r"lacks the 'repo' scope needed for commenting \(it has: read:org, gist\)"):
        async with client.errors("commenting", RepoRef("acme", "public")):
            await client.gh.rest.issues.async_create_comment("acme", "public", 1, body="hi")


async def test_repo_that_does_not_exist_is_not_found_naming_it(make_client: Callable[..., GitHubClient]) -> None:
    client = make_client()
    missing = RepoRef("acme", "nope")
    with pytest.raises(NotFound, match="GitHub repository acme/nope not found"):
        async with client.errors("reading PR #3", missing):
            await client.gh.rest.pulls.async_get("acme", "nope", 3)
    query = "query($o: String!, $n: String!) { repository(owner: $o, name: $n) { id } }"
    with pytest.raises(NotFound, match="GitHub repository acme/nope not found"):
        await client.graphql(query, {"o": "acme", "n": "nope"}, "reading the repo", missing)


async def test_missing_item_in_an_existing_repo_is_not_found_naming_the_item(
    make_client: Callable[..., GitHubClient],
) -> None:
    client = make_client()
    with pytest.raises(NotFound, match=r"reading PR #77: not found in acme/widgets"):
        async with client.errors("reading PR #77", WIDGETS):
            await client.gh.rest.pulls.async_get("acme", "widgets", 77)


def test_graphql_url_for_github_and_enterprise() -> None:
    assert graphql_url_for("https://api.github.com") == "https://api.github.com/graphql"
    assert graphql_url_for("https://ghe.corp/api/v3/") == "https://ghe.corp/api/graphql"


async def test_github_enterprise_paths(make_client: Callable[..., GitHubClient]) -> None:
    ghe = FakeGitHub(prefix="/api/v3")
    ghe.add_token(TOKEN)
    ghe.add_repo(REPO)
    with serve(ghe) as base:
        client = make_client(base_url=base)
        assert await get_repo(client) == REPO
        await client.graphql(RATE_QUERY, {}, "reading the rate limit")
    assert [(r.method, r.path) for r in ghe.requests] == [("GET", "/repos/acme/widgets"), ("POST", "/graphql")]
    assert not ghe.problems


async def test_github_app_installation_token(github: FakeGitHub, make_client: Callable[..., GitHubClient]) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    github.add_app(4242, 99, public)
    client = make_client(token=None, app=GitHubAppConfig(app_id=4242, installation_id=99, private_key=SecretStr(pem)))
    assert await get_repo(client) == REPO
    assert await get_repo(client) == REPO
    paths = [r.path for r in github.requests]
    assert paths.count("/app/installations/99/access_tokens") == 1  # the installation token is cached
    wrong = make_client(token=None, app=GitHubAppConfig(app_id=4242, installation_id=7, private_key=SecretStr(pem)))
    with pytest.raises(AuthError, match="GitHub refused a GitHub App installation token"):
        await get_repo(wrong)
