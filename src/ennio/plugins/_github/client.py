"""One authenticated GitHub client (githubkit over httpx) and the mapping of its failures to Ennio errors.

Shared by the GitHub SCM and tracker plugins. REST calls go through githubkit's typed methods
(responses parsed by its models, built from GitHub's OpenAPI description); GraphQL is posted
to ``graphql_url`` so GitHub Enterprise works when its GraphQL path is not derivable.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

import httpx
from githubkit import AppInstallationAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.exception import (
    GraphQLFailed,
    RateLimitExceeded,
    RequestError,
    RequestFailed,
    RequestTimeout,
)
from pydantic import SecretStr

from ennio.core.config import GitHubAppConfig
from ennio.core.errors import AuthError, EnnioError, InvalidInput, NotFound, PluginError, RateLimited
from ennio.core.plugins import RateBudget
from ennio.plugins._github.budget import RateTracker
from ennio.plugins._github.repo import RepoRef
from ennio.plugins._github.transport import GitHubTransport, RetryPolicy, Sleep

USER_AGENT = "ennio-orchestrator"
#: bytes read at a time from a streamed download
DOWNLOAD_CHUNK = 64 * 1024
DEFAULT_BASE_URL = "https://api.github.com"


def graphql_url_for(base_url: str) -> str:
    """GraphQL endpoint of a REST base URL (github.com, or GitHub Enterprise's ``/api/v3``)."""
    base = base_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/api/v3")] + "/api/graphql"
    return base + "/graphql"


@dataclass(slots=True)
class GraphQLResult:
    data: dict[str, Any]
    #: errors GitHub returned next to partial data (e.g. one aliased PR that does not exist)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cost(self) -> int:
        """GraphQL points the query cost (``rateLimit.cost`` when selected, else 1)."""
        rate = self.data.get("rateLimit")
        cost = rate.get("cost") if isinstance(rate, dict) else None
        return cost if isinstance(cost, int) else 1


class GitHubClient:
    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        graphql_url: str | None = None,
        token: SecretStr | None = None,
        app: GitHubAppConfig | None = None,
        reserve: int = 0,
        error: type[PluginError] = PluginError,
        retry: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float = 30.0,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise InvalidInput(f"GitHub base_url {base_url!r} is not an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.graphql_url = graphql_url or graphql_url_for(self.base_url)
        self.error = error
        self._uses_app = app is not None
        self._now = now
        host = urlsplit(self.base_url).netloc
        self.tracker = RateTracker(host, reserve)
        self.transport = GitHubTransport(self.tracker, retry=retry, sleep=sleep, now=now)
        self._gh: GitHub[Any] | None = None
        self._token = token
        self._app = app
        self._timeout = timeout

    @property
    def gh(self) -> GitHub[Any]:
        """The githubkit client (built on first use, so a missing token surfaces as AuthError there)."""
        if self._gh is None:
            auth: TokenAuthStrategy | AppInstallationAuthStrategy
            if self._app is not None:
                auth = AppInstallationAuthStrategy(
                    self._app.app_id,
                    self._app.private_key.get_secret_value(),
                    self._app.installation_id,
                )
            elif self._token is not None and self._token.get_secret_value():
                auth = TokenAuthStrategy(self._token.get_secret_value())
            else:
                raise AuthError(
                    "no GitHub token configured",
                    hint="set token: ${GITHUB_TOKEN} (or app:) under the project's scm/tracker config",
                )
            self._gh = GitHub(
                auth,
                base_url=self.base_url + "/",
                user_agent=USER_AGENT,
                timeout=self._timeout,
                async_transport=self.transport,
                http_cache=False,
                auto_retry=False,
            )
        return self._gh

    async def close(self) -> None:
        await self.transport.close()

    # ------------------------------------------------------------------ redirected downloads

    async def download_tail(self, path: str, what: str, repo: RepoRef | None, *, max_bytes: int) -> bytes | None:
        """The last ``max_bytes`` of a download GitHub answers with a redirect (an Actions job log: the API
        answers 302 to a short-lived storage URL); ``None`` when GitHub has none (expired, 404/410).

        The redirect is not followed by the API client: the storage URL is fetched on its own, without
        GitHub's credentials (it is signed; a token must never travel to a storage host), and streamed,
        keeping only the tail, so a log of any size costs ``max_bytes`` of memory.
        """
        try:
            async with self.errors(what, repo), self.gh.get_async_client() as client:
                first = await client.send(client.build_request("GET", path), follow_redirects=False)
                await first.aclose()
            if first.status_code in (404, 410):
                return None
            location = first.headers.get("location")
            if first.status_code not in (301, 302, 303, 307, 308) or not location:
                if first.status_code == 200:
                    return first.content[-max_bytes:]
                await self._raise_for(first, what, repo)
            target = first.url.join(location)
            async with (
                httpx.AsyncClient(timeout=self._timeout, follow_redirects=True) as storage,
                storage.stream("GET", target, headers={"User-Agent": USER_AGENT}) as response,
            ):
                if response.status_code in (403, 404, 410):
                    return None  # the signed URL expired meanwhile, or the log with it
                if response.status_code != 200:
                    raise self.error(f"the log storage answered {response.status_code} while {what}")
                tail = bytearray()
                async for chunk in response.aiter_bytes(DOWNLOAD_CHUNK):
                    tail += chunk
                    if len(tail) > max_bytes:
                        del tail[:-max_bytes]
                return bytes(tail)
        except httpx.TimeoutException:
            raise self.error(f"GitHub did not answer in time while {what}", hint="try again later") from None
        except httpx.HTTPError as exc:
            raise self.error(f"could not download from GitHub while {what}: {exc}") from None

    # ------------------------------------------------------------------ errors

    @contextlib.asynccontextmanager
    async def errors(self, what: str, repo: RepoRef | None = None) -> AsyncIterator[None]:
        """Turn githubkit/httpx failures inside the block into Ennio errors about ``what``."""
        try:
            yield
        except EnnioError:
            raise
        except RateLimitExceeded as exc:
            retry_at = self._now().timestamp() + exc.retry_after.total_seconds()
            raise RateLimited(f"GitHub rate limit reached while {what}", retry_at=retry_at) from None
        except RequestFailed as exc:
            await self._raise_for(exc.response.raw_response, what, repo)
        except RequestTimeout:
            raise self.error(f"GitHub did not answer in time while {what}", hint="try again later") from None
        except RequestError as exc:
            inner = exc.exc
            if isinstance(inner, EnnioError):
                raise inner from None
            if isinstance(inner, RequestFailed):  # failed inside the auth flow: the App's token request
                raw = inner.response.raw_response
                raise AuthError(
                    f"GitHub refused a GitHub App installation token ({raw.status_code}: {_message(raw)})",
                    hint="check app_id, installation_id and the private key; the app must be installed on the repo",
                ) from None
            raise self.error(
                f"could not reach GitHub at {self.base_url} while {what}: {inner}",
                hint="check the network and scm.base_url",
            ) from None
        except GraphQLFailed as exc:  # pragma: no cover - graphql() parses errors itself
            raise self.error(f"GitHub GraphQL failed while {what}: {exc}") from None

    async def _raise_for(self, response: httpx.Response, what: str, repo: RepoRef | None) -> NoReturn:
        status = response.status_code
        message = _message(response)
        if status == 401:
            if self._uses_app:
                raise AuthError(
                    f"GitHub rejected the GitHub App credentials while {what} ({message})",
                    hint="check app_id, installation_id and the private key; the app must be installed on the repo",
                )
            raise AuthError(
                f"GitHub rejected the token while {what} ({message}): it is wrong, expired or revoked",
                hint="create a new token and set it as the project's scm/tracker token",
            )
        if status == 403:
            missing = missing_scopes(response.headers)
            if missing is not None:
                needed, granted = missing
                raise AuthError(
                    f"GitHub token lacks the {' or '.join(repr(s) for s in needed)} scope needed for {what} "
                    f"(it has: {', '.join(granted) or 'no scopes'})",
                    hint="add that scope to the token (or use a fine-grained token with access to the repo)",
                )
            raise AuthError(
                f"GitHub denied {what}: {message}",
                hint="the token (or GitHub App) needs read/write access to this repository",
            )
        if status == 404:
            if repo is not None and not await self._repo_exists(repo):
                raise NotFound(
                    f"GitHub repository {repo.full_name} not found (or the token cannot see it)",
                    hint="check the repo in ennio.yaml; a private repo needs a token with access to it",
                )
            raise NotFound(f"GitHub: {what}: not found" + (f" in {repo.full_name}" if repo else ""))
        if status == 422:
            raise InvalidInput(f"GitHub refused {what}: {message}")
        if status == 409:
            raise self.error(f"GitHub refused {what}: {message}")
        if status >= 500:
            raise self.error(f"GitHub answered {status} while {what}", hint="GitHub is having trouble; try again later")
        raise self.error(f"GitHub answered {status} while {what}: {message}")

    async def _repo_exists(self, repo: RepoRef) -> bool:
        try:
            await self.gh.rest.repos.async_get(repo.owner, repo.name)
        except RequestFailed as exc:
            return exc.response.status_code != 404
        except Exception:
            return True  # unknown: do not claim the repo is missing
        return True

    # ------------------------------------------------------------------ budget

    async def probe_budget(self, repo: RepoRef) -> list[RateBudget]:
        """The core and GraphQL budgets from ``GET /rate_limit`` (which GitHub does not count), after
        proving the credentials work (``AuthError``) and that ``repo`` exists for them (``NotFound``)."""
        async with self.errors("reading the rate limit", repo):
            resp = await self.gh.rest.rate_limit.async_get()
        async with self.errors(f"reading the repository {repo.full_name}", repo):
            await self.gh.rest.repos.async_get(repo.owner, repo.name)
        resources = resp.parsed_data.resources
        found: list[RateBudget] = []
        for name in ("core", "graphql"):
            window = getattr(resources, name, None)
            if window is None or not hasattr(window, "remaining"):
                continue
            self.tracker.record(name, window.limit, window.remaining, datetime.fromtimestamp(window.reset, UTC))
            budget = self.tracker.budget(name)
            if budget is not None:
                found.append(budget)
        return found

    # ------------------------------------------------------------------ GraphQL

    async def graphql(
        self, query: str, variables: Mapping[str, Any], what: str, repo: RepoRef | None = None
    ) -> GraphQLResult:
        """Run a GraphQL query; raise for errors that void the whole answer, return the rest."""
        async with self.errors(what, repo):
            response = await self.gh.arequest(
                "POST", self.graphql_url, json={"query": query, "variables": dict(variables)}
            )
        try:
            body = response.json()
        except ValueError:
            raise self.error(f"GitHub GraphQL answered something that is not JSON while {what}") from None
        if not isinstance(body, dict):
            raise self.error(f"GitHub GraphQL answered an unexpected body while {what}")
        errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
        data = body.get("data")
        rate = data.get("rateLimit") if isinstance(data, dict) else None
        if isinstance(rate, dict):
            self.tracker.record_graphql(rate)
        self._raise_graphql(errors, data, what, repo, response.headers)
        assert isinstance(data, dict)
        return GraphQLResult(data, errors)

    def _raise_graphql(
        self,
        errors: Sequence[dict[str, Any]],
        data: object,
        what: str,
        repo: RepoRef | None,
        headers: httpx.Headers,
    ) -> None:
        for err in errors:
            kind = err.get("type")
            message = str(err.get("message", ""))
            if kind in ("RATE_LIMITED", "RATE_LIMIT"):
                reset = headers.get("x-ratelimit-reset")
                retry_at = float(reset) if reset and reset.isdigit() else self._now().timestamp() + 60
                raise RateLimited(f"GitHub GraphQL rate limit reached while {what}", retry_at=retry_at)
            if kind == "INSUFFICIENT_SCOPES":
                raise AuthError(f"GitHub token lacks a scope needed for {what}: {message}")
            if kind == "FORBIDDEN":
                raise AuthError(f"GitHub denied {what}: {message}")
            if kind == "NOT_FOUND" and err.get("path") == ["repository"]:
                name = repo.full_name if repo else "the repository"
                raise NotFound(
                    f"GitHub repository {name} not found (or the token cannot see it)",
                    hint="check the repo in ennio.yaml; a private repo needs a token with access to it",
                )
        if not isinstance(data, dict):
            first = errors[0].get("message") if errors else "no data"
            raise self.error(f"GitHub GraphQL failed while {what}: {first}")


def missing_scopes(headers: httpx.Headers) -> tuple[list[str], list[str]] | None:
    """(scopes the endpoint accepts, scopes the token has) when the token has none of the accepted ones."""
    accepted_raw = headers.get("x-accepted-oauth-scopes")
    granted_raw = headers.get("x-oauth-scopes")
    if accepted_raw is None or granted_raw is None:
        return None
    accepted = [s.strip() for s in accepted_raw.split(",") if s.strip()]
    granted = [s.strip() for s in granted_raw.split(",") if s.strip()]
    if not accepted or _covers(granted, accepted):
        return None
    return accepted, granted


def _covers(granted: Sequence[str], accepted: Sequence[str]) -> bool:
    # a parent scope grants its children: "repo" covers "repo:status", "admin:org" covers "read:org"
    for need in accepted:
        for have in granted:
            if (
                have == need
                or need.startswith(have + ":")
                or (have.startswith("admin:") and need.split(":")[-1] == have.split(":")[-1])
            ):
                return True
    return False


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or str(response.status_code)
    if isinstance(body, dict):
        message = str(body.get("message") or response.reason_phrase)
        details = body.get("errors")
        if isinstance(details, list) and details:
            parts = [str(d.get("message") or d.get("code") or d) if isinstance(d, dict) else str(d) for d in details]
            message += ": " + "; ".join(parts)
        return message
    return response.reason_phrase or str(response.status_code)
