"""Linear webhook checks: good, bad, missing and replayed signatures; malformed bodies; affected issues."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from ennio.core.clock import ManualClock
from ennio.core.errors import AuthError, InvalidInput
from ennio.core.linear_webhooks import (
    LinearWebhookEvent,
    affected_issues,
    linear_signature,
    parse_linear_webhook,
    verify_linear_signature,
)

SECRET = SecretStr("lin_wh_test_secret")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SDK = Path(__file__).resolve().parents[2] / "tools" / "node_modules" / "@linear" / "sdk"


def sign(body: bytes, secret: str = "lin_wh_test_secret") -> str:
    """Linear's signature, computed here independently of the code under test."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery(payload: dict[str, Any], at: datetime = NOW) -> bytes:
    body = {**payload, "webhookTimestamp": int(at.timestamp() * 1000)}
    return json.dumps(body).encode()


ISSUE_UPDATE: dict[str, Any] = {
    "action": "update",
    "type": "Issue",
    "createdAt": "2026-03-01T12:00:00.000Z",
    "organizationId": "0b7d6b02-4d5f-4a36-9d6b-1a2b3c4d5e6f",
    "webhookId": "5f1c2d3e-0000-4000-8000-000000000001",
    "url": "https://linear.app/acme/issue/ENG-123/add-login",
    "data": {
        "id": "2c1e9f7a-8b6d-4c5e-9f0a-1b2c3d4e5f60",
        "identifier": "ENG-123",
        "title": "Add login",
        "number": 123,
        "teamId": "7e0a1b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b",
        "stateId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
        "state": {"id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "name": "Done", "type": "completed", "color": "#0f0"},
        "labelIds": [],
        "labels": [],
        "previousIdentifiers": ["OLD-9"],
    },
    "updatedFrom": {"stateId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"},
}

COMMENT_CREATE: dict[str, Any] = {
    "action": "create",
    "type": "Comment",
    "data": {
        "id": "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a",
        "body": "Please also cover logout",
        "issueId": "2c1e9f7a-8b6d-4c5e-9f0a-1b2c3d4e5f60",
        "issue": {
            "id": "2c1e9f7a-8b6d-4c5e-9f0a-1b2c3d4e5f60",
            "identifier": "ENG-123",
            "title": "Add login",
            "teamId": "7e0a1b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b",
            "team": {"id": "7e0a1b2c-3d4e-4f50-8a9b-0c1d2e3f4a5b", "key": "ENG", "name": "Engineering"},
            "url": "https://linear.app/acme/issue/ENG-123/add-login",
        },
    },
}


def parse(body: bytes, signature: str | None = None, *, at: datetime = NOW, **kw: Any) -> LinearWebhookEvent:
    return parse_linear_webhook(
        body, sign(body) if signature is None else signature, SECRET, clock=ManualClock(at), **kw
    )


def test_good_signature_issue_update() -> None:
    event = parse(delivery(ISSUE_UPDATE))
    assert (event.type, event.action) == ("Issue", "update")
    assert event.identifiers == ("ENG-123",)
    assert event.issue_ids == ()
    assert event.sent_at == NOW
    assert event.webhook_id == "5f1c2d3e-0000-4000-8000-000000000001"


def test_comment_names_its_issue() -> None:
    event = parse(delivery(COMMENT_CREATE))
    assert event.identifiers == ("ENG-123",)
    assert event.issue_ids == ()


def test_issue_relation_names_both_issues() -> None:
    payload = {
        "action": "create",
        "type": "IssueRelation",
        "data": {
            "id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
            "type": "blocks",
            "issueId": "11111111-1111-4111-8111-111111111111",
            "relatedIssueId": "22222222-2222-4222-8222-222222222222",
            "issue": {"id": "11111111-1111-4111-8111-111111111111", "identifier": "ENG-1"},
            "relatedIssue": {"id": "22222222-2222-4222-8222-222222222222", "identifier": "ENG-2"},
        },
    }
    assert parse(delivery(payload)).identifiers == ("ENG-1", "ENG-2")


def test_ids_are_reported_when_no_identifier_is_given() -> None:
    payload = {
        "action": "remove",
        "type": "IssueRelation",
        "data": {
            "issueId": "11111111-1111-4111-8111-111111111111",
            "relatedIssueId": "22222222-2222-4222-8222-222222222222",
        },
    }
    event = parse(delivery(payload))
    assert event.identifiers == ()
    assert event.issue_ids == ("11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222")


def test_entities_outside_issues_name_none() -> None:
    payload = {
        "action": "update",
        "type": "Project",
        "data": {"id": "11111111-1111-4111-8111-111111111111", "name": "Q3"},
    }
    event = parse(delivery(payload))
    assert event.identifiers == () and event.issue_ids == ()


def test_app_user_notification_names_its_issue() -> None:
    payload = {
        "action": "issueAssignedToYou",
        "type": "AppUserNotification",
        "notification": {"issue": {"id": "11111111-1111-4111-8111-111111111111", "identifier": "OPS-7"}},
    }
    assert parse(delivery(payload)).identifiers == ("OPS-7",)


def test_bad_signature_is_refused() -> None:
    body = delivery(ISSUE_UPDATE)
    with pytest.raises(AuthError, match="does not match"):
        parse(body, sign(body, "another-secret"))


def test_signature_of_a_different_body_is_refused() -> None:
    body = delivery(ISSUE_UPDATE)
    tampered = body.replace(b"ENG-123", b"ENG-124")
    with pytest.raises(AuthError, match="does not match"):
        parse(tampered, sign(body))


@pytest.mark.parametrize("signature", ["", "   "])
def test_missing_signature_is_refused(signature: str) -> None:
    with pytest.raises(AuthError):
        parse(delivery(ISSUE_UPDATE), signature)
    with pytest.raises(AuthError, match="no Linear-Signature"):
        verify_linear_signature(SECRET, b"{}", None)


@pytest.mark.parametrize("signature", ["zz" * 32, "abc", "é" * 64, "sha256=" + "0" * 64])
def test_malformed_signature_is_refused(signature: str) -> None:
    with pytest.raises(AuthError, match="does not match"):
        parse(delivery(ISSUE_UPDATE), signature)


def test_upper_case_hex_signature_is_accepted() -> None:
    body = delivery(ISSUE_UPDATE)
    assert parse(body, sign(body).upper()).identifiers == ("ENG-123",)


@pytest.mark.parametrize("secret", [None, SecretStr("")])
def test_unconfigured_secret_refuses_everything(secret: SecretStr | None) -> None:
    body = delivery(ISSUE_UPDATE)
    with pytest.raises(AuthError, match="no Linear webhook signing secret") as info:
        parse_linear_webhook(body, sign(body), secret, clock=ManualClock(NOW))
    assert info.value.hint and "webhook_secret" in info.value.hint


def test_replayed_delivery_is_refused() -> None:
    body = delivery(ISSUE_UPDATE, at=NOW)
    assert parse(body, at=NOW + timedelta(seconds=59)).identifiers == ("ENG-123",)
    with pytest.raises(AuthError, match="refused as replays"):
        parse(body, at=NOW + timedelta(seconds=61))
    with pytest.raises(AuthError, match="in the future"):
        parse(body, at=NOW - timedelta(minutes=5))


def test_tolerance_is_configurable() -> None:
    body = delivery(ISSUE_UPDATE, at=NOW)
    assert parse(body, at=NOW + timedelta(minutes=4), tolerance=timedelta(minutes=5)).type == "Issue"


def test_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(AuthError):
        parse(b"not json", "0" * 64)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"type": "Issue", "action": "update", "data": {}}).encode(), "no webhookTimestamp"),
        (json.dumps({"type": "Issue", "action": "x", "webhookTimestamp": "soon"}).encode(), "not a number"),
        (json.dumps({"type": "Issue", "action": "x", "webhookTimestamp": True}).encode(), "not a number"),
        (json.dumps({"type": "Issue", "action": "x", "webhookTimestamp": 1e300}).encode(), "out of range"),
        (delivery({"action": "update", "data": {}}), "no 'type'"),
        (delivery({"type": "Issue", "data": {}}), "no 'action'"),
        (delivery({"type": "Issue", "action": "update", "data": []}), "'data' is not an object"),
        (
            delivery({"type": "Issue", "action": "update", "data": {"identifier": "eng 1; rm -rf"}}),
            "not an issue identifier",
        ),
        (delivery({"type": "Comment", "action": "create", "data": {"issue": "ENG-1"}}), "'issue' is not an object"),
        (delivery({"type": "Comment", "action": "create", "data": {"issueId": "../../etc"}}), "not a Linear id"),
    ],
)
def test_malformed_body_is_invalid_input(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse(body)


def test_oversized_body_is_invalid_input() -> None:
    body = b" " * (5 * 1024 * 1024 + 1)
    with pytest.raises(InvalidInput, match="limit"):
        parse(body)


def test_affected_issues_deduplicates() -> None:
    payload = {"type": "Reaction", "data": {"issue": {"identifier": "ENG-5"}, "relatedIssue": {"identifier": "ENG-5"}}}
    assert affected_issues(payload) == (("ENG-5",), ())


@given(st.binary(max_size=200))
def test_any_signed_body_gives_an_event_or_a_clear_refusal(body: bytes) -> None:
    # AuthError only for a stale timestamp, since the signature is right
    with contextlib.suppress(InvalidInput, AuthError):
        parse(body)


def test_signature_matches_linears_own_sdk(tmp_path: Path) -> None:
    """Linear's SDK (``LinearWebhookClient.verify``) accepts what Ennio computes, and refuses a wrong one."""
    assert shutil.which("node") and SDK.exists(), "needs node and tools/node_modules (run scripts/install-tools)"
    body = delivery(ISSUE_UPDATE, at=datetime.fromtimestamp(time.time(), tz=UTC))
    (tmp_path / "body.json").write_bytes(body)
    script = (
        f"import {{ LinearWebhookClient }} from {json.dumps(str(SDK / 'dist' / 'webhooks' / 'index.mjs'))};\n"
        "import { readFileSync } from 'node:fs';\n"
        "const [secret, sig, file] = process.argv.slice(2);\n"
        "try { console.log(new LinearWebhookClient(secret).verify(readFileSync(file), sig)); }\n"
        "catch (e) { console.log('refused: ' + e.message); }\n"
    )
    (tmp_path / "verify.mjs").write_text(script)

    def sdk_verify(signature: str) -> str:
        argv = ["node", str(tmp_path / "verify.mjs"), SECRET.get_secret_value(), signature, str(tmp_path / "body.json")]
        return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=60).stdout.strip()

    assert sdk_verify(linear_signature(SECRET, body)) == "true"
    assert sdk_verify(linear_signature(SecretStr("wrong"), body)).startswith("refused")
