"""Forge webhooks, pure: signature checks, replay protection, and what a delivery affects.

The daemon's ``POST /webhooks/github`` calls :func:`verify_github_signature`, then
:class:`ReplayGuard`, then :func:`github_targets` and reconciles only the sessions whose
branch, PR number, head sha or issue number the result names. Nothing here does I/O.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr

from ennio.core.errors import AuthError, Conflict, InvalidId, InvalidInput
from ennio.core.ids import validate_branch_name

SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
_SIGNATURE_PREFIX = "sha256="
_SHA_HEX = frozenset("0123456789abcdef")

#: events that change what a session's PR, CI, review or issue looks like
GITHUB_EVENTS = frozenset(
    {
        "pull_request",
        "pull_request_review",
        "pull_request_review_comment",
        "pull_request_review_thread",
        "check_run",
        "check_suite",
        "status",
        "issue_comment",
        "issues",
    }
)


def github_signature(secret: SecretStr | str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body`` (``sha256=<hex>``)."""
    key = _secret_bytes(secret)
    return _SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_github_signature(secret: SecretStr | str | bytes, body: bytes, header: str | None) -> None:
    """Raise :class:`AuthError` unless ``header`` is the HMAC-SHA256 of ``body`` with ``secret``.

    The comparison is constant-time. A missing or malformed header is rejected the same way.
    """
    if not _secret_bytes(secret):
        raise AuthError(
            "the webhook secret is empty, so no delivery can be verified",
            hint="set webhook_secret in the project's scm config to the secret given to GitHub",
        )
    if not header:
        raise AuthError(
            f"webhook delivery has no {SIGNATURE_HEADER} header",
            hint="set a secret on the GitHub webhook and the same webhook_secret in ennio.yaml",
        )
    expected = github_signature(secret, body)
    if not hmac.compare_digest(expected.encode(), header.strip().encode()):
        raise AuthError(
            f"webhook {SIGNATURE_HEADER} does not match the body",
            hint="the secret on the GitHub webhook and webhook_secret in ennio.yaml must be the same",
        )


def _secret_bytes(secret: SecretStr | str | bytes) -> bytes:
    if isinstance(secret, SecretStr):
        return secret.get_secret_value().encode()
    if isinstance(secret, str):
        return secret.encode()
    return secret


class ReplayGuard:
    """Remembers recent delivery ids so a replayed (re-sent or captured) delivery is refused.

    Bounded: the oldest ids are forgotten first. GitHub's "redeliver" button reuses the id, so a
    person redelivering on purpose is also refused; the poll loop covers anything missed.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._seen: OrderedDict[str, None] = OrderedDict()

    def check(self, delivery_id: str | None) -> None:
        """Record ``delivery_id``; raise :class:`Conflict` if it was seen before, InvalidInput if absent."""
        if not delivery_id or len(delivery_id) > 100:
            raise InvalidInput(f"webhook delivery has no usable {DELIVERY_HEADER} header")
        if delivery_id in self._seen:
            raise Conflict(f"webhook delivery {delivery_id} was already processed", hint="nothing to do")
        self._seen[delivery_id] = None
        while len(self._seen) > self._capacity:
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True, slots=True)
class WebhookTargets:
    """What one delivery touches; the daemon reconciles the sessions matching any of it."""

    event: str
    action: str | None = None
    #: ``owner/name`` of the repository the delivery is about
    repo: str | None = None
    branches: frozenset[str] = field(default_factory=frozenset)
    pr_numbers: frozenset[int] = field(default_factory=frozenset)
    head_shas: frozenset[str] = field(default_factory=frozenset)
    issue_numbers: frozenset[int] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not (self.branches or self.pr_numbers or self.head_shas or self.issue_numbers)


def github_targets(event: str | None, body: bytes) -> WebhookTargets:
    """Map a GitHub delivery (``X-GitHub-Event`` and its JSON body) to what it affects.

    Events Ennio does not follow (``ping``, ``push`` …) map to an empty result. A body that is not
    the JSON object GitHub sends for ``event`` raises :class:`InvalidInput`.
    """
    if not event or not event.replace("_", "").isalnum() or len(event) > 64:
        raise InvalidInput(f"webhook delivery has no usable {EVENT_HEADER} header")
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(
            f"webhook body is not JSON: {exc}", hint="GitHub webhooks must use application/json"
        ) from None
    if not isinstance(payload, dict):
        raise InvalidInput("webhook body is not a JSON object")
    action = _opt_str(payload, "action")
    if event not in GITHUB_EVENTS:
        return WebhookTargets(event=event, action=action, repo=_repo_name(payload, required=False))
    collected = _Collected()
    repo = _repo_name(payload, required=True)
    match event:
        case "pull_request" | "pull_request_review" | "pull_request_review_comment" | "pull_request_review_thread":
            collected.pull_request(_obj(payload, "pull_request"))
        case "check_run":
            run = _obj(payload, "check_run")
            collected.sha(_req_str(run, "head_sha", "check_run"))
            suite = run.get("check_suite")
            if isinstance(suite, dict):
                collected.branch(suite.get("head_branch"))
            collected.pull_requests(run.get("pull_requests"))
        case "check_suite":
            suite = _obj(payload, "check_suite")
            collected.sha(_req_str(suite, "head_sha", "check_suite"))
            collected.branch(suite.get("head_branch"))
            collected.pull_requests(suite.get("pull_requests"))
        case "status":
            collected.sha(_req_str(payload, "sha", "status"))
            branches = payload.get("branches") or []
            if not isinstance(branches, list):
                raise InvalidInput("webhook status.branches is not a list")
            for branch in branches:
                if isinstance(branch, dict):
                    collected.branch(branch.get("name"))
        case "issue_comment" | "issues":
            issue = _obj(payload, "issue")
            number = _req_int(issue, "number", "issue")
            if event == "issue_comment" and issue.get("pull_request"):
                collected.pr_numbers.add(number)
            else:
                collected.issue_numbers.add(number)
    return WebhookTargets(
        event=event,
        action=action,
        repo=repo,
        branches=frozenset(collected.branches),
        pr_numbers=frozenset(collected.pr_numbers),
        head_shas=frozenset(collected.head_shas),
        issue_numbers=frozenset(collected.issue_numbers),
    )


@dataclass(slots=True)
class _Collected:
    branches: set[str] = field(default_factory=set)
    pr_numbers: set[int] = field(default_factory=set)
    head_shas: set[str] = field(default_factory=set)
    issue_numbers: set[int] = field(default_factory=set)

    def branch(self, name: object) -> None:
        # a branch Ennio could not have made cannot belong to a session: ignore it
        if isinstance(name, str):
            with contextlib.suppress(InvalidId):
                self.branches.add(validate_branch_name(name))

    def sha(self, sha: str) -> None:
        lowered = sha.lower()
        if not (7 <= len(lowered) <= 64) or not set(lowered) <= _SHA_HEX:
            raise InvalidInput(f"webhook carries an invalid commit sha {sha[:80]!r}")
        self.head_shas.add(lowered)

    def pull_request(self, pr: Mapping[str, Any]) -> None:
        self.pr_numbers.add(_req_int(pr, "number", "pull_request"))
        head = pr.get("head")
        if head is not None:
            if not isinstance(head, dict):
                raise InvalidInput("webhook pull_request.head is not an object")
            self.branch(head.get("ref"))
            if isinstance(head.get("sha"), str):
                self.sha(head["sha"])

    def pull_requests(self, prs: object) -> None:
        if prs is None:
            return
        if not isinstance(prs, list):
            raise InvalidInput("webhook pull_requests is not a list")
        for pr in prs:
            if not isinstance(pr, dict):
                raise InvalidInput("webhook pull_requests holds something that is not an object")
            self.pull_request(pr)


def _obj(payload: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    if not isinstance(value, dict):
        raise InvalidInput(f"webhook body has no {key!r} object")
    return value


def _req_str(payload: Mapping[str, Any], key: str, where: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"webhook {where}.{key} is missing or not text")
    return value


def _req_int(payload: Mapping[str, Any], key: str, where: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"webhook {where}.{key} is missing or not a positive number")
    return value


def _opt_str(payload: Mapping[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) else None


def _repo_name(payload: Mapping[str, Any], *, required: bool) -> str | None:
    repo = payload.get("repository")
    if repo is None and not required:
        return None
    if not isinstance(repo, dict) or not isinstance(repo.get("full_name"), str) or "/" not in repo["full_name"]:
        raise InvalidInput("webhook body has no repository.full_name")
    name: str = repo["full_name"]
    return name


def matches(targets: WebhookTargets, *, branch: str | None, pr_number: int | None, head_sha: str | None) -> bool:
    """Whether a session (its branch, PR number and last seen head sha) is affected by a delivery."""
    return bool(
        (branch is not None and branch in targets.branches)
        or (pr_number is not None and pr_number in targets.pr_numbers)
        or (head_sha is not None and head_sha.lower() in targets.head_shas)
    )
