"""GitHub SCM: push, PRs, and PR/CI/review state for many sessions in a few GraphQL requests.

``snapshots`` is what the lifecycle calls on every pass; it costs one GraphQL request per 50
PRs (plus one per 100 branches whose PR number is not known yet, once), and review-thread
comments are re-read only for PRs that changed. REST is used for writes and for what GraphQL
lacks (failing checks' logs, on demand), with ETag revalidation where it is polled.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal, cast

from githubkit.utils import UNSET

from ennio.core import proc as _proc
from ennio.core.config import ProjectConfig
from ennio.core.errors import Conflict, InvalidInput, NotFound, SCMError
from ennio.core.ids import validate_branch_name
from ennio.core.plugins import (
    BranchRef,
    CheckRun,
    CIState,
    PluginContext,
    PluginManifest,
    PRSnapshot,
    PRState,
    PullRequest,
    RateBudget,
    ReviewComment,
    Slot,
)
from ennio.plugins._github import ci_logs
from ennio.plugins._github import pr_queries as q
from ennio.plugins._github.client import GitHubClient, GraphQLResult
from ennio.plugins._github.repo import RepoRef, resolve_repo
from ennio.plugins._github.settings import make_client, scm_settings

#: snapshot queries in flight at once (GitHub asks clients not to flood it with parallel requests)
CONCURRENT_QUERIES = 4
#: review-thread comments are re-read at least this often even when a PR looks unchanged
COMMENTS_MAX_AGE = timedelta(minutes=5)
#: pacing assumes this interval when asked for the tightest budget without one
DEFAULT_INTERVAL = 30.0
MergeMethod = Literal["merge", "squash", "rebase"]


@dataclass(slots=True)
class _CommentCache:
    updated_at: str
    thread_ids: tuple[str, ...]
    comments: list[ReviewComment]
    fetched_at: datetime


class GitHubSCM:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        "github", Slot.SCM, "1.0", "GitHub pull requests, checks and reviews (batched GraphQL)"
    )

    def __init__(self, project: ProjectConfig, ctx: PluginContext) -> None:
        self.project = project
        self.ctx = ctx
        self.settings = scm_settings(project)
        self.client: GitHubClient = make_client(self.settings, ctx, SCMError)
        self.authors = q.AuthorFilter.of(self.settings.bot_authors, self.settings.review_authors)
        self._repo: RepoRef | None = None
        self._numbers: dict[str, int] = {}
        self._comments: dict[int, _CommentCache] = {}
        #: GraphQL points spent so far (from each answer's ``rateLimit.cost``)
        self._points = 0

    async def repo(self) -> RepoRef:
        if self._repo is None:
            self._repo = await resolve_repo(self.settings.repo, self.project, self.settings.remote)
        return self._repo

    async def close(self) -> None:
        await self.client.close()

    # ------------------------------------------------------------------ git and PRs

    async def push(self, workspace_path: Path, branch: str) -> None:
        validate_branch_name(branch)
        remote = self.settings.remote
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", remote) or remote.startswith("-"):
            raise InvalidInput(f"git remote name {remote!r} is not valid")
        await _proc.run(
            ["git", "push", "--set-upstream", remote, f"refs/heads/{branch}:refs/heads/{branch}"],
            cwd=workspace_path,
            extra_env={"GIT_TERMINAL_PROMPT": "0"},
            timeout=180,
            error=SCMError,
            what=f"git push of {branch} to {remote}",
        )

    async def find_pr(self, branch: str) -> PullRequest | None:
        validate_branch_name(branch)
        repo = await self.repo()
        async with self.client.errors(f"looking up the PR of {branch}", repo):
            resp = await self.client.gh.rest.pulls.async_list(
                repo.owner, repo.name, head=f"{repo.owner}:{branch}", state="all", per_page=10
            )
        prs = [p for p in cast("list[Any]", resp.parsed_data) if p.head.ref == branch]
        if not prs:
            return None
        chosen = next((p for p in prs if p.state == "open"), max(prs, key=lambda p: p.number))
        found = _from_rest(chosen)
        self._numbers[branch] = found.number
        return found

    async def open_pr(self, *, branch: str, base: str, title: str, body: str, draft: bool = False) -> PullRequest:
        validate_branch_name(branch)
        validate_branch_name(base)
        if not title.strip():
            raise InvalidInput("a pull request needs a title")
        repo = await self.repo()
        draft = draft or self.settings.draft_until_green
        try:
            async with self.client.errors(f"opening a PR for {branch}", repo):
                resp = await self.client.gh.rest.pulls.async_create(
                    repo.owner, repo.name, title=title, head=branch, base=base, body=body, draft=draft
                )
        except InvalidInput as exc:
            if "already exists" not in exc.message:
                raise
            existing = await self.find_pr(branch)
            if existing is None:
                raise
            return existing
        opened = _from_rest(resp.parsed_data)
        self._numbers[branch] = opened.number
        return opened

    async def mark_ready(self, pr: PullRequest) -> None:
        """Turn a draft PR into one ready for review (``draft_until_green`` once CI passes)."""
        repo = await self.repo()
        what = f"marking PR #{pr.number} ready for review"
        found = await self.client.graphql(
            q.PR_NODE_ID, {"owner": repo.owner, "name": repo.name, "number": pr.number}, what, repo
        )
        node = (found.data.get("repository") or {}).get("pullRequest")
        if node is None:
            raise NotFound(f"GitHub PR #{pr.number} not found in {repo.full_name}")
        if node.get("isDraft"):
            await self.client.graphql(q.MARK_READY, {"id": node["id"]}, what, repo)

    async def merge(self, pr: PullRequest, method: str | None = None) -> None:
        chosen = method or self.settings.merge_method
        if chosen not in ("merge", "squash", "rebase"):
            raise InvalidInput(f"merge method {chosen!r} is not one of merge, squash, rebase")
        repo = await self.repo()
        what = f"merging PR #{pr.number}"
        try:
            async with self.client.errors(what, repo):
                await self.client.gh.rest.pulls.async_merge(
                    repo.owner,
                    repo.name,
                    pr.number,
                    merge_method=cast(MergeMethod, chosen),
                    sha=pr.head_sha or UNSET,
                )
        except SCMError as exc:
            raise Conflict(
                exc.message, hint="the PR is not mergeable now (conflicts, checks, or a newer head)"
            ) from None

    async def close_pr(self, pr: PullRequest) -> None:
        repo = await self.repo()
        async with self.client.errors(f"closing PR #{pr.number}", repo):
            await self.client.gh.rest.pulls.async_update(repo.owner, repo.name, pr.number, state="closed")

    async def comment(self, pr: PullRequest, body: str) -> None:
        if not body.strip():
            raise InvalidInput("a comment needs a body")
        repo = await self.repo()
        async with self.client.errors(f"commenting on PR #{pr.number}", repo):
            await self.client.gh.rest.issues.async_create_comment(repo.owner, repo.name, pr.number, body=body)

    async def mark_forwarded(self, pr: PullRequest, comment: ReviewComment) -> None:
        repo = await self.repo()
        await self.client.graphql(
            q.ADD_REACTION, {"subject": comment.id}, f"reacting to a comment on PR #{pr.number}", repo
        )

    async def probe_budget(self) -> list[RateBudget]:
        """``ennio doctor``: the budgets left, read without spending them; fails clearly on a bad token or a
        repository that does not exist."""
        return await self.client.probe_budget(await self.repo())

    def rate_budget(self) -> RateBudget | None:
        return self.client.tracker.tightest(DEFAULT_INTERVAL, self.ctx.clock.now())

    # ------------------------------------------------------------------ snapshots

    async def snapshots(self, refs: Sequence[BranchRef]) -> dict[str, PRSnapshot]:
        if not refs:
            return {}
        repo = await self.repo()
        before = self._points
        numbers: dict[str, int] = {}
        unknown: list[str] = []
        for ref in refs:
            number = ref.pr_number or self._numbers.get(ref.branch)
            if number:
                numbers[ref.branch] = number
            elif ref.branch not in unknown:
                unknown.append(ref.branch)
        if unknown:
            found = await self._lookup(repo, unknown)
            self._numbers.update(found)
            numbers.update(found)
        nodes = await self._pr_nodes(repo, numbers)
        comments = await self._comments_for(nodes)
        out: dict[str, PRSnapshot] = {}
        for ref in refs:
            node = nodes.get(ref.branch)
            if node is None:
                out[ref.branch] = PRSnapshot(branch=ref.branch)
                continue
            out[ref.branch] = q.snapshot(
                ref.branch,
                node,
                comments.get(int(node["number"]), []),
                self.authors,
                required_only=self.settings.required_checks_only,
            )
        self.client.tracker.record_pass_cost("graphql", self._points - before)
        return out

    async def _query(self, repo: RepoRef, query: str, variables: dict[str, Any], what: str) -> GraphQLResult:
        result = await self.client.graphql(query, {"owner": repo.owner, "name": repo.name, **variables}, what, repo)
        self._points += result.cost
        return result

    async def _lookup(self, repo: RepoRef, branches: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(branches), q.LOOKUP_BATCH):
            chunk = list(branches[start : start + q.LOOKUP_BATCH])
            answer = await self._query(
                repo,
                q.lookup_query(len(chunk)),
                {f"b{i}": b for i, b in enumerate(chunk)},
                f"finding the PRs of {len(chunk)} branches",
            )
            data = answer.data.get("repository") or {}
            for i, branch in enumerate(chunk):
                number = q.pick_lookup((data.get(f"b{i}") or {}).get("nodes") or [], repo.owner)
                if number is not None:
                    found[branch] = number
        return found

    async def _pr_nodes(self, repo: RepoRef, numbers: dict[str, int]) -> dict[str, dict[str, Any]]:
        items = list(numbers.items())
        chunks = [items[i : i + q.SNAPSHOT_BATCH] for i in range(0, len(items), q.SNAPSHOT_BATCH)]
        gate = asyncio.Semaphore(CONCURRENT_QUERIES)
        with_required = self.settings.required_checks_only

        async def one(chunk: list[tuple[str, int]]) -> dict[str, dict[str, Any]]:
            async with gate:
                answer = await self._query(
                    repo,
                    q.snapshot_query(len(chunk), with_required=with_required),
                    {f"n{i}": n for i, (_, n) in enumerate(chunk)},
                    f"reading {len(chunk)} pull requests",
                )
            data = answer.data.get("repository") or {}
            got: dict[str, dict[str, Any]] = {}
            for i, (branch, _number) in enumerate(chunk):
                node = data.get(f"p{i}")
                if node is None:
                    # the PR is gone (deleted, or the number was wrong): find it by branch next time
                    self._numbers.pop(branch, None)
                    continue
                got[branch] = node
            return got

        nodes: dict[str, dict[str, Any]] = {}
        for part in await asyncio.gather(*(one(c) for c in chunks)):
            nodes.update(part)
        await self._more_checks(repo, nodes)
        return nodes

    async def _more_checks(self, repo: RepoRef, nodes: dict[str, dict[str, Any]]) -> None:
        """Read the further pages of checks of PRs with over 100, a batch of PRs per request, until every
        check is read (or :data:`~ennio.plugins._github.pr_queries.MAX_CONTEXT_PAGES` pages were)."""
        cursors = {branch: c for branch, node in nodes.items() if (c := q.next_contexts(node)) is not None}
        pages = dict.fromkeys(cursors, 1)
        with_required = self.settings.required_checks_only
        while cursors:
            items = list(cursors.items())[: q.SNAPSHOT_BATCH]
            answer = await self._query(
                repo,
                q.contexts_query(len(items), with_required=with_required),
                {
                    **{f"n{i}": int(nodes[b]["number"]) for i, (b, _) in enumerate(items)},
                    **{f"a{i}": c for i, (_, c) in enumerate(items)},
                },
                f"reading more checks of {len(items)} pull requests",
            )
            data = answer.data.get("repository") or {}
            for i, (branch, _cursor) in enumerate(items):
                following = q.add_contexts(nodes[branch], data.get(f"p{i}"))
                pages[branch] += 1
                if following is None or pages[branch] >= q.MAX_CONTEXT_PAGES:
                    del cursors[branch]
                else:
                    cursors[branch] = following

    async def _comments_for(self, nodes: dict[str, dict[str, Any]]) -> dict[int, list[ReviewComment]]:
        now = self.ctx.clock.now()
        out: dict[int, list[ReviewComment]] = {}
        stale: dict[int, tuple[str, tuple[str, ...]]] = {}
        for node in nodes.values():
            number = int(node["number"])
            reviews = q.review_bodies(node, self.authors)
            threads = tuple(q.open_thread_ids(node)) if node.get("state") == "OPEN" else ()
            cached = self._comments.get(number)
            fresh = (
                cached is not None
                and cached.updated_at == node.get("updatedAt")
                and cached.thread_ids == threads
                and now - cached.fetched_at < COMMENTS_MAX_AGE
            )
            if not threads:
                self._comments.pop(number, None)
            elif fresh and cached is not None:
                reviews += cached.comments
            else:
                stale[number] = (str(node.get("updatedAt")), threads)
            out[number] = reviews
        if stale:
            fetched = await self._thread_comments([t for _, ids in stale.values() for t in ids])
            for number, (updated_at, ids) in stale.items():
                comments = [c for t in ids for c in fetched.get(t, [])]
                self._comments[number] = _CommentCache(updated_at, ids, comments, now)
                out[number] = out[number] + comments
        return out

    async def _thread_comments(self, thread_ids: Sequence[str]) -> dict[str, list[ReviewComment]]:
        repo = await self.repo()
        out: dict[str, list[ReviewComment]] = {}
        for start in range(0, len(thread_ids), q.THREAD_BATCH):
            chunk = list(thread_ids[start : start + q.THREAD_BATCH])
            result = await self.client.graphql(
                q.THREADS_QUERY, {"ids": chunk}, f"reading {len(chunk)} review threads", repo
            )
            self._points += result.cost
            for thread in result.data.get("nodes") or []:
                if thread and thread.get("__typename") == "PullRequestReviewThread":
                    out[str(thread["id"])] = q.thread_comments(thread, self.authors)
        return out

    # ------------------------------------------------------------------ CI logs

    async def check_logs(self, pr: PullRequest, checks: Sequence[CheckRun], lines: int = 80) -> list[CheckRun]:
        failing = [c for c in checks if c.state is CIState.FAILING]
        if not failing:
            return []
        if not pr.head_sha:
            raise InvalidInput(f"PR #{pr.number} has no head commit to read check logs from")
        return await ci_logs.failing_logs(self.client, await self.repo(), pr, failing, lines)


def _from_rest(pr: Any) -> PullRequest:
    """A githubkit ``PullRequest``/``PullRequestSimple`` as Ennio's PullRequest."""
    merged = bool(getattr(pr, "merged_at", None))
    state = PRState.MERGED if merged else (PRState.OPEN if pr.state == "open" else PRState.CLOSED)
    draft = getattr(pr, "draft", False)
    return PullRequest(
        number=pr.number,
        url=pr.html_url,
        title=pr.title,
        branch=pr.head.ref,
        base=pr.base.ref,
        state=state,
        draft=bool(draft) if isinstance(draft, bool) else False,
        head_sha=pr.head.sha,
    )
