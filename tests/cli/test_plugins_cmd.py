from __future__ import annotations

import os
from pathlib import Path

from tests.cli.conftest import EnnioRunner
from tests.helpers.plugins import make_plugin_distribution

SOURCE = """
from ennio.core.plugins import PluginManifest, Slot


class Pager:
    manifest = PluginManifest("pager", Slot.NOTIFIER, "1.2.3", "Pages the on-call person.")
"""


def test_lists_built_in_and_third_party_plugins(ennio: EnnioRunner, tmp_path: Path) -> None:
    site = make_plugin_distribution(
        tmp_path / "site",
        "ennio_pager",
        {"ennio.notifier": ["pager = ennio_pager:Pager", "broken = ennio_pager:Nothing"]},
        SOURCE,
    )
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
    result = ennio("plugins", "list", "--json", env=env)
    assert result.code == 0
    rows = {(row["slot"], row["name"]): row for row in result.json()}
    assert rows[("notifier", "pager")] == {
        "slot": "notifier",
        "name": "pager",
        "target": "ennio_pager:Pager",
        "distribution": "ennio-pager",
        "version": "1.2.3",
        "description": "Pages the on-call person.",
        "error": None,
    }
    broken = rows[("notifier", "broken")]
    assert broken["version"] is None
    assert "failed to load" in broken["error"]
    for slot, name in [("agent", "claude-code"), ("runtime", "tmux"), ("workspace", "worktree"), ("scm", "github")]:
        assert rows[(slot, name)]["distribution"] == "ennio-orchestrator"

    table = ennio("plugins", "list", env=env)
    assert table.code == 0
    pager = next(line for line in table.stdout.splitlines() if " pager " in line)
    assert pager.split()[:4] == ["notifier", "pager", "1.2.3", "ennio-pager"]
    assert "broken: " in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 100
