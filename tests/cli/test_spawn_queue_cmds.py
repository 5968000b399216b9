"""``ennio spawn --when-unblocked``, queued spawns in ``ennio status`` / ``session list``, ``ennio session cancel``:
the real console script on a repository whose local issues block one another."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.ennio_cli import Ran, cli_env, run_ennio, write_config
from tests.helpers.sessions_env import branches, tmux_sessions, worktrees

Ennio = Callable[..., Ran]

ISSUES = {
    "1-schema.md": "---\ntitle: Schema\nstate: open\n---\n\nThe tables.\n",
    "2-api.md": "---\ntitle: API\nstate: open\nblocked_by: [1]\n---\n\nThe endpoints.\n",
}


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("app", files={f".ennio/issues/{name}": text for name, text in ISSUES.items()})


@pytest.fixture
def ennio(tmp_path: Path, data_dir: Path, repo: Path, tmux_socket: str) -> Ennio:
    work = tmp_path / "work"
    work.mkdir()
    write_config(work, data_dir, repo)
    env = cli_env(tmp_path / "plugins")

    def call(*args: str) -> Ran:
        return run_ennio(*args, cwd=work, env=env)

    return call


def test_a_blocked_issue_is_refused_then_queued_shown_and_cancelled(ennio: Ennio, repo: Path, tmux_socket: str) -> None:
    refused = ennio("spawn", "app", "--issue", "2")
    assert refused.code == 4, refused.stderr
    assert "issue #2 of project 'app' is blocked by #1" in refused.stderr
    assert "--when-unblocked" in refused.stderr
    assert branches(repo) == ["main"] and len(worktrees(repo)) == 1 and tmux_sessions(tmux_socket) == []

    queued = ennio("spawn", "app", "--issue", "#2", "--when-unblocked")
    assert queued.code == 0, queued.stderr
    assert queued.stdout.startswith("queued q1: issue #2 waits for #1;")
    assert "ennio session cancel q1" in queued.stdout
    assert branches(repo) == ["main"] and tmux_sessions(tmux_socket) == []

    status = ennio("status")
    assert status.code == 0
    row = next(line for line in status.stdout.splitlines() if line.startswith("q1"))
    assert row.split()[:5] == ["q1", "app", "#2", "waiting", "#1"]
    data = ennio("status", "--json").json()
    assert [(q["id"], q["status"], q["blockers"]) for q in data["queued"]] == [("q1", "waiting", ["1"])]
    assert any(line.startswith("q1") for line in ennio("session", "list").stdout.splitlines())

    cancelled = ennio("session", "cancel", "q1")
    assert cancelled.code == 0 and cancelled.stdout.strip() == "cancelled q1 (issue #2)"
    again = ennio("session", "cancel", "q1")
    assert again.code == 4 and "q1 is cancelled, so it cannot be cancelled" in again.stderr
    assert ennio("session", "cancel", "x1").code == 2
    assert "q1" not in ennio("status").stdout
    assert ennio("status", "--all", "--json").json()["queued"][0]["status"] == "cancelled"


def test_an_unblocked_issue_spawns_at_once_with_the_flag(ennio: Ennio) -> None:
    spawned = ennio("spawn", "app", "--issue", "1", "--when-unblocked", "--json")
    assert spawned.code == 0, spawned.stderr
    assert spawned.json()["id"] == "app-1" and spawned.json()["issue_id"] == "1"


def test_batch_spawn_queues_the_blocked_issues_with_the_flag(ennio: Ennio, repo: Path, tmux_socket: str) -> None:
    refused = ennio("batch-spawn", "app", "--issue", "2")
    assert refused.code == 1
    assert "2: issue #2 of project 'app' is blocked by #1" in refused.stderr
    assert ennio("status", "--json").json()["queued"] == []

    both = ennio("batch-spawn", "app", "--issue", "1", "--issue", "2", "--when-unblocked")
    assert both.code == 0, both.stderr
    assert "1: spawned app-1 on feat/1-schema" in both.stdout
    assert "2: queued q1, waiting for #1" in both.stdout
    assert len(tmux_sessions(tmux_socket)) == 1

    items = {i["issue"]: i for i in ennio("batch-spawn", "app", "--issue", "2", "--when-unblocked", "--json").json()}
    assert items["2"]["session"] is None and items["2"]["queued"] is None
    assert "already queued as q1" in items["2"]["error"]["message"]
