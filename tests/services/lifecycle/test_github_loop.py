"""The whole loop on GitHub: a scripted agent (the ``script`` plugin, in tmux) on a GitHub issue, Ennio pushing to a
real bare git remote and driving the PR on the fake GitHub (REST checked by githubkit's models, GraphQL run on
GitHub's schema; PR heads follow the bare remote) — from the draft PR through a CI failure with its log, the fix,
ready-for-review, a review with a thread, the 👀 acknowledgement, approval and auto-merge, to the cleanup.
A token without the ``repo`` scope and an expired token on the way each give one clear line in the session's
status reason and one notification, and the loop goes on once they are fixed."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from ennio.core.config import EnnioConfig
from ennio.core.session import Session, SessionStatus
from ennio.plugins._github.settings import RETRY_KEY
from ennio.services.orchestrator import Orchestrator
from ennio.services.stack import Services
from tests.helpers.fake_github import TOKEN, FakeGitHub, FakePR
from tests.helpers.git import git, make_repo
from tests.helpers.reactions import FAST_RETRY
from tests.helpers.sessions_env import services
from tests.helpers.wait import async_wait_for

S = SessionStatus
LOOP_REPO = "acme/loop"
LOOP_AGENT = Path(__file__).resolve().parents[2] / "helpers" / "loop_agent.py"
CI_LOG = "collected 3 items\ntest_calc.py::test_add FAILED\nE   assert add(1, 2) == 3  (got -1)\n1 failed in 0.02s"


@dataclass
class Loop:
    stack: Services
    orchestrator: Orchestrator
    github: FakeGitHub
    remote: Path
    log: Path
    hooks: HTTPServer

    def received(self) -> list[str]:
        if not self.log.exists():
            return []
        return [json.loads(line)["text"] for line in self.log.read_text().splitlines() if line.strip()]

    def notifications(self, kind: str) -> list[dict[str, Any]]:
        documents = [json.loads(request.get_data()) for request, _ in self.hooks.log if request.path == "/hook"]
        return [d for d in documents if (d.get("event") or {}).get("type") == kind]

    def pr(self, branch: str) -> FakePR | None:
        return next((p for p in self.github.repo(LOOP_REPO).prs.values() if p.head == branch), None)

    def remote_head(self, branch: str) -> str:
        return git(self.remote, "rev-parse", f"refs/heads/{branch}").strip()

    async def session(self, session_id: str) -> Session:
        return await self.stack.db.sessions.get(session_id)

    async def until(self, check: Callable[[], Awaitable[Any]], what: str, timeout: float = 45) -> Any:
        return await async_wait_for(check, timeout=timeout, interval=0.1, what=what)


@pytest.fixture
async def loop(
    tmux_socket: str, tmp_path: Path, data_dir: Path, github: FakeGitHub, httpserver: HTTPServer
) -> AsyncIterator[Loop]:
    github.add_repo(LOOP_REPO, private=False)
    github.protect(LOOP_REPO, "main", ["tests"])
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    repo = make_repo(tmp_path / "widgets")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    github.link_git(LOOP_REPO, remote)
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    log = tmp_path / "agent-received.jsonl"
    forge = {"repo": LOOP_REPO, "token": TOKEN, "base_url": github.base}
    config = EnnioConfig.model_validate(
        {
            "data_dir": str(data_dir),
            "lifecycle": {"poll_interval": "250ms"},
            "notifiers": {
                "ops": {"type": "webhook", "url": httpserver.url_for("/hook"), "retries": 1, "backoff": 0.01}
            },
            "reactions": {"approved-and-green": {"action": "auto_merge"}},
            "projects": [
                {
                    "name": "widgets",
                    "path": str(repo),
                    "agent": "script",
                    "runtime": "tmux",
                    "agent_config": {
                        "command": [sys.executable, str(LOOP_AGENT), "{prompt_file}"],
                        "env": {"LOOP_AGENT_LOG": str(log)},
                    },
                    "scm": {"provider": "github", **forge, "draft_until_green": True},
                    "tracker": {"provider": "github", **forge},
                }
            ],
        }
    )
    async with services(config, plugin_extra={RETRY_KEY: FAST_RETRY}) as stack:
        orchestrator = Orchestrator.from_services(stack)
        await orchestrator.start()
        try:
            yield Loop(stack, orchestrator, github, remote, log, httpserver)
        finally:
            await orchestrator.stop()


async def test_an_issue_goes_from_spawn_to_merged_on_github(loop: Loop) -> None:
    github = loop.github
    issue = github.add_issue(LOOP_REPO, "Add an adder", "calc.add(a, b) returns the sum.")
    github.tokens[TOKEN].scopes = ("public_repo",)  # enough to read a public repo, not to open a PR

    session = await loop.stack.sessions.spawn("widgets", issue=f"#{issue.number}")
    sid, branch = session.id, session.branch or ""
    assert branch.startswith(f"feat/{issue.number}-add-an-adder")

    # 1. the agent committed; Ennio pushes, but opening the PR needs the repo scope: one line, one notification
    async def scope_reason() -> str | None:
        reason = (await loop.session(sid)).status_reason or ""
        return reason if "lacks the 'repo' scope" in reason else None

    reason = await loop.until(scope_reason, "the missing scope in the status reason")
    assert reason.startswith("GitHub token lacks the 'repo' scope needed for opening a PR") and "public_repo" in reason
    passes = loop.orchestrator.lifecycle.passes
    await loop.until(lambda: _true(loop.orchestrator.lifecycle.passes >= passes + 3), "more passes with the problem")
    [told] = loop.notifications("provider.error")
    assert "lacks the 'repo' scope" in told["event"]["message"]
    github.tokens[TOKEN].scopes = ("repo",)

    # 2. the draft PR, on the pushed head, closing the issue
    pr: FakePR = await loop.until(lambda: _value(loop.pr(branch)), "the PR to be opened")
    assert pr.draft is True and f"Closes #{issue.number}" in pr.body and pr.title == "Add an adder"
    assert pr.head_sha == loop.remote_head(branch)

    # the PR is recorded during a pass; that pass takes the problem out of the reason at its end
    async def opened_and_clear() -> Session | None:
        current = await _opened(loop, sid)
        return current if current is not None and "scope" not in (current.status_reason or "") else None

    opened = await loop.until(opened_and_clear, "the session to record its PR and drop the scope problem")
    assert opened.pr_number == pr.number

    # 3. an expired token mid-way: one line, one notification, then the loop goes on
    github.tokens[TOKEN].expired = True

    async def token_reason() -> bool:
        return "GitHub rejected the token" in ((await loop.session(sid)).status_reason or "")

    await loop.until(token_reason, "the rejected token in the status reason")
    passes = loop.orchestrator.lifecycle.passes
    await loop.until(lambda: _true(loop.orchestrator.lifecycle.passes >= passes + 3), "more passes with the problem")
    assert len(loop.notifications("provider.error")) == 2
    github.tokens[TOKEN].expired = False

    # 4. CI fails with a log; the agent gets the failing check and its log tail, and fixes it
    first_head = pr.head_sha
    github.add_check(LOOP_REPO, first_head, "tests", conclusion="failure", log=CI_LOG)
    sent = await loop.until(lambda: _message(loop, "Failing checks"), "the CI failure at the agent")
    assert "tests" in sent and "assert add(1, 2) == 3  (got -1)" in sent
    await loop.until(lambda: _true(pr.head_sha != first_head), "the fix to be pushed to the PR")
    fixed_head = pr.head_sha
    assert fixed_head == loop.remote_head(branch)

    # 5. CI passes on the fix: the draft is marked ready for review
    github.add_check(LOOP_REPO, fixed_head, "tests", conclusion="success")
    await loop.until(lambda: _true(not pr.draft), "the PR to be marked ready")

    # 6. changes requested with a thread: the agent gets it with file and line, and the comment gets 👀
    github.add_review(LOOP_REPO, pr.number, "bob", "CHANGES_REQUESTED", "A few things")
    thread = github.add_thread(LOOP_REPO, pr.number, "bob", "Please document add()", path="calc.py", line=1)
    review = await loop.until(lambda: _message(loop, "Please document add()"), "the review comment at the agent")
    assert "calc.py" in review and "1" in review
    await loop.until(lambda: _true(("EYES", "ennio-bot") in thread.comments[0].reactions), "the 👀 reaction")
    await loop.until(lambda: _true(pr.head_sha != fixed_head), "the documented change to be pushed")

    # 7. green and approved: auto-merge, then cleanup
    github.add_check(LOOP_REPO, pr.head_sha, "tests", conclusion="success")
    thread.resolved = True
    github.add_review(LOOP_REPO, pr.number, "bob", "APPROVED", "Thanks!")
    await loop.until(lambda: _true(pr.merged), "auto-merge", timeout=60)

    async def done() -> Session | None:
        current = await loop.session(sid)
        return current if current.status is S.DONE else None

    finished = await loop.until(done, "the session to be cleaned up", timeout=60)
    assert finished.workspace_path is not None and not Path(finished.workspace_path).exists()
    history = [change.to_status for change in await loop.stack.db.sessions.history(sid)]
    assert S.CI_FAILED in history and S.CHANGES_REQUESTED in history and S.MERGED in history
    assert history[-1] is S.DONE
    assert len(loop.notifications("provider.error")) == 2  # nothing more went wrong


async def _true(value: bool) -> bool:
    return value


async def _value(value: Any) -> Any:
    return value


async def _opened(loop: Loop, session_id: str) -> Session | None:
    current = await loop.session(session_id)
    return current if current.pr_number is not None else None


async def _message(loop: Loop, needle: str) -> str | None:
    return next((m for m in loop.received() if needle in m), None)
