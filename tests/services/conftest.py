"""Fixtures for service tests: the database fixtures (event log tests run on a fresh SQLite file and
on a fresh PostgreSQL database) and a third-party plugin distribution installed on sys.path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.database import clock, db, db_url, reopen  # noqa: F401  (fixtures)

PluginFactory = Callable[[str, dict[str, list[str]], str], Path]


@pytest.fixture
def third_party_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PluginFactory:
    """Factory: a real installed distribution (``*.dist-info`` with ``entry_points.txt``) on ``sys.path``.

    ``groups`` maps an entry-point group (``ennio.notifier``) to ``name = module:attr`` lines;
    ``source`` is the text of the distribution's module.
    """

    def factory(module: str, groups: dict[str, list[str]], source: str) -> Path:
        site = tmp_path / f"site-{module}"
        dist = site / f"{module.replace('_', '-')}-1.2.3.dist-info"
        dist.mkdir(parents=True)
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.2.3\n")
        entry_points = "".join(
            f"[{group}]\n" + "".join(f"{line}\n" for line in lines) for group, lines in groups.items()
        )
        (dist / "entry_points.txt").write_text(entry_points)
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        monkeypatch.syspath_prepend(str(site))
        return site

    return factory
