"""The import rules of docs/architecture.md, checked on the source: a violation names the module and the import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "ennio"

#: which top-level packages of ennio each layer may import (besides itself). Layers below the front ends
#: never import upwards; front ends (web, demo, daemon) import services and below and never each other,
#: except the daemon serving the web app; only the console entry (cli) imports the front ends it runs.
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "plugins": {"core"},
    "db": {"core"},
    "nats": {"core"},
    "services": {"core", "db", "nats"},
    "web": {"core", "db", "services"},
    "demo": {"core", "db", "services"},
    "daemon": {"core", "db", "nats", "services", "web"},
    "cli": {"core", "db", "daemon", "demo", "services"},
}


def _ennio_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.startswith("ennio.")]
    return found


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    allowed = ALLOWED[layer] | {layer}
    wrong = [
        f"{path.relative_to(SRC.parent)}:{line}: imports {name}"
        for path in sorted((SRC / layer).rglob("*.py"))
        for line, name in _ennio_imports(path)
        if name.split(".")[1] not in allowed
    ]
    assert not wrong, "\n".join(wrong)


def test_services_never_import_a_concrete_plugin() -> None:
    wrong = [
        f"{path.relative_to(SRC.parent)}:{line}: imports {name}"
        for layer in ("services", "web", "cli", "demo", "db", "nats")
        for path in sorted((SRC / layer).rglob("*.py"))
        for line, name in _ennio_imports(path)
        if name.startswith("ennio.plugins")
    ]
    assert not wrong, "\n".join(wrong)


def test_every_layer_is_covered() -> None:
    layers = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert layers == set(ALLOWED), "add the new package to ALLOWED with the layers it may import"


#: a module longer than this says why at its top, in a docstring paragraph starting "Size:"
LONG_MODULE = 400


def test_long_modules_say_why() -> None:
    silent = []
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        lines = text.count("\n")
        docstring = ast.get_docstring(ast.parse(text)) or ""
        if lines > LONG_MODULE and "\nSize: " not in f"\n{docstring}":
            silent.append(f"{path.relative_to(SRC.parent)}: {lines} lines and no 'Size:' paragraph in its docstring")
    assert not silent, "\n".join(silent)
