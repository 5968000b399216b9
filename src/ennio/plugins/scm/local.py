"""Local SCM: pull requests, CI and reviews kept by Ennio itself — no forge, no network.

A PR is a document in Ennio's database (``ctx.store``) for a branch of the project repository.
CI is the project's ``ci_command`` run in a clean, temporary checkout of each new head, in the
background. Reviews are recorded by ``ennio review approve|request-changes``. Mergeability is a
real trial merge (``git merge-tree``) cached per (head, base) pair, and merging is a real merge
into the default branch that never clobbers a person's checkout.

``snapshots`` (the lifecycle's call, every pass) costs three store queries and one
``git for-each-ref`` whatever the number of branches; git runs again only for heads that changed.

Size: over 400 lines because the PR document, CI runs, reviews and merges are one store's records;
the git and CI mechanics already live in ``_local_git`` and ``_local_ci``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from ennio import __version__
from ennio.core import proc as _proc
from ennio.core.config import LocalSCMConfig, ProjectConfig
from ennio.core.errors import Conflict, InvalidInput, NotFound, SCMError
from ennio.core.ids import validate_branch_name
from ennio.core.plugins import (
    BranchRef,
    CheckRun,
    CIState,
    PluginContext,
    PluginManifest,
    PluginStore,
    PRSnapshot,
    PRState,
    PullRequest,
    RateBudget,
    ReviewComment,
    Slot,
)
from ennio.plugins.scm import _local_git as g
from ennio.plugins.scm import _local_review as rv
from ennio.plugins.scm._local_ci import CHECK_NAME, CIScheduler
from ennio.plugins.scm._local_docs import (
    NAMESPACE,
    CIRun,
    Keys,
    PRDoc,
    ReviewDoc,
    check_item_id,
    check_sha,
    new_id,
    pick_pr,
    timestamp,
)

log = logging.getLogger("ennio.scm.local")

#: CI runs of one project at once, unless ``ctx.extra[CI_CONCURRENCY_KEY]`` says otherwise
DEFAULT_CI_CONCURRENCY = 2
CI_CONCURRENCY_KEY = "scm.local.ci_concurrency"
#: trial merges at once, and how long ``snapshots`` waits for new ones before answering "unknown"
MERGE_CONCURRENCY = 4
MERGE_WAIT = 1.0
#: (head, base) pairs whose trial merge is remembered
MERGE_CACHE_SIZE = 4096
AUTHOR_MAX = 100


@dataclass(slots=True)
class _State:
    """The store's view of the project, read in three queries."""

    prs: dict[str, list[PRDoc]]
    runs: dict[tuple[int, str], CIRun]
    reviews: dict[int, list[ReviewDoc]]
    forwarded: dict[int, set[str]]


class LocalSCM:
    manifest: ClassVar[PluginManifest] = PluginManifest(
        "local", Slot.SCM, __version__, "Pull requests, CI and reviews kept by Ennio: no forge, no network"
    )
    #: longest wait (seconds) for another process's merge into the same repository to finish
    merge_lock_timeout: ClassVar[float] = 120.0

    def __init__(self, project: ProjectConfig, ctx: PluginContext) -> None:
        settings = project.scm if project.scm is not None else LocalSCMConfig()
        if not isinstance(settings, LocalSCMConfig):
            raise SCMError(
                f"project {project.pid!r} uses the {settings.provider} SCM, not local",
                hint="set `scm: {provider: local}` for this project to keep PRs in Ennio's database",
            )
        self.project = project
        self.ctx = ctx
        self.settings = settings
        self.repo = project.path
        self.keys = Keys(project.pid)
        self.is_bot = rv.bot_check(settings.bot_authors)
        self._ci: CIScheduler | None = None
        self._merges: OrderedDict[tuple[str, str], g.TrialMerge] = OrderedDict()
        self._merge_tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._merge_gate: asyncio.Semaphore | None = None
        self._identity: dict[str, str] | None = None

    # ------------------------------------------------------------------ plumbing

    @property
    def store(self) -> PluginStore:
        if self.ctx.store is None:
            raise SCMError(
                "the local SCM keeps pull requests in Ennio's database, but none was given to it",
                hint="open it through Ennio (the daemon or the `ennio pr` commands), which pass the database",
            )
        return self.ctx.store

    @property
    def ci(self) -> CIScheduler | None:
        """The CI scheduler, or ``None`` when the project has no ``ci_command``."""
        if self.settings.ci_command is None:
            return None
        if self._ci is None:
            concurrency = int(self.ctx.extra.get(CI_CONCURRENCY_KEY, DEFAULT_CI_CONCURRENCY))
            self._ci = CIScheduler(
                repo=self.repo,
                argv=self.settings.ci_command,
                timeout=self.settings.ci_timeout,
                store=self.store,
                keys=self.keys,
                work_dir=self.ctx.data_dir / "ci" / self.project.pid,
                clock=self.ctx.clock,
                concurrency=max(1, concurrency),
            )
        return self._ci

    def url(self, number: int) -> str:
        return f"ennio://{self.project.pid}/pr/{number}"

    def _now(self) -> str:
        return timestamp(self.ctx.clock.now())

    async def close(self) -> None:
        """Stop background work: CI runs are killed (and re-run by the next instance), trial merges dropped."""
        if self._ci is not None:
            await self._ci.close()
        tasks = list(self._merge_tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_for_ci(self) -> None:
        """Until every CI run this instance started has finished."""
        if self._ci is not None:
            await self._ci.wait_idle()

    async def wait_for_trial_merges(self) -> None:
        """Until every trial merge started by a pass has finished (``snapshots`` waits only briefly)."""
        while self._merge_tasks:
            await asyncio.gather(*self._merge_tasks.values(), return_exceptions=True)

    async def _read(self) -> _State:
        prs_raw, runs_raw, reviews_raw = await asyncio.gather(
            self.store.list(NAMESPACE, self.keys.prs),
            self.store.list(NAMESPACE, self.keys.ci_runs),
            self.store.list(NAMESPACE, self.keys.reviews),
        )
        prs: dict[str, list[PRDoc]] = {}
        for doc in prs_raw.values():
            pr = PRDoc.from_doc(doc)
            prs.setdefault(pr.branch, []).append(pr)
        runs = {(r.number, r.sha): r for r in map(CIRun.from_doc, runs_raw.values())}
        reviews: dict[int, list[ReviewDoc]] = {}
        forwarded: dict[int, set[str]] = {}
        for key, doc in reviews_raw.items():
            number = Keys.number_of(key, self.keys.reviews)
            if number is None:
                continue
            kind, _, item = key[len(self.keys.reviews) :].split("/", 1)[1].partition("/")
            if kind == "r":
                reviews.setdefault(number, []).append(ReviewDoc.from_doc(doc))
            elif kind == "f":
                forwarded.setdefault(number, set()).add(item)
        return _State(prs, runs, reviews, forwarded)

    async def _heads(self, names: Sequence[str] = ()) -> dict[str, str]:
        if not (self.repo / ".git").exists() and not (self.repo / "HEAD").exists():
            raise SCMError(
                f"project {self.project.pid!r}: {self.repo} is not a git repository",
                hint="set the project's path to the repository Ennio works on",
            )
        return await g.branch_heads(self.repo, names)

    async def _doc(self, number: int) -> PRDoc:
        raw = await self.store.get(NAMESPACE, self.keys.pr(number))
        if raw is None:
            raise NotFound(
                f"no pull request #{number} in project {self.project.pid!r}",
                hint="`ennio pr list` shows the project's pull requests",
            )
        return PRDoc.from_doc(raw)

    async def _save(self, doc: PRDoc) -> None:
        doc.updated_at = self._now()
        await self.store.put(NAMESPACE, self.keys.pr(doc.number), doc.to_doc())

    # ------------------------------------------------------------------ pull requests

    async def push(self, workspace_path: Path, branch: str) -> None:
        """A worktree shares the project's refs (nothing to do); a clone pushes the branch to the project."""
        validate_branch_name(branch)
        if await g.common_dir(workspace_path) == await g.common_dir(self.repo):
            return
        await g.git(
            workspace_path,
            "push",
            "--quiet",
            str(self.repo.resolve()),
            f"+refs/heads/{branch}:refs/heads/{branch}",
            timeout=300,
            what=f"pushing {branch} to {self.repo}",
        )

    async def find_pr(self, branch: str) -> PullRequest | None:
        validate_branch_name(branch)
        state = await self._read_prs()
        doc = pick_pr(state.get(branch, []))
        return None if doc is None else doc.to_pr(self.url(doc.number))

    async def _read_prs(self) -> dict[str, list[PRDoc]]:
        grouped: dict[str, list[PRDoc]] = {}
        for raw in (await self.store.list(NAMESPACE, self.keys.prs)).values():
            doc = PRDoc.from_doc(raw)
            grouped.setdefault(doc.branch, []).append(doc)
        return grouped

    async def open_pr(self, *, branch: str, base: str, title: str, body: str, draft: bool = False) -> PullRequest:
        validate_branch_name(branch)
        validate_branch_name(base)
        if not title.strip():
            raise InvalidInput("a pull request needs a title")
        if branch == base:
            raise InvalidInput(
                f"a pull request cannot merge {branch} into itself", hint="open it from a session branch"
            )
        heads = await self._heads([branch, base])
        for name in (branch, base):
            if name not in heads:
                raise NotFound(
                    f"branch {name!r} does not exist in {self.repo}",
                    hint="commit on the session's branch first"
                    if name == branch
                    else "check the project's default_branch",
                )
        head = check_sha(heads[branch])
        existing = [d for d in (await self._read_prs()).get(branch, []) if d.state is PRState.OPEN]
        if existing:
            doc = min(existing, key=lambda d: d.number)
            return doc.to_pr(self.url(doc.number), head)
        if await g.is_ancestor(self.repo, head, heads[base]):
            raise InvalidInput(
                f"{branch} has no commits that {base} does not have", hint="commit the work on the branch first"
            )
        doc = await self._claim_number(branch, base, title.strip(), body, draft, head)
        ci = self.ci
        if ci is not None:
            await ci.ensure(doc.number, head, None)
        log.info("opened PR #%s for %s into %s", doc.number, branch, base)
        return doc.to_pr(self.url(doc.number), head)

    async def _claim_number(self, branch: str, base: str, title: str, body: str, draft: bool, head: str) -> PRDoc:
        """Store a new PR under the next free number (atomically), keeping one open PR per branch."""
        taken = [Keys.number_of(k, self.keys.prs) for k in await self.store.list(NAMESPACE, self.keys.prs)]
        number = max((n for n in taken if n is not None), default=0) + 1
        now = self._now()
        while True:
            doc = PRDoc(number, branch, base, title, body, PRState.OPEN, draft, head, now, now)
            if await self.store.add(NAMESPACE, self.keys.pr(number), doc.to_doc()):
                break
            number += 1
        # two callers opening the same branch at once: the lower number wins, the other steps back
        rivals = [d for d in (await self._read_prs()).get(branch, []) if d.state is PRState.OPEN]
        winner = min(rivals, key=lambda d: d.number, default=doc)
        if winner.number != doc.number:
            await self.store.delete(NAMESPACE, self.keys.pr(doc.number))
        return winner

    async def mark_ready(self, pr: PullRequest) -> None:
        """Turn a draft PR into one ready for review."""
        doc = await self._doc(pr.number)
        if doc.draft:
            doc.draft = False
            await self._save(doc)

    async def close_pr(self, pr: PullRequest) -> None:
        doc = await self._doc(pr.number)
        if doc.state is PRState.MERGED:
            raise Conflict(f"PR #{pr.number} is already merged; it cannot be closed")
        if doc.state is PRState.CLOSED:
            return
        doc.state = PRState.CLOSED
        heads = await self._heads([doc.branch])
        doc.head_sha = heads.get(doc.branch, doc.head_sha)
        await self._save(doc)

    async def comment(self, pr: PullRequest, body: str) -> None:
        if not body.strip():
            raise InvalidInput("a comment needs a body")
        await self._doc(pr.number)
        now = self.ctx.clock.now()
        note = {"author": "ennio", "body": body, "created_at": timestamp(now)}
        await self.store.put(NAMESPACE, self.keys.note(pr.number, new_id(now)), note)

    async def notes(self, pr: PullRequest) -> list[dict[str, Any]]:
        """The PR's conversation comments, oldest first."""
        return list((await self.store.list(NAMESPACE, self.keys.notes(pr.number))).values())

    async def mark_forwarded(self, pr: PullRequest, comment: ReviewComment) -> None:
        check_item_id(comment.id)
        await self.store.put(
            NAMESPACE, self.keys.forwarded(pr.number, comment.id), {"at": self._now(), "author": comment.author}
        )

    def rate_budget(self) -> RateBudget | None:
        return None

    async def list_prs(self, state: PRState | None = None) -> list[PullRequest]:
        grouped = await self._read_prs()
        heads = await self._heads()
        docs = [d for docs in grouped.values() for d in docs if state is None or d.state is state]
        docs.sort(key=lambda d: d.number, reverse=True)
        return [d.to_pr(self.url(d.number), heads.get(d.branch) if d.state is PRState.OPEN else None) for d in docs]

    async def get_pr(self, number: int) -> PullRequest:
        doc = await self._doc(number)
        head = (await self._heads([doc.branch])).get(doc.branch) if doc.state is PRState.OPEN else None
        return doc.to_pr(self.url(number), head)

    # ------------------------------------------------------------------ snapshots

    async def snapshots(self, refs: Sequence[BranchRef]) -> dict[str, PRSnapshot]:
        branches = list(dict.fromkeys(validate_branch_name(r.branch) for r in refs))
        if not branches:
            return {}
        state = await self._read()
        heads = await self._heads()
        docs = {b: pick_pr(state.prs.get(b, [])) for b in branches}
        return await self._snapshots(docs, state, heads, start_ci=True, merge_wait=MERGE_WAIT)

    async def pr_statuses(self, prs: Sequence[PullRequest], *, mergeability: bool = True) -> dict[int, PRSnapshot]:
        """Read-only snapshots for display (``ennio pr``): CI is reported, never started."""
        state = await self._read()
        by_number = {d.number: d for docs in state.prs.values() for d in docs}
        heads = await self._heads()
        out: dict[int, PRSnapshot] = {}
        for pr in prs:
            doc = by_number.get(pr.number)
            if doc is None:
                raise NotFound(f"no pull request #{pr.number} in project {self.project.pid!r}")
            snaps = await self._snapshots(
                {doc.branch: doc}, state, heads, start_ci=False, merge_wait=None, mergeability=mergeability
            )
            out[pr.number] = snaps[doc.branch]
        return out

    async def _snapshots(
        self,
        docs: dict[str, PRDoc | None],
        state: _State,
        heads: dict[str, str],
        *,
        start_ci: bool,
        merge_wait: float | None,
        mergeability: bool = True,
    ) -> dict[str, PRSnapshot]:
        out: dict[str, PRSnapshot] = {}
        pairs: dict[str, tuple[str, str]] = {}
        for branch, doc in docs.items():
            if doc is None:
                out[branch] = PRSnapshot(branch=branch)
                continue
            is_open = doc.state is PRState.OPEN
            head = (heads.get(branch) if is_open else None) or doc.head_sha
            ci, checks = await self._ci_state(doc, head, state.runs, start=start_ci and is_open)
            reviews = state.reviews.get(doc.number, [])
            people, bots = (
                rv.open_comments(reviews, self.is_bot, state.forwarded.get(doc.number, set())) if is_open else ([], [])
            )
            out[branch] = PRSnapshot(
                branch=branch,
                pr=doc.to_pr(self.url(doc.number), head),
                ci=ci,
                checks=checks,
                review=rv.decision(reviews, self.is_bot, is_open=is_open),
                comments=people,
                bot_comments=bots,
            )
            base = heads.get(doc.base)
            if mergeability and is_open and head and base:
                pairs[branch] = (head, base)
        merges = await self._trial_merges(set(pairs.values()), merge_wait)
        for branch, pair in pairs.items():
            trial = merges.get(pair)
            if trial is not None:
                out[branch].mergeable = trial.clean
                out[branch].conflicts = list(trial.conflicts)
        return out

    async def _ci_state(
        self, doc: PRDoc, head: str | None, runs: dict[tuple[int, str], CIRun], *, start: bool
    ) -> tuple[CIState, list[CheckRun]]:
        ci = self.ci
        if ci is None or head is None:
            return CIState.NONE, []
        run = runs.get((doc.number, head))
        if start:
            run = await ci.ensure(doc.number, check_sha(head), run)
        if run is None:
            if doc.state is not PRState.OPEN:
                return CIState.NONE, []
            return CIState.PENDING, [CheckRun(CHECK_NAME, CIState.PENDING)]
        value = CIState(run.state)
        return value, [CheckRun(CHECK_NAME, value)]

    async def _trial_merges(
        self, pairs: Iterable[tuple[str, str]], wait: float | None
    ) -> dict[tuple[str, str], g.TrialMerge]:
        """Cached trial merges; new ones are computed a few at a time, waiting at most ``wait`` seconds."""
        pairs = list(pairs)
        found: dict[tuple[str, str], g.TrialMerge] = {}
        missing: list[asyncio.Task[None]] = []
        for pair in pairs:
            cached = self._merges.get(pair)
            if cached is not None:
                self._merges.move_to_end(pair)
                found[pair] = cached
                continue
            task = self._merge_tasks.get(pair)
            if task is None:
                task = self._merge_tasks[pair] = asyncio.create_task(self._compute_merge(pair))
            missing.append(task)
        if missing:
            await asyncio.wait(missing, timeout=wait)
            found.update({p: self._merges[p] for p in pairs if p in self._merges})
        return found

    async def _compute_merge(self, pair: tuple[str, str]) -> None:
        if self._merge_gate is None:
            self._merge_gate = asyncio.Semaphore(MERGE_CONCURRENCY)
        head, base = pair
        try:
            async with self._merge_gate:
                result = await g.trial_merge(self.repo, base, head)
            self._merges[pair] = result
            while len(self._merges) > MERGE_CACHE_SIZE:
                self._merges.popitem(last=False)
        except Exception as exc:  # reported as "unknown"; tried again next pass
            log.warning("trial merge of %s into %s failed: %s", head[:12], base[:12], exc)
        finally:
            self._merge_tasks.pop(pair, None)

    # ------------------------------------------------------------------ CI logs

    async def check_logs(self, pr: PullRequest, checks: Sequence[CheckRun], lines: int = 80) -> list[CheckRun]:
        failing = [c for c in checks if c.state is CIState.FAILING]
        if not failing:
            return []
        if not pr.head_sha:
            raise InvalidInput(f"PR #{pr.number} has no head commit to read CI logs from")
        sha = check_sha(pr.head_sha)
        out: list[CheckRun] = []
        for check in failing:
            tail: str | None = None
            if check.name == CHECK_NAME:
                stored = await self.store.get(NAMESPACE, self.keys.log(pr.number, sha))
                if stored is not None:
                    tail = "\n".join(str(stored.get("text") or "").rstrip("\n").splitlines()[-lines:])
            out.append(CheckRun(check.name, check.state, check.url, check.required, tail))
        return out

    # ------------------------------------------------------------------ reviews

    async def approve(self, pr: PullRequest, author: str, comment: str = "") -> None:
        await self._review(pr, author, "approved", comment, [])

    async def request_changes(
        self, pr: PullRequest, author: str, comments: Sequence[ReviewComment], body: str = ""
    ) -> None:
        if not body.strip() and not comments:
            raise InvalidInput("a review requesting changes must say what to change", hint="add --comment TEXT")
        await self._review(pr, author, "changes_requested", body, comments)

    async def comment_review(
        self, pr: PullRequest, author: str, comments: Sequence[ReviewComment], body: str = ""
    ) -> None:
        """A review that neither approves nor blocks (what a review bot leaves)."""
        if not body.strip() and not comments:
            raise InvalidInput("a review comment needs a body or file comments")
        await self._review(pr, author, "commented", body, comments)

    async def _review(
        self, pr: PullRequest, author: str, verdict: str, body: str, comments: Sequence[ReviewComment]
    ) -> None:
        author = _check_author(author)
        doc = await self._doc(pr.number)
        if doc.state is not PRState.OPEN:
            raise Conflict(f"PR #{pr.number} is {doc.state.value}; only open pull requests can be reviewed")
        head = (await self._heads([doc.branch])).get(doc.branch, doc.head_sha)
        items = [_check_comment(c) for c in comments]
        if head is not None:
            await self._check_paths(head, [p for p, _, _ in items if p is not None])
        now = self.ctx.clock.now()
        earlier = await self.store.list(NAMESPACE, self.keys.review(pr.number, ""))
        review_id = new_id(now, after=max(earlier, default=None))
        review = ReviewDoc(
            id=review_id,
            author=author,
            state=verdict,
            body=body.strip(),
            head_sha=head,
            created_at=timestamp(now),
            comments=[
                {"id": f"{review_id}.{i}", "body": text, "path": path, "line": line}
                for i, (path, line, text) in enumerate(items, 1)
            ],
        )
        await self.store.put(NAMESPACE, self.keys.review(pr.number, review_id), review.to_doc())
        log.info("PR #%s: %s by %s with %d comment(s)", pr.number, verdict, author, len(items))

    async def _check_paths(self, head: str, paths: list[str]) -> None:
        if not paths:
            return
        query = "".join(f"{head}:{p}\n" for p in dict.fromkeys(paths))
        result = await _proc.run(
            ["git", "cat-file", "--batch-check"],
            cwd=self.repo,
            input=query,
            env=g.clean_env(),
            error=SCMError,
            what="checking the commented files",
        )
        missing = [
            line.removesuffix(" missing").split(":", 1)[1]
            for line in result.stdout.splitlines()
            if line.endswith(" missing")
        ]
        if missing:
            raise InvalidInput(
                f"{', '.join(missing)} is not a file in the PR's head {head[:12]}",
                hint="give --file as a path relative to the repository root",
            )

    # ------------------------------------------------------------------ merging

    async def merge(self, pr: PullRequest, method: str | None = None) -> None:
        chosen = method or self.settings.merge_method
        if chosen not in ("merge", "squash"):
            raise InvalidInput(f"merge method {chosen!r} is not one of merge, squash (the local SCM does not rebase)")
        async with g.merge_lock(self.repo, self.merge_lock_timeout):
            await self._merge(pr, chosen)

    async def _merge(self, pr: PullRequest, chosen: str) -> None:
        """The merge itself, under the repository's merge lock (so the PR's state is read fresh inside it)."""
        doc = await self._doc(pr.number)
        if doc.state is not PRState.OPEN:
            raise Conflict(f"PR #{pr.number} is {doc.state.value}; only open pull requests can be merged")
        heads = await self._heads([doc.branch, doc.base])
        head, base = heads.get(doc.branch), heads.get(doc.base)
        if head is None:
            raise Conflict(f"branch {doc.branch!r} of PR #{pr.number} no longer exists", hint="close the PR instead")
        if base is None:
            raise NotFound(f"base branch {doc.base!r} of PR #{pr.number} does not exist in {self.repo}")
        if pr.head_sha and pr.head_sha != head:
            raise Conflict(
                f"{doc.branch} moved to {head[:12]} since PR #{pr.number} was read at {pr.head_sha[:12]}",
                hint="let CI run on the new head, then merge again",
            )
        if await g.is_ancestor(self.repo, head, base):
            # already in the base (merged by hand, or a fast-forward someone pushed): nothing to write
            await self._record_merge(doc, head, base, "already in the base")
            return
        trial = await g.trial_merge(self.repo, base, head)
        if not trial.clean:
            raise Conflict(
                f"PR #{pr.number} conflicts with {doc.base} in {', '.join(trial.conflicts)}",
                hint=f"rebase {doc.branch} on {doc.base} and resolve the conflicts",
            )
        if self._identity is None:
            self._identity = await g.identity_env(self.repo)
        message = _merge_message(doc, chosen)
        checkout = (await g.checkouts(self.repo)).get(doc.base)
        if checkout is not None:
            merged = await self._merge_in_checkout(checkout, doc, head, chosen, message)
        else:
            merged = await self._merge_by_ref(doc, trial, base, head, chosen, message)
        await self._record_merge(doc, head, merged, chosen)

    async def _record_merge(self, doc: PRDoc, head: str, merged: str, how: str) -> None:
        doc.state = PRState.MERGED
        doc.head_sha = head
        doc.merge_commit = merged
        await self._save(doc)
        log.info("merged PR #%s (%s) into %s as %s", doc.number, how, doc.base, merged[:12])

    async def _merge_by_ref(
        self, doc: PRDoc, trial: g.TrialMerge, base: str, head: str, method: str, message: str
    ) -> str:
        """The base is checked out nowhere: write the commit and move the branch by compare-and-swap."""
        parents = [base, head] if method == "merge" else [base]
        commit = await g.commit_tree(self.repo, trial.tree, parents, message, self._identity or {})
        if not await g.update_ref(self.repo, doc.base, commit, base, f"ennio: merge PR #{doc.number} ({method})"):
            raise Conflict(
                f"{doc.base} moved while PR #{doc.number} was being merged",
                hint="merge again to merge onto the new tip",
            )
        return commit

    async def _merge_in_checkout(self, checkout: Path, doc: PRDoc, head: str, method: str, message: str) -> str:
        """The base is checked out at ``checkout``: a real ``git merge`` there, only if it is clean."""
        where = f"{doc.base} is checked out in {checkout}"
        busy = await g.in_progress(checkout)
        if busy is not None:
            raise Conflict(f"{where}, which has {busy} in progress", hint="finish or abort it there, then merge again")
        changed = await g.uncommitted(checkout)
        if changed:
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
            raise Conflict(
                f"{where}, which has uncommitted changes ({shown})",
                hint="commit or stash them there (or check out another branch), then merge again",
            )
        env = self._identity or {}
        if method == "merge":
            args = ["merge", "--no-ff", "--no-edit", "-m", message, head]
        else:
            args = ["merge", "--squash", head]
        result = await g.git(checkout, *args, env=env, check=False, timeout=300)
        if result.ok and method == "squash":
            result = await g.git(checkout, "commit", "--no-edit", "-m", message, env=env, check=False, timeout=300)
        if not result.ok:
            await g.git(checkout, "merge", "--abort", check=False)
            await g.git(checkout, "reset", "--merge", check=False)
            raise SCMError(
                f"git merge of PR #{doc.number} in {checkout} failed: {_proc.tail(result.stderr or result.stdout)}",
                hint="nothing was merged; fix what git reports (a hook, a file in the way) and merge again",
            )
        return (await g.git(checkout, "rev-parse", "HEAD")).stdout.strip()


def _merge_message(doc: PRDoc, method: str) -> str:
    if method == "squash":
        head = f"{doc.title} (#{doc.number})"
    else:
        head = f"Merge PR #{doc.number} from {doc.branch}\n\n{doc.title}"
    return f"{head}\n\n{doc.body.strip()}".strip() + "\n"


def _check_author(author: str) -> str:
    name = author.strip()
    if not name or len(name) > AUTHOR_MAX or any(ord(c) < 32 or c in "/\\" for c in name):
        raise InvalidInput(
            f"reviewer name {author!r} is not usable", hint=f"give a name of 1..{AUTHOR_MAX} characters, like alice"
        )
    return name


def _check_comment(comment: ReviewComment) -> tuple[str | None, int | None, str]:
    text = comment.body.strip()
    if not text:
        raise InvalidInput("a review comment is empty", hint="give each --comment some text")
    path = comment.path
    if path is not None:
        pure = PurePosixPath(path)
        if not path or pure.is_absolute() or ".." in pure.parts or "\n" in path or len(path) > 1000:
            raise InvalidInput(f"--file {path!r} must be a path inside the repository, like src/app.py")
        path = str(pure)
    if comment.line is not None:
        if path is None:
            raise InvalidInput("--line needs --file: a line is in a file")
        if comment.line < 1:
            raise InvalidInput(f"--line {comment.line} must be 1 or more")
    return path, comment.line, text
