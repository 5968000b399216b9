"""Fixtures for the contract suites: one harness per implementation of a slot.

Notifiers: every built-in notifier against its far side (a recording notify-send, a server on
127.0.0.1). Trackers: local (files in a real repo), linear (a schema-checked Linear API on 127.0.0.1),
github (the fake GitHub on 127.0.0.1: REST checked by githubkit's models, GraphQL run on GitHub's schema).
Tracker implementations plug in by adding their name to ``TRACKERS`` and a fixture named
``tracker_harness_<name>`` returning a :class:`TrackerHarness` (e.g. a GitHub tracker pointed at
a GitHub-speaking server on 127.0.0.1).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
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
from ennio.core.plugins import Notifier, PluginContext, Slot, Tracker
from ennio.services.registry import default_registry
from tests.helpers.fake_github import REPO, TOKEN, FakeGitHub, github  # noqa: F401 (a fixture)
from tests.helpers.linear_api import FakeLinear, LinearServer, linear_server_fixture  # noqa: F401 (a fixture)
from tests.helpers.notifiers import install_recording_program, recorded_calls


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
