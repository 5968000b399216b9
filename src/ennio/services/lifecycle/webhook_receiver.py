"""Receiving GitHub and Linear webhooks: verify, refuse replays, and reconcile only what a delivery touches.

For each delivery, in this order (so a bad delivery never does anything):

1. the signature, in constant time, against every configured secret — a GitHub project's
   ``scm.webhook_secret``, a Linear project's ``tracker.webhook_secret``; the projects whose secret
   matches (narrowed by the delivery's repository for GitHub) are the ones it may affect. No secret,
   no signature or a wrong one → :class:`AuthError` (401); a Linear delivery outside its freshness
   window too;
2. the body (:func:`ennio.core.webhooks.github_targets`, :func:`ennio.core.linear_webhooks.parse_linear_webhook`)
   → :class:`InvalidInput` (400) when malformed;
3. the delivery id, remembered in the database for :data:`REPLAY_WINDOW` (GitHub lets a person redeliver
   for three days), so a replay is a no-op even after a daemon restart;
4. the sessions whose branch, PR number, head commit or issue the delivery names get an immediate
   reconcile (``LifecycleManager.poke``, run in the background); an issue that blocks a queued spawn
   makes the queue be looked at. Polling goes on as the safety net (``lifecycle.webhook_poll_interval``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import SecretStr

from ennio.core.clock import Clock
from ennio.core.config import EnnioConfig, GitHubSCMConfig, LinearTrackerConfig, ProjectConfig
from ennio.core.errors import AuthError, InvalidInput
from ennio.core.linear_webhooks import DELIVERY_HEADER as LINEAR_DELIVERY
from ennio.core.linear_webhooks import SIGNATURE_HEADER as LINEAR_SIGNATURE
from ennio.core.linear_webhooks import parse_linear_webhook, verify_linear_signature
from ennio.core.session import Session
from ennio.core.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    WebhookTargets,
    github_targets,
    matches,
    verify_github_signature,
)
from ennio.db import Database
from ennio.db.records import QueueStatus
from ennio.services.forge.issue_refs import configured_github_repo
from ennio.services.lifecycle.manager import RECONCILED_STATUSES
from ennio.services.lifecycle.reconcile_hub import ReconcileHub

log = logging.getLogger("ennio.webhooks")

#: how long delivery ids are remembered (GitHub's "Redeliver" works for deliveries of the last 3 days)
REPLAY_WINDOW = timedelta(days=3)
#: forgotten ids are pruned at most this often
_PRUNE_EVERY = timedelta(hours=1)
MAX_DELIVERY_ID = 100

Outcome = Literal["accepted", "ignored", "duplicate"]


@dataclass(slots=True)
class WebhookResult:
    """What a delivery did: ``accepted`` (sessions poked), ``ignored`` (nothing of ours), ``duplicate``."""

    outcome: Outcome
    provider: str
    event: str
    delivery: str
    projects: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    queue: bool = False


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name) or headers.get(name.lower())
    return value if value else None


class WebhookReceiver:
    def __init__(self, config: EnnioConfig, db: Database, hub: ReconcileHub, clock: Clock) -> None:
        self.config = config
        self.db = db
        self.hub = hub
        self.clock = clock
        self._pruned_at: datetime | None = None

    # ------------------------------------------------------------------ GitHub

    def github_secrets(self) -> list[tuple[ProjectConfig, SecretStr]]:
        return [
            (p, p.scm.webhook_secret)
            for p in self.config.projects
            if isinstance(p.scm, GitHubSCMConfig)
            and p.scm.webhook_secret is not None
            and p.scm.webhook_secret.get_secret_value()
        ]

    async def github(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        secrets = self.github_secrets()
        if not secrets:
            raise AuthError(
                "no GitHub webhook secret is configured, so no delivery can be verified",
                hint="set scm.webhook_secret on the project to the secret given to the GitHub webhook",
            )
        signature = _header(headers, SIGNATURE_HEADER)
        matched = [project for project, secret in secrets if _github_ok(secret, body, signature)]
        if not matched:
            verify_github_signature(secrets[0][1], body, signature)  # raises the precise AuthError
            raise AuthError(f"webhook {SIGNATURE_HEADER} does not match the body")  # pragma: no cover
        event = _header(headers, EVENT_HEADER)
        targets = github_targets(event, body)
        delivery = _delivery_id(_header(headers, DELIVERY_HEADER), DELIVERY_HEADER)
        projects = _for_repo(matched, targets.repo)
        result = WebhookResult("ignored", "github", targets.event, delivery, [p.pid for p in projects])
        if not await self._first_time("github", delivery):
            result.outcome = "duplicate"
            return result
        for project in projects:
            self.hub.delivery_seen(project.pid)
        if targets.empty or not projects:
            return result
        for project in projects:
            sessions = await self.db.sessions.list(project_id=project.pid, statuses=RECONCILED_STATUSES)
            result.sessions += [s.id for s in sessions if _affected_by_github(s, targets, project)]
        result.queue = bool(targets.issue_numbers or targets.pr_numbers) and await self._blocks_queued(
            [p.pid for p in projects], {str(n) for n in targets.issue_numbers | targets.pr_numbers}
        )
        return self._poke(result)

    # ------------------------------------------------------------------ Linear

    def linear_secrets(self) -> list[tuple[ProjectConfig, SecretStr]]:
        return [
            (p, p.tracker.webhook_secret)
            for p in self.config.projects
            if isinstance(p.tracker, LinearTrackerConfig)
            and p.tracker.webhook_secret is not None
            and p.tracker.webhook_secret.get_secret_value()
        ]

    async def linear(self, headers: Mapping[str, str], body: bytes) -> WebhookResult:
        secrets = self.linear_secrets()
        if not secrets:
            raise AuthError(
                "no Linear webhook secret is configured, so no delivery can be verified",
                hint="set tracker.webhook_secret on the project to the signing secret shown on the webhook's page",
            )
        signature = _header(headers, LINEAR_SIGNATURE)
        matched = [(project, secret) for project, secret in secrets if _linear_ok(secret, body, signature)]
        if not matched:
            verify_linear_signature(secrets[0][1], body, signature)  # raises the precise AuthError
            raise AuthError(f"Linear webhook {LINEAR_SIGNATURE} does not match the body")  # pragma: no cover
        parsed = parse_linear_webhook(body, signature, matched[0][1], clock=self.clock)
        given = _header(headers, LINEAR_DELIVERY)
        delivery = _delivery_id(given, LINEAR_DELIVERY) if given else "sha256:" + hashlib.sha256(body).hexdigest()
        projects = [project for project, _ in matched]
        result = WebhookResult(
            "ignored", "linear", f"{parsed.type}.{parsed.action}", delivery, [p.pid for p in projects]
        )
        if not await self._first_time("linear", delivery):
            result.outcome = "duplicate"
            return result
        for project in projects:
            self.hub.delivery_seen(project.pid)
        if not (parsed.identifiers or parsed.issue_ids):
            return result
        named = set(parsed.identifiers)
        for project in projects:
            sessions = await self.db.sessions.list(project_id=project.pid, statuses=RECONCILED_STATUSES)
            if parsed.issue_ids and not named:
                # only Linear's internal ids: we cannot tell which issue, so look at the whole project
                result.sessions += [s.id for s in sessions if s.issue_id]
            else:
                result.sessions += [s.id for s in sessions if s.issue_id in named]
        result.queue = bool(named) and await self._blocks_queued([p.pid for p in projects], named)
        return self._poke(result)

    # ------------------------------------------------------------------ shared

    def _poke(self, result: WebhookResult) -> WebhookResult:
        result.sessions = sorted(set(result.sessions))
        if result.sessions:
            self.hub.poke(result.sessions)
        if result.queue:
            self.hub.poke_queue()
        if result.sessions or result.queue:
            result.outcome = "accepted"
        log.info(
            "%s webhook %s (%s): %s %s",
            result.provider,
            result.delivery,
            result.event,
            result.outcome,
            ", ".join(result.sessions) or "-",
        )
        return result

    async def _first_time(self, provider: str, delivery: str) -> bool:
        now = self.clock.now()
        if self._pruned_at is None or now - self._pruned_at >= _PRUNE_EVERY:
            self._pruned_at = now
            await self.db.deliveries.forget_before(now - REPLAY_WINDOW)
        return await self.db.deliveries.record(provider, delivery)

    async def _blocks_queued(self, project_ids: list[str], keys: set[str]) -> bool:
        """Whether an issue the delivery names blocks (or is) a queued spawn of these projects."""
        waiting = await self.db.queue.list(statuses=[QueueStatus.WAITING])
        return any(e.project_id in project_ids and (e.issue_id in keys or keys & set(e.blockers)) for e in waiting)


def _github_ok(secret: SecretStr, body: bytes, signature: str | None) -> bool:
    try:
        verify_github_signature(secret, body, signature)
    except AuthError:
        return False
    return True


def _linear_ok(secret: SecretStr, body: bytes, signature: str | None) -> bool:
    try:
        verify_linear_signature(secret, body, signature)
    except AuthError:
        return False
    return True


def _delivery_id(value: str | None, header: str) -> str:
    if not value or len(value) > MAX_DELIVERY_ID or not value.isprintable():
        raise InvalidInput(f"webhook delivery has no usable {header} header")
    return value


def _for_repo(projects: list[ProjectConfig], repo: str | None) -> list[ProjectConfig]:
    """The projects a delivery about ``repo`` belongs to (a project whose repository is not named in the
    configuration is kept: its secret matched)."""
    if repo is None:
        return projects
    kept = []
    for project in projects:
        configured = configured_github_repo(project)
        if configured is None or configured.lower() == repo.lower():
            kept.append(project)
    return kept


def _affected_by_github(session: Session, targets: WebhookTargets, project: ProjectConfig) -> bool:
    observed = session.metadata.get("pr_observed")
    head = observed.get("head") if isinstance(observed, dict) else None
    if matches(targets, branch=session.branch, pr_number=session.pr_number, head_sha=head or None):
        return True
    issues = {str(n) for n in targets.issue_numbers}
    github_issues = project.tracker is not None and project.tracker.provider == "github"
    return bool(github_issues and session.issue_id and session.issue_id in issues)
