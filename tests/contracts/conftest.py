"""Fixtures for the contract suites: one harness per implementation of a slot.

Notifiers: every built-in notifier against its far side (a recording notify-send, a server on
127.0.0.1). Trackers: local (files in a real repo), linear (a schema-checked Linear API on 127.0.0.1),
github (the fake GitHub on 127.0.0.1: REST checked by githubkit's models, GraphQL run on GitHub's schema).
Tracker implementations plug in by adding their name to ``TRACKERS`` and a fixture named
``tracker_harness_<name>`` returning a :class:`TrackerHarness` (e.g. a GitHub tracker pointed at
a GitHub-speaking server on 127.0.0.1). SCMs: local (a real repository, the real database on SQLite
and PostgreSQL) and github (the fake GitHub), each as an :class:`SCMHarness`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ennio.core.clock import SystemClock
from ennio.core.config import (
    AppriseNotifierConfig,
    DesktopNotifierConfig,
    ProjectConfig,
    SlackNotifierConfig,
    WebhookNotifierConfig,
)
from ennio.core.plugins import (
    SCM,
    Notifier,
    PluginContext,
    PullRequest,
    ReviewableSCM,
    ReviewComment,
    Slot,
    Tracker,
)
from ennio.db import Database, open_database
from ennio.services.registry import default_registry
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, github  # noqa: F401 (a fixture)
from tests.helpers.linear_api import FakeLinear, LinearServer, linear_server_fixture  # noqa: F401 (a fixture)
from tests.helpers.local_scm import CI_COMMAND, ci_outcome, make_project_repo, project_for
from tests.helpers.notifiers import install_recording_program, recorded_calls
from tests.helpers.postgres import fresh_database


@dataclass
class TrackerHarness:
    #: makes a fresh tracker object over the same backing store (files, server) each call
    make: Callable[[], Tracker]
    #: a well-formed key that names no issue
    missing_key: str


TRACKERS = ["local", "linear", "github"]


@pytest.fixture(params=TRACKERS)
def tracker_harness(request: pytest.FixtureRequest) -> TrackerHarness:
    harness: TrackerHarness = request.getfixturevalue(f"tracker_harness_{request.param}")
    return harness


@pytest.fixture
def tracker_harness_local(git_repo: Callable[..., Path], tmp_path: Path) -> TrackerHarness:
    project = ProjectConfig.model_validate(
        {"name": "app", "path": str(git_repo("app")), "tracker": {"provider": "local"}}
    )
    plugin = default_registry().get(Slot.TRACKER, "local")

    def make() -> Tracker:
        tracker: Tracker = plugin(project, PluginContext(data_dir=tmp_path / "data", clock=SystemClock()))
        return tracker

    return TrackerHarness(make=make, missing_key="987654")


@pytest.fixture
def tracker_harness_linear(linear_server: LinearServer, tmp_path: Path) -> Iterator[TrackerHarness]:
    """The Linear tracker against a schema-checked Linear API on 127.0.0.1 (labels exist, as Linear requires)."""
    api = FakeLinear()
    api.add_team("ENG", "Engineering")
    for name in ("auth", "bug", "feature", "ui"):
        api.add_label(name)
    linear_server.attach(api)
    project = ProjectConfig.model_validate(
        {
            "name": "app",
            "path": str(tmp_path),
            "tracker": {"provider": "linear", "team": "ENG", "api_key": api.api_key, "base_url": api.url},
        }
    )
    plugin = default_registry().get(Slot.TRACKER, "linear")

    def make() -> Tracker:
        tracker: Tracker = plugin(project, PluginContext(data_dir=tmp_path / "data", clock=SystemClock()))
        return tracker

    yield TrackerHarness(make=make, missing_key="ENG-9999")
    linear_server.attach(None)
    assert api.rejected == [], f"queries Linear would reject: {api.rejected}"


@pytest.fixture
def tracker_harness_github(github: FakeGitHub, tmp_path: Path) -> TrackerHarness:  # noqa: F811
    """The GitHub tracker against the fake GitHub (its fixture fails the test on impossible traffic)."""
    project = ProjectConfig.model_validate(
        {
            "name": "app",
            "path": str(tmp_path),
            "tracker": {"provider": "github", "repo": REPO, "token": TOKEN, "base_url": github.base},
        }
    )
    plugin = default_registry().get(Slot.TRACKER, "github")

    def make() -> Tracker:
        tracker: Tracker = plugin(project, PluginContext(data_dir=tmp_path / "data", clock=SystemClock()))
        return tracker

    return TrackerHarness(make=make, missing_key="987654")


# --------------------------------------------------------------------------- notifiers


@dataclass
class NotifierHarness:
    #: the notifier, built through the registry as ``cls(name, settings, ctx)``
    make: Callable[[], Notifier]
    #: everything the far side received so far, as text (to look for the title and body in)
    received: Callable[[], list[str]]
    #: make the far side refuse from now on (an HTTP error, a failing program)
    break_receiver: Callable[[], None]


NOTIFIERS = ["desktop", "slack", "webhook", "apprise"]


@pytest.fixture(params=NOTIFIERS)
def notifier_harness(
    request: pytest.FixtureRequest,
    httpserver: HTTPServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> NotifierHarness:
    kind: str = request.param
    ctx = PluginContext(data_dir=tmp_path / "data", clock=SystemClock())
    plugin = default_registry().get(Slot.NOTIFIER, kind)
    if kind == "desktop":
        bin_dir = tmp_path / "bin"
        record = install_recording_program(bin_dir, "notify-send")
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        settings: Any = DesktopNotifierConfig()

        def desktop_received() -> list[str]:
            return ["\n".join(call) for call in recorded_calls(record)]

        def break_desktop() -> None:
            install_recording_program(bin_dir, "notify-send", exit_code=1)

        return NotifierHarness(
            make=lambda: plugin("desk", settings, ctx), received=desktop_received, break_receiver=break_desktop
        )
    answers = {"slack": "ok", "webhook": "", "apprise": ""}
    state = {"status": 200}

    def answer(request: Request) -> Response:
        return Response(answers[kind], status=state["status"])

    httpserver.expect_request("/receiver").respond_with_handler(answer)
    url = httpserver.url_for("/receiver")
    if kind == "slack":
        settings = SlackNotifierConfig(webhook_url=SecretStr(url))
    elif kind == "webhook":
        settings = WebhookNotifierConfig(url=url, retries=0)
    else:
        settings = AppriseNotifierConfig(urls=[SecretStr(f"json://127.0.0.1:{httpserver.port}/receiver")])

    def http_received() -> list[str]:
        return [r.get_data(as_text=True) for r, _ in httpserver.log]

    def break_http() -> None:
        state["status"] = 404  # final at once: no retry waits in the contract suite

    return NotifierHarness(make=lambda: plugin(kind, settings, ctx), received=http_received, break_receiver=break_http)


# --------------------------------------------------------------------------- SCMs

#: the line a failing CI log ends with, whichever SCM ran it
CI_FAILURE_LINE = "AssertionError: expected 4, got 5"
#: a review author each harness configures as a bot
BOT = "bugbot"


@dataclass
class SCMHarness:
    #: the SCM under test (one instance per test: background work such as local CI belongs to it)
    scm: SCM
    #: a new branch with one commit whose CI will pass (``True``) or fail
    new_branch: Callable[[str, bool], Awaitable[None]]
    #: what the far side does once a PR is open (GitHub: its checks report on the head)
    opened: Callable[[PullRequest], Awaitable[None]]
    #: a new head on the PR's branch whose CI will pass or fail; returns the new head commit
    push: Callable[[PullRequest, bool], Awaitable[str]]
    #: a review: (pr, author, "approved" | "changes_requested" | "commented", body, path, line)
    review: Callable[[PullRequest, str, str, str, str | None, int | None], Awaitable[None]]
    #: a file the PR's head has (review comments name it)
    path: str = "app.py"


SCMS = ["local", pytest.param("local-postgres", marks=pytest.mark.postgres), "github"]


@pytest.fixture(params=SCMS)
def scm_harness(request: pytest.FixtureRequest) -> SCMHarness:
    harness: SCMHarness = request.getfixturevalue(f"scm_harness_{request.param.replace('-', '_')}")
    return harness


@pytest.fixture
async def scm_harness_local(tmp_path: Path, data_dir: Path) -> AsyncIterator[SCMHarness]:
    """The local SCM on a real repository (``ci.py`` decides CI) and the real SQLite database."""
    async with await open_database(None, data_dir) as db:
        async for harness in _local_harness(db, tmp_path, data_dir):
            yield harness


@pytest.fixture
async def scm_harness_local_postgres(tmp_path: Path, data_dir: Path) -> AsyncIterator[SCMHarness]:
    """The local SCM with its documents in a fresh PostgreSQL database."""
    async with fresh_database() as url, await open_database(url, data_dir) as db:
        async for harness in _local_harness(db, tmp_path, data_dir):
            yield harness


async def _local_harness(db: Database, tmp_path: Path, data_dir: Path) -> AsyncIterator[SCMHarness]:
    repo = make_project_repo(tmp_path / "app")
    project = project_for(repo, ci_command=CI_COMMAND, bot_authors=[BOT])
    plugin = default_registry().get(Slot.SCM, "local")
    scm = plugin(project, PluginContext(data_dir=data_dir, clock=SystemClock(), store=db.store))
    assert isinstance(scm, ReviewableSCM)

    async def new_branch(branch: str, ok: bool) -> None:
        ci_outcome(repo, branch, "pass" if ok else "fail")

    async def opened(pr: PullRequest) -> None:
        return None

    async def push(pr: PullRequest, ok: bool) -> str:
        return ci_outcome(repo, pr.branch, "pass" if ok else "fail")

    async def review(pr: PullRequest, author: str, verdict: str, body: str, path: str | None, line: int | None) -> None:
        comments = [ReviewComment(id="", author=author, body=body, path=path, line=line)] if path else []
        if verdict == "approved":
            await scm.approve(pr, author, body)
        elif verdict == "changes_requested":
            await scm.request_changes(pr, author, comments, "" if comments else body)
        else:
            await scm.comment_review(pr, author, comments, "" if comments else body)

    yield SCMHarness(scm, new_branch, opened, push, review)
    await scm.close()


@pytest.fixture
async def scm_harness_github(github: FakeGitHub, tmp_path: Path) -> AsyncIterator[SCMHarness]:  # noqa: F811
    """The GitHub SCM against the fake GitHub: checks, reviews and threads are added the way GitHub would."""
    project = ProjectConfig.model_validate(
        {
            "name": "app",
            "path": str(tmp_path),
            "scm": {"provider": "github", "repo": REPO, "token": TOKEN, "base_url": github.base, "bot_authors": [BOT]},
        }
    )
    plugin = default_registry().get(Slot.SCM, "github")
    scm = plugin(project, PluginContext(data_dir=tmp_path / "data", clock=SystemClock()))
    outcomes: dict[str, bool] = {}

    def report(sha: str, ok: bool) -> None:
        log = "test_3 ... ok\n" + ("4 passed" if ok else f"test_4 ... FAILED\n{CI_FAILURE_LINE}")
        github.add_check(REPO, sha, "tests", conclusion="success" if ok else "failure", log=log)

    async def new_branch(branch: str, ok: bool) -> None:
        outcomes[branch] = ok

    async def opened(pr: PullRequest) -> None:
        assert pr.head_sha is not None
        report(pr.head_sha, outcomes.get(pr.branch, True))

    async def push(pr: PullRequest, ok: bool) -> str:
        sha = github.push_commit(REPO, pr.number)
        report(sha, ok)
        return sha

    async def review(pr: PullRequest, author: str, verdict: str, body: str, path: str | None, line: int | None) -> None:
        bot = author == BOT
        if path is not None:
            github.add_thread(REPO, pr.number, author, body, path=path, line=line, bot=bot)
            body = ""
        if verdict != "commented" or body:
            github.add_review(REPO, pr.number, author, verdict.upper(), body)

    yield SCMHarness(scm, new_branch, opened, push, review)
    await scm.close()
