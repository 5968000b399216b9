from datetime import UTC, datetime, timedelta

from ennio.core.pacing import is_paused, poll_delay
from ennio.core.plugins import RateBudget

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def budget(remaining: int, *, reset_in: float = 3600, reserve: int = 200, cost: int = 10) -> RateBudget:
    return RateBudget(5000, remaining, NOW + timedelta(seconds=reset_in), reserve=reserve, pass_cost=cost)


def test_no_budget_known_polls_at_the_interval() -> None:
    assert poll_delay(None, 30, NOW) == 30


def test_plenty_left_polls_at_the_interval() -> None:
    assert poll_delay(budget(4900), 30, NOW) == 30


def test_delay_grows_as_the_budget_shrinks() -> None:
    delays = [poll_delay(budget(r), 30, NOW) for r in (4000, 2000, 1000, 500, 300)]
    assert delays == sorted(delays)
    assert delays[0] == 30
    assert delays[-1] > 4 * 30


def test_never_spends_faster_than_the_budget_lasts_until_reset() -> None:
    # 1000 usable points, 100 per pass, 3600 s to reset: at most 10 passes → one per 360 s
    delay = poll_delay(budget(1200, cost=100), 30, NOW)
    assert delay >= 360


def test_at_or_below_reserve_pauses_until_reset() -> None:
    assert poll_delay(budget(200, reset_in=600), 30, NOW) == 601
    assert poll_delay(budget(5, reset_in=90), 30, NOW) == 91
    assert is_paused(budget(200))
    assert not is_paused(budget(201))


def test_pause_is_never_shorter_than_the_interval() -> None:
    assert poll_delay(budget(0, reset_in=2), 30, NOW) == 30


def test_delay_is_capped_at_the_reset() -> None:
    assert poll_delay(budget(250, reset_in=100, cost=1000), 30, NOW) == 101
