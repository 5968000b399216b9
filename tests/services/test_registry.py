from __future__ import annotations

import pytest

from ennio.core.errors import PluginError
from ennio.core.plugins import PluginManifest, Slot
from ennio.services.registry import PluginRegistry, default_registry
from tests.services.conftest import PluginFactory

BUILT_INS = {
    Slot.AGENT: {"claude-code", "codex", "aider", "opencode", "script"},
    Slot.RUNTIME: {"tmux", "process"},
    Slot.WORKSPACE: {"worktree", "clone"},
    Slot.TRACKER: {"github", "linear", "local"},
    Slot.SCM: {"github", "local"},
    Slot.NOTIFIER: {"desktop", "slack", "webhook", "apprise"},
    Slot.TERMINAL: {"tmux"},
}

PAGER_SOURCE = """
from ennio.core.plugins import PluginManifest, Slot


class PagerNotifier:
    manifest = PluginManifest("pager", Slot.NOTIFIER, "1.2.3", "Pages the on-call person.")

    def __init__(self, name, settings, ctx):
        self.name = name


class NoManifest:
    pass


class WrongSlot:
    manifest = PluginManifest("pager", Slot.AGENT, "1", "an agent in disguise")
"""


def test_built_ins_are_listed_by_slot() -> None:
    registry = PluginRegistry()
    for slot, names in BUILT_INS.items():
        assert names <= set(registry.names(slot)), slot
    entries = {(e.slot, e.name): e for e in registry.entries()}
    claude = entries[(Slot.AGENT, "claude-code")]
    assert claude.target == "ennio.plugins.agent.claude_code:ClaudeCodeAgent"
    assert claude.distribution == "ennio-orchestrator"


def test_slots_have_entry_point_groups() -> None:
    assert [s.entry_point_group for s in Slot] == [
        "ennio.agent", "ennio.runtime", "ennio.workspace", "ennio.tracker", "ennio.scm", "ennio.notifier",
        "ennio.terminal",
    ]  # fmt: skip


def test_third_party_plugin_is_found_through_its_entry_point(third_party_plugin: PluginFactory) -> None:
    third_party_plugin("ennio_pager", {"ennio.notifier": ["pager = ennio_pager:PagerNotifier"]}, PAGER_SOURCE)
    registry = PluginRegistry()
    assert "pager" in registry.names(Slot.NOTIFIER)
    cls = registry.get(Slot.NOTIFIER, "pager")
    assert cls.__name__ == "PagerNotifier"
    assert cls("team", None, None).name == "team"
    assert registry.manifest(Slot.NOTIFIER, "pager") == PluginManifest(
        "pager", Slot.NOTIFIER, "1.2.3", "Pages the on-call person."
    )
    assert registry.get(Slot.NOTIFIER, "pager") is cls
    entry = next(e for e in registry.entries() if e.name == "pager")
    assert entry.distribution == "ennio-pager"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("ennio_broken:Missing", "failed to load"),
        ("ennio_broken_nowhere:Thing", "failed to load: No module named 'ennio_broken_nowhere'"),
        ("ennio_broken:NoManifest", "has no matching manifest"),
        ("ennio_broken:WrongSlot", "has no matching manifest"),
    ],
)
def test_broken_plugins_give_a_plugin_error(third_party_plugin: PluginFactory, target: str, message: str) -> None:
    third_party_plugin("ennio_broken", {"ennio.notifier": [f"pager = {target}"]}, PAGER_SOURCE)
    registry = PluginRegistry()
    with pytest.raises(PluginError) as info:
        registry.get(Slot.NOTIFIER, "pager")
    assert message in info.value.message
    assert info.value.hint


def test_a_plugin_that_raises_on_import_gives_a_plugin_error(third_party_plugin: PluginFactory) -> None:
    third_party_plugin(
        "ennio_explodes", {"ennio.runtime": ["boom = ennio_explodes:Runtime"]}, "raise RuntimeError('kaboom')\n"
    )
    with pytest.raises(PluginError, match=r"runtime plugin 'boom' .* failed to load: kaboom"):
        PluginRegistry().get(Slot.RUNTIME, "boom")


def test_unknown_plugin_suggests_the_closest_name() -> None:
    with pytest.raises(PluginError) as info:
        PluginRegistry().get(Slot.RUNTIME, "tmx")
    assert info.value.message == "unknown runtime 'tmx'"
    assert info.value.hint is not None and info.value.hint.startswith("did you mean 'tmux'? available:")


def test_registered_classes_win_and_are_listed() -> None:
    class Custom:
        manifest = PluginManifest("custom", Slot.RUNTIME, "0", "embedded")

    registry = PluginRegistry()
    registry.register(Slot.RUNTIME, "custom", Custom)
    assert registry.get(Slot.RUNTIME, "custom") is Custom
    assert "custom" in registry.names(Slot.RUNTIME)


def test_default_registry_is_shared() -> None:
    assert default_registry() is default_registry()
