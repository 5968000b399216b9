"""``ennio pr …`` and ``ennio review …`` through a real typer app: a real repository, the local SCM
and the real database (SQLite, and PostgreSQL through ``database_url``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from ennio.cli import pr, review
from ennio.core.clock import SystemClock
from ennio.core.plugins import PluginContext
from ennio.core.session import Session
from ennio.db import open_database
from ennio.plugins.scm.local import LocalSCM
from tests.helpers.local_scm import CI_COMMAND, ci_outcome, make_project_repo, project_for
from tests.helpers.postgres import fresh_database


@pytest.fixture
def cli() -> typer.Typer:
    main = typer.Typer()

    @main.callback()
    def root() -> None:
        """ennio"""

    pr.register(main)
    review.register(main)
    return main


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    if request.param == "sqlite":
        yield None
    else:
        async with fresh_database() as url:
            yield url


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_project_repo(tmp_path / "app")


LOCAL_SCM = json.dumps({"provider": "local", "ci_command": CI_COMMAND})


def write_config(tmp_path: Path, repo: Path, database_url: str | None, scm: str = LOCAL_SCM) -> Path:
    path = tmp_path / "ennio.yaml"
    lines = [f"database_url: {database_url}"] if database_url else []
    lines += ["projects:", "  - name: app", f"    path: {repo}", f"    scm: {scm}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def runner(cli: typer.Typer, config: Path) -> Callable[..., Result]:
    def invoke(group: str, *args: str) -> Result:
        return CliRunner().invoke(cli, [group, "--config", str(config), *args])

    return invoke


async def seed(repo: Path, data_dir: Path, database_url: str | None) -> None:
    """Session app-1 with a PR whose CI failed, and session app-2 with no PR yet."""
    async with await open_database(database_url, data_dir) as db:
        for number in (1, 2):
            await db.sessions.insert(
                Session(
                    id=f"app-{number}",
                    project_id="app",
                    agent="script",
                    runtime="process",
                    workspace="worktree",
                    branch=f"feat/{number}-work",
                )
            )
        ci_outcome(repo, "feat/1-work", "fail")
        project = project_for(repo, ci_command=CI_COMMAND)
        scm = LocalSCM(project, PluginContext(data_dir=data_dir, clock=SystemClock(), store=db.store))
        await scm.open_pr(branch="feat/1-work", base="main", title="Make it work", body="Closes #1")
        await scm.snapshots([])
        await scm.wait_for_ci()
        await scm.close()


def test_review_and_show_a_sessions_pr(
    cli: typer.Typer, repo: Path, tmp_path: Path, data_dir: Path, database_url: str | None
) -> None:
    asyncio.run(seed(repo, data_dir, database_url))
    run = runner(cli, write_config(tmp_path, repo, database_url))

    asked = run(
        "review",
        "request-changes",
        "app-1",
        "--author",
        "alice",
        "--comment",
        "Rename VALUE",
        "--file",
        "app.py",
        "--line",
        "1",
        "-m",
        "Add a test for the empty case",
        "--comment=Explain ci.py",
        "-fci.py",
    )
    assert asked.exit_code == 0, asked.output
    assert asked.stdout.strip() == "Requested changes on PR #1 (feat/1-work): 3 comments."

    listed = run("pr", "list")
    assert listed.exit_code == 0, listed.output
    header, row = listed.stdout.splitlines()
    assert header.split() == ["#", "State", "Session", "Branch", "CI", "Review", "Title"]
    assert row.split() == ["1", "open", "app-1", "feat/1-work", "failing", "changes_requested", "Make", "it", "work"]

    shown = run("pr", "show", "app-1")
    assert shown.exit_code == 0, shown.output
    text = shown.stdout
    assert text.splitlines()[0] == "#1 Make it work [open]"
    assert "Branch: feat/1-work -> main (session app-1)" in text
    assert "CI: failing" in text and "AssertionError: expected 4, got 5" in text
    assert "alice app.py:1: Rename VALUE" in text
    assert "alice: Add a test for the empty case" in text
    assert "alice ci.py: Explain ci.py" in text
    assert "Mergeable: yes" in text

    approved = run("review", "approve", "#1", "--author", "alice", "-m", "Thanks")
    assert approved.exit_code == 0, approved.output
    as_json = run("pr", "show", "1", "--json")
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.stdout)
    assert (body["number"], body["session"], body["review"], body["ci"]) == (1, "app-1", "approved", "failing")
    assert body["comments"] == [] and body["mergeable"] is True
    assert json.loads(run("pr", "list", "--state", "all", "--json").stdout)[0]["review"] == "approved"
    assert run("pr", "list", "--state", "merged").stdout.strip() == "No merged pull requests."


def test_bad_input_is_one_clear_line(cli: typer.Typer, repo: Path, tmp_path: Path, data_dir: Path) -> None:
    asyncio.run(seed(repo, data_dir, None))
    run = runner(cli, write_config(tmp_path, repo, None))

    def fails(code: int, message: str, *args: str) -> None:
        result = run(*args)
        assert result.exit_code == code, result.output
        assert result.stderr.splitlines()[0].startswith(f"error: {message}"), result.stderr

    fails(3, "no session 'app-9'", "pr", "show", "app-9")
    fails(3, "session 'app-2' has no pull request yet", "review", "approve", "app-2")
    fails(3, "no pull request #7", "pr", "show", "#7")
    fails(
        2, "--file app.py comes before any --comment", "review", "request-changes", "app-1", "-f", "app.py", "-m", "x"
    )
    fails(
        2, "two --line options", "review", "request-changes", "app-1", "-m", "x", "-f", "app.py", "-l", "1", "-l", "2"
    )
    fails(2, "nope.py is not a file in the PR's head", "review", "request-changes", "app-1", "-m", "x", "-f", "nope.py")
    fails(2, "--line needs --file", "review", "request-changes", "app-1", "-m", "x", "-l", "3")
    fails(2, "--state 'done' is not one of", "pr", "list", "--state", "done")
    missing = run("review", "request-changes", "app-1")
    assert missing.exit_code == 2 and "--comment" in missing.output

    github = runner(cli, write_config(tmp_path, repo, None, scm="{provider: github, repo: acme/app}"))
    result = github("pr", "list")
    assert result.exit_code == 1 and "uses the github SCM, whose pull requests live on the forge" in result.stderr
    bare = runner(cli, write_config(tmp_path, repo, None, scm="null"))
    result = bare("review", "approve", "#1")
    assert result.exit_code == 2 and "project 'app' has no scm" in result.stderr
