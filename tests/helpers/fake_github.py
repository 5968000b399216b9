"""A stateful fake GitHub on 127.0.0.1: REST (payloads checked by githubkit's models) and GraphQL
(validated and executed against GitHub's real schema), with tokens and scopes, rate-limit buckets
and headers, ETags and 304s, injected failures and added latency.

Tests and the benchmark build scenarios by calling the ``FakeGitHub`` methods (add a repo, open a
PR, add checks, reviews, threads, branch protection …) and read ``requests`` to count traffic.
Anything the fake had to serve that GitHub could not (an invalid payload, a query the schema
rejects, a non-null field left null) lands in ``problems``; the fixtures fail the test on it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import pytest
import uvicorn
from githubkit_schemas.latest import models as gm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.helpers import fake_github_payloads as pl
from tests.helpers.fake_github_graphql import run_query
from tests.helpers.wait import wait_for

RATE_LIMIT = 5000


# --------------------------------------------------------------------------- state


@dataclass
class Account:
    login: str
    id: int
    bot: bool = False
    org: bool = False


@dataclass
class Token:
    login: str
    #: classic token scopes; None for fine-grained and installation tokens (no scope headers)
    scopes: tuple[str, ...] | None = ("repo",)
    expired: bool = False


@dataclass
class Bucket:
    limit: int
    remaining: int
    reset_at: datetime


@dataclass
class FakeComment:
    id: int
    author: str
    body: str
    created: datetime
    reactions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class FakeThread:
    id: int
    pr_number: int
    path: str
    line: int | None
    comments: list[FakeComment]
    resolved: bool = False
    outdated: bool = False


@dataclass
class FakeReview:
    id: int
    author: str
    state: str  # APPROVED / CHANGES_REQUESTED / COMMENTED
    body: str
    commit: str
    created: datetime
    reactions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class FakeCheck:
    id: int
    name: str
    head_sha: str
    status: str  # queued / in_progress / completed
    conclusion: str | None
    app: str = "github-actions"
    details_url: str | None = None
    output: dict[str, str | None] = field(default_factory=dict)
    log: str = ""
    started: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class FakeStatus:
    id: int
    sha: str
    context: str
    state: str  # success / failure / error / pending
    target_url: str | None = None
    description: str | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class FakePR:
    id: int
    number: int
    title: str
    body: str
    head: str
    base: str
    head_sha: str
    author: str
    created: datetime
    updated: datetime
    state: str = "open"
    draft: bool = False
    merged: bool = False
    merged_at: datetime | None = None
    merge_sha: str | None = None
    closed_at: datetime | None = None
    mergeable: bool | None = True
    reviews: list[FakeReview] = field(default_factory=list)
    threads: list[FakeThread] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)

    @property
    def graphql_state(self) -> str:
        return "MERGED" if self.merged else self.state.upper()

    def touch(self, now: datetime) -> None:
        self.updated = max(now, self.updated + timedelta(seconds=1))

    def opinionated_reviews(self) -> list[FakeReview]:
        """Each reviewer's latest review that approves, requests changes or was dismissed (a later
        comment-only review does not replace it): GitHub's ``latestOpinionatedReviews``."""
        latest: dict[str, FakeReview] = {}
        for r in self.reviews:
            if r.state in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
                latest[r.author] = r
        return list(latest.values())

    def review_decision(self, repo: FakeRepo) -> str | None:
        """GitHub's ``reviewDecision``: null unless a rule on the base branch requires reviews (the common
        case for small and personal repositories), whatever reviews the PR has."""
        if self.base not in repo.reviews_required:
            return None
        states = {r.state for r in self.opinionated_reviews() if r.author != self.author}
        if "CHANGES_REQUESTED" in states:
            return "CHANGES_REQUESTED"
        if "APPROVED" in states:
            return "APPROVED"
        return "REVIEW_REQUIRED"


@dataclass
class FakeIssue:
    id: int
    number: int
    title: str
    body: str
    author: str
    created: datetime
    updated: datetime
    state: str = "open"
    labels: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    milestone: int | None = None
    closed_at: datetime | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class FakeRepo:
    id: int
    owner: str
    name: str
    private: bool = True
    default_branch: str = "main"
    prs: dict[int, FakePR] = field(default_factory=dict)
    issues: dict[int, FakeIssue] = field(default_factory=dict)
    checks: list[FakeCheck] = field(default_factory=list)
    statuses: list[FakeStatus] = field(default_factory=list)
    #: base branch -> required status check contexts
    protection: dict[str, list[str]] = field(default_factory=dict)
    reviews_required: set[str] = field(default_factory=set)
    milestones: dict[int, str] = field(default_factory=dict)
    next_number: int = 1
    #: a real (bare) git repository behind this one: PR heads are its branch heads (see ``link_git``)
    git_dir: Path | None = None

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def latest_checks(self, sha: str) -> list[FakeCheck]:
        latest: dict[str, FakeCheck] = {}
        for c in self.checks:
            if c.head_sha == sha:
                latest[c.name] = c
        return list(latest.values())

    def latest_statuses(self, sha: str) -> list[FakeStatus]:
        latest: dict[str, FakeStatus] = {}
        for s in self.statuses:
            if s.sha == sha:
                latest[s.context] = s
        return list(latest.values())

    def rollup_state(self, sha: str) -> str:
        states = [
            "PENDING"
            if c.status != "completed"
            else ("FAILURE" if c.conclusion in ("failure", "timed_out", "cancelled") else "SUCCESS")
            for c in self.latest_checks(sha)
        ] + [s.state.upper() for s in self.latest_statuses(sha)]
        if any(s in ("FAILURE", "ERROR") for s in states):
            return "FAILURE"
        if any(s == "PENDING" for s in states):
            return "PENDING"
        return "SUCCESS"


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Logged:
    method: str
    path: str
    status: int
    resource: str
    counted: bool


class FakeGitHub:
    def __init__(self, *, latency: float = 0.0, prefix: str = "") -> None:
        self.lock = threading.RLock()
        self.latency = latency
        #: REST path prefix ("/api/v3" for GitHub Enterprise; its GraphQL is then /api/graphql)
        self.prefix = prefix
        self.base = ""
        self.users: dict[str, Account] = {}
        self.tokens: dict[str, Token] = {}
        self.apps: dict[int, tuple[str, int]] = {}  # app id -> (public key PEM, installation id)
        self.repos: dict[str, FakeRepo] = {}
        self.buckets: dict[tuple[str, str], Bucket] = {}
        self.faults: list[Fault] = []
        self.requests: list[Logged] = []
        #: the Authorization header (None: none) each download of a job log from storage carried
        self.log_downloads: list[str | None] = []
        self.problems: list[str] = []
        self.clock_offset = timedelta()
        self._ids = itertools.count(1000)
        self._node_index: dict[str, tuple[FakeRepo, Any]] = {}

    # ------------------------------------------------------------------ set-up

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.clock_offset

    def next_id(self) -> int:
        return next(self._ids)

    def problem(self, text: str) -> None:
        self.problems.append(text)

    def user(self, login: str, *, bot: bool = False, org: bool = False) -> Account:
        with self.lock:
            if login not in self.users:
                self.users[login] = Account(login, self.next_id(), bot=bot, org=org)
            return self.users[login]

    def add_token(self, token: str, login: str = "ennio-bot", scopes: tuple[str, ...] | None = ("repo",)) -> None:
        with self.lock:
            self.user(login)
            self.tokens[token] = Token(login, scopes)

    def add_app(self, app_id: int, installation_id: int, public_key_pem: str) -> None:
        with self.lock:
            self.apps[app_id] = (public_key_pem, installation_id)

    def add_repo(self, full_name: str, *, private: bool = True, default_branch: str = "main") -> FakeRepo:
        owner, name = full_name.split("/")
        with self.lock:
            self.user(owner, org=True)
            repo = FakeRepo(self.next_id(), owner, name, private=private, default_branch=default_branch)
            self.repos[full_name.lower()] = repo
            return repo

    def repo(self, full_name: str) -> FakeRepo:
        return self.repos[full_name.lower()]

    def link_git(self, full_name: str, git_dir: Path) -> None:
        """Back ``full_name`` with a real git repository (the bare remote Ennio pushes to): a new PR's head is
        its branch's head there (GitHub refuses a PR for a branch that was not pushed), and an open PR's head
        follows every push, as on GitHub."""
        with self.lock:
            self.repo(full_name).git_dir = git_dir

    def git_heads(self, repo: FakeRepo) -> dict[str, str]:
        if repo.git_dir is None:
            return {}
        out = subprocess.run(
            [
                "git",
                "--git-dir",
                str(repo.git_dir),
                "for-each-ref",
                "--format=%(refname:short) %(objectname)",
                "refs/heads",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)

    def _sync_git(self) -> None:
        for repo in self.repos.values():
            if repo.git_dir is None:
                continue
            heads = self.git_heads(repo)
            for pr in repo.prs.values():
                sha = heads.get(pr.head)
                if pr.state == "open" and sha is not None and sha != pr.head_sha:
                    pr.head_sha = sha
                    pr.touch(self.now())

    def bucket(self, token: str, resource: str) -> Bucket:
        key = (token, resource)
        now = self.now()
        bucket = self.buckets.get(key)
        if bucket is None or bucket.reset_at <= now:
            bucket = Bucket(RATE_LIMIT, RATE_LIMIT, now + timedelta(hours=1))
            self.buckets[key] = bucket
        return bucket

    def set_budget(self, token: str, resource: str, remaining: int, reset_in: float = 3600) -> None:
        with self.lock:
            self.buckets[(token, resource)] = Bucket(RATE_LIMIT, remaining, self.now() + timedelta(seconds=reset_in))

    def fail_next(
        self,
        pattern: str,
        status: int,
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        """The next ``times`` requests whose "METHOD /path" matches ``pattern`` get ``status``."""
        with self.lock:
            self.faults.append(
                Fault(re.compile(pattern), status, times, headers or {}, body or {"message": "Server Error"})
            )

    def open_pr(
        self,
        full_name: str,
        head: str,
        *,
        base: str = "main",
        title: str | None = None,
        body: str = "",
        draft: bool = False,
        author: str = "ennio-bot",
        sha: str | None = None,
    ) -> FakePR:
        with self.lock:
            repo = self.repo(full_name)
            self.user(author)
            number = repo.next_number
            repo.next_number += 1
            now = self.now()
            pr = FakePR(
                id=self.next_id(),
                number=number,
                title=title or f"Work on {head}",
                body=body,
                head=head,
                base=base,
                head_sha=sha or _sha(f"{full_name}:{head}:{number}"),
                author=author,
                created=now,
                updated=now,
                draft=draft,
            )
            repo.prs[number] = pr
            self._node_index[f"PR_{pr.id}"] = (repo, pr)
            return pr

    def push_commit(self, full_name: str, number: int) -> str:
        """A new head commit on the PR (its checks and statuses start empty)."""
        with self.lock:
            pr = self.repo(full_name).prs[number]
            pr.head_sha = _sha(f"{pr.head_sha}+")
            pr.touch(self.now())
            return pr.head_sha

    def add_check(
        self,
        full_name: str,
        sha: str,
        name: str,
        *,
        conclusion: str | None = "success",
        status: str = "completed",
        app: str = "github-actions",
        log: str = "",
        output: dict[str, str | None] | None = None,
    ) -> FakeCheck:
        with self.lock:
            repo = self.repo(full_name)
            cid = self.next_id()
            check = FakeCheck(
                id=cid,
                name=name,
                head_sha=sha,
                status=status,
                conclusion=conclusion if status == "completed" else None,
                app=app,
                details_url=f"https://github.com/{repo.full_name}/actions/runs/{cid}/job/{cid}",
                output=output or {"title": None, "summary": None, "text": None},
                log=log,
                started=self.now(),
            )
            repo.checks.append(check)
            return check

    def add_status(
        self, full_name: str, sha: str, context: str, state: str, *, description: str | None = None
    ) -> FakeStatus:
        with self.lock:
            repo = self.repo(full_name)
            status = FakeStatus(
                self.next_id(), sha, context, state, f"https://ci.example/{context}", description, self.now()
            )
            repo.statuses.append(status)
            return status

    def protect(self, full_name: str, branch: str, required: list[str], *, reviews: bool = False) -> None:
        with self.lock:
            repo = self.repo(full_name)
            repo.protection[branch] = list(required)
            if reviews:
                repo.reviews_required.add(branch)

    def add_review(self, full_name: str, number: int, author: str, state: str, body: str = "") -> FakeReview:
        with self.lock:
            repo = self.repo(full_name)
            pr = repo.prs[number]
            self.user(author)
            review = FakeReview(self.next_id(), author, state, body, pr.head_sha, self.now())
            pr.reviews.append(review)
            pr.touch(self.now())
            self._node_index[f"PRR_{review.id}"] = (repo, review)
            return review

    def dismiss_review(self, full_name: str, number: int, review: FakeReview) -> None:
        """A maintainer dismissed ``review``: GitHub keeps it, in state DISMISSED, and it no longer counts."""
        with self.lock:
            review.state = "DISMISSED"
            self.repo(full_name).prs[number].touch(self.now())

    def add_thread(
        self,
        full_name: str,
        number: int,
        author: str,
        body: str,
        *,
        path: str = "src/app.py",
        line: int | None = 3,
        bot: bool = False,
    ) -> FakeThread:
        with self.lock:
            repo = self.repo(full_name)
            pr = repo.prs[number]
            self.user(author, bot=bot)
            comment = FakeComment(self.next_id(), author, body, self.now())
            thread = FakeThread(self.next_id(), number, path, line, [comment])
            pr.threads.append(thread)
            pr.touch(self.now())
            self._node_index[f"PRRT_{thread.id}"] = (repo, thread)
            self._node_index[f"PRRC_{comment.id}"] = (repo, comment)
            return thread

    def reply(self, full_name: str, number: int, thread: FakeThread, author: str, body: str) -> FakeComment:
        with self.lock:
            repo = self.repo(full_name)
            self.user(author)
            comment = FakeComment(self.next_id(), author, body, self.now())
            thread.comments.append(comment)
            repo.prs[number].touch(self.now())
            self._node_index[f"PRRC_{comment.id}"] = (repo, comment)
            return comment

    def add_issue(
        self,
        full_name: str,
        title: str,
        body: str = "",
        *,
        labels: list[str] | None = None,
        assignees: list[str] | None = None,
        milestone: str | None = None,
        state: str = "open",
        author: str = "octocat",
    ) -> FakeIssue:
        with self.lock:
            repo = self.repo(full_name)
            self.user(author)
            for a in assignees or []:
                self.user(a)
            number = repo.next_number
            repo.next_number += 1
            ms: int | None = None
            if milestone is not None:
                ms = next((n for n, t in repo.milestones.items() if t == milestone), None)
                if ms is None:
                    ms = len(repo.milestones) + 1
                    repo.milestones[ms] = milestone
            now = self.now()
            found = FakeIssue(
                self.next_id(),
                number,
                title,
                body,
                author,
                now,
                now,
                state,
                list(labels or []),
                list(assignees or []),
                ms,
                now if state == "closed" else None,
            )
            repo.issues[number] = found
            return found

    def find_node(self, node_id: str) -> tuple[FakeRepo, Any] | None:
        return self._node_index.get(node_id)

    def add_reaction(self, node_id: str, content: str, login: str) -> bool:
        found = self._node_index.get(node_id)
        if found is None or not isinstance(found[1], FakeComment | FakeReview):
            return False
        found[1].reactions.append((content, login))
        return True

    def visible_repo(self, token: str, owner: str, name: str) -> FakeRepo | None:
        repo = self.repos.get(f"{owner}/{name}".lower())
        if repo is None:
            return None
        scopes = self.tokens[token].scopes
        if repo.private and scopes is not None and "repo" not in scopes:
            return None
        return repo

    # ------------------------------------------------------------------ traffic

    def count(self, *, resource: str | None = None, path: str | None = None, counted_only: bool = False) -> int:
        with self.lock:
            return sum(
                1
                for r in self.requests
                if (resource is None or r.resource == resource)
                and (path is None or re.search(path, f"{r.method} {r.path}"))
                and (not counted_only or r.counted)
            )

    def reset_log(self) -> None:
        with self.lock:
            self.requests.clear()

    # ------------------------------------------------------------------ HTTP

    def app(self) -> Starlette:
        async def handle(request: Request) -> Response:
            if self.latency:
                await asyncio.sleep(self.latency)
            body = await request.body()
            with self.lock:
                try:
                    return self._handle(request, body)
                except pl.ImpossiblePayload as exc:
                    self.problem(str(exc))
                    return _json(500, {"message": f"fake GitHub built an impossible payload: {exc}"})

        return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])

    def _handle(self, request: Request, body: bytes) -> Response:
        method = request.method
        path = request.url.path
        if self.prefix and path.startswith(self.prefix + "/"):
            path = path[len(self.prefix) :]
        elif self.prefix and path == "/api/graphql":
            path = "/graphql"
        resource = "graphql" if path == "/graphql" else "core"
        query = {k: v[-1] for k, v in parse_qs(request.url.query).items()}

        def log(response: Response, counted: bool) -> Response:
            self.requests.append(Logged(method, path, response.status_code, resource, counted))
            return response

        for fault in self.faults:
            if fault.times > 0 and fault.pattern.search(f"{method} {path}"):
                fault.times -= 1
                return log(_json(fault.status, fault.body, fault.headers), False)
        if path == "/_fake/stats":
            stats = {
                "requests": len(self.requests),
                "counted": sum(r.counted for r in self.requests),
                "problems": self.problems,
            }
            return _json(200, stats)
        if path.startswith("/_fake/logs/"):
            # the signed storage URL a job log redirects to (another host on GitHub): no token needed
            self.log_downloads.append(request.headers.get("authorization"))
            check = self._check_by_id(int(path.rsplit("/", 1)[1]))
            if check is None:
                return log(Response("BlobNotFound", status_code=404, media_type="text/plain"), False)
            return log(StreamingResponse(_chunks(check.log.encode()), media_type="text/plain"), False)
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", path)
        if m and method == "POST":
            return log(self._installation_token(request, int(m.group(1))), False)

        token = _token_of(request.headers.get("authorization", ""))
        account = self.tokens.get(token or "")
        if token is None or account is None or account.expired:
            return log(
                _json(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}), False
            )
        self._sync_git()
        scope_headers = _scope_headers(account)
        if path == "/rate_limit" and method == "GET":
            # GitHub answers this even with the budget spent, and does not count it
            return log(_json(200, self._rate_limit(token), scope_headers), False)
        bucket = self.bucket(token, resource)
        if bucket.remaining <= 0:
            headers = {**_rate_headers(bucket, resource), **scope_headers}
            message = f"API rate limit exceeded for user ID {self.users[account.login].id}."
            return log(
                _json(403, {"message": message, "documentation_url": "https://docs.github.com/rest"}, headers), False
            )

        if resource == "graphql":
            try:
                payload = json.loads(body or b"{}")
            except ValueError:
                return log(_json(400, {"message": "Problems parsing JSON"}), False)
            answer, cost = run_query(self, token, payload)
            bucket.remaining = max(0, bucket.remaining - cost)
            return log(_json(200, answer, {**_rate_headers(bucket, resource), **scope_headers}), True)

        status, payload, extra = self._rest(method, path, query, body, token, account)
        headers = {**_rate_headers(bucket, resource), **scope_headers, **extra}
        if method == "GET" and status == 200 and not isinstance(payload, str):
            raw = json.dumps(payload, sort_keys=True).encode()
            etag = 'W/"' + hashlib.sha256(raw).hexdigest()[:32] + '"'
            headers["ETag"] = etag
            if request.headers.get("if-none-match") == etag:
                # conditional request answered 304: GitHub does not count it against the budget
                return log(Response(status_code=304, headers=headers), False)
        bucket.remaining = max(0, bucket.remaining - 1)
        headers.update(_rate_headers(bucket, resource))
        if status in (301, 302):
            return log(Response(status_code=status, headers=headers), True)
        if isinstance(payload, str):
            return log(Response(payload, status_code=status, headers=headers, media_type="text/plain"), True)
        return log(_json(status, payload, headers), True)

    def _rate_limit(self, token: str) -> dict[str, Any]:
        resources = {}
        for resource in ("core", "graphql", "search"):
            bucket = self.bucket(token, resource)
            resources[resource] = {
                "limit": bucket.limit,
                "remaining": bucket.remaining,
                "reset": int(bucket.reset_at.timestamp()),
                "used": bucket.limit - bucket.remaining,
            }
        return pl.checked(gm.RateLimitOverview, {"resources": resources, "rate": resources["core"]})

    def _installation_token(self, request: Request, installation_id: int) -> Response:
        raw = _token_of(request.headers.get("authorization", "")) or ""
        try:
            unverified = jwt.decode(raw, options={"verify_signature": False})
            app_id = int(unverified["iss"])
            public_key, installation = self.apps[app_id]
            jwt.decode(raw, public_key, algorithms=["RS256"])
        except Exception:
            return _json(401, {"message": "A JSON web token could not be decoded"})
        if installation != installation_id:
            return _json(404, {"message": "Not Found"})
        token = "ghs_" + hashlib.sha256(f"{app_id}:{installation_id}:{time.time()}".encode()).hexdigest()[:36]
        self.add_token(token, login=f"ennio-app-{app_id}[bot]", scopes=None)
        self.users[f"ennio-app-{app_id}[bot]"].bot = True
        payload = {
            "token": token,
            "expires_at": (self.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "permissions": {"pull_requests": "write", "checks": "read", "contents": "write", "issues": "write"},
            "repository_selection": "all",
        }
        return _json(201, pl.checked(gm.InstallationToken, payload))

    def _check_by_id(self, cid: int) -> FakeCheck | None:
        for repo in self.repos.values():
            for c in repo.checks:
                if c.id == cid:
                    return c
        return None

    # ------------------------------------------------------------------ REST routes

    def _rest(
        self, method: str, path: str, query: dict[str, str], body: bytes, token: str, account: Token
    ) -> tuple[int, Any, dict[str, str]]:
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if not m:
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}
        repo = self.visible_repo(token, m.group(1), m.group(2))
        if repo is None:
            return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}
        if method != "GET" and account.scopes is not None and "repo" not in account.scopes:
            return (
                403,
                {"message": "Resource not accessible by personal access token"},
                {"X-Accepted-OAuth-Scopes": "repo"},
            )
        data = json.loads(body) if body else {}
        rest = m.group(3) or ""
        urls = pl.Urls(self.base + self.prefix)
        routes: list[tuple[str, str, Callable[..., tuple[int, Any, dict[str, str]]]]] = [
            ("GET", r"", self._get_repo),
            ("GET", r"/pulls", self._list_pulls),
            ("POST", r"/pulls", self._create_pull),
            ("GET", r"/pulls/(\d+)", self._get_pull),
            ("PATCH", r"/pulls/(\d+)", self._update_pull),
            ("PUT", r"/pulls/(\d+)/merge", self._merge_pull),
            ("GET", r"/pulls/(\d+)/reviews", self._list_reviews),
            ("GET", r"/pulls/(\d+)/comments", self._list_review_comments),
            ("GET", r"/commits/([^/]+)/check-runs", self._list_check_runs),
            ("GET", r"/commits/([^/]+)/status", self._combined_status),
            ("GET", r"/actions/jobs/(\d+)/logs", self._job_logs),
            ("GET", r"/issues", self._list_issues),
            ("POST", r"/issues", self._create_issue),
            ("GET", r"/issues/(\d+)", self._get_issue),
            ("PATCH", r"/issues/(\d+)", self._update_issue),
            ("POST", r"/issues/(\d+)/comments", self._create_comment),
            ("GET", r"/milestones", self._list_milestones),
        ]
        for verb, pattern, handler in routes:
            hit = re.fullmatch(pattern, rest)
            if verb == method and hit:
                return handler(urls, repo, query, data, *hit.groups())
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}

    def _repo_payload(self, urls: pl.Urls, repo: FakeRepo) -> dict[str, Any]:
        owner = self.users[repo.owner]
        return pl.repository(
            urls,
            pl.user(urls, owner.login, owner.id) | {"type": "Organization" if owner.org else "User"},
            repo.name,
            repo.id,
            private=repo.private,
            default_branch=repo.default_branch,
            when=datetime(2024, 1, 1, tzinfo=UTC),
        )

    def _user(self, urls: pl.Urls, login: str) -> dict[str, Any]:
        account = self.users[login]
        return pl.user(urls, login, account.id, bot=account.bot)

    def _pr_simple(self, urls: pl.Urls, repo: FakeRepo, pr: FakePR) -> dict[str, Any]:
        return pl.pull_request_simple(
            urls,
            self._repo_payload(urls, repo),
            pid=pr.id,
            number=pr.number,
            title=pr.title,
            body=pr.body,
            state=pr.state,
            draft=pr.draft,
            author=self._user(urls, pr.author),
            head_ref=pr.head,
            head_sha=pr.head_sha,
            base_ref=pr.base,
            base_sha=_sha(f"{repo.full_name}:{pr.base}"),
            created=pr.created,
            updated=pr.updated,
            closed=pr.closed_at,
            merged=pr.merged_at,
            merge_sha=pr.merge_sha,
        )

    def _pr_full(self, urls: pl.Urls, repo: FakeRepo, pr: FakePR) -> dict[str, Any]:
        threads = sum(len(t.comments) for t in pr.threads)
        return pl.checked(
            gm.PullRequest,
            pl.pull_request(
                self._pr_simple(urls, repo, pr),
                merged=pr.merged,
                mergeable=pr.mergeable,
                merged_by=self._user(urls, "ennio-bot") if pr.merged and "ennio-bot" in self.users else None,
                comments=len(pr.comments),
                review_comments=threads,
            ),
        )

    def _get_repo(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        return 200, pl.checked(gm.FullRepository, pl.full_repository(self._repo_payload(urls, repo))), {}

    def _list_pulls(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", "open")
        head = query.get("head")
        prs = [
            p
            for p in sorted(repo.prs.values(), key=lambda p: p.number, reverse=True)
            if (state == "all" or p.state == state) and (head is None or f"{repo.owner}:{p.head}" == head)
        ]
        page, links = _page(prs, query, urls.api + f"/repos/{repo.full_name}/pulls")
        return 200, pl.checked(list[gm.PullRequestSimple], [self._pr_simple(urls, repo, p) for p in page]), links

    def _create_pull(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        head, base = data.get("head"), data.get("base")
        if not head or not base or not data.get("title"):
            return (
                422,
                {"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "missing_field"}]},
                {},
            )
        if any(p.head == head and p.state == "open" for p in repo.prs.values()):
            msg = f"A pull request already exists for {repo.owner}:{head}."
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "PullRequest", "code": "custom", "message": msg}],
                },
                {},
            )
        sha: str | None = None
        if repo.git_dir is not None:
            sha = self.git_heads(repo).get(head)
            if sha is None:
                return (
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
                    },
                    {},
                )
        pr = self.open_pr(
            repo.full_name,
            head,
            base=base,
            title=data["title"],
            body=data.get("body") or "",
            draft=bool(data.get("draft")),
            sha=sha,
        )
        return 201, self._pr_full(urls, repo, pr), {}

    def _get_pull(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, number: str
    ) -> tuple[int, Any, dict[str, str]]:
        pr = repo.prs.get(int(number))
        if pr is None:
            return 404, {"message": "Not Found"}, {}
        return 200, self._pr_full(urls, repo, pr), {}

    def _update_pull(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, number: str
    ) -> tuple[int, Any, dict[str, str]]:
        pr = repo.prs.get(int(number))
        if pr is None:
            return 404, {"message": "Not Found"}, {}
        if data.get("state") == "closed" and pr.state == "open":
            pr.state, pr.closed_at = "closed", self.now()
        for key in ("title", "body"):
            if key in data:
                setattr(pr, key, data[key])
        pr.touch(self.now())
        return 200, self._pr_full(urls, repo, pr), {}

    def _merge_pull(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, number: str
    ) -> tuple[int, Any, dict[str, str]]:
        pr = repo.prs.get(int(number))
        if pr is None:
            return 404, {"message": "Not Found"}, {}
        if data.get("merge_method", "merge") not in ("merge", "squash", "rebase"):
            return 422, {"message": "Validation Failed"}, {}
        if pr.state != "open" or pr.mergeable is False:
            return 405, {"message": "Pull Request is not mergeable"}, {}
        if data.get("sha") and data["sha"] != pr.head_sha:
            return 409, {"message": "Head branch was modified. Review and try the merge again."}, {}
        pr.state, pr.merged, pr.merged_at, pr.closed_at = "closed", True, self.now(), self.now()
        pr.merge_sha = _sha(pr.head_sha + data.get("merge_method", "merge"))
        pr.touch(self.now())
        return (
            200,
            pl.checked(
                gm.PullRequestMergeResult,
                {"sha": pr.merge_sha, "merged": True, "message": "Pull Request successfully merged"},
            ),
            {},
        )

    def _list_reviews(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, number: str
    ) -> tuple[int, Any, dict[str, str]]:
        pr = repo.prs[int(number)]
        items = [
            pl.review(
                urls,
                repo.full_name,
                pr.number,
                rid=r.id,
                author=self._user(urls, r.author),
                body=r.body,
                state=r.state,
                commit=r.commit,
                when=r.created,
            )
            for r in pr.reviews
        ]
        return 200, pl.checked(list[gm.PullRequestReview], items), {}

    def _list_review_comments(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, number: str
    ) -> tuple[int, Any, dict[str, str]]:
        pr = repo.prs[int(number)]
        items = [
            pl.review_comment(
                urls,
                repo.full_name,
                pr.number,
                cid=c.id,
                review_id=t.id,
                author=self._user(urls, c.author),
                body=c.body,
                path=t.path,
                line=t.line,
                commit=pr.head_sha,
                when=c.created,
            )
            for t in pr.threads
            for c in t.comments
        ]
        return 200, pl.checked(list[gm.PullRequestReviewComment], items), {}

    def _list_check_runs(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, ref: str
    ) -> tuple[int, Any, dict[str, str]]:
        sha = self._resolve_ref(repo, ref)
        runs = (
            repo.latest_checks(sha)
            if query.get("filter", "latest") == "latest"
            else [c for c in repo.checks if c.head_sha == sha]
        )
        owner = self._user(urls, repo.owner) | {"type": "Organization"}
        items = [
            pl.check_run(
                urls,
                self._repo_payload(urls, repo),
                cid=c.id,
                name=c.name,
                head_sha=c.head_sha,
                status=c.status,
                conclusion=c.conclusion,
                details_url=c.details_url,
                app_slug=c.app,
                app_owner=owner,
                output=c.output,
                started=c.started,
                completed=c.started if c.status == "completed" else None,
            )
            for c in runs
        ]
        page, links = _page(items, query, urls.api + f"/repos/{repo.full_name}/commits/{ref}/check-runs")
        payload = {"total_count": len(items), "check_runs": page}
        pl.checked(list[gm.CheckRun], page)
        return 200, payload, links

    def _combined_status(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, ref: str
    ) -> tuple[int, Any, dict[str, str]]:
        sha = self._resolve_ref(repo, ref)
        statuses = [
            pl.commit_status(
                urls,
                repo.full_name,
                sid=s.id,
                context=s.context,
                state=s.state,
                target_url=s.target_url,
                description=s.description,
                when=s.created,
            )
            for s in repo.latest_statuses(sha)
        ]
        payload = pl.combined_status(urls, self._repo_payload(urls, repo), sha, statuses)
        return 200, pl.checked(gm.CombinedCommitStatus, payload), {}

    def _job_logs(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, job: str
    ) -> tuple[int, Any, dict[str, str]]:
        check = self._check_by_id(int(job))
        if check is None or check.app != "github-actions":
            return 404, {"message": "Not Found"}, {}
        return 302, None, {"Location": f"{self.base}/_fake/logs/{check.id}"}

    def _resolve_ref(self, repo: FakeRepo, ref: str) -> str:
        for pr in repo.prs.values():
            if pr.head == ref:
                return pr.head_sha
        return ref

    # -- issues

    def _issue_payload(self, urls: pl.Urls, repo: FakeRepo, issue: FakeIssue) -> dict[str, Any]:
        labels = [pl.label(urls, repo.full_name, name, 7000 + i) for i, name in enumerate(issue.labels)]
        ms = None
        if issue.milestone is not None:
            ms = pl.milestone(
                urls,
                repo.full_name,
                issue.milestone,
                repo.milestones[issue.milestone],
                self._user(urls, issue.author),
                issue.created,
            )
        return pl.issue(
            urls,
            repo.full_name,
            iid=issue.id,
            number=issue.number,
            title=issue.title,
            body=issue.body,
            state=issue.state,
            author=self._user(urls, issue.author),
            labels=labels,
            assignees=[self._user(urls, a) for a in issue.assignees],
            milestone_obj=ms,
            comments=len(issue.comments),
            created=issue.created,
            updated=issue.updated,
            closed=issue.closed_at,
        )

    def _pr_as_issue(self, urls: pl.Urls, repo: FakeRepo, pr: FakePR) -> dict[str, Any]:
        return pl.issue(
            urls,
            repo.full_name,
            iid=pr.id,
            number=pr.number,
            title=pr.title,
            body=pr.body,
            state=pr.state,
            author=self._user(urls, pr.author),
            labels=[],
            assignees=[],
            milestone_obj=None,
            comments=len(pr.comments),
            created=pr.created,
            updated=pr.updated,
            closed=pr.closed_at,
            is_pull=True,
        )

    def _list_issues(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        state = query.get("state", "open")
        labels = [x for x in query.get("labels", "").split(",") if x]
        assignee = query.get("assignee")
        milestone = query.get("milestone")
        rows: list[tuple[int, dict[str, Any]]] = []
        for issue in repo.issues.values():
            if state != "all" and issue.state != state:
                continue
            if labels and not set(labels) <= set(issue.labels):
                continue
            if assignee not in (None, "*") and assignee not in issue.assignees:
                continue
            if milestone not in (None, "*") and str(issue.milestone) != milestone:
                continue
            rows.append((issue.number, self._issue_payload(urls, repo, issue)))
        if not labels and assignee in (None, "*") and milestone in (None, "*"):
            rows += [
                (p.number, self._pr_as_issue(urls, repo, p)) for p in repo.prs.values() if state in ("all", p.state)
            ]
        rows.sort(key=lambda r: r[0], reverse=True)
        page, links = _page([r[1] for r in rows], query, urls.api + f"/repos/{repo.full_name}/issues")
        return 200, pl.checked(list[gm.Issue], page), links

    def _get_issue(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, number: str
    ) -> tuple[int, Any, dict[str, str]]:
        n = int(number)
        if n in repo.issues:
            return 200, pl.checked(gm.Issue, self._issue_payload(urls, repo, repo.issues[n])), {}
        if n in repo.prs:
            return 200, pl.checked(gm.Issue, self._pr_as_issue(urls, repo, repo.prs[n])), {}
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}

    def _create_issue(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if not data.get("title"):
            return (
                422,
                {
                    "message": "Validation Failed",
                    "errors": [{"resource": "Issue", "field": "title", "code": "missing_field"}],
                },
                {},
            )
        login = "ennio-bot" if "ennio-bot" in self.users else "octocat"
        issue = self.add_issue(
            repo.full_name, data["title"], data.get("body") or "", labels=data.get("labels") or [], author=login
        )
        return 201, pl.checked(gm.Issue, self._issue_payload(urls, repo, issue)), {}

    def _update_issue(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, number: str
    ) -> tuple[int, Any, dict[str, str]]:
        issue = repo.issues.get(int(number))
        if issue is None:
            return 404, {"message": "Not Found"}, {}
        if "title" in data:
            issue.title = data["title"]
        if "body" in data:
            issue.body = data["body"] or ""
        if "labels" in data:
            issue.labels = [x if isinstance(x, str) else x["name"] for x in data["labels"]]
        if "state" in data:
            if data["state"] not in ("open", "closed"):
                return 422, {"message": "Validation Failed"}, {}
            issue.state = data["state"]
            issue.closed_at = self.now() if issue.state == "closed" else None
        issue.updated = self.now()
        return 200, pl.checked(gm.Issue, self._issue_payload(urls, repo, issue)), {}

    def _create_comment(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any, number: str
    ) -> tuple[int, Any, dict[str, str]]:
        n = int(number)
        target = repo.issues.get(n) or repo.prs.get(n)
        if target is None:
            return 404, {"message": "Not Found"}, {}
        if not data.get("body"):
            return 422, {"message": "Validation Failed"}, {}
        login = "ennio-bot" if "ennio-bot" in self.users else "octocat"
        comment = pl.issue_comment(
            urls,
            repo.full_name,
            n,
            cid=self.next_id(),
            author=self._user(urls, login),
            body=data["body"],
            when=self.now(),
        )
        target.comments.append(comment)
        return 201, pl.checked(gm.IssueComment, comment), {}

    def _list_milestones(
        self, urls: pl.Urls, repo: FakeRepo, query: dict[str, str], data: Any
    ) -> tuple[int, Any, dict[str, str]]:
        owner = self._user(urls, repo.owner)
        items = [
            pl.milestone(urls, repo.full_name, n, t, owner, datetime(2024, 1, 1, tzinfo=UTC))
            for n, t in sorted(repo.milestones.items())
        ]
        page, links = _page(items, query, urls.api + f"/repos/{repo.full_name}/milestones")
        return 200, pl.checked(list[gm.Milestone], page), links


# --------------------------------------------------------------------------- helpers


def _chunks(data: bytes, size: int = 256 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _sha(seed: str) -> str:
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()


def _token_of(header: str) -> str | None:
    parts = header.split(None, 1)
    if len(parts) == 2 and parts[0].lower() in ("token", "bearer"):
        return parts[1].strip()
    if len(parts) == 2 and parts[0].lower() == "basic":
        user_pass = base64.b64decode(parts[1]).decode()
        return user_pass.split(":", 1)[1]
    return None


def _rate_headers(bucket: Bucket, resource: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(bucket.limit),
        "X-RateLimit-Remaining": str(bucket.remaining),
        "X-RateLimit-Used": str(bucket.limit - bucket.remaining),
        "X-RateLimit-Reset": str(int(bucket.reset_at.timestamp())),
        "X-RateLimit-Resource": resource,
    }


def _scope_headers(account: Token) -> dict[str, str]:
    if account.scopes is None:
        return {}
    return {"X-OAuth-Scopes": ", ".join(account.scopes), "X-Accepted-OAuth-Scopes": "repo"}


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload), status_code=status, headers=headers, media_type="application/json; charset=utf-8"
    )


def _page(items: list[Any], query: dict[str, str], url: str) -> tuple[list[Any], dict[str, str]]:
    per_page = min(100, int(query.get("per_page", 30)))
    page = max(1, int(query.get("page", 1)))
    start = (page - 1) * per_page
    chunk = items[start : start + per_page]
    last = max(1, -(-len(items) // per_page))
    links = []
    base_query = {k: v for k, v in query.items() if k != "page"}
    if page < last:
        links.append(f'<{url}?{urlencode({**base_query, "page": page + 1})}>; rel="next"')
        links.append(f'<{url}?{urlencode({**base_query, "page": last})}>; rel="last"')
    if page > 1:
        links.append(f'<{url}?{urlencode({**base_query, "page": 1})}>; rel="first"')
        links.append(f'<{url}?{urlencode({**base_query, "page": page - 1})}>; rel="prev"')
    return chunk, ({"Link": ", ".join(links)} if links else {})


# --------------------------------------------------------------------------- running it


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[str]:
    """Run ``fake`` under uvicorn on 127.0.0.1 (a free port) in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    fake.base = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(fake.app(), log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-github")
    thread.start()
    try:
        wait_for(lambda: server.started, timeout=15, what="fake GitHub to start")
        yield fake.base + fake.prefix
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


# --------------------------------------------------------------------------- pytest fixture

TOKEN = "ghp_ennio_test_token"
REPO = "acme/widgets"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    """A served fake GitHub with one private repo (``acme/widgets``) and one token (``TOKEN``).

    Import it into a test package's conftest. Fails the test if the fake had to serve anything
    GitHub could not (see ``FakeGitHub.problems``).
    """
    fake = FakeGitHub()
    fake.add_token(TOKEN)
    fake.add_repo(REPO)
    with serve(fake):
        yield fake
    assert not fake.problems, "fake GitHub saw impossible traffic:\n" + "\n".join(fake.problems)
