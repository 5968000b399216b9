"""Third-party plugin distributions for tests: a real ``*.dist-info`` with ``entry_points.txt``."""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_plugin_distribution(site: Path, module: str, groups: dict[str, list[str]], source: str) -> Path:
    """Install distribution ``module`` (one module, ``source``) into the folder ``site``.

    ``groups`` maps an entry-point group (``ennio.notifier``) to ``name = module:attr`` lines. Put
    ``site`` on ``sys.path`` (or ``PYTHONPATH`` of a subprocess) and ``importlib.metadata`` finds it
    exactly as it finds a pip-installed package.
    """
    name = module.replace("_", "-")
    dist = site / f"{module}-1.2.3.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text(
        "".join(f"[{group}]\n" + "".join(f"{line}\n" for line in lines) for group, lines in groups.items())
    )
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    return site
