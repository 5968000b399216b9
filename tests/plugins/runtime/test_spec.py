"""Launch specs are checked before a runtime touches tmux or starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from ennio.core.errors import InvalidId, InvalidInput
from ennio.core.ids import tmux_session_name
from ennio.core.plugins import LaunchSpec
from ennio.plugins.runtime._spec import check_name, check_spec


def test_names_from_tmux_session_name_pass() -> None:
    longest = tmux_session_name("a" * 64, "b" * 64)
    assert check_name(longest) == longest


@pytest.mark.parametrize("bad", ["", "-x", "a;b", "a b", "a/b", "..", "a.b", "a:b", "a\nb", "ü", "x" * 141])
def test_bad_names(bad: str) -> None:
    with pytest.raises(InvalidId):
        check_name(bad)


def test_spec_checks(tmp_path: Path) -> None:
    check_spec(LaunchSpec("ok", ["prog", ""], tmp_path, {"A_1": "any 'value' $x\n"}))
    for spec, message in [
        (LaunchSpec("ok", [], tmp_path), "empty"),
        (LaunchSpec("ok", [""], tmp_path), "empty"),
        (LaunchSpec("ok", ["a\0b"], tmp_path), "NUL"),
        (LaunchSpec("ok", ["prog"], tmp_path / "nope"), "does not exist"),
        (LaunchSpec("ok", ["prog"], tmp_path, {"1A": "x"}), "not valid"),
        (LaunchSpec("ok", ["prog"], tmp_path, {"A=B": "x"}), "not valid"),
        (LaunchSpec("ok", ["prog"], tmp_path, {"A": "x\0"}), "NUL"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            check_spec(spec)
