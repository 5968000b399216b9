"""Linear webhooks, pure: signature and freshness checks, and which issues a delivery affects.

Linear signs each delivery with ``Linear-Signature``: the hex HMAC-SHA256 of the raw body keyed with the
webhook's signing secret. The body carries ``webhookTimestamp`` (epoch milliseconds); a delivery older
(or newer) than the tolerance is refused, so a captured request cannot be replayed later. The daemon's
``POST /webhooks/linear`` calls :func:`parse_linear_webhook` and reconciles the sessions of the issues it
names: :class:`~ennio.core.errors.AuthError` → 401, :class:`~ennio.core.errors.InvalidInput` → 400,
nothing done in either case. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from ennio.core.clock import Clock, SystemClock
from ennio.core.errors import AuthError, InvalidInput
from ennio.core.issue_ref import LINEAR_IDENTIFIER_RE

SIGNATURE_HEADER = "Linear-Signature"
DELIVERY_HEADER = "Linear-Delivery"
EVENT_HEADER = "Linear-Event"
TIMESTAMP_FIELD = "webhookTimestamp"
#: Linear's own SDK refuses deliveries more than a minute away from now
DEFAULT_TOLERANCE = timedelta(seconds=60)
MAX_BODY_BYTES = 5 * 1024 * 1024

_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", re.ASCII)
_CONFIGURE_HINT = "set tracker.webhook_secret to the signing secret shown on the webhook's page in Linear"


@dataclass(frozen=True, slots=True)
class LinearWebhookEvent:
    """A verified delivery: what changed, and the issues it touches."""

    #: Linear's entity type: ``Issue``, ``Comment``, ``IssueRelation``, ``Reaction``, ``Project`` …
    type: str
    #: ``create`` / ``update`` / ``remove`` (or the notification action)
    action: str
    #: identifiers (``ENG-123``) of the affected issues, in order of appearance, no duplicates
    identifiers: tuple[str, ...]
    #: Linear ids (UUIDs) of affected issues the body names without an identifier
    issue_ids: tuple[str, ...]
    sent_at: datetime
    webhook_id: str | None = None


def linear_signature(secret: SecretStr, body: bytes) -> str:
    """The ``Linear-Signature`` value Linear sends for ``body``."""
    return hmac.new(_secret_bytes(secret), body, hashlib.sha256).hexdigest()


def verify_linear_signature(secret: SecretStr | None, body: bytes, signature: str | None) -> None:
    """Raise :class:`AuthError` unless ``signature`` is the HMAC-SHA256 of ``body`` (constant-time compare)."""
    key = _secret_bytes(secret)
    if not signature:
        raise AuthError(f"Linear webhook has no {SIGNATURE_HEADER} header", hint="configure a signing secret in Linear")
    given = signature.strip()
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    # compare bytes so any header text (even non-ASCII) is compared, not rejected by compare_digest itself
    if not (
        _HEX_SHA256.fullmatch(given)
        and hmac.compare_digest(expected.encode("ascii"), given.lower().encode("ascii", "replace"))
    ):
        raise AuthError(f"Linear webhook {SIGNATURE_HEADER} does not match the body", hint=_CONFIGURE_HINT)


def parse_linear_webhook(
    body: bytes,
    signature: str | None,
    secret: SecretStr | None,
    *,
    clock: Clock | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> LinearWebhookEvent:
    """Verify a delivery (signature first, on the raw bytes; then freshness) and say what it affects."""
    if len(body) > MAX_BODY_BYTES:
        raise InvalidInput(f"Linear webhook body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    verify_linear_signature(secret, body, signature)
    payload = _decode(body)
    sent_at = _timestamp(payload)
    now = (clock or SystemClock()).now()
    age = now - sent_at
    if abs(age) > tolerance:
        direction = "old" if age > timedelta(0) else "in the future"
        raise AuthError(
            f"Linear webhook sent at {sent_at.isoformat()} is {abs(age).total_seconds():.0f}s {direction}; "
            f"deliveries older than {tolerance.total_seconds():.0f}s are refused as replays",
            hint="check this machine's clock if every delivery is refused",
        )
    kind = _text(payload, "type")
    action = _text(payload, "action")
    identifiers, ids = affected_issues(payload)
    webhook_id = payload.get("webhookId")
    return LinearWebhookEvent(
        type=kind,
        action=action,
        identifiers=identifiers,
        issue_ids=ids,
        sent_at=sent_at,
        webhook_id=webhook_id if isinstance(webhook_id, str) else None,
    )


def affected_issues(payload: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Identifiers and ids of the issues a webhook body names (``Issue``, ``Comment``, ``IssueRelation`` …).

    Entities that belong to no issue (``Project``, ``Cycle``, ``IssueLabel`` …) name none.
    """
    identifiers: list[str] = []
    ids: list[str] = []
    kind = payload.get("type")
    data = payload.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise InvalidInput("Linear webhook 'data' is not an object")
    sources: list[Mapping[str, Any]] = []
    if isinstance(data, Mapping):
        if kind == "Issue":
            _add_identifier(identifiers, data.get("identifier"), "data.identifier")
            if data.get("identifier") is None:
                _add_id(ids, data.get("id"), "data.id")
        else:
            sources.append(data)
    for name in ("notification", "agentSession"):  # app-user notifications and agent sessions
        nested = payload.get(name)
        if isinstance(nested, Mapping):
            sources.append(nested)
    for source in sources:
        for field in ("issue", "relatedIssue"):
            child = source.get(field)
            if child is None:
                continue
            if not isinstance(child, Mapping):
                raise InvalidInput(f"Linear webhook '{field}' is not an object")
            _add_identifier(identifiers, child.get("identifier"), f"{field}.identifier")
            if child.get("identifier") is None:
                _add_id(ids, child.get("id"), f"{field}.id")
        for field in ("issueId", "relatedIssueId"):
            parent = source.get(field.removesuffix("Id"))
            if source.get(field) is not None and not (isinstance(parent, Mapping) and parent.get("identifier")):
                _add_id(ids, source.get(field), field)
    return tuple(identifiers), tuple(ids)


def _secret_bytes(secret: SecretStr | None) -> bytes:
    value = secret.get_secret_value() if secret is not None else ""
    if not value:
        raise AuthError(
            "no Linear webhook signing secret is configured, so no delivery can be verified", hint=_CONFIGURE_HINT
        )
    return value.encode("utf-8")


def _decode(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidInput("Linear webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidInput("Linear webhook body is not a JSON object")
    return payload


def _timestamp(payload: Mapping[str, Any]) -> datetime:
    raw = payload.get(TIMESTAMP_FIELD)
    if raw is None:
        raise InvalidInput(f"Linear webhook body has no {TIMESTAMP_FIELD}")
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise InvalidInput(f"Linear webhook {TIMESTAMP_FIELD} is not a number of milliseconds")
    try:
        return datetime.fromtimestamp(raw / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidInput(f"Linear webhook {TIMESTAMP_FIELD} {raw!r} is out of range") from None


def _text(payload: Mapping[str, Any], field: str) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"Linear webhook body has no '{field}'")
    return value


def _add_identifier(out: list[str], value: object, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not LINEAR_IDENTIFIER_RE.fullmatch(value):
        raise InvalidInput(f"Linear webhook {where} {str(value)[:40]!r} is not an issue identifier like ENG-123")
    if value not in out:
        out.append(value)


def _add_id(out: list[str], value: object, where: str) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise InvalidInput(f"Linear webhook {where} {str(value)[:40]!r} is not a Linear id")
    if value.lower() not in out:
        out.append(value.lower())
