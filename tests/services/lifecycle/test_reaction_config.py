"""Reaction settings are checked when the configuration loads: one clear line per mistake."""

from __future__ import annotations

import pytest

from ennio.core.errors import ConfigError
from ennio.services.config.loader import load_config_text


def load(text: str) -> None:
    load_config_text(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reactions:\n  ci-failed:\n    action: send_to_slack\n", "reactions.ci-failed.action"),
        ("reactions:\n  ci-failed:\n    retry: 3\n", "retry"),
        ("reactions:\n  ci-fialed:\n    retries: 3\n", "ci-failed"),
        ("reactions:\n  ci-failed:\n    escalate_after: soon\n", "escalate_after"),
        ("reactions:\n  ci-failed:\n    retries: -1\n", "retries"),
        (
            "projects:\n  - name: app\n    path: /tmp\n    reactions:\n      agent-stuck:\n        treshold: 5m\n",
            "treshold",
        ),
        (
            "projects:\n  - name: app\n    path: /tmp\n    reactions:\n      approved-and-green:\n        action: merge\n",
            "action",
        ),
        ("reactions:\n  all-complete:\n    action: notify\n    notifiers: [pager]\n", "no notifier named 'pager'"),
    ],
)
def test_bad_reaction_settings_are_rejected_at_load(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(text)
    message = info.value.message
    assert expected in message
    assert "\n" not in message  # one line


def test_unknown_reaction_names_get_a_suggestion() -> None:
    with pytest.raises(ConfigError) as info:
        load("reactions:\n  ci-fialed:\n    retries: 3\n")
    assert "did you mean 'ci-failed'" in info.value.message


def test_good_reaction_settings_load_and_merge_over_the_defaults() -> None:
    config = load_config_text(
        "reactions:\n  approved-and-green:\n    action: auto_merge\n"
        "projects:\n  - name: app\n    path: /tmp\n    reactions:\n      ci-failed:\n        retries: 1\n"
    ).config
    assert config.reactions["approved-and-green"].action == "auto_merge"
    assert config.reactions_for("app")["ci-failed"].retries == 1
    assert config.reactions_for("app")["ci-failed"].escalate_after is not None  # default kept
