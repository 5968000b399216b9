"""How every benchmark states its targets, so `scripts/bench` can gather one table and a missed target fails.

A benchmark measures its figure and, where one exists, a baseline in the same run, then calls
:func:`report` with one :class:`Target` per figure. ``report`` prints a table, prints one
``BENCH-RESULT {json}`` line per target for ``scripts/bench`` to collect, and exits 1 when any target
is missed (0 otherwise).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

#: ``"max"``: the measured value must be at most ``target``; ``"min"``: at least ``target``
Direction = Literal["max", "min"]


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    #: what is compared with ``target``: the ratio to ``baseline`` when there is one, else the figure itself
    value: float
    target: float
    direction: Direction
    unit: str = ""
    figure: float | None = None
    baseline: float | None = None

    @property
    def met(self) -> bool:
        return self.value <= self.target if self.direction == "max" else self.value >= self.target


def ratio(name: str, figure: float, baseline: float, target: float, direction: Direction, unit: str = "") -> Target:
    """A target on ``figure / baseline`` (both in ``unit``), measured in the same run."""
    return Target(name, figure / baseline if baseline else float("inf"), target, direction, unit, figure, baseline)


def absolute(name: str, figure: float, target: float, direction: Direction, unit: str = "") -> Target:
    """A target on the figure itself (only where no baseline can be measured)."""
    return Target(name, figure, target, direction, unit, figure, None)


def report(targets: Sequence[Target]) -> int:
    """Print the targets, one machine-readable line each, and return the exit code (1 if any is missed)."""
    for t in targets:
        sign = "<=" if t.direction == "max" else ">="
        shown = f"{t.figure:,.3f} {t.unit}".strip() if t.figure is not None else ""
        base = f" / baseline {t.baseline:,.3f} {t.unit}".rstrip() if t.baseline is not None else ""
        kind = "ratio" if t.baseline is not None else "value"
        verdict = "met" if t.met else "MISSED"
        print(f"{t.name}: {shown}{base} -> {kind} {t.value:,.3f} (target {sign} {t.target:g}): {verdict}")
        print("BENCH-RESULT " + json.dumps({**asdict(t), "met": t.met}))
    return 0 if all(t.met for t in targets) else 1


def finish(targets: Sequence[Target]) -> None:
    """:func:`report`, then exit with its code."""
    sys.exit(report(targets))
