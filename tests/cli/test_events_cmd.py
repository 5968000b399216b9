from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ennio.core.events import Event, EventType
from ennio.db import open_database
from tests.cli.conftest import ENNIO, EnnioRunner
from tests.helpers.wait import wait_for

E = EventType
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def events() -> list[Event]:
    made = [
        (E.SESSION_SPAWNED, "spawned app-1", "app", "app-1"),
        (E.CI_FAILING, "CI failed: lint", "app", "app-1"),
        (E.CI_FIX_SENT, "sent the CI log", "app", "app-1"),
        (E.SESSION_SPAWNED, "spawned web-1", "web", "web-1"),
        (E.BUDGET_EXCEEDED, "daily budget exceeded", "web", None),
        (E.CI_PASSING, "CI green", "app", "app-1"),
    ]
    return [
        Event.of(kind, message, project_id=project, session_id=session, timestamp=START + timedelta(minutes=i))
        for i, (kind, message, project, session) in enumerate(made)
    ]


async def append(db_url: str | None, data_dir: Path, batch: list[Event]) -> None:
    db = await open_database(db_url, data_dir)
    try:
        await db.events.append_many(batch)
    finally:
        await db.close()


async def test_events_and_their_filters(
    ennio: EnnioRunner, db_url: str | None, data_dir: Path, config_for_db: Path
) -> None:
    await append(db_url, data_dir, events())
    everything = ennio("events", "--json").json()
    assert [e["message"] for e in everything] == [e.message for e in events()]
    assert [e["seq"] for e in everything] == sorted(e["seq"] for e in everything)

    def messages(*args: str) -> list[str]:
        result = ennio("events", "--json", *args)
        assert result.code == 0, result.stderr
        return [e["message"] for e in result.json()]

    assert messages("--session", "web-1") == ["spawned web-1"]
    assert messages("--project", "web") == ["spawned web-1", "daily budget exceeded"]
    assert messages("--type", "ci") == ["CI failed: lint", "sent the CI log", "CI green"]
    assert messages("--type", "ci.failing", "--type", "budget.*") == ["CI failed: lint", "daily budget exceeded"]
    assert messages("--priority", "urgent") == ["daily budget exceeded"]
    assert messages("--limit", "2") == ["daily budget exceeded", "CI green"]
    assert messages("--session", "app-1", "--type", "session.spawned") == ["spawned app-1"]

    text = ennio("events")
    assert text.code == 0
    lines = text.stdout.splitlines()
    assert len(lines) == 6
    assert lines[1].split()[2:6] == ["action", "ci.failing", "app-1", "CI"]
    assert lines[4].split()[2:5] == ["critical", "budget.exceeded", "web"]


@pytest.mark.parametrize(
    ("args", "first_line"),
    [
        (["--type", "ci.failng"], "error: unknown event type 'ci.failng'"),
        (["--session", "app 1"], "error: session id 'app 1' contains ' '"),
        (["--project", "-x"], "error: project id '-x' must not start with '-'"),
        (["--priority", "loud"], "error: unknown priority 'loud'"),
        (["--limit", "0"], "error: Invalid value for '--limit' / '-n'"),
    ],
)
def test_bad_filters(ennio: EnnioRunner, args: list[str], first_line: str) -> None:
    result = ennio("events", *args)
    assert result.code == 2
    assert result.stderr.splitlines()[0].startswith(first_line)
    assert "Traceback" not in result.stderr


def test_type_suggestion(ennio: EnnioRunner) -> None:
    assert ennio("events", "--type", "ci.failng").stderr.splitlines()[1] == "hint: did you mean 'ci.failing'?"


def test_no_events_yet(ennio: EnnioRunner, data_dir: Path) -> None:
    result = ennio("events")
    assert (result.code, result.stdout, result.stderr) == (0, "", "no events yet\n")
    assert ennio("events", "--json").json() == []
    assert not (data_dir / "ennio.db").exists()


class Follower:
    """``ennio events --follow --json`` running in the background; its lines arrive on a queue."""

    def __init__(self, cwd: Path, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [str(ENNIO), "events", "--follow", "--json", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[dict[str, object]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def messages(self) -> list[object]:
        while not self.lines.empty():
            self.seen.append(json.loads(self.lines.get()))
        return [e["message"] for e in self.seen]

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, err


async def test_follow_prints_new_events_until_ctrl_c(
    db_url: str | None, data_dir: Path, config_for_db: Path, workdir: Path
) -> None:
    first, *rest = events()
    await append(db_url, data_dir, [first])
    follower = Follower(workdir, "--project", "app")
    try:
        wait_for(lambda: follower.messages() == ["spawned app-1"], timeout=20, what="the existing event")
        await append(db_url, data_dir, rest)
        expected = ["spawned app-1", "CI failed: lint", "sent the CI log", "CI green"]
        wait_for(lambda: follower.messages() == expected, timeout=20, what="the new events of project app")
    finally:
        code, err = follower.stop()
    assert code == 0
    assert "Traceback" not in err


async def test_follow_starts_before_the_database_exists(data_dir: Path, workdir: Path) -> None:
    follower = Follower(workdir)
    try:
        await append(None, data_dir, events()[:2])
        wait_for(lambda: follower.messages() == ["spawned app-1", "CI failed: lint"], timeout=20, what="the events")
    finally:
        code, _ = follower.stop()
    assert code == 0
