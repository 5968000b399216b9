"""Fixtures for service tests: the database fixtures (event log tests run on a fresh SQLite file and
on a fresh PostgreSQL database) and a third-party plugin distribution installed on sys.path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.database import clock, db, db_url, reopen  # noqa: F401  (fixtures)
from tests.helpers.plugins import make_plugin_distribution

PluginFactory = Callable[[str, dict[str, list[str]], str], Path]


@pytest.fixture
def third_party_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginFactory:
    """Factory: a third-party plugin distribution installed on ``sys.path`` for this test."""

    def factory(module: str, groups: dict[str, list[str]], source: str) -> Path:
        site = make_plugin_distribution(tmp_path / f"site-{module}", module, groups, source)
        monkeypatch.syspath_prepend(str(site))
        return site

    return factory
