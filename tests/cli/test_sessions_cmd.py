from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ennio.core.session import Session, SessionStatus
from ennio.db import open_database
from tests.cli.conftest import EnnioRunner

S = SessionStatus
NOW = datetime.now(UTC)


def session(sid: str, status: SessionStatus, *, minutes_ago: int, **extra: object) -> Session:
    at = NOW - timedelta(minutes=minutes_ago)
    project = sid.rsplit("-", 1)[0]
    return Session.model_validate(
        {
            "id": sid,
            "project_id": project,
            "status": status,
            "agent": "claude-code",
            "runtime": "tmux",
            "workspace": "worktree",
            "created_at": at,
            "updated_at": at,
            **extra,
        }
    )


SESSIONS = [
    session("app-1", S.MERGED, minutes_ago=300, branch="feat/1-login", pr_number=11),
    session("app-2", S.WORKING, minutes_ago=90, branch="feat/2-signup", activity="active"),
    session("web-1", S.PR_OPEN, minutes_ago=30, branch="feat/7-a-very-long-branch-name-" + "x" * 80, pr_number=12),
    session("web-2", S.KILLED, minutes_ago=20),
    session("app-3", S.CI_FAILED, minutes_ago=5, branch="feat/3-checkout", pr_number=13),
]


async def seed(db_url: str | None, data_dir: Path) -> None:
    db = await open_database(db_url, data_dir)
    try:
        for item in SESSIONS:
            await db.sessions.insert(item)
    finally:
        await db.close()


def test_status_before_anything_happened(ennio: EnnioRunner, data_dir: Path) -> None:
    result = ennio("status")
    assert result.code == 0
    assert result.stdout == "no sessions running (`ennio status --all` shows finished ones)\n"
    assert ennio("status", "--json").json() == {"sessions": [], "counts": {}, "queued": []}
    assert ennio("session", "list", "--json").json() == []
    assert not (data_dir / "ennio.db").exists()  # reading never creates the database


async def test_status_shows_the_sessions_still_going(
    ennio: EnnioRunner, db_url: str | None, data_dir: Path, config_for_db: Path
) -> None:
    await seed(db_url, data_dir)
    result = ennio("status")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "PROJECT", "STATUS", "ACTIVITY", "AGENT", "BRANCH", "PR", "UPDATED"]
    assert [line.split()[0] for line in lines[1:-1]] == ["app-2", "web-1", "app-3"]
    assert lines[1].split() == ["app-2", "app", "working", "active", "claude-code", "feat/2-signup", "-", "1h", "ago"]
    assert "#12" in lines[2] and "…" in lines[2]  # the long branch is cut, the line fits
    assert lines[-1] == "3 sessions: 1 ci_failed, 1 pr_open, 1 working"
    assert max(len(line) for line in lines) <= 100

    data = ennio("status", "--json").json()
    assert [s["id"] for s in data["sessions"]] == ["app-2", "web-1", "app-3"]
    assert data["counts"] == {"working": 1, "pr_open": 1, "ci_failed": 1}
    assert data["sessions"][2]["pr_number"] == 13

    everything = ennio("status", "--all", "--json").json()
    assert len(everything["sessions"]) == 5
    assert everything["counts"]["merged"] == 1


async def test_session_list(ennio: EnnioRunner, db_url: str | None, data_dir: Path, config_for_db: Path) -> None:
    await seed(db_url, data_dir)
    listed = ennio("session", "list", "--json").json()
    assert [s["id"] for s in listed] == ["app-3", "web-2", "web-1", "app-2", "app-1"]  # newest first
    app = ennio("session", "list", "app")
    assert app.code == 0
    rows = app.stdout.splitlines()
    assert rows[0].split() == ["ID", "STATUS", "ACTIVITY", "AGENT", "BRANCH", "PR", "UPDATED"]
    assert [row.split()[0] for row in rows[1:]] == ["app-3", "app-2", "app-1"]
    assert ennio("session", "list", "nothing-here").stdout == "no sessions in project 'nothing-here'\n"


def test_session_list_rejects_a_bad_project_id(ennio: EnnioRunner) -> None:
    result = ennio("session", "list", "../etc")
    assert result.code == 2
    assert result.stderr.splitlines() == [
        "error: project id '../etc' contains '.', '/'",
        "hint: use only letters, digits, '_' and '-'",
    ]


async def test_status_reads_the_database_named_by_dash_c(ennio: EnnioRunner, tmp_path: Path) -> None:
    elsewhere = tmp_path / "team-data"
    await seed(None, elsewhere)
    config = tmp_path / "team.yaml"
    config.write_text("data_dir: ./team-data\n")
    assert len(ennio("-c", str(config), "status", "--all", "--json").json()["sessions"]) == 5
    assert ennio("status", "--all", "--json").json()["sessions"] == []


def test_an_unreachable_database_is_one_clear_error(ennio: EnnioRunner, workdir: Path) -> None:
    (workdir / "ennio.yaml").write_text("database_url: postgresql://nobody@127.0.0.1:1/nothing\n")
    result = ennio("status")
    assert result.code == 5
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) <= 2
