from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from ennio.core.config import REACTION_NAMES, EnnioConfig
from ennio.services.config.docs import BEGIN, END, _models_in, render_reference, update_text

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_reference_is_up_to_date() -> None:
    text = README.read_text(encoding="utf-8")
    assert update_text(text) == text, "README.md's configuration reference is stale: run scripts/gen-config-docs"


def _all_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        keys.add(f"{prefix}{name}")
        for sub in _models_in(info.annotation):
            keys |= {k.split(".")[-1] for k in _all_keys(sub)}
    return keys


def test_every_key_of_every_model_is_documented_with_a_description() -> None:
    reference = render_reference()
    rows = [line for line in reference.splitlines() if line.startswith("| `")]
    documented = {row.split("`")[1] for row in rows}
    for key in _all_keys(EnnioConfig):
        assert any(d == key or d.endswith(f".{key}") for d in documented), key
    for row in rows:
        if "reaction |" in row:
            continue
        description = row.rstrip(" |").rsplit("|", 1)[-1].strip()
        assert description, f"no description: {row}"
    for name in REACTION_NAMES:
        assert f"| `{name}` |" in reference


def test_update_replaces_only_the_marked_part() -> None:
    text = f"intro\n{BEGIN}\nold stuff\n{END}\noutro\n"
    updated = update_text(text)
    assert updated.startswith(f"intro\n{BEGIN}\n")
    assert updated.endswith(f"{END}\noutro\n")
    assert "old stuff" not in updated
    assert update_text(updated) == updated
    with pytest.raises(ValueError, match="markers not found"):
        update_text("no markers here")
