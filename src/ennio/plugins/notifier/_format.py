"""Turning a :class:`Notification` into text and JSON, shared by the notifier plugins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ennio.core.plugins import Notification, SessionSummary


def _ago(when: datetime) -> str:
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


def summary_fields(summary: SessionSummary) -> list[tuple[str, str]]:
    """Labelled values of a session summary, in reading order, skipping what is unknown."""
    fields: list[tuple[str, str]] = [("Session", summary.session_id), ("Project", summary.project_id)]
    fields.append(("Status", summary.status))
    if summary.branch:
        fields.append(("Branch", summary.branch))
    if summary.pr_url:
        fields.append(("PR", summary.pr_url))
    if summary.activity:
        fields.append(("Activity", summary.activity))
    if summary.last_activity_at is not None:
        fields.append(("Last activity", _ago(summary.last_activity_at)))
    if summary.cost_usd is not None:
        fields.append(("Cost so far", f"${summary.cost_usd:.2f}"))
    return fields


def plain_text(notification: Notification) -> str:
    """The body followed by one ``Label: value`` line per summary field."""
    lines = [notification.body] if notification.body else []
    if notification.summary is not None:
        if lines:
            lines.append("")
        lines += [f"{label}: {value}" for label, value in summary_fields(notification.summary)]
    return "\n".join(lines)


def summary_dict(summary: SessionSummary) -> dict[str, Any]:
    return {
        "session_id": summary.session_id,
        "project_id": summary.project_id,
        "status": summary.status,
        "branch": summary.branch,
        "pr_url": summary.pr_url,
        "activity": summary.activity,
        "last_activity_at": _ago(summary.last_activity_at) if summary.last_activity_at else None,
        "cost_usd": summary.cost_usd,
    }


def notification_dict(notification: Notification) -> dict[str, Any]:
    """The JSON document a webhook receives (``event`` and ``summary`` are ``null`` when absent)."""
    return {
        "title": notification.title,
        "body": notification.body,
        "priority": str(notification.priority),
        "event": notification.event.to_dict() if notification.event is not None else None,
        "summary": summary_dict(notification.summary) if notification.summary is not None else None,
        "actions": [{"label": a.label, "url": a.url} for a in notification.actions],
    }
