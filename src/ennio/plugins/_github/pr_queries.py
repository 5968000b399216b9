"""The batched GraphQL behind ``snapshots``: query text, and turning answers into PRSnapshots.

Three queries, all with aliases so one request covers many PRs:

* :func:`lookup_query` — PR numbers for branches the caller does not know a number for;
* :func:`snapshot_query` — for up to 50 PRs: state, draft, head sha, the status-check rollup
  (check runs and commit statuses, each with ``isRequired`` for that PR), review decision,
  each reviewer's latest approving or change-requesting review, mergeability, and the ids/flags
  of review threads;
* :func:`contexts_query` — the further pages of checks of a PR with over 100 check runs and statuses
  (a failure past the first page must not go unseen: without branch protection every check counts);
* :func:`threads_query` — comments of the unresolved, not outdated threads, fetched only when a
  PR changed (nested comment connections would multiply the GraphQL point cost by 100).

Values always travel as GraphQL variables, never spliced into the query text.

Reviews: GitHub's ``reviewDecision`` is null unless a rule on the base branch requires reviews — the
usual case for small and personal repositories. Then the decision is Ennio's, from each reviewer's
latest *opinionated* review (``latestOpinionatedReviews``: a later comment-only review does not undo
an approval, as it would in ``latestReviews``), counting only reviewers ``review_authors`` accepts,
never the PR's author, and no bot's approval (a bot asking for changes still counts): any change
request outstanding → changes requested, else an approval → approved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ennio.core.plugins import (
    CheckRun,
    CIState,
    PRSnapshot,
    PRState,
    PullRequest,
    ReviewComment,
    ReviewDecision,
)

SNAPSHOT_BATCH = 50
LOOKUP_BATCH = 100
THREAD_BATCH = 100
#: checks and statuses per page of a PR's rollup (GitHub's largest page)
CONTEXT_PAGE = 100
#: pages of checks read per PR at most (a PR with more is judged on these and its rollup state)
MAX_CONTEXT_PAGES = 10
RATE_LIMIT = "rateLimit { limit remaining resetAt cost }"

_PR_FIELDS = """
  id number url title state isDraft headRefName baseRefName headRefOid updatedAt mergeable reviewDecision
  author { login }
  reviewThreads(first: 100) { nodes { id isResolved isOutdated } }
  latestOpinionatedReviews(first: 100) { nodes { id state body url createdAt author { __typename login } } }
"""


def lookup_query(count: int) -> str:
    """``b0 … bN``: the newest PRs whose head branch is ``$bK`` (head owner checked by the caller)."""
    params = ", ".join(f"$b{i}: String!" for i in range(count))
    aliases = "\n".join(
        f"    b{i}: pullRequests(headRefName: $b{i}, first: 5, orderBy: {{field: CREATED_AT, direction: DESC}}) "
        "{ nodes { number state headRepositoryOwner { login } } }"
        for i in range(count)
    )
    return (
        f"query EnnioFindPRs($owner: String!, $name: String!, {params}) {{\n  {RATE_LIMIT}\n"
        f"  repository(owner: $owner, name: $name) {{\n{aliases}\n  }}\n}}\n"
    )


def _contexts(i: int, *, with_required: bool, after: bool) -> str:
    """The rollup's check runs and statuses of PR ``$nK``, a page of 100 (after cursor ``$aK``)."""
    required = f" isRequired(pullRequestNumber: $n{i})" if with_required else ""
    cursor = f", after: $a{i}" if after else ""
    return (
        f"contexts(first: {CONTEXT_PAGE}{cursor}) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ __typename\n"
        f"        ... on CheckRun {{ name status conclusion detailsUrl databaseId{required} }}\n"
        f"        ... on StatusContext {{ context state targetUrl description{required} }}\n"
        "      } }"
    )


def snapshot_query(count: int, *, with_required: bool) -> str:
    """``p0 … pN``: one PR each, by number ``$nK``."""
    params = ", ".join(f"$n{i}: Int!" for i in range(count))
    blocks = [
        f"    p{i}: pullRequest(number: $n{i}) {{ ...EnnioPR\n"
        f"      statusCheckRollup {{ state {_contexts(i, with_required=with_required, after=False)} }}\n    }}"
        for i in range(count)
    ]
    return (
        f"query EnnioSnapshots($owner: String!, $name: String!, {params}) {{\n  {RATE_LIMIT}\n"
        "  repository(owner: $owner, name: $name) {\n" + "\n".join(blocks) + "\n  }\n}\n"
        f"fragment EnnioPR on PullRequest {{{_PR_FIELDS}}}\n"
    )


def contexts_query(count: int, *, with_required: bool) -> str:
    """``p0 … pN``: the next page of checks of PR ``$nK`` after cursor ``$aK`` (a PR with over 100)."""
    params = ", ".join(f"$n{i}: Int!, $a{i}: String!" for i in range(count))
    blocks = [
        f"    p{i}: pullRequest(number: $n{i}) {{\n"
        f"      statusCheckRollup {{ {_contexts(i, with_required=with_required, after=True)} }}\n    }}"
        for i in range(count)
    ]
    return (
        f"query EnnioMoreChecks($owner: String!, $name: String!, {params}) {{\n  {RATE_LIMIT}\n"
        "  repository(owner: $owner, name: $name) {\n" + "\n".join(blocks) + "\n  }\n}\n"
    )


def next_contexts(node: Mapping[str, Any]) -> str | None:
    """The cursor of the next page of the PR's checks, when the rollup has more than were read."""
    page = (((node.get("statusCheckRollup") or {}).get("contexts") or {}).get("pageInfo")) or {}
    cursor = page.get("endCursor")
    return str(cursor) if page.get("hasNextPage") and cursor else None


def add_contexts(node: dict[str, Any], page_node: Mapping[str, Any] | None) -> str | None:
    """Append a further page of checks (``page_node``: the PR as :func:`contexts_query` read it) to ``node``;
    the cursor of the page after it, if any."""
    page = ((page_node or {}).get("statusCheckRollup") or {}).get("contexts") or {}
    contexts = node["statusCheckRollup"]["contexts"]
    contexts["nodes"] = [*(contexts.get("nodes") or []), *(page.get("nodes") or [])]
    contexts["pageInfo"] = page.get("pageInfo") or {"hasNextPage": False, "endCursor": None}
    return next_contexts(node)


THREADS_QUERY = f"""query EnnioThreads($ids: [ID!]!) {{
  {RATE_LIMIT}
  nodes(ids: $ids) {{
    __typename
    ... on PullRequestReviewThread {{
      id path line isResolved isOutdated
      comments(first: 50) {{ nodes {{ id body url path line createdAt author {{ __typename login }} }} }}
    }}
  }}
}}
"""

ADD_REACTION = """mutation EnnioAck($subject: ID!) {
  addReaction(input: {subjectId: $subject, content: EYES}) { reaction { content } }
}
"""

MARK_READY = """mutation EnnioReady($id: ID!) {
  markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } }
}
"""

PR_NODE_ID = """query EnnioPRId($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) { pullRequest(number: $number) { id isDraft } }
}
"""


# --------------------------------------------------------------------------- answers


def pick_lookup(nodes: Sequence[Mapping[str, Any]], owner: str) -> int | None:
    """The PR for a branch: an open one from ``owner``'s repo first, else the newest one."""
    own = [n for n in nodes if ((n.get("headRepositoryOwner") or {}).get("login") or "").lower() == owner.lower()]
    for node in own:
        if node.get("state") == "OPEN":
            return int(node["number"])
    return int(own[0]["number"]) if own else None


@dataclass(slots=True)
class AuthorFilter:
    bot_authors: frozenset[str]
    review_authors: frozenset[str] | None

    @classmethod
    def of(cls, bots: Sequence[str], reviewers: Sequence[str] | None) -> AuthorFilter:
        return cls(
            frozenset(_norm(b) for b in bots),
            frozenset(_norm(r) for r in reviewers) if reviewers is not None else None,
        )

    def classify(self, author: Mapping[str, Any] | None) -> tuple[str, bool] | None:
        """(login, is_bot) when comments from ``author`` are wanted, None to drop them."""
        login = str((author or {}).get("login") or "ghost")
        is_bot = _norm(login) in self.bot_authors or (author or {}).get("__typename") == "Bot"
        if is_bot:
            return login, True
        if self.review_authors is not None and _norm(login) not in self.review_authors:
            return None
        return login, False


def _norm(login: str) -> str:
    login = login.strip().lower()
    return login[: -len("[bot]")] if login.endswith("[bot]") else login


def pull_request(node: Mapping[str, Any]) -> PullRequest:
    state = {"OPEN": PRState.OPEN, "CLOSED": PRState.CLOSED, "MERGED": PRState.MERGED}[str(node["state"])]
    return PullRequest(
        number=int(node["number"]),
        url=str(node["url"]),
        title=str(node["title"]),
        branch=str(node["headRefName"]),
        base=str(node["baseRefName"]),
        state=state,
        draft=bool(node.get("isDraft")),
        head_sha=node.get("headRefOid"),
    )


def checks(rollup: Mapping[str, Any] | None, *, required_only: bool) -> list[CheckRun]:
    """The rollup's check runs and statuses; ``required`` marks those branch protection requires."""
    nodes = [n for n in ((rollup or {}).get("contexts") or {}).get("nodes") or [] if n]
    out: list[CheckRun] = []
    for node in nodes:
        if node.get("__typename") == "CheckRun":
            out.append(CheckRun(node["name"], _check_run_state(node), node.get("detailsUrl")))
        elif node.get("__typename") == "StatusContext":
            out.append(CheckRun(node["context"], _status_state(node["state"]), node.get("targetUrl")))
        else:
            continue
        out[-1].required = bool(node.get("isRequired"))
    # when branch protection names none (or counting all is configured), every check counts
    if not required_only or not any(c.required for c in out):
        for check in out:
            check.required = True
    return out


def ci_state(all_checks: Sequence[CheckRun]) -> CIState:
    counted = [c for c in all_checks if c.required]
    if not counted:
        return CIState.NONE
    if any(c.state is CIState.FAILING for c in counted):
        return CIState.FAILING
    if any(c.state is CIState.PENDING for c in counted):
        return CIState.PENDING
    return CIState.PASSING


_ROLLUP_STATES = {
    "FAILURE": CIState.FAILING,
    "ERROR": CIState.FAILING,
    "PENDING": CIState.PENDING,
    "EXPECTED": CIState.PENDING,
}
_FAILED = {"FAILURE", "TIMED_OUT", "CANCELLED", "ACTION_REQUIRED", "STARTUP_FAILURE"}
_PASSED = {"SUCCESS", "NEUTRAL", "SKIPPED"}


def _check_run_state(node: Mapping[str, Any]) -> CIState:
    if node.get("status") != "COMPLETED":
        return CIState.PENDING
    conclusion = node.get("conclusion")
    if conclusion in _FAILED:
        return CIState.FAILING
    if conclusion in _PASSED:
        return CIState.PASSING
    return CIState.PENDING  # STALE or not yet concluded


def _status_state(state: str) -> CIState:
    if state == "SUCCESS":
        return CIState.PASSING
    if state in ("FAILURE", "ERROR"):
        return CIState.FAILING
    return CIState.PENDING


_DECISIONS = {
    "APPROVED": ReviewDecision.APPROVED,
    "CHANGES_REQUESTED": ReviewDecision.CHANGES_REQUESTED,
    "REVIEW_REQUIRED": ReviewDecision.REVIEW_REQUIRED,
}


def _opinions(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in (node.get("latestOpinionatedReviews") or {}).get("nodes") or [] if r]


def review_decision(node: Mapping[str, Any], authors: AuthorFilter) -> ReviewDecision:
    """GitHub's ``reviewDecision`` when a rule requires reviews; otherwise derived from the reviewers'
    latest opinions (see the module note)."""
    decided = node.get("reviewDecision")
    if decided:
        return _DECISIONS.get(str(decided), ReviewDecision.NONE)
    pr_author = _norm(str((node.get("author") or {}).get("login") or ""))
    counted: set[str] = set()
    for review in _opinions(node):
        who = authors.classify(review.get("author"))
        if who is None or (pr_author and _norm(who[0]) == pr_author):
            continue
        state = str(review.get("state"))
        if state == "APPROVED" and who[1]:
            continue  # a bot's approval is no person's judgement
        counted.add(state)
    if "CHANGES_REQUESTED" in counted:
        return ReviewDecision.CHANGES_REQUESTED
    if "APPROVED" in counted:
        return ReviewDecision.APPROVED
    return ReviewDecision.NONE


def open_thread_ids(node: Mapping[str, Any]) -> list[str]:
    threads = (node.get("reviewThreads") or {}).get("nodes") or []
    return [str(t["id"]) for t in threads if t and not t.get("isResolved") and not t.get("isOutdated")]


def thread_comments(thread: Mapping[str, Any], authors: AuthorFilter) -> list[ReviewComment]:
    if thread.get("isResolved") or thread.get("isOutdated"):
        return []
    out = []
    for c in (thread.get("comments") or {}).get("nodes") or []:
        if not c:
            continue
        who = authors.classify(c.get("author"))
        if who is None:
            continue
        out.append(
            ReviewComment(
                id=str(c["id"]),
                author=who[0],
                body=str(c.get("body") or ""),
                path=c.get("path") or thread.get("path"),
                line=c.get("line") if c.get("line") is not None else thread.get("line"),
                url=c.get("url"),
                is_bot=who[1],
                created_at=_time(c.get("createdAt")),
            )
        )
    return out


def review_bodies(node: Mapping[str, Any], authors: AuthorFilter) -> list[ReviewComment]:
    """Bodies of the latest reviews that request changes (they carry the reviewer's summary)."""
    out = []
    for review in _opinions(node):
        if review.get("state") != "CHANGES_REQUESTED" or not (review.get("body") or "").strip():
            continue
        who = authors.classify(review.get("author"))
        if who is None:
            continue
        out.append(
            ReviewComment(
                id=str(review["id"]),
                author=who[0],
                body=str(review["body"]),
                url=review.get("url"),
                is_bot=who[1],
                created_at=_time(review.get("createdAt")),
            )
        )
    return out


def snapshot(
    branch: str,
    node: Mapping[str, Any],
    comments: Sequence[ReviewComment],
    authors: AuthorFilter,
    *,
    required_only: bool,
) -> PRSnapshot:
    pr = pull_request(node)
    rollup = node.get("statusCheckRollup")
    all_checks = checks(rollup, required_only=required_only)
    ci = ci_state(all_checks)
    if next_contexts(node) is not None:
        # more checks than were read: GitHub's overall state of them all may only make it worse
        overall = _ROLLUP_STATES.get(str((rollup or {}).get("state")), CIState.PASSING)
        if overall is CIState.FAILING and ci is not CIState.FAILING:
            all_checks.append(
                CheckRun("(checks past the ones read: GitHub reports a failure)", overall, f"{pr.url}/checks")
            )
            ci = CIState.FAILING
        elif overall is CIState.PENDING and ci is CIState.PASSING:
            ci = CIState.PENDING
    mergeable = {"MERGEABLE": True, "CONFLICTING": False}.get(str(node.get("mergeable")))
    return PRSnapshot(
        branch=branch,
        pr=pr,
        ci=ci,
        checks=all_checks,
        review=review_decision(node, authors),
        comments=[c for c in comments if not c.is_bot],
        bot_comments=[c for c in comments if c.is_bot],
        mergeable=mergeable,
        conflicts=[f"{pr.branch} conflicts with {pr.base}"] if mergeable is False else [],
    )


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
