"""Fixtures for the contract suites: one harness per implementation of a slot.

Tracker implementations plug in by adding their name to ``TRACKERS`` and a fixture named
``tracker_harness_<name>`` returning a :class:`TrackerHarness` (e.g. a GitHub tracker pointed at
a GitHub-speaking server on 127.0.0.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ennio.core.clock import SystemClock
from ennio.core.config import ProjectConfig
from ennio.core.plugins import PluginContext, Slot, Tracker
from ennio.services.registry import default_registry


@dataclass
class TrackerHarness:
    #: makes a fresh tracker object over the same backing store (files, server) each call
    make: Callable[[], Tracker]
    #: a well-formed key that names no issue
    missing_key: str


TRACKERS = ["local"]


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
