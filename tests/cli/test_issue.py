"""``ennio issue …`` through a real typer app, on a real repository with the local tracker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from ennio.cli.issue import register


@pytest.fixture
def cli() -> typer.Typer:
    main = typer.Typer()

    @main.callback()
    def root() -> None:
        """ennio"""

    register(main)
    return main


@pytest.fixture
def repo(git_repo: Callable[..., Path]) -> Path:
    return git_repo("app")


@pytest.fixture
def config(tmp_path: Path, repo: Path) -> Path:
    path = tmp_path / "ennio.yaml"
    path.write_text(f"projects:\n  - name: app\n    path: {repo}\n    tracker: {{provider: local}}\n")
    return path


@pytest.fixture
def run(cli: typer.Typer, config: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Result]:
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, ["issue", "--config", str(config), *args], input=input)

    return invoke


def test_create_list_show_close(run: Callable[..., Result], repo: Path) -> None:
    created = run("create", "Add login", "--body", "Users log in.", "--label", "auth", "-l", "ui")
    assert created.exit_code == 0, created.output
    assert created.stdout.splitlines()[0] == "Created #1: Add login"
    assert (repo / ".ennio/issues/1-add-login.md").is_file()
    assert run("create", "Fix crash").exit_code == 0

    listed = run("list")
    assert listed.exit_code == 0
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["#", "State", "Title", "Labels", "Blocked", "by"]
    assert rows[1] == ["1", "open", "Add", "login", "auth,", "ui"]
    assert rows[2] == ["2", "open", "Fix", "crash"]

    shown = run("show", "1")
    assert shown.exit_code == 0
    assert shown.stdout.splitlines()[:3] == ["#1 Add login [open]", "Labels: auth, ui", "Branch: feat/1-add-login"]
    assert shown.stdout.rstrip().endswith("Users log in.")

    closed = run("close", "1", "--comment", "Done in PR 4.")
    assert (closed.exit_code, closed.stdout.strip()) == (0, "Closed #1: Add login")
    text = (repo / ".ennio/issues/1-add-login.md").read_text()
    assert "state: closed" in text and "## Comments" in text and "Done in PR 4." in text

    assert [r.split()[0] for r in run("list").stdout.splitlines()[1:]] == ["2"]
    assert [r.split()[0] for r in run("list", "--state", "closed").stdout.splitlines()[1:]] == ["1"]


def test_json_output(run: Callable[..., Result]) -> None:
    run("create", "Add login", "-l", "auth")
    listed = json.loads(run("list", "--json").stdout)
    assert [(i["key"], i["title"], i["state"], i["labels"], i["branch"]) for i in listed] == [
        ("1", "Add login", "open", ["auth"], "feat/1-add-login")
    ]
    assert json.loads(run("show", "1", "--json").stdout)["key"] == "1"


def test_body_from_a_file_and_from_stdin(run: Callable[..., Result], tmp_path: Path, repo: Path) -> None:
    body = tmp_path / "body.md"
    body.write_text("From a file.\n")
    assert run("create", "One", "--body-file", str(body)).exit_code == 0
    assert run("create", "Two", "-F", "-", input="From stdin.\n").exit_code == 0
    assert (repo / ".ennio/issues/1-one.md").read_text().endswith("\nFrom a file.\n")
    assert (repo / ".ennio/issues/2-two.md").read_text().endswith("\nFrom stdin.\n")


def test_empty_list_says_so(run: Callable[..., Result]) -> None:
    result = run("list")
    assert (result.exit_code, result.stdout.strip()) == (0, "No open issues.")


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["show", "9"], 3, "error: no issue #9 in .ennio/issues"),
        (["show", "abc"], 2, "error: local issue key 'abc' is not an issue number"),
        (["close", "9"], 3, "error: no issue #9 in .ennio/issues"),
        (["create", "  "], 2, "error: an issue needs a title"),
        (["create", "x", "--body", "a", "--body-file", "b"], 2, "error: give --body or --body-file, not both"),
        (["list", "--state", "done"], 2, "error: --state 'done' is not open, closed or all"),
        (["list", "--project", "nope"], 3, "error: no project 'nope' in the configuration"),
    ],
)
def test_bad_input_is_one_clear_line(
    run: Callable[..., Result], repo: Path, args: list[str], code: int, message: str
) -> None:
    result = run(*args)
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] == message
    assert "Traceback" not in result.output
    assert not (repo / ".ennio").exists()  # nothing half-made


def test_malformed_issue_file_is_named(run: Callable[..., Result], repo: Path) -> None:
    folder = repo / ".ennio/issues"
    folder.mkdir(parents=True)
    (folder / "3-broken.md").write_text("---\ntitle: [oops\n---\n")
    result = run("list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: .ennio/issues/3-broken.md: invalid YAML in the front matter")


def test_project_without_tracker(cli: typer.Typer, tmp_path: Path, repo: Path) -> None:
    config = tmp_path / "bare.yaml"
    config.write_text(f"projects:\n  - name: app\n    path: {repo}\n")
    result = CliRunner().invoke(cli, ["issue", "--config", str(config), "list"])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "error: project 'app' has no tracker",
        "hint: add `tracker: {provider: local}` (issues as files in the repo), github or linear to the project",
    ]


def test_project_is_chosen_by_flag_or_by_folder(
    cli: typer.Typer, tmp_path: Path, git_repo: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = git_repo("first"), git_repo("second")
    config = tmp_path / "two.yaml"
    config.write_text(
        "projects:\n"
        f"  - {{name: first, path: {first}, tracker: {{provider: local}}}}\n"
        f"  - {{name: second, path: {second}, tracker: {{provider: local}}}}\n"
    )
    monkeypatch.setenv("ENNIO_CONFIG", str(config))
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    ambiguous = runner.invoke(cli, ["issue", "create", "Where?"])
    assert ambiguous.exit_code == 3
    assert ambiguous.stderr.splitlines() == [
        "error: which project? several are configured",
        "hint: pass --project with one of: first, second",
    ]

    assert runner.invoke(cli, ["issue", "create", "Flagged", "-p", "second"]).exit_code == 0
    assert (second / ".ennio/issues/1-flagged.md").is_file()

    (first / "src").mkdir()
    monkeypatch.chdir(first / "src")
    assert runner.invoke(cli, ["issue", "create", "From inside"]).exit_code == 0
    assert (first / ".ennio/issues/1-from-inside.md").is_file()
