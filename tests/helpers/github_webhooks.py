"""GitHub webhook deliveries built from the fake GitHub's state, each checked by githubkit's webhook models.

githubkit's webhook models are generated from GitHub's webhook schemas (octokit/webhooks), so a
payload they reject is one GitHub could not send. :func:`delivery` returns the body and the headers
GitHub would send for it: ``X-GitHub-Event``, ``X-GitHub-Delivery`` and ``X-Hub-Signature-256``
(computed here with the stdlib, independently of the code under test).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from typing import Any

from githubkit.webhooks import parse_obj

from tests.helpers import fake_github_payloads as pl
from tests.helpers.fake_github import FakeCheck, FakeGitHub, FakeIssue, FakePR, FakeRepo, FakeStatus, FakeThread, _sha

_REACTIONS = {
    "url": "",
    "total_count": 0,
    "+1": 0,
    "-1": 0,
    "laugh": 0,
    "confused": 0,
    "heart": 0,
    "hooray": 0,
    "eyes": 0,
    "rocket": 0,
}


@dataclass(frozen=True)
class Delivery:
    event: str
    body: bytes
    headers: dict[str, str]

    @property
    def id(self) -> str:
        return self.headers["X-GitHub-Delivery"]


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(event: str, payload: dict[str, Any], secret: str | None, *, delivery_id: str | None = None) -> Delivery:
    """A delivery of ``payload`` (validated as ``event``), signed with ``secret`` (unsigned when ``None``)."""
    parse_obj(event, payload)  # raises if GitHub could not send it
    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/ennio-test",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "4242",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(secret, body)
    return Delivery(event, body, headers)


class Payloads:
    """Webhook payloads for one repository of a fake GitHub."""

    def __init__(self, fake: FakeGitHub, full_name: str, sender: str = "octocat") -> None:
        self.fake = fake
        self.repo: FakeRepo = fake.repo(full_name)
        self.urls = pl.Urls(fake.base + fake.prefix)
        fake.user(sender)
        self.sender_login = sender

    # ------------------------------------------------------------------ pieces

    def repository(self) -> dict[str, Any]:
        return self.fake._repo_payload(self.urls, self.repo) | {"topics": [], "custom_properties": {}}

    def sender(self) -> dict[str, Any]:
        return self.fake._user(self.urls, self.sender_login)

    def pull_request(self, pr: FakePR) -> dict[str, Any]:
        full = self.fake._pr_full(self.urls, self.repo, pr)
        for side in ("head", "base"):
            full[side] = {**full[side], "repo": {**full[side]["repo"], "topics": []}}
        return full

    def _common(self) -> dict[str, Any]:
        return {"repository": self.repository(), "sender": self.sender()}

    # ------------------------------------------------------------------ events

    def pull_request_event(self, pr: FakePR, action: str = "synchronize") -> dict[str, Any]:
        payload = {"action": action, "number": pr.number, "pull_request": self.pull_request(pr), **self._common()}
        if action == "synchronize":
            payload |= {"before": "0" * 40, "after": pr.head_sha}
        return payload

    def review_event(self, pr: FakePR, author: str, state: str = "changes_requested") -> dict[str, Any]:
        review = self.fake.add_review(self.repo.full_name, pr.number, author, state.upper(), "Please fix")
        body = pl.review(
            self.urls,
            self.repo.full_name,
            pr.number,
            rid=review.id,
            author=self.fake._user(self.urls, author),
            body=review.body,
            state=state,
            commit=pr.head_sha,
            when=review.created,
        )
        return {"action": "submitted", "review": body, "pull_request": self.pull_request(pr), **self._common()}

    def review_comment_event(self, pr: FakePR, thread: FakeThread) -> dict[str, Any]:
        first = thread.comments[0]
        comment = pl.review_comment(
            self.urls,
            self.repo.full_name,
            pr.number,
            cid=first.id,
            review_id=first.id + 1,
            author=self.fake._user(self.urls, first.author),
            body=first.body,
            path=thread.path,
            line=thread.line,
            commit=pr.head_sha,
            when=first.created,
        )
        comment |= {
            "in_reply_to_id": None,
            "original_line": thread.line,
            "original_position": thread.line,
            "original_start_line": None,
            "start_line": None,
            "side": "RIGHT",
            "start_side": None,
            "subject_type": "line",
            "reactions": _REACTIONS,
        }
        return {"action": "created", "comment": comment, "pull_request": self.pull_request(pr), **self._common()}

    def check_run_event(self, check: FakeCheck, pr: FakePR | None = None) -> dict[str, Any]:
        owner = self.fake._user(self.urls, self.repo.owner) | {"type": "Organization"}
        run = pl.check_run(
            self.urls,
            self.fake._repo_payload(self.urls, self.repo),
            cid=check.id,
            name=check.name,
            head_sha=check.head_sha,
            status=check.status,
            conclusion=check.conclusion,
            details_url=check.details_url,
            app_slug=check.app,
            app_owner=owner,
            output=check.output,
            started=check.started,
            completed=check.started if check.status == "completed" else None,
        )
        run["check_suite"] = self._suite(check.id + 100_000, check.head_sha, pr, run["app"])
        run["pull_requests"] = [self._pr_min(pr)] if pr is not None else []
        action = "completed" if check.status == "completed" else "created"
        return {"action": action, "check_run": run, **self._common()}

    def check_suite_event(self, sha: str, pr: FakePR | None = None) -> dict[str, Any]:
        app = self.check_run_event(self.fake.add_check(self.repo.full_name, sha, "suite-probe"), pr)["check_run"]["app"]
        suite = self._suite(self.fake.next_id(), sha, pr, app) | {
            "after": sha,
            "before": "0" * 40,
            "latest_check_runs_count": 1,
            "check_runs_url": f"{self.urls.api}/repos/{self.repo.full_name}/check-suites/1/check-runs",
            "head_commit": {
                "id": sha,
                "tree_id": sha,
                "message": "work",
                "timestamp": "2026-01-01T00:00:00Z",
                "author": {"name": "Dev", "email": "dev@example.com"},
                "committer": {"name": "Dev", "email": "dev@example.com"},
            },
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "rerequestable": True,
            "runs_rerequestable": True,
        }
        return {"action": "completed", "check_suite": suite, **self._common()}

    def status_event(self, status: FakeStatus, branches: list[str]) -> dict[str, Any]:
        commit_url = f"{self.urls.api}/repos/{self.repo.full_name}/commits/{status.sha}"
        person = {"name": "Dev", "email": "dev@example.com", "date": "2026-01-01T00:00:00Z"}
        return {
            "id": status.id,
            "sha": status.sha,
            "name": self.repo.full_name,
            "target_url": status.target_url,
            "context": status.context,
            "description": status.description,
            "state": status.state,
            "commit": {
                "sha": status.sha,
                "node_id": f"C_{status.sha[:10]}",
                "url": commit_url,
                "html_url": f"{self.urls.web}/{self.repo.full_name}/commit/{status.sha}",
                "comments_url": f"{commit_url}/comments",
                "commit": {
                    "author": person,
                    "committer": person,
                    "message": "work",
                    "tree": {"sha": status.sha, "url": commit_url},
                    "url": commit_url,
                    "comment_count": 0,
                    "verification": {
                        "verified": False,
                        "reason": "unsigned",
                        "signature": None,
                        "payload": None,
                        "verified_at": None,
                    },
                },
                "author": None,
                "committer": None,
                "parents": [],
            },
            "branches": [
                {"name": b, "commit": {"sha": status.sha, "url": commit_url}, "protected": False} for b in branches
            ],
            "created_at": pl.iso(status.created),
            "updated_at": pl.iso(status.created),
            **self._common(),
        }

    def issue(self, issue: FakeIssue) -> dict[str, Any]:
        return self.fake._issue_payload(self.urls, self.repo, issue) | {"reactions": _REACTIONS}

    def issues_event(self, issue: FakeIssue, action: str = "closed") -> dict[str, Any]:
        payload = {"action": action, "issue": self.issue(issue), **self._common()}
        if action == "edited":
            payload["changes"] = {"title": {"from": f"{issue.title} (draft)"}}
        return payload

    def issue_comment_event(self, number: int, body: str = "ping") -> dict[str, Any]:
        pr = self.repo.prs.get(number)
        if pr is not None:
            target = self.fake._pr_as_issue(self.urls, self.repo, pr) | {"reactions": _REACTIONS}
        else:
            target = self.issue(self.repo.issues[number])
        comment = pl.issue_comment(
            self.urls,
            self.repo.full_name,
            number,
            cid=self.fake.next_id(),
            author=self.sender(),
            body=body,
            when=self.fake.now(),
        ) | {"reactions": _REACTIONS, "performed_via_github_app": None}
        return {"action": "created", "issue": target, "comment": comment, **self._common()}

    # ------------------------------------------------------------------ helpers

    def _pr_min(self, pr: FakePR) -> dict[str, Any]:
        repo = {"id": self.repo.id, "name": self.repo.name, "url": f"{self.urls.api}/repos/{self.repo.full_name}"}
        return {
            "id": pr.id,
            "number": pr.number,
            "url": f"{self.urls.api}/repos/{self.repo.full_name}/pulls/{pr.number}",
            "head": {"ref": pr.head, "sha": pr.head_sha, "repo": repo},
            "base": {"ref": pr.base, "sha": _sha(f"{self.repo.full_name}:{pr.base}"), "repo": repo},
        }

    def _suite(self, sid: int, sha: str, pr: FakePR | None, app: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": sid,
            "node_id": f"CS_{sid}",
            "head_branch": pr.head if pr is not None else None,
            "head_sha": sha,
            "status": "completed",
            "conclusion": "success",
            "url": f"{self.urls.api}/repos/{self.repo.full_name}/check-suites/{sid}",
            "before": "0" * 40,
            "after": sha,
            "pull_requests": [self._pr_min(pr)] if pr is not None else [],
            "app": app,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
