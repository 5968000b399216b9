import json

import pytest
from pydantic import SecretStr

from ennio.core.errors import AuthError, Conflict, InvalidInput
from ennio.core.webhooks import ReplayGuard, github_signature, github_targets, matches, verify_github_signature

SECRET = SecretStr("It's a Secret to Everybody")
SHA = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def body(payload: dict) -> bytes:
    return json.dumps(payload).encode()


def test_signature_matches_githubs_documented_example() -> None:
    # https://docs.github.com/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert github_signature(SECRET, b"Hello, World!") == expected
    verify_github_signature(SECRET, b"Hello, World!", expected)


def test_wrong_signature_is_refused() -> None:
    good = github_signature(SECRET, b"{}")
    with pytest.raises(AuthError, match="does not match"):
        verify_github_signature(SECRET, b"{ }", good)
    with pytest.raises(AuthError, match="does not match"):
        verify_github_signature(SecretStr("other"), b"{}", good)
    with pytest.raises(AuthError, match="does not match"):
        verify_github_signature(SECRET, b"{}", good.replace("sha256=", "sha1="))


def test_missing_signature_or_secret_is_refused() -> None:
    with pytest.raises(AuthError, match="no X-Hub-Signature-256"):
        verify_github_signature(SECRET, b"{}", None)
    with pytest.raises(AuthError, match="secret is empty"):
        verify_github_signature(SecretStr(""), b"{}", github_signature("", b"{}"))


def test_replayed_delivery_is_refused_and_old_ids_are_forgotten() -> None:
    guard = ReplayGuard(capacity=2)
    guard.check("d-1")
    with pytest.raises(Conflict, match="d-1 was already processed"):
        guard.check("d-1")
    guard.check("d-2")
    guard.check("d-3")
    assert len(guard) == 2
    guard.check("d-1")  # forgotten after two newer ones
    with pytest.raises(InvalidInput):
        guard.check(None)


REPO = {"full_name": "acme/widgets"}


def pr_payload(number: int = 7, ref: str = "feat/7-login") -> dict:
    return {"number": number, "head": {"ref": ref, "sha": SHA}, "base": {"ref": "main"}}


@pytest.mark.parametrize("event", ["pull_request", "pull_request_review", "pull_request_review_comment"])
def test_pull_request_events_name_pr_branch_and_head(event: str) -> None:
    t = github_targets(event, body({"action": "synchronize", "pull_request": pr_payload(), "repository": REPO}))
    assert (t.repo, t.action) == ("acme/widgets", "synchronize")
    assert t.pr_numbers == {7}
    assert t.branches == {"feat/7-login"}
    assert t.head_shas == {SHA}
    assert matches(t, branch="feat/7-login", pr_number=None, head_sha=None)
    assert not matches(t, branch="feat/8-other", pr_number=8, head_sha="ab" * 20)


def test_check_run_names_sha_suite_branch_and_prs() -> None:
    payload = {
        "action": "completed",
        "check_run": {"head_sha": SHA, "check_suite": {"head_branch": "feat/7-login"}, "pull_requests": [pr_payload()]},
        "repository": REPO,
    }
    t = github_targets("check_run", body(payload))
    assert t.head_shas == {SHA} and t.pr_numbers == {7} and t.branches == {"feat/7-login"}


def test_check_suite_and_status() -> None:
    suite = github_targets(
        "check_suite",
        body({"check_suite": {"head_sha": SHA, "head_branch": "fix/1", "pull_requests": []}, "repository": REPO}),
    )
    assert suite.branches == {"fix/1"} and suite.head_shas == {SHA} and not suite.pr_numbers
    status = github_targets(
        "status", body({"sha": SHA.upper(), "state": "failure", "branches": [{"name": "fix/1"}], "repository": REPO})
    )
    assert status.head_shas == {SHA} and status.branches == {"fix/1"}


def test_issue_comment_on_pr_vs_issue_and_issues_event() -> None:
    on_pr = github_targets(
        "issue_comment", body({"issue": {"number": 7, "pull_request": {"url": "x"}}, "repository": REPO})
    )
    assert on_pr.pr_numbers == {7} and not on_pr.issue_numbers
    on_issue = github_targets("issue_comment", body({"issue": {"number": 9}, "repository": REPO}))
    assert on_issue.issue_numbers == {9} and not on_issue.pr_numbers
    closed = github_targets("issues", body({"action": "closed", "issue": {"number": 9}, "repository": REPO}))
    assert closed.issue_numbers == {9} and closed.action == "closed"


def test_unfollowed_events_affect_nothing() -> None:
    ping = github_targets("ping", body({"zen": "Keep it logically awesome.", "hook_id": 1}))
    assert ping.empty and ping.repo is None


def test_branch_names_ennio_could_not_have_made_are_ignored() -> None:
    t = github_targets(
        "pull_request", body({"pull_request": pr_payload(ref="weird branch;rm -rf"), "repository": REPO})
    )
    assert t.branches == frozenset() and t.pr_numbers == {7}


@pytest.mark.parametrize(
    ("event", "raw", "message"),
    [
        ("pull_request", b"not json", "not JSON"),
        ("pull_request", b"[1, 2]", "not a JSON object"),
        ("pull_request", body({"pull_request": pr_payload()}), "repository.full_name"),
        ("pull_request", body({"repository": REPO}), "'pull_request' object"),
        ("pull_request", body({"pull_request": {"number": "7"}, "repository": REPO}), "number"),
        ("check_run", body({"check_run": {"head_sha": "not-a-sha"}, "repository": REPO}), "invalid commit sha"),
        ("status", body({"sha": SHA, "branches": "main", "repository": REPO}), "branches is not a list"),
        ("issues", body({"issue": {"number": -1}, "repository": REPO}), "positive number"),
        ("", b"{}", "X-GitHub-Event"),
        ("pull request", b"{}", "X-GitHub-Event"),
    ],
)
def test_malformed_bodies_are_invalid_input(event: str, raw: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        github_targets(event, raw)
