"""``ennio demo`` through the real console script."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.conftest import EnnioRunner
from tests.helpers.runtime import tmux_socket_env


@pytest.mark.slow
def test_demo_runs_to_the_end_and_prints_a_json_summary(
    ennio: EnnioRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tmux_socket_env(monkeypatch):
        result = ennio("demo", "--json", "--pace", "0", "--dir", str(tmp_path / "demo"), timeout=240)
    assert result.code == 0, result.stderr
    summary = result.json()
    assert summary["ok"] is True and summary["problems"] == []
    assert [s["status"] for s in summary["sessions"]] == ["done"] * 3
    assert summary["events"]["pr.merged"] == 3 and summary["events"]["summary.all_complete"] == 1
    assert (tmp_path / "demo" / "ennio.yaml").is_file()


def test_demo_refuses_a_folder_that_is_not_empty(ennio: EnnioRunner, tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file.txt").write_text("mine\n")
    result = ennio("demo", "--dir", str(tmp_path / "taken"))
    assert result.code == 2
    assert result.stderr.splitlines()[0] == f"error: {tmp_path / 'taken'} is not empty"
    assert (tmp_path / "taken").iterdir().__next__().name == "file.txt"


def test_demo_says_how_to_install_tmux_when_it_is_missing(ennio: EnnioRunner, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink("/usr/bin/git" if Path("/usr/bin/git").exists() else "/bin/git", bin_dir / "git")
    result = ennio("demo", "--dir", str(tmp_path / "d"), env={"PATH": str(bin_dir)})
    assert result.code != 0
    assert "the demo needs tmux" in result.stderr and "hint: apt-get install tmux" in result.stderr
    assert not (tmp_path / "d").exists()
