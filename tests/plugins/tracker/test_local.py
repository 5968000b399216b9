"""Local tracker: Markdown issue files in a real repository."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ennio.core.clock import ManualClock
from ennio.core.config import ProjectConfig
from ennio.core.errors import InvalidInput, NotFound, TrackerError
from ennio.core.plugins import IssueQuery, IssueState, PluginContext
from ennio.plugins.tracker.local import LocalTracker


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


async def test_create_writes_numbered_markdown_files(tracker: LocalTracker, repo: Path) -> None:
    first = await tracker.create_issue("Add login", "Users need to log in.\n\n- email\n- password", ["auth", "ui"])
    second = await tracker.create_issue("Fix the crash!", "")
    assert (first.key, second.key) == ("1", "2")
    folder = repo / ".ennio" / "issues"
    assert sorted(p.name for p in folder.iterdir()) == ["1-add-login.md", "2-fix-the-crash.md"]
    assert (folder / "1-add-login.md").read_text() == (
        "---\n"
        "title: Add login\n"
        "labels: [auth, ui]\n"
        "state: open\n"
        "blocked_by: []\n"
        "created: '2026-02-03T10:00:00Z'\n"
        "updated: '2026-02-03T10:00:00Z'\n"
        "---\n"
        "\n"
        "Users need to log in.\n\n- email\n- password\n"
    )
    assert first.url == (folder / "1-add-login.md").resolve().as_uri()
    assert first.updated_at == datetime(2026, 2, 3, 10, 0, tzinfo=UTC)


async def test_get_reads_a_hand_written_issue(tracker: LocalTracker, issues_dir: Path) -> None:
    write(
        issues_dir,
        "7-search.md",
        """
        ---
        title: "Search: by name"
        labels: [search]
        state: Closed
        blocked_by: [3, "#5"]
        assignees: [ada]
        priority: high
        created: 2026-01-01
        ---
        Find people by name.
        """,
    )
    issue = await tracker.get_issue("#7")
    assert (issue.key, issue.title, issue.state) == ("7", "Search: by name", IssueState.CLOSED)
    assert (issue.labels, issue.blocked_by, issue.assignees) == (["search"], ["3", "5"], ["ada"])
    assert issue.body == "Find people by name."
    assert issue.updated_at == datetime(2026, 1, 1, tzinfo=UTC)


async def test_list_filters_by_state_and_labels_and_ignores_other_files(
    tracker: LocalTracker, issues_dir: Path
) -> None:
    await tracker.create_issue("One", labels=["Bug", "ui"])
    await tracker.create_issue("Two", labels=["bug"])
    await tracker.create_issue("Three")
    await tracker.close_issue("2")
    write(issues_dir, "README.md", "How we write issues.\n")
    (issues_dir / ".gitkeep").write_text("")
    (issues_dir / "notes").mkdir()

    def keys(issues: list[object]) -> list[str]:
        return [i.key for i in issues]  # type: ignore[attr-defined]

    assert keys(await tracker.list_issues(IssueQuery())) == ["1", "3"]
    assert keys(await tracker.list_issues(IssueQuery(state=IssueState.CLOSED))) == ["2"]
    assert keys(await tracker.list_issues(IssueQuery(state="all"))) == ["1", "2", "3"]
    assert keys(await tracker.list_issues(IssueQuery(state="all", labels=["bug"]))) == ["1", "2"]
    assert keys(await tracker.list_issues(IssueQuery(state="all", labels=["bug", "UI"]))) == ["1"]
    assert keys(await tracker.list_issues(IssueQuery(state="all", limit=2))) == ["1", "2"]


async def test_list_of_a_missing_folder_is_empty(tracker: LocalTracker) -> None:
    assert await tracker.list_issues(IssueQuery(state="all")) == []


async def test_issue_states_in_one_scan(tracker: LocalTracker) -> None:
    for title in ("a", "b", "c"):
        await tracker.create_issue(title)
    await tracker.close_issue("3")
    assert await tracker.issue_states(["1", "3", "42"]) == {"1": IssueState.OPEN, "3": IssueState.CLOSED}


async def test_comments_are_appended_under_one_section(
    tracker: LocalTracker, clock: ManualClock, issues_dir: Path
) -> None:
    await tracker.create_issue("Add login", "Body.")
    clock.advance(60)
    await tracker.comment("1", "CI failed on test_login.\n")
    clock.advance(60)
    await tracker.comment("1", "Fixed in the second push.")
    text = (issues_dir / "1-add-login.md").read_text()
    assert text.endswith(
        "---\n\nBody.\n\n## Comments\n\n### 2026-02-03T10:01:00Z\n\nCI failed on test_login.\n\n"
        "### 2026-02-03T10:02:00Z\n\nFixed in the second push.\n"
    )
    assert "updated: '2026-02-03T10:02:00Z'" in text
    assert "created: '2026-02-03T10:00:00Z'" in text


async def test_close_keeps_the_authors_keys_and_is_idempotent(
    tracker: LocalTracker, clock: ManualClock, issues_dir: Path
) -> None:
    path = write(issues_dir, "4-x.md", "---\ntitle: X\npriority: high\nlabels: [a]\n---\nBody\n")
    clock.advance(5)
    await tracker.close_issue("4")
    await tracker.close_issue("4")
    assert path.read_text() == (
        "---\ntitle: X\npriority: high\nlabels: [a]\nstate: closed\nupdated: '2026-02-03T10:00:05Z'\n---\n\nBody\n"
    )
    assert (await tracker.get_issue("4")).state is IssueState.CLOSED
    assert [p.name for p in issues_dir.iterdir()] == ["4-x.md"]  # no temporary files left


async def test_next_number_follows_the_highest_even_when_closed_or_gapped(
    tracker: LocalTracker, issues_dir: Path
) -> None:
    write(issues_dir, "9-old.md", "---\ntitle: Old\nstate: closed\n---\n")
    write(issues_dir, "2-two.md", "---\ntitle: Two\n---\n")
    assert (await tracker.create_issue("New")).key == "10"


async def test_concurrent_creators_in_threads_get_distinct_numbers(tracker: LocalTracker, issues_dir: Path) -> None:
    created = await asyncio.gather(*(tracker.create_issue(f"Issue {i}") for i in range(12)))
    assert sorted(int(i.key) for i in created) == list(range(1, 13))
    assert len(list(issues_dir.glob("*.md"))) == 12


def test_concurrent_creators_in_processes_get_distinct_numbers(project: ProjectConfig, issues_dir: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from ennio.core.clock import SystemClock
        from ennio.core.config import ProjectConfig
        from ennio.core.plugins import PluginContext
        from ennio.plugins.tracker.local import LocalTracker

        project = ProjectConfig.model_validate({"name": "app", "path": sys.argv[1], "tracker": {"provider": "local"}})
        tracker = LocalTracker(project, PluginContext(data_dir=Path(sys.argv[2]), clock=SystemClock()))

        async def main():
            for i in range(5):
                issue = await tracker.create_issue(f"from {sys.argv[3]} #{i}")
                print(issue.key, flush=True)

        asyncio.run(main())
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(project.path), str(issues_dir.parent / "data"), str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    keys: list[int] = []
    for proc in procs:
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0
        keys += [int(k) for k in out.split()]
    assert sorted(keys) == list(range(1, 21))
    assert len(list(issues_dir.glob("*.md"))) == 20


async def test_branch_name_and_prompt_context(tracker: LocalTracker, issues_dir: Path) -> None:
    write(issues_dir, "3-add-login.md", "---\ntitle: Add login\nlabels: [auth]\nblocked_by: [1]\n---\nDo it.\n")
    issue = await tracker.get_issue("3")
    assert tracker.branch_name(issue) == "feat/3-add-login"
    assert tracker.prompt_context(issue) == (
        "Issue #3: Add login\nFile: .ennio/issues/3-add-login.md\nLabels: auth\nBlocked by: #1\n\nDo it."
    )


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("1-a.md", "title: A\n", "no front matter"),
        ("1-a.md", "---\ntitle: A\n", "front matter is not closed"),
        ("1-a.md", "---\ntitle: [A\n---\n", "invalid YAML in the front matter (line 2)"),
        ("1-a.md", "---\n- a\n- b\n---\n", "must be YAML keys and values"),
        ("1-a.md", "---\nlabels: [x]\n---\n", "'title' is missing or empty"),
        ("1-a.md", "---\ntitle: A\nstate: wip\n---\n", "state 'wip' is not open or closed"),
        ("1-a.md", "---\ntitle: A\nlabels: {a: 1}\n---\n", "'labels' must be a list"),
        ("1-a.md", "---\ntitle: A\nblocked_by: [soon]\n---\n", "blocked_by entry 'soon' is not an issue number"),
        ("1-a.md", "---\ntitle: A\nupdated: yesterday\n---\n", "'updated' is not a date"),
    ],
)
async def test_malformed_files_are_named_in_a_clear_error(
    tracker: LocalTracker, issues_dir: Path, name: str, text: str, problem: str
) -> None:
    write(issues_dir, name, text)
    with pytest.raises(TrackerError) as info:
        await tracker.get_issue("1")
    assert info.value.message.startswith(f".ennio/issues/{name}: ")
    assert problem in info.value.message
    with pytest.raises(TrackerError, match=f"\\.ennio/issues/{name}"):
        await tracker.list_issues(IssueQuery(state="all"))
    before = (issues_dir / name).read_bytes()
    with pytest.raises(TrackerError):
        await tracker.close_issue("1")
    assert (issues_dir / name).read_bytes() == before  # a malformed file is never rewritten


async def test_two_files_with_one_number(tracker: LocalTracker, issues_dir: Path) -> None:
    write(issues_dir, "5-a.md", "---\ntitle: A\n---\n")
    write(issues_dir, "5-b.md", "---\ntitle: B\n---\n")
    with pytest.raises(TrackerError, match=r"5-a\.md and .*5-b\.md both have number 5"):
        await tracker.get_issue("5")


async def test_not_binary_text(tracker: LocalTracker, issues_dir: Path) -> None:
    (issues_dir / "1-a.md").write_bytes(b"---\ntitle: \xff\xfe\n---\n")
    with pytest.raises(TrackerError, match="not UTF-8"):
        await tracker.get_issue("1")


@pytest.mark.parametrize("key", ["abc", "0", "-1", "1.5", "", "1; rm -rf /"])
async def test_bad_keys(tracker: LocalTracker, key: str) -> None:
    with pytest.raises(InvalidInput, match="is not an issue number"):
        await tracker.get_issue(key)


async def test_missing_issue(tracker: LocalTracker) -> None:
    with pytest.raises(NotFound) as info:
        await tracker.get_issue("42")
    assert info.value.message == "no issue #42 in .ennio/issues"
    with pytest.raises(NotFound):
        await tracker.comment("42", "hello")


@pytest.mark.parametrize(
    ("title", "labels", "problem"),
    [("  ", [], "needs a title"), ("two\nlines", [], "one line"), ("ok", ["a", " "], "label is empty")],
)
async def test_bad_new_issues_leave_nothing(
    tracker: LocalTracker, repo: Path, title: str, labels: list[str], problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        await tracker.create_issue(title, "", labels)
    assert not (repo / ".ennio").exists()


async def test_empty_comment_is_refused(tracker: LocalTracker) -> None:
    await tracker.create_issue("A")
    with pytest.raises(InvalidInput, match="comment is empty"):
        await tracker.comment("1", "  \n")


@pytest.mark.parametrize("path", ["/etc/issues", "../outside", ""])
def test_tracker_path_must_stay_inside_the_repo(repo: Path, tmp_path: Path, path: str) -> None:
    project = ProjectConfig.model_validate(
        {"name": "app", "path": str(repo), "tracker": {"provider": "local", "path": path}}
    )
    with pytest.raises(TrackerError, match="must be a folder inside the repository"):
        LocalTracker(project, PluginContext(data_dir=tmp_path, clock=ManualClock()))


def test_another_provider_is_refused(repo: Path, tmp_path: Path) -> None:
    project = ProjectConfig.model_validate({"name": "app", "path": str(repo), "tracker": {"provider": "github"}})
    with pytest.raises(TrackerError, match="uses the github tracker"):
        LocalTracker(project, PluginContext(data_dir=tmp_path, clock=ManualClock()))


async def test_custom_folder(repo: Path, tmp_path: Path) -> None:
    project = ProjectConfig.model_validate(
        {"name": "app", "path": str(repo), "tracker": {"provider": "local", "path": "docs/issues"}}
    )
    tracker = LocalTracker(project, PluginContext(data_dir=tmp_path, clock=ManualClock()))
    await tracker.create_issue("Here")
    assert (repo / "docs" / "issues" / "1-here.md").is_file()
