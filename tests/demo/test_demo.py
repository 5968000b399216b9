"""The demo scenario end to end: real git, real tmux, the script agent running the scripted agent
program, the local tracker and SCM (CI with ``unittest`` in clean checkouts, a real ``git merge``),
the orchestrator in-process, and a webhook notifier at a local HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from ennio.core.events import Event, EventType
from ennio.db import open_database
from ennio.demo.runner import run_demo
from ennio.demo.tasks import TASKS

E = EventType
pytestmark = pytest.mark.slow

#: what every session goes through, in this order
SESSION_STORY = [
    E.SESSION_SPAWNED,
    E.PR_CREATED,
    E.CI_FAILING,
    E.REACTION_TRIGGERED,
    E.CI_FIX_SENT,
    E.CI_PASSING,
    E.REVIEW_APPROVED,
    E.MERGE_COMPLETED,
    E.PR_MERGED,
    E.SESSION_CLEANED,
]


def in_order(events: list[Event], story: list[EventType]) -> bool:
    """``story`` is a subsequence of the events' types."""
    types = iter(e.type for e in events)
    return all(any(t is wanted for t in types) for wanted in story)


async def test_the_demo_takes_three_issues_to_merged_prs(
    tmp_path: Path, httpserver: HTTPServer, tmux_socket: str
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("", status=204)
    root = tmp_path / "demo"
    extra = {
        "notifiers": {"hook": {"type": "webhook", "url": httpserver.url_for("/hook"), "retries": 1, "backoff": 0.01}},
        "notification_routing": {"events": {"pr.merged": ["hook"]}},
    }

    summary = await run_demo(root, pace=0, timeout=150, extra_config=extra)

    assert summary.ok, summary.to_dict()
    assert [r["status"] for r in summary.sessions] == ["done", "done", "done"]
    assert all(r["ci_failures"] == 1 and r["fixes_sent"] == 1 for r in summary.sessions)

    # all merged: the default branch has every fix, and its tests pass with nothing skipped
    repo = root / "textkit"
    log = subprocess.run(["git", "-C", str(repo), "log", "--format=%s", "main"], capture_output=True, text=True)
    for task in TASKS:
        assert f"Fix {task.name}: handle the cases the tests cover" in log.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests", "-t", "."],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert tests.returncode == 0 and "skipped" not in tests.stderr, tests.stderr
    issues = sorted((repo / ".ennio" / "issues").glob("*.md"))
    assert len(issues) == 3 and all("state: closed" in p.read_text() for p in issues)

    # the expected events, in order, for every session; all-complete after the last cleanup
    db = await open_database(None, root / "data")
    try:
        events = [s.event for s in await db.events.query(project_id="textkit", limit=10_000)]
    finally:
        await db.close()
    for session in summary.sessions:
        mine = [e for e in events if e.session_id == session["id"]]
        assert in_order(mine, SESSION_STORY), [str(e.type) for e in mine]
        assert [e.data.get("reaction") for e in mine if e.type is E.REACTION_TRIGGERED] == [
            "ci-failed",
            "approved-and-green",
        ]
    (complete,) = [e for e in events if e.type is E.ALL_COMPLETE]
    last_cleanup = max(i for i, e in enumerate(events) if e.type is E.SESSION_CLEANED)
    assert events.index(complete) > last_cleanup
    assert not [e for e in events if e.type in (E.REACTION_ESCALATED, E.SESSION_EXITED)]

    # the expected notifications: each merge (routed by type) and the summary (the reaction)
    delivered = [json.loads(request.get_data()) for request, _ in httpserver.log]
    types = sorted(d["event"]["type"] for d in delivered)
    assert types == ["pr.merged", "pr.merged", "pr.merged", "summary.all_complete"]
    summary_note = next(d for d in delivered if d["event"]["type"] == "summary.all_complete")
    assert "All 3 sessions of textkit are complete." in summary_note["body"]
