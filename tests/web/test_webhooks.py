"""Webhooks on a real daemon: GitHub deliveries (built from the fake GitHub's state and checked by githubkit's
webhook models) and Linear deliveries, signed or not, replayed, malformed; and ``POST /api/v1/poke``.

The lifecycle polls every hour here, so anything that happens to a session within the test happened
because a delivery (or a poke) made it happen.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from ennio.core.session import SessionStatus
from tests.helpers.fake_github import REPO, FakePR
from tests.helpers.git import commit_file
from tests.helpers.github_webhooks import Delivery, Payloads, delivery
from tests.helpers.wait import async_wait_for
from tests.web.conftest import GITHUB_SECRET, LINEAR_SECRET, OTHER_REPO, OTHER_SECRET, ForgeDaemon

S = SessionStatus
Factory = Callable[[], Any]


async def post(forge: ForgeDaemon, hook: Delivery) -> httpx.Response:
    return await forge.http.post("/webhooks/github", content=hook.body, headers=hook.headers)


async def spawn(forge: ForgeDaemon, project: str, **body: Any) -> dict[str, Any]:
    response = await forge.http.post("/api/v1/sessions", json={"project": project, **body})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def status_of(forge: ForgeDaemon, session_id: str) -> S:
    return (await forge.services.db.sessions.get(session_id)).status


def open_pr(forge: ForgeDaemon, made: dict[str, Any]) -> FakePR:
    """A commit on the session's branch and a PR whose head is that commit (so there is nothing to push)."""
    head = commit_file(Path(made["workspace_path"]), f"{made['id']}.txt", "work\n", f"Work of {made['id']}")
    return forge.github.open_pr(REPO, made["branch"], sha=head)


async def first_pass(forge: ForgeDaemon) -> None:
    await async_wait_for(lambda: _true(forge.lifecycle.passes >= 1), timeout=30, what="the first reconcile pass")


async def _true(value: bool) -> bool:
    return value


async def two_sessions_with_prs(forge: ForgeDaemon) -> tuple[dict[str, Any], dict[str, Any]]:
    """widgets-1 (on a GitHub issue) and widgets-2, each with an open PR the lifecycle has adopted."""
    issue = forge.github.add_issue(REPO, "Add login")
    one = await spawn(forge, "widgets", issue=f"#{issue.number}")
    two = await spawn(forge, "widgets", prompt="Tidy the README")
    assert one["issue_id"] == str(issue.number) and one["branch"].startswith(f"feat/{issue.number}-")
    for made in (one, two):
        open_pr(forge, made)
    poked = await forge.http.post("/api/v1/poke", json={"project": "widgets"})
    assert poked.status_code == 202 and poked.json() == {"sessions": ["widgets-1", "widgets-2"], "all": False}

    async def adopted() -> bool:
        rows = [await forge.services.db.sessions.get(s["id"]) for s in (one, two)]
        return all(r.pr_number is not None and r.status is S.PR_OPEN for r in rows)

    await async_wait_for(adopted, timeout=30, what="both PRs adopted")
    return one, two


# --------------------------------------------------------------------------- GitHub


async def test_a_signed_check_run_reconciles_only_the_session_it_names(forge_daemon_factory: Factory) -> None:
    async with forge_daemon_factory() as forge:
        await first_pass(forge)
        one, two = await two_sessions_with_prs(forge)
        prs = {p.head: p for p in forge.github.repo(REPO).prs.values()}
        failing = forge.github.add_check(REPO, prs[one["branch"]].head_sha, "tests", conclusion="failure")
        forge.github.add_check(REPO, prs[two["branch"]].head_sha, "tests", conclusion="failure")
        assert not forge.lifecycle.webhook_fed("widgets")

        hook = delivery(
            "check_run", Payloads(forge.github, REPO).check_run_event(failing, prs[one["branch"]]), GITHUB_SECRET
        )
        response = await post(forge, hook)

        assert response.status_code == 202, response.text
        assert response.json() | {"delivery": None} == {
            "outcome": "accepted",
            "provider": "github",
            "event": "check_run",
            "delivery": None,
            "projects": ["widgets"],
            "sessions": ["widgets-1"],
        }

        async def failed() -> bool:
            return await status_of(forge, "widgets-1") is S.CI_FAILED

        await async_wait_for(failed, timeout=30, what="widgets-1 reconciled to ci_failed")
        assert await status_of(forge, "widgets-2") is S.PR_OPEN  # its CI failed too, but nothing told Ennio
        # deliveries arrive, so the project's forge polling relaxes to webhook_poll_interval (2h here)
        assert forge.lifecycle.webhook_fed("widgets") and not forge.lifecycle.webhook_fed("gadgets")
        assert forge.lifecycle.forge_interval("widgets") == 7200
        assert forge.lifecycle.forge_interval("gadgets") == 3600
        metrics = (await forge.http.get("/metrics")).text
        assert 'ennio_webhook_deliveries_total{outcome="accepted",provider="github"} 1.0' in metrics
        assert 'ennio_github_rate_remaining{project="widgets",resource="graphql"}' in metrics


async def test_every_followed_event_names_its_session(forge_daemon_factory: Factory) -> None:
    async with forge_daemon_factory() as forge:
        await first_pass(forge)
        one, _ = await two_sessions_with_prs(forge)
        github = forge.github
        pr = next(p for p in github.repo(REPO).prs.values() if p.head == one["branch"])
        issue = github.repo(REPO).issues[int(one["issue_id"])]
        payloads = Payloads(github, REPO)
        thread = github.add_thread(REPO, pr.number, "alice", "Rename this", path="app.py", line=4)
        events = {
            "pull_request": payloads.pull_request_event(pr),
            "pull_request_review": payloads.review_event(pr, "bob"),
            "pull_request_review_comment": payloads.review_comment_event(pr, thread),
            "check_run": payloads.check_run_event(github.add_check(REPO, pr.head_sha, "lint"), pr),
            "check_suite": payloads.check_suite_event(pr.head_sha, pr),
            "status": payloads.status_event(github.add_status(REPO, pr.head_sha, "ci/coverage", "success"), []),
            "issue_comment": payloads.issue_comment_event(pr.number),
            "issues": payloads.issues_event(issue, "edited"),
        }
        for event, payload in events.items():
            response = await post(forge, delivery(event, payload, GITHUB_SECRET))
            assert response.status_code == 202, (event, response.text)
            assert response.json()["sessions"] == ["widgets-1"], event

        ping = await post(forge, delivery("ping", {"zen": "Keep it simple.", "hook_id": 1}, GITHUB_SECRET))
        assert ping.status_code == 200 and ping.json()["outcome"] == "ignored"


async def test_which_projects_secret_matches_decides_what_is_touched(forge_daemon_factory: Factory) -> None:
    async with forge_daemon_factory() as forge:
        await first_pass(forge)
        one, _ = await two_sessions_with_prs(forge)
        pr = next(p for p in forge.github.repo(REPO).prs.values() if p.head == one["branch"])
        payload = Payloads(forge.github, REPO).pull_request_event(pr)
        # signed with the gadgets project's secret, but about acme/widgets: not gadgets' business
        response = await post(forge, delivery("pull_request", payload, OTHER_SECRET))
        assert response.status_code == 200
        assert response.json()["outcome"] == "ignored" and response.json()["projects"] == []
        # about acme/gadgets with the same branch name: only gadgets' sessions (none) are looked at
        gadget_pr = forge.github.open_pr(OTHER_REPO, one["branch"])
        gadget = Payloads(forge.github, OTHER_REPO).pull_request_event(gadget_pr)
        response = await post(forge, delivery("pull_request", gadget, OTHER_SECRET))
        assert response.json()["projects"] == ["gadgets"] and response.json()["sessions"] == []
        assert forge.lifecycle.webhook_fed("gadgets") and not forge.lifecycle.webhook_fed("widgets")


async def test_missing_or_wrong_signatures_are_refused_and_do_nothing(forge_daemon_factory: Factory) -> None:
    async with forge_daemon_factory() as forge:
        await first_pass(forge)
        pr = forge.github.open_pr(REPO, "feat/9-x")
        payload = Payloads(forge.github, REPO).pull_request_event(pr)
        good = delivery("pull_request", payload, GITHUB_SECRET)
        unsigned = delivery("pull_request", payload, None, delivery_id=good.id)
        wrong_secret = delivery("pull_request", payload, "not-the-secret", delivery_id=good.id)
        other_body = Delivery("pull_request", good.body + b" ", good.headers)
        for bad, message in (
            (unsigned, "no X-Hub-Signature-256"),
            (wrong_secret, "does not match"),
            (other_body, "does not match"),
        ):
            response = await post(forge, bad)
            assert response.status_code == 401, response.text
            assert response.json()["error"] == "unauthorized" and message in response.json()["message"]
        assert not forge.lifecycle.webhook_fed("widgets")  # nothing was recorded
        # the refused deliveries did not use up the delivery id
        assert (await post(forge, good)).json()["outcome"] == "ignored"
        assert forge.lifecycle.webhook_fed("widgets")


async def test_malformed_bodies_are_400_and_do_nothing(forge_daemon_factory: Factory) -> None:
    async with forge_daemon_factory() as forge:
        hook_id = str(uuid.uuid4())
        for body in (b"{not json", b"[]", json.dumps({"action": "opened", "number": 3}).encode()):
            headers = {
                "X-GitHub-Event": "pull_request",
                "X-GitHub-Delivery": hook_id,
                "X-Hub-Signature-256": "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest(),
            }
            response = await forge.http.post("/webhooks/github", content=body, headers=headers)
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_input"
        assert not forge.lifecycle.webhook_fed("widgets")
        no_id = delivery("ping", {"zen": "z", "hook_id": 1}, GITHUB_SECRET)
        del no_id.headers["X-GitHub-Delivery"]
        assert (await post(forge, no_id)).status_code == 400


async def test_a_replayed_delivery_is_a_no_op_even_after_a_restart(forge_daemon_factory: Factory) -> None:
    async with forge_daemon_factory() as forge:
        await first_pass(forge)
        one, _ = await two_sessions_with_prs(forge)
        pr = next(p for p in forge.github.repo(REPO).prs.values() if p.head == one["branch"])
        hook = delivery("pull_request", Payloads(forge.github, REPO).pull_request_event(pr), GITHUB_SECRET)
        assert (await post(forge, hook)).status_code == 202
        again = await post(forge, hook)
        assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
        assert again.json()["sessions"] == []
    async with forge_daemon_factory() as forge:
        after_restart = await post(forge, hook)
        assert after_restart.status_code == 200 and after_restart.json()["outcome"] == "duplicate"
        assert not forge.lifecycle.webhook_fed("widgets")


# --------------------------------------------------------------------------- Linear


def linear_delivery(
    payload: dict[str, Any], *, secret: str = LINEAR_SECRET, at: datetime | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({**payload, "webhookTimestamp": int((at or datetime.now(UTC)).timestamp() * 1000)}).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Linear-Delivery": str(uuid.uuid4()),
        "Linear-Event": payload["type"],
        "Linear-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }
    return body, headers


def issue_update(identifier: str, issue_id: str) -> dict[str, Any]:
    return {
        "action": "update",
        "type": "Issue",
        "createdAt": "2026-03-01T12:00:00.000Z",
        "organizationId": "0b7d6b02-4d5f-4a36-9d6b-1a2b3c4d5e6f",
        "webhookId": "5f1c2d3e-0000-4000-8000-000000000001",
        "url": f"https://linear.app/acme/issue/{identifier}/add-login",
        "data": {"id": issue_id, "identifier": identifier, "title": "Add login", "number": 1},
        "updatedFrom": {"title": "Login"},
    }


async def test_linear_deliveries_good_bad_stale_replayed_and_malformed(forge_daemon_factory: Factory) -> None:
    async with forge_daemon_factory() as forge:
        await first_pass(forge)
        issue = forge.linear.add_issue("ENG", "Add login")
        made = await spawn(forge, "eng", issue=issue.identifier)
        assert made["issue_id"] == issue.identifier
        payload = issue_update(issue.identifier, issue.id)

        body, headers = linear_delivery(payload)
        response = await forge.http.post("/webhooks/linear", content=body, headers=headers)
        assert response.status_code == 202, response.text
        assert response.json()["sessions"] == [made["id"]] and response.json()["event"] == "Issue.update"
        replay = await forge.http.post("/webhooks/linear", content=body, headers=headers)
        assert replay.status_code == 200 and replay.json()["outcome"] == "duplicate"

        for secret, at, expected in (
            ("wrong", None, "does not match"),
            (LINEAR_SECRET, datetime.now(UTC) - timedelta(minutes=10), "refused as replays"),
        ):
            body, headers = linear_delivery(payload, secret=secret, at=at)
            refused = await forge.http.post("/webhooks/linear", content=body, headers=headers)
            assert refused.status_code == 401 and expected in refused.json()["message"], refused.text
        body, headers = linear_delivery(payload)
        del headers["Linear-Signature"]
        assert (await forge.http.post("/webhooks/linear", content=body, headers=headers)).status_code == 401
        junk = b'{"type": "Issue", "action": "update", "webhookTimestamp": "soon"}'
        signature = hmac.new(LINEAR_SECRET.encode(), junk, hashlib.sha256).hexdigest()
        malformed = await forge.http.post("/webhooks/linear", content=junk, headers={"Linear-Signature": signature})
        assert malformed.status_code == 400 and malformed.json()["error"] == "invalid_input"


# --------------------------------------------------------------------------- poke


async def test_poke_reconciles_named_sessions_and_checks_them(forge_daemon_factory: Factory) -> None:
    async with forge_daemon_factory() as forge:
        await first_pass(forge)
        made = await spawn(forge, "widgets", prompt="Work")
        open_pr(forge, made)
        unknown = await forge.http.post("/api/v1/poke", json={"sessions": ["widgets-99"]})
        assert unknown.status_code == 404 and "widgets-99" in unknown.json()["message"]
        bad = await forge.http.post("/api/v1/poke", json={"sessions": ["../etc"]})
        assert bad.status_code == 400
        response = await forge.http.post("/api/v1/poke", json={"sessions": [made["id"]]})
        assert response.status_code == 202 and response.json() == {"sessions": [made["id"]], "all": False}

        async def adopted() -> bool:
            return (await forge.services.db.sessions.get(made["id"])).pr_number is not None

        await async_wait_for(adopted, timeout=30, what="the poked session to find its PR")
        everything = await forge.http.post("/api/v1/poke")
        assert everything.status_code == 202 and everything.json() == {"sessions": [], "all": True}
