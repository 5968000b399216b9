"""The texts reactions send: every URL in them reads back whole and alone, as an agent picks URLs out."""

from __future__ import annotations

import re

from ennio.core.plugins import CheckRun, CIState, PRSnapshot, PRState, PullRequest
from ennio.core.session import Session, SessionStatus
from ennio.services.lifecycle import reaction_messages as msg

#: how aider (0.86) finds URLs in a message: anything up to whitespace or a quote, but a final , or .
AIDER_URL = re.compile(r'(https?://[^\s/$.?#].[^\s"]*[^\s,.])')

JOB = "https://github.com/acme/widgets/actions/runs/1004/job/1004"
STATUS = "https://ci.example/ci/jenkins"
PR_URL = "https://github.com/acme/widgets/pull/3"


def session(sid: str, **fields: object) -> Session:
    return Session.model_validate(
        {"id": sid, "project_id": "widgets", "agent": "aider", "runtime": "tmux", "workspace": "worktree", **fields}
    )


def test_urls_in_a_ci_failure_message_have_nothing_glued_to_them() -> None:
    pr = PullRequest(3, PR_URL, "Add login", "feat/1-login", "main", PRState.OPEN, head_sha="a" * 40)
    checks = [
        CheckRun("tests", CIState.FAILING, JOB, log_tail="FAILED test_login"),
        CheckRun("ci/jenkins", CIState.FAILING, STATUS),
        CheckRun("lint", CIState.FAILING),
    ]
    text = msg.ci_failure(session("widgets-1"), PRSnapshot("feat/1-login", pr=pr), checks, None)
    assert sorted(AIDER_URL.findall(text)) == sorted([JOB, STATUS])
    assert "--- lint\n(no log available)" in text


def test_urls_in_the_all_complete_summary_have_nothing_glued_to_them() -> None:
    sessions = [
        session("widgets-1", status=SessionStatus.DONE, pr_number=3, pr_url=PR_URL, branch="feat/1-x", issue_id="1"),
        session("widgets-2", status=SessionStatus.KILLED, branch="feat/2-y"),
    ]
    text = msg.all_complete("widgets", sessions, None)
    assert AIDER_URL.findall(text) == [PR_URL]
    assert "- widgets-1: done, issue 1, branch feat/1-x, PR #3 " + PR_URL in text
