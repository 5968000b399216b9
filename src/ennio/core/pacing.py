"""How long the lifecycle should wait before its next poll, given what is left of an API budget.

Pure arithmetic over :class:`~ennio.core.plugins.RateBudget` so the policy is tested without a
clock or a network, and every metered SCM/tracker gets the same behaviour:

* plenty left: poll at the configured interval;
* below half of the usable budget: stretch the interval in proportion as the budget shrinks;
* never faster than spreading what is usable evenly until the reset;
* at or below the reserve: pause until the budget resets.
"""

from __future__ import annotations

from datetime import datetime

from ennio.core.plugins import RateBudget

#: assumed time to reset when the API did not say (GitHub's windows are one hour)
DEFAULT_WINDOW_SECONDS = 3600.0
#: margin added after a reset so the first poll does not race the reset itself
RESET_MARGIN_SECONDS = 1.0


def seconds_to_reset(budget: RateBudget, now: datetime) -> float:
    if budget.reset_at is None:
        return DEFAULT_WINDOW_SECONDS
    return max(0.0, (budget.reset_at - now).total_seconds())


def poll_delay(budget: RateBudget | None, interval: float, now: datetime) -> float:
    """Seconds to wait before the next reconcile pass (at least ``interval``)."""
    if budget is None:
        return interval
    until_reset = seconds_to_reset(budget, now)
    pause = max(interval, until_reset + RESET_MARGIN_SECONDS)
    usable = budget.remaining - budget.reserve
    if usable <= 0:
        return pause
    cost = max(1, budget.pass_cost)
    # spend what is usable evenly until the reset
    spread = until_reset * cost / usable
    # slow down smoothly once less than half of the usable budget is left
    capacity = max(1, budget.limit - budget.reserve)
    fraction = min(1.0, usable / capacity)
    stretched = interval * (0.5 / fraction) if fraction < 0.5 else interval
    return min(max(interval, spread, stretched), pause)


def is_paused(budget: RateBudget | None) -> bool:
    """True when the budget is at or below its reserve (polling should wait for the reset)."""
    return budget is not None and budget.remaining <= budget.reserve
